#include "cm_buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cm_buf_init(struct cm_buf *b, size_t cap) {
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : SIZE_MAX / 2;
}

void cm_buf_done(struct cm_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void cm_buf_reset(struct cm_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int ensure(struct cm_buf *b, size_t extra) {
    if (extra > b->cap || b->len > b->cap - extra)
        return -E2BIG;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return 0;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    char *p = realloc(b->data, n);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->alloc = n;
    return 0;
}

int cm_buf_append(struct cm_buf *b, const void *p, size_t n) {
    int r = ensure(b, n);
    if (r < 0)
        return r;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cm_buf_puts(struct cm_buf *b, const char *s) {
    return cm_buf_append(b, s, strlen(s));
}

int cm_buf_vprintf(struct cm_buf *b, const char *fmt, va_list ap) {
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return -EINVAL;
    int r = ensure(b, (size_t)n);
    if (r < 0)
        return r;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cm_buf_printf(struct cm_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = cm_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

void cm_buf_consume(struct cm_buf *b, size_t n) {
    if (n >= b->len) {
        cm_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *cm_buf_steal(struct cm_buf *b) {
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}
