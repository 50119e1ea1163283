/*
 * hostfarm-nsinit — boots one farm host: a real sshd as PID 1 of its own PID, mount and UTS
 * namespaces, pivoted into the host's root directory, with the capabilities that could affect the
 * machine dropped.
 *
 * Usage: hostfarm-nsinit DIR ADDR [READY_FD]
 *   DIR       the farm directory (hosts/ADDR/root is the host's /)
 *   READY_FD  optional fd on which "up <pid>\n" is written once sshd listens (<pid>: sshd's PID
 *             as seen from outside, for nsenter)
 *
 * Why a program and not a shell script: a host boots with ~20 mounts; as separate mount(8)
 * processes that is ~25 fork+execs per host, which for 200 hosts on 2 shared cores is tens of
 * seconds. Here it is one exec and a few dozen system calls.
 *
 * Design. The process clones once with CLONE_NEWPID: the child is PID 1 of the new PID namespace; it unshares mount and UTS namespaces, builds the view below, pivot_root()s into the
 * host root, detaches the machine's root, drops capabilities from the bounding set and execs sshd.
 * The parent stays outside as the namespace's handle: it reports readiness (sshd writes its PID
 * file only after binding its listening socket; the parent checks for it every 10 ms until then —
 * not inotify: its per-user instance limit, 128 by default, is less than a farm's host count),
 * and exits when the child does. Killing the parent (any signal it cannot handle, or SIGTERM, which it turns into
 * SIGKILL of the child) kills PID 1, and the kernel then kills every process of the namespace:
 * this is what a farm reboot or "unreachable" is. The child has PR_SET_PDEATHSIG so it cannot
 * outlive the parent.
 *
 * The host's view (paths relative to the host root R):
 *   /usr          overlay: DIR/usr-standins (stand-ins) over the machine's /usr, upper per host
 *   /etc/alternatives, /etc/ssl/certs   the machine's, read-only (symlinks, public certificates)
 *   /proc         the namespace's own; cpuinfo, meminfo, sys/kernel/random/boot_id replaced by the
 *                 host's fact files, sys/kernel/osrelease by its kernel fact; /proc/sys
 *                 read-only; sysrq-trigger blanked
 *   /sys          read-only; devices/system/cpu/online replaced
 *   /dev/pts      a private devpts instance; /run a fresh tmpfs (no socket of the machine's init)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

/* What root in a farm host keeps. Notably absent: CAP_SYS_BOOT, CAP_SYS_ADMIN (mount, umount,
 * sethostname, namespaces), CAP_SYS_MODULE, CAP_SYS_TIME, CAP_NET_ADMIN, CAP_SYS_RAWIO,
 * CAP_SYS_PTRACE, CAP_MKNOD. sshd needs setuid/setgid/chroot (privilege separation). */
static const int keep_caps[] = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,     CAP_FSETID,
    CAP_KILL,   CAP_SETGID,       CAP_SETUID,          CAP_SETPCAP,    CAP_NET_BIND_SERVICE,
    CAP_NET_RAW, CAP_SYS_CHROOT,  CAP_AUDIT_WRITE,     CAP_IPC_LOCK,   CAP_SYS_RESOURCE,
    CAP_SETFCAP,
};

static const char *g_addr = "?";

__attribute__((format(printf, 1, 2))) static void warnx_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hostfarm-nsinit %s: ", g_addr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Formats a path into buf (PATH_MAX); returns buf, or NULL if it does not fit. */
__attribute__((format(printf, 2, 3))) static char *pathf(char *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, PATH_MAX, fmt, ap);
  va_end(ap);
  return (n < 0 || n >= PATH_MAX) ? NULL : buf;
}

static int do_mount(const char *src, const char *tgt, const char *type, unsigned long flags,
                    const char *data) {
  if (mount(src, tgt, type, flags, data) < 0) {
    int e = errno;
    warnx_("mount %s on %s (%s): %s", src ? src : "-", tgt, type ? type : "bind", strerror(e));
    return -e;
  }
  return 0;
}

