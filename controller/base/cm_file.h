/* cm_file: read a whole small file (a kubeconfig, a token, a key) with a size cap.
 *
 * The files read this way often hold secrets, so every intermediate copy is wiped; only the
 * returned buffer remains, and wiping it is the caller's business. */
#ifndef CM_FILE_H
#define CM_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Reads path into *ret (malloc'ed, NUL-terminated, *ret_len bytes without the NUL; the caller
 * frees it). ret_st, when not NULL, receives fstat() of the file actually read (its identity,
 * for re-read-on-change). Errors: -errno of open/fstat/read (-ENOENT, -EACCES, ...), -E2BIG when
 * the file is larger than cap bytes, -ENOMEM. */
int cm_file_read(const char *path, size_t cap, char **ret, size_t *ret_len, struct stat *ret_st);

#endif
