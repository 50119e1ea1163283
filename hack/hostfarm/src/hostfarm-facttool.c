/*
 * hostfarm-facttool — the farm's stand-in for the fact tools whose answers must be per host:
 * `uname`, `nproc` and `df` (a multi-call binary: the host's /usr/bin/uname etc. link to it and
 * it dispatches on the name it was run as). Installed in every host as
 * /usr/lib/hostfarm/facttool.
 *
 * Why not the bash stand-in (standin/standin): these run at every fact gathering of every host;
 * a bash start-up plus parsing the 500-line script costs ~15 ms of CPU here, a static binary ~5.
 * Behaviour and records are exactly the bash stand-in's: the invocation is recorded first
 * ("cmd <name> <args…>", args as bash's printf %q writes them), then the failure injections of
 * `farm.sh host ADDR fail PREFIX RC` apply, then the answer comes from the host's fact files.
 *
 * Anything unusual — an argument %q would quote (only plain words are quoted identically here
 * without reimplementing bash's quoting), `df --output=…`, a zero-sized disk — is handed to the
 * bash stand-in (HOSTFARM_AS tells it the name), which stays the reference implementation.
 */
#include "hostfarm-rec.h"

#include <stdint.h>

#define STANDIN "/usr/lib/hostfarm/standin"

static const char *name;
static char addr[128] = "?";

/* Characters bash's printf %q leaves alone anywhere in a word. */
static bool plain_word(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          strchr("-_./:=%@+", c)))
      return false;
  }
  return true;
}

static _Noreturn void to_bash(int argc, char **argv) {
  setenv("HOSTFARM_AS", name, 1);
  char **av = calloc((size_t)argc + 2, sizeof(*av));
  if (av) {
    av[0] = "bash";
    av[1] = STANDIN;
    for (int i = 1; i < argc; i++)
      av[i + 1] = argv[i];
    execv("/bin/bash", av);
  }
  perror("farm stand-in: exec bash");
  _exit(127);
}

static void record_cmd(int argc, char **argv) {
  static char payload[HF_LINE_MAX];
  size_t n = 0;
  int w = snprintf(payload, sizeof(payload), "%s", name);
  n = w > 0 ? (size_t)w : 0;
  for (int i = 1; i < argc && n < sizeof(payload); i++) {
    w = snprintf(payload + n, sizeof(payload) - n, " %s", argv[i]);
    n += w > 0 ? (size_t)w : 0;
  }
  hf_record(addr, "cmd", payload);
}

/* `farm.sh host ADDR fail PREFIX RC`: state/fail holds "PREFIX<TAB>RC" lines; a command whose
 * "name args" starts with PREFIX fails with RC (1 when empty), as in the bash stand-in. */
static void check_fail(int argc, char **argv) {
  FILE *f = fopen(HF_DIR "/state/fail", "re");
  if (!f)
    return;
  char line[4096], *l = NULL;
  size_t cap = 0;
  int n = snprintf(line, sizeof(line), "%s ", name);
  for (int i = 1; i < argc && n > 0 && (size_t)n < sizeof(line); i++)
    n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s", i > 1 ? " " : "", argv[i]);
  while (getline(&l, &cap, f) > 0) {
    l[strcspn(l, "\n")] = '\0';
    char *p = l;
    while (*p == '\t')
      p++;
    char *tab = strchr(p, '\t');
    char *rc = (char *)"";
    if (tab) {
      *tab = '\0';
      rc = tab + 1;
      while (*rc == '\t')
        rc++;
      size_t rl = strlen(rc);
      while (rl && rc[rl - 1] == '\t')
        rc[--rl] = '\0';
    }
    if (*p && strncmp(line, p, strlen(p)) == 0) {
      char *end;
      long v = *rc ? strtol(rc, &end, 10) : 1;
      if (*rc && *end)
        v = 2; /* bash: "exit: numeric argument required" */
      fprintf(stderr, "%s: injected failure (farm)\n", name);
      exit((int)(v & 255));
    }
  }
  free(l);
  fclose(f);
}