/* Bind src on tgt, read-only when ro (a bind mount's flags need a second, remount call). */
static int bind_mount(const char *src, const char *tgt, bool ro) {
  int r = do_mount(src, tgt, NULL, MS_BIND, NULL);
  if (r < 0 || !ro)
    return r;
  return do_mount(NULL, tgt, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

/* Reads the first line of a small file into buf (NUL-terminated, newline stripped). */
static int read_line(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "re");
  if (!f)
    return -errno;
  int r = fgets(buf, (int)size, f) ? 0 : -EIO;
  fclose(f);
  if (r == 0)
    buf[strcspn(buf, "\n")] = '\0';
  return r;
}

static bool exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* Everything from unshare(NEWNS) to exec(sshd); runs as PID 1 of the new PID namespace.
 * Returns only on failure (negative errno). */
static int child_boot(const char *dir, const char *addr) {
  char r[PATH_MAX], a[PATH_MAX], b[PATH_MAX], opts[3 * PATH_MAX + 64];
  char hostname[256], os[64];
  int ret;

  /* Only stdio goes on into the host: no descriptor of the supervisor may leak into sshd. */
  if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
    for (int fd = 3; fd < 1024; fd++)
      close(fd);
  }
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0) {
    warnx_("unshare: %s", strerror(errno));
    return -errno;
  }
  /* Nothing we mount may propagate back to the machine. */
  if ((ret = do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) < 0)
    return ret;
  if (!pathf(r, "%s/hosts/%s/root", dir, addr))
    return -ENAMETOOLONG;
  if ((ret = bind_mount(r, r, false)) < 0) /* pivot_root needs a mount point */
    return ret;

  if (!pathf(a, "%s/usr", r))
    return -ENAMETOOLONG;
  snprintf(opts, sizeof(opts), "lowerdir=%s/usr-standins:/usr,upperdir=%s/hosts/%s/usr-upper,"
           "workdir=%s/hosts/%s/usr-work", dir, dir, addr, dir, addr);
  if ((ret = do_mount("overlay", a, "overlay", 0, opts)) < 0)
    return ret;

  if ((ret = bind_mount("/etc/alternatives", pathf(a, "%s/etc/alternatives", r), true)) < 0)
    return ret;
  if (exists("/etc/ssl/certs") &&
      (ret = bind_mount("/etc/ssl/certs", pathf(a, "%s/etc/ssl/certs", r), true)) < 0)
    return ret;

  /* proc after the PID namespace exists (we are its PID 1), so it lists only the host's
   * processes. Then the per-host facts go over it. */
  if ((ret = do_mount("proc", pathf(a, "%s/proc", r), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      NULL)) < 0)
    return ret;
  static const char *const proc_facts[][2] = {{"cpuinfo", "proc/cpuinfo"},
                                              {"meminfo", "proc/meminfo"}};
  for (size_t i = 0; i < sizeof(proc_facts) / sizeof(proc_facts[0]); i++) {
    if ((ret = bind_mount(pathf(b, "%s/.hostfarm/facts/%s", r, proc_facts[i][0]),
                          pathf(a, "%s/%s", r, proc_facts[i][1]), false)) < 0)
      return ret;
  }
  if (exists(pathf(a, "%s/proc/sysrq-trigger", r)) && (ret = bind_mount("/dev/null", a, false)) < 0)
    return ret;
  /* /proc/sys read-only: no sysctl of the machine can be changed from a host. */
  if ((ret = bind_mount(pathf(a, "%s/proc/sys", r), a, true)) < 0)
    return ret;
  if ((ret = bind_mount(pathf(b, "%s/.hostfarm/facts/boot_id", r),
                        pathf(a, "%s/proc/sys/kernel/random/boot_id", r), true)) < 0)
    return ret;
  /* The emulated kernel release where a real host has it too (what `uname -r` prints), so a
   * client can read it without running a program. */
  if ((ret = bind_mount(pathf(b, "%s/.hostfarm/facts/kernel", r),
                        pathf(a, "%s/proc/sys/kernel/osrelease", r), true)) < 0)
    return ret;

  if ((ret = do_mount("sysfs", pathf(a, "%s/sys", r), "sysfs",
                      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) < 0)
    return ret;
  if (exists(pathf(a, "%s/sys/devices/system/cpu/online", r)) &&
      (ret = bind_mount(pathf(b, "%s/.hostfarm/facts/cpu_online", r), a, false)) < 0)
    return ret;
  if ((ret = do_mount("devpts", pathf(a, "%s/dev/pts", r), "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620")) < 0)
    return ret;
  if ((ret = do_mount("tmpfs", pathf(a, "%s/run", r), "tmpfs", MS_NOSUID | MS_NODEV,
                      "mode=0755,size=16m")) < 0)
    return ret;
  /* sshd's privilege-separation directory: root-owned, not writable by others. */
  if (mkdir(pathf(a, "%s/run/sshd", r), 0755) < 0) {
    warnx_("mkdir %s: %s", a, strerror(errno));
    return -errno;
  }
  if (read_line(pathf(b, "%s/.hostfarm/state/os_id", r), os, sizeof(os)) == 0 &&
      strcmp(os, "atomic") == 0) {
    int fd = open(pathf(a, "%s/run/ostree-booted", r), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
      close(fd);
  }
  if (read_line(pathf(b, "%s/.hostfarm/facts/hostname", r), hostname, sizeof(hostname)) < 0 ||
      sethostname(hostname, strlen(hostname)) < 0) {
    warnx_("hostname: %s", strerror(errno));
    return -EINVAL;
  }

  /* Enter the host root and make the machine's root unreachable from it. */
  if (chdir(r) < 0 || syscall(SYS_pivot_root, ".", ".oldroot") < 0 || chdir("/") < 0) {
    warnx_("pivot_root into %s: %s", r, strerror(errno));
    return -errno;
  }
  if (umount2("/.oldroot", MNT_DETACH) < 0) {
    warnx_("detach old root: %s", strerror(errno));
    return -errno;
  }

  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
    bool keep = false;
    for (size_t i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
      keep = keep || keep_caps[i] == cap;
    if (!keep && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
      warnx_("drop capability %d: %s", cap, strerror(errno));
      return -errno;
    }
  }

  /* -r: no re-exec of sshd for every connection. The re-exec buys fresh ASLR per connection on
   * a real server; here it is one more exec of a large binary (libcrypto relocations) per
   * connection, the most expensive part of a farm connection after the session's own programs. */
  char *const argv[] = {"/usr/sbin/sshd", "-D", "-r", "-f", "/etc/ssh/sshd_config",
                        "-E", "/.hostfarm/sshd.log", NULL};
  char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "LANG=C.UTF-8", NULL};
  execve(argv[0], argv, envp);
  warnx_("exec sshd: %s", strerror(errno));
  return -errno;
}

