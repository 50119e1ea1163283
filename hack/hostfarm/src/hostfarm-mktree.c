/*
 * hostfarm-mktree — copies the host template (a small tree: directories, files, symlinks, FIFOs,
 * device nodes) to many destinations in one process.
 *
 * Usage: hostfarm-mktree TEMPLATE DEST...   (each DEST must not exist yet)
 *
 * Why: a farm of 200 hosts needs 200 copies; `cp -a` per host is 200 fork+execs, which on a
 * loaded 2-core machine costs tens of seconds. Here it is one exec and plain system calls.
 * Ownership and modes are kept (the farm runs as root); timestamps are not (nothing needs them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Copies regular file src to dst with mode; returns 0 or -errno. */
static int copy_file(const char *src, const char *dst, mode_t mode) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -errno;
  int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
  if (out < 0) {
    int e = errno;
    close(in);
    return -e;
  }
  char buf[65536];
  int ret = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof(buf));
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      ret = -errno;
      break;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0) {
        if (errno == EINTR)
          continue;
        ret = -errno;
        goto out;
      }
      off += w;
    }
  }
out:
  close(in);
  if (close(out) < 0 && ret == 0)
    ret = -errno;
  if (ret == 0 && fchmodat(AT_FDCWD, dst, mode & 07777, 0) < 0) /* umask must not apply */
    ret = -errno;
  return ret;
}

/* Recursively copies src (any type) to dst, which must not exist. Returns 0 or -errno and names
 * the failing path on stderr. */
static int copy_tree(const char *src, const char *dst) {
  struct stat st;
  int ret = 0;
  if (lstat(src, &st) < 0) {
    ret = -errno;
    goto fail;
  }
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(dst, 0700) < 0) {
      ret = -errno;
      goto fail;
    }
    DIR *d = opendir(src);
    if (!d) {
      ret = -errno;
      goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      char s[PATH_MAX], t[PATH_MAX];
      if (snprintf(s, sizeof(s), "%s/%s", src, de->d_name) >= (int)sizeof(s) ||
          snprintf(t, sizeof(t), "%s/%s", dst, de->d_name) >= (int)sizeof(t)) {
        closedir(d);
        ret = -ENAMETOOLONG;
        goto fail;
      }
      if ((ret = copy_tree(s, t)) < 0) {
        closedir(d);
        return ret; /* already reported */
      }
    }
    closedir(d);
    if (chmod(dst, st.st_mode & 07777) < 0) {
      ret = -errno;
      goto fail;
    }
  } else if (S_ISREG(st.st_mode)) {
    if ((ret = copy_file(src, dst, st.st_mode)) < 0)
      goto fail;
  } else if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(src, target, sizeof(target) - 1);
    if (n < 0) {
      ret = -errno;
      goto fail;
    }
    target[n] = '\0';
    if (symlink(target, dst) < 0) {
      ret = -errno;
      goto fail;
    }
  } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    if (mknod(dst, st.st_mode, st.st_rdev) < 0 || chmod(dst, st.st_mode & 07777) < 0) {
      ret = -errno;
      goto fail;
    }
  } else {
    return 0; /* sockets: nothing to copy */
  }
  if (lchown(dst, st.st_uid, st.st_gid) < 0) {
    ret = -errno;
    goto fail;
  }
  return 0;
fail:
  fprintf(stderr, "hostfarm-mktree: %s -> %s: %s\n", src, dst, strerror(-ret));
  return ret;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: hostfarm-mktree TEMPLATE DEST...\n");
    return 2;
  }
  for (int i = 2; i < argc; i++) {
    if (copy_tree(argv[1], argv[i]) < 0)
      return 1;
  }
  return 0;
}
