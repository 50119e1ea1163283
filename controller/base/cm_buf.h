/* cm_buf: a growable byte buffer with a hard size cap.
 *
 * Every buffer filled from outside input (HTTP bodies, watch lines, SSH output) is a cm_buf with
 * a cap, so a hostile or broken peer turns into an error (-E2BIG) instead of unbounded memory.
 * The data is always NUL-terminated (the NUL is not counted in len), so text can be used as a C
 * string directly. Not thread-safe: one owner at a time. */
#ifndef CM_BUF_H
#define CM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct cm_buf {
    char *data;   /* NULL until the first append; NUL-terminated after it */
    size_t len;   /* bytes used, not counting the NUL */
    size_t alloc; /* bytes allocated */
    size_t cap;   /* largest len allowed; 0 means SIZE_MAX/2 */
};

/* Initialises an empty buffer that may grow up to cap bytes (0: unlimited). Never fails. */
void cm_buf_init(struct cm_buf *b, size_t cap);
/* Frees the data and leaves an empty buffer with the same cap. Accepts an unused buffer. */
void cm_buf_done(struct cm_buf *b);
/* Empties the buffer, keeping its memory. */
void cm_buf_reset(struct cm_buf *b);
/* Appends n bytes. Returns 0, -E2BIG when the cap would be passed (nothing appended), -ENOMEM. */
int cm_buf_append(struct cm_buf *b, const void *p, size_t n);
/* Appends a C string. Same returns as cm_buf_append. */
int cm_buf_puts(struct cm_buf *b, const char *s);
/* Appends formatted text. Same returns as cm_buf_append. */
int cm_buf_printf(struct cm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cm_buf_vprintf(struct cm_buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes (n > len empties it). */
void cm_buf_consume(struct cm_buf *b, size_t n);
/* Hands the data to the caller (who frees it with free()) and leaves the buffer empty.
 * Returns an empty allocated string when nothing was appended, NULL only on -ENOMEM. */
char *cm_buf_steal(struct cm_buf *b);

#endif