/* Tells the supervisor the host will not come up (it waits for a word on ready_fd). */
static int report_fail(int ready_fd) {
  if (ready_fd >= 0 && write(ready_fd, "fail\n", 5) < 0) {
    /* nobody listens for it any more */
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: hostfarm-nsinit DIR ADDR [READY_FD]\n");
    return 2;
  }
  const char *dir = argv[1], *addr = argv[2];
  int ready_fd = argc == 4 ? atoi(argv[3]) : -1;
  char ctl[PATH_MAX], pidfile[PATH_MAX];
  g_addr = addr;
  /* Bounded here so that no path built below can exceed PATH_MAX (pathf() then never fails). */
  if (strlen(dir) > PATH_MAX / 2 || strlen(addr) > 64) {
    warnx_("DIR or ADDR too long");
    return 2;
  }
  if (strpbrk(dir, ",:") || strchr(addr, '/')) {
    warnx_("DIR may not contain ',' or ':' (overlay options), ADDR no '/'");
    return 2;
  }
  if (!pathf(ctl, "%s/hosts/%s/root/.hostfarm/ctl", dir, addr) ||
      !pathf(pidfile, "%s/sshd.pid", ctl))
    return 2;

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return report_fail(ready_fd);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0)
    return report_fail(ready_fd);

  /* The parent holds the write end of this pipe for its whole life: the child sees POLLHUP if the
   * parent died before PR_SET_PDEATHSIG was in place (getppid() is 0 inside the new namespace,
   * so it cannot tell). */
  int alive[2];
  if (pipe2(alive, O_CLOEXEC) < 0)
    return report_fail(ready_fd);
  /* clone(CLONE_NEWPID) rather than unshare(): only the child enters the new PID namespace. The
   * parent's later children (e.g. a sanitizer's helper threads) must not land in a namespace
   * whose PID 1 may already be dead. A NULL stack makes clone behave like fork. */
  pid_t child = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD), NULL, NULL, NULL, 0UL);
  if (child < 0) {
    warnx_("clone(CLONE_NEWPID): %s (needs root)", strerror(errno));
    return report_fail(ready_fd);
  }
  if (child == 0) {
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    close(alive[1]);
    struct pollfd pa = {.fd = alive[0], .events = POLLIN};
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&pa, 1, 0) != 0)
      _exit(1);
    if (ready_fd >= 0)
      close(ready_fd);
    child_boot(dir, addr);
    _exit(1);
  }

  close(alive[0]);
  bool announced = false;
  for (;;) {
    struct pollfd pf[1] = {{.fd = sfd, .events = POLLIN}};
    if (poll(pf, 1, announced ? -1 : 10) < 0) {
      if (errno == EINTR)
        continue;
      kill(child, SIGKILL);
      break;
    }
    if (!announced) {
      struct stat st;
      if (stat(pidfile, &st) == 0 && st.st_size > 0) {
        announced = true;
        if (ready_fd >= 0) {
          char msg[64];
          int n = snprintf(msg, sizeof(msg), "up %d\n", (int)child);
          if (write(ready_fd, msg, (size_t)n) < 0) {
            /* the supervisor is gone; the host still runs until someone kills us */
          }
        }
      }
    }
    if (pf[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof(si)) != sizeof(si))
        continue;
      if (si.ssi_signo != SIGCHLD) {
        kill(child, SIGKILL); /* TERM/INT/HUP: pull the plug on the host */
        continue;
      }
      int status;
      pid_t w = waitpid(child, &status, WNOHANG);
      if (w == child && !announced && ready_fd >= 0 && write(ready_fd, "fail\n", 5) < 0) {
        /* nobody listens for it any more */
      }
      if (w == child)
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  int status;
  waitpid(child, &status, 0);
  return 1;
}
