/*
 * hostfarm-rec.h — what the farm's C programs that run INSIDE a host share: reading the host's
 * small state files and appending a record line (format: hack/hostfarm/README.md, "Record
 * format"). Header-only (static functions) so each program stays one self-contained, statically
 * linked file.
 *
 * Why C at all: on this machine a fork+exec costs ~5-7 ms of CPU (page-table work under the
 * hypervisor) and a bash start-up ~10 ms more; the programs every SSH session and every fact
 * gathering runs are therefore small static binaries, and bash stays for the rare paths.
 */
#ifndef HOSTFARM_REC_H
#define HOSTFARM_REC_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HF_DIR "/.hostfarm"
#define HF_LINE_MAX 65536

/* Reads the first line of PATH into buf (newline stripped). Returns 0, or -errno. */
static inline int hf_read_line(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = read(fd, buf, size - 1);
  int e = errno;
  close(fd);
  if (n < 0)
    return -e;
  buf[n] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  return 0;
}

/* Reads the first line of PATH as a decimal integer. Returns 0, or -errno / -EINVAL. */
static inline int hf_read_ll(const char *path, long long *out) {
  char b[64], *end;
  int r = hf_read_line(path, b, sizeof(b));
  if (r < 0)
    return r;
  errno = 0;
  *out = strtoll(b, &end, 10);
  return (errno || end == b) ? -EINVAL : 0;
}

static inline long long hf_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends "<epoch_ms> <addr> <kind> <payload>\n" (payload NULL: "<epoch_ms> <addr> <kind>\n") to the host's records.log with ONE write on an
 * O_APPEND descriptor, so concurrent sessions never interleave within a line. The payload is
 * cut (not split) if the line would exceed HF_LINE_MAX. */
static inline void hf_record(const char *addr, const char *kind, const char *payload) {
  static char line[HF_LINE_MAX];
  int n = snprintf(line, sizeof(line) - 1, "%lld %s %s%s%s", hf_now_ms(), addr, kind,
                   payload ? " " : "", payload ? payload : "");
  if (n < 0)
    return;
  if ((size_t)n > sizeof(line) - 2)
    n = (int)sizeof(line) - 2;
  line[n++] = '\n';
  int fd = open(HF_DIR "/records.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  if (write(fd, line, (size_t)n) < 0) {
    /* a host whose disk is gone records nothing; the command still runs */
  }
  close(fd);
}

#endif
