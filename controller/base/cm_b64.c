/* cm_b64: base64 decode/encode. */
#include "cm_b64.h"

#include <errno.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value(unsigned char c, unsigned flags) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || (c == '-' && (flags & CM_B64_URLSAFE)))
        return 62;
    if (c == '/' || (c == '_' && (flags & CM_B64_URLSAFE)))
        return 63;
    return -1;
}

int cm_b64_decode(const char *s, unsigned flags, char **ret, size_t *ret_len) {
    size_t n = 0;
    while (s[n])
        n++;
    char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        return -ENOMEM;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\r' || ((c == ' ' || c == '\t') && (flags & CM_B64_SPACES)))
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = value(c, flags);
        if (v < 0 || pad)
            goto bad;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    /* What is left must be the 2 or 4 zero bits of a padded group, never 6 (a lone character):
     * non-zero leftovers mean a second, different text decodes to the same bytes. */
    if (bits >= 6 || pad > 2 || (acc & ((1u << bits) - 1)) != 0)
        goto bad;
    out[o] = '\0';
    *ret = out;
    *ret_len = o;
    return 0;
bad:
    free(out);
    return -EINVAL;
}

int cm_b64_encode(const void *data, size_t n, char **ret) {
    const unsigned char *p = data;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return -ENOMEM;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    *ret = out;
    return 0;
}