static void do_uname(int argc, char **argv) {
  char k[256] = "", hn[256] = "";
  hf_read_line(HF_DIR "/facts/kernel", k, sizeof(k));
  hf_read_line("/proc/sys/kernel/hostname", hn, sizeof(hn));
  bool s = argc == 1, n = false, r = false, v = false, m = false, o = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-a") || !strcmp(a, "--all"))
      s = n = r = v = m = o = true;
    else if (!strcmp(a, "-s") || !strcmp(a, "--kernel-name"))
      s = true;
    else if (!strcmp(a, "-n") || !strcmp(a, "--nodename"))
      n = true;
    else if (!strcmp(a, "-r") || !strcmp(a, "--kernel-release"))
      r = true;
    else if (!strcmp(a, "-v") || !strcmp(a, "--kernel-version"))
      v = true;
    else if (!strcmp(a, "-m") || !strcmp(a, "--machine") || !strcmp(a, "-p") ||
             !strcmp(a, "--processor") || !strcmp(a, "-i") || !strcmp(a, "--hardware-platform"))
      m = true;
    else if (!strcmp(a, "-o") || !strcmp(a, "--operating-system"))
      o = true;
    else if (a[0] == '-') { /* combined short flags, e.g. -sr */
      s = s || strchr(a, 's');
      n = n || strchr(a, 'n');
      r = r || strchr(a, 'r');
      v = v || strchr(a, 'v');
      m = m || strchr(a, 'm');
      o = o || strchr(a, 'o');
    }
  }
  const char *out[6];
  int c = 0;
  if (s)
    out[c++] = "Linux";
  if (n)
    out[c++] = hn;
  if (r)
    out[c++] = k;
  if (v)
    out[c++] = "#1 SMP PREEMPT_DYNAMIC farm";
  if (m)
    out[c++] = "x86_64";
  if (o)
    out[c++] = "GNU/Linux";
  for (int i = 0; i < c; i++)
    printf("%s%s", i ? " " : "", out[i]);
  putchar('\n');
}

static void do_df(int argc, char **argv, long long total, long long free_kib) {
  long long used = total - free_kib, pct = (used * 100 + total - 1) / total;
  bool human = false;
  int paths = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--human-readable"))
      human = true;
    else if (!strcmp(a, "-t") || !strcmp(a, "-x") || !strcmp(a, "-B"))
      i++;
    else if (a[0] != '-')
      paths++;
  }
  if (paths == 0)
    paths = 1;
  if (human) {
    puts("Filesystem      Size  Used Avail Use% Mounted on");
    for (int i = 0; i < paths; i++)
      printf("/dev/vda1 %lldG %lldG %lldG %lld%% /\n", total / 1048576, used / 1048576,
             free_kib / 1048576, pct);
  } else {
    puts("Filesystem     1024-blocks     Used Available Capacity Mounted on");
    for (int i = 0; i < paths; i++)
      printf("/dev/vda1 %lld %lld %lld %lld%% /\n", total, used, free_kib, pct);
  }
}

int main(int argc, char **argv) {
  name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  bool simple = true;
  for (int i = 1; i < argc; i++)
    simple = simple && plain_word(argv[i]) && strncmp(argv[i], "--output", 8) != 0;
  long long total = 0, free_kib = 0;
  if (!strcmp(name, "df"))
    simple = simple && hf_read_ll(HF_DIR "/facts/disk", &total) == 0 && total > 0 &&
             hf_read_ll(HF_DIR "/facts/space", &free_kib) == 0;
  else if (strcmp(name, "uname") && strcmp(name, "nproc"))
    simple = false;
  if (!simple)
    to_bash(argc, argv);
  hf_read_line(HF_DIR "/addr", addr, sizeof(addr));
  record_cmd(argc, argv);
  check_fail(argc, argv);
  if (!strcmp(name, "uname")) {
    do_uname(argc, argv);
  } else if (!strcmp(name, "nproc")) {
    char n[64] = "";
    hf_read_line(HF_DIR "/facts/cpus", n, sizeof(n));
    puts(n);
  } else {
    do_df(argc, argv, total, free_kib);
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
