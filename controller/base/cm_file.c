/* cm_file: capped whole-file reads. */
#include "cm_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cm_buf.h"

int cm_file_read(const char *path, size_t cap, char **ret, size_t *ret_len, struct stat *ret_st) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ret_st && fstat(fd, ret_st) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    struct cm_buf b;
    cm_buf_init(&b, cap);
    char chunk[8192];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if ((r = cm_buf_append(&b, chunk, (size_t)n)) < 0)
            break;
    }
    close(fd);
    explicit_bzero(chunk, sizeof chunk);
    if (r < 0) {
        if (b.data)
            explicit_bzero(b.data, b.len);
        cm_buf_done(&b);
        return r;
    }
    *ret_len = b.len;
    *ret = cm_buf_steal(&b);
    return *ret ? 0 : -ENOMEM;
}
