/* Go-compatible printers for the error messages of kubelite_lib (see kl_util.h). */
#include "kl_util.h"

#include "cm_buf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence at s (n bytes available). Returns its length (1..4) and stores the
 * rune, or returns 0 for an invalid/truncated sequence (Go then treats one byte as RuneError). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_rune)
{
    uint32_t r;
    size_t len;

    if (s[0] < 0x80) {
        *ret_rune = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        r = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        r = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        r = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        r = (r << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and out-of-range values are invalid, as in Go. */
    if ((len == 2 && r < 0x80) || (len == 3 && r < 0x800) || (len == 4 && r < 0x10000) ||
        r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
        return 0;
    *ret_rune = r;
    return len;
}

size_t kl__utf8_runes(const char *s, size_t n)
{
    size_t count = 0;
    uint32_t r;

    for (size_t i = 0; i < n;) {
        size_t l = utf8_decode((const unsigned char *)s + i, n - i, &r);
        i += l ? l : 1;
        count++;
    }
    return count;
}

/* Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
 * Without Unicode tables we exclude the non-printable ranges that matter in practice (controls,
 * non-ASCII spaces, format characters, private use); unassigned code points count as printable,
 * which only changes how an error message escapes them. */
static bool rune_printable(uint32_t r)
{
    static const uint32_t excluded[][2] = {
        {0x0000, 0x001f}, {0x007f, 0x00a0}, {0x00ad, 0x00ad}, {0x0600, 0x0605}, {0x061c, 0x061c},
        {0x06dd, 0x06dd}, {0x070f, 0x070f}, {0x08e2, 0x08e2}, {0x1680, 0x1680}, {0x180e, 0x180e},
        {0x2000, 0x200f}, {0x2028, 0x202f}, {0x205f, 0x206f}, {0x3000, 0x3000}, {0xd800, 0xf8ff},
        {0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
        {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
        {0xe0020, 0xe007f}, {0xf0000, 0x10ffff},
    };
    for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
        if (r >= excluded[i][0] && r <= excluded[i][1])
            return false;
    return true;
}

int kl__go_quote(struct cm_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    int r = cm_buf_puts(b, "\"");

    for (size_t i = 0; r == 0 && i < n;) {
        uint32_t rune;
        size_t l = utf8_decode(u + i, n - i, &rune);

        if (l == 0) {
            r = cm_buf_printf(b, "\\x%02x", u[i]);
            i++;
            continue;
        }
        i += l;
        switch (rune) {
        case '"': r = cm_buf_puts(b, "\\\""); break;
        case '\\': r = cm_buf_puts(b, "\\\\"); break;
        case '\a': r = cm_buf_puts(b, "\\a"); break;
        case '\b': r = cm_buf_puts(b, "\\b"); break;
        case '\f': r = cm_buf_puts(b, "\\f"); break;
        case '\n': r = cm_buf_puts(b, "\\n"); break;
        case '\r': r = cm_buf_puts(b, "\\r"); break;
        case '\t': r = cm_buf_puts(b, "\\t"); break;
        case '\v': r = cm_buf_puts(b, "\\v"); break;
        default:
            if (rune_printable(rune))
                r = cm_buf_append(b, u + i - l, l);
            else if (rune < 0x80)
                r = cm_buf_printf(b, "\\x%02x", (unsigned)rune);
            else if (rune < 0x10000)
                r = cm_buf_printf(b, "\\u%04x", (unsigned)rune);
            else
                r = cm_buf_printf(b, "\\U%08x", (unsigned)rune);
        }
    }
    return r ? r : cm_buf_puts(b, "\"");
}

/* The shortest decimal digits that round-trip v (v finite, > 0): digits without a dot in
 * ret_digits, and the decimal exponent of the first digit. */
static void shortest_digits(double v, char *ret_digits, size_t n, int *ret_exp)
{
    char tmp[64];

    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v || prec == 17)
            break;
    }
    /* tmp is "d.ddde[+-]xx" */
    char *e = strchr(tmp, 'e');
    size_t k = 0;
    for (char *p = tmp; p < e && k + 1 < n; p++)
        if (*p != '.')
            ret_digits[k++] = *p;
    ret_digits[k] = 0;
    /* Go never prints trailing zeros of the shortest form. */
    while (k > 1 && ret_digits[k - 1] == '0')
        ret_digits[--k] = 0;
    *ret_exp = atoi(e + 1);
}

/* Formats like strconv.FormatFloat(v, fmt, -1, 64) for fmt 'g' (eprec 6, %v) or the
 * encoding/json rule (fixed unless exp < -6 || exp >= 21). */
static int go_float_fmt(struct cm_buf *b, double v, bool json_style)
{
    char digits[32];
    int exp, nd;

    if (isnan(v))
        return cm_buf_puts(b, "NaN");
    if (isinf(v))
        return cm_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return cm_buf_puts(b, signbit(v) && !json_style ? "-0" : "0");
    if (v < 0) {
        int r = cm_buf_puts(b, "-");
        if (r)
            return r;
        v = -v;
    }
    shortest_digits(v, digits, sizeof(digits), &exp);
    nd = (int)strlen(digits);

    /* Go's %v of a float64 is strconv 'g' with the shortest precision, which switches to the
     * exponent form when exp < -4 || exp >= 6 (ftoa.go: "if precision was the shortest
     * possible, use precision 6 for this decision"); encoding/json uses the fixed form unless
     * exp < -6 || exp >= 21. */
    bool use_e = json_style ? (exp < -6 || exp >= 21) : (exp < -4 || exp >= 6);
    int r = 0;
    if (use_e) {
        r = cm_buf_append(b, digits, 1);
        if (!r && nd > 1) {
            r = cm_buf_puts(b, ".");
            if (!r)
                r = cm_buf_append(b, digits + 1, (size_t)nd - 1);
        }
        if (!r)
            r = cm_buf_printf(b, (json_style && exp < 0) ? "e%c%d" : "e%c%02d",
                              exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return r;
    }
    if (exp < 0) {
        r = cm_buf_puts(b, "0.");
        for (int i = 0; !r && i < -exp - 1; i++)
            r = cm_buf_puts(b, "0");
        return r ? r : cm_buf_puts(b, digits);
    }
    if (nd <= exp + 1) {
        r = cm_buf_puts(b, digits);
        for (int i = nd; !r && i < exp + 1; i++)
            r = cm_buf_puts(b, "0");
        return r;
    }
    r = cm_buf_append(b, digits, (size_t)exp + 1);
    if (!r)
        r = cm_buf_puts(b, ".");
    return r ? r : cm_buf_puts(b, digits + exp + 1);
}

int kl__go_float(struct cm_buf *b, double v)
{
    return go_float_fmt(b, v, false);
}

static int go_json_string(struct cm_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    int r = cm_buf_puts(b, "\"");

    for (size_t i = 0; r == 0 && i < n;) {
        uint32_t rune;
        size_t l = utf8_decode(u + i, n - i, &rune);

        if (l == 0) {
            r = cm_buf_puts(b, "\\ufffd");
            i++;
            continue;
        }
        i += l;
        switch (rune) {
        case '"': r = cm_buf_puts(b, "\\\""); break;
        case '\\': r = cm_buf_puts(b, "\\\\"); break;
        case '\n': r = cm_buf_puts(b, "\\n"); break;
        case '\r': r = cm_buf_puts(b, "\\r"); break;
        case '\t': r = cm_buf_puts(b, "\\t"); break;
        case '<': case '>': case '&': case 0x2028: case 0x2029:
            r = cm_buf_printf(b, "\\u%04x", (unsigned)rune);
            break;
        default:
            if (rune < 0x20)
                r = cm_buf_printf(b, "\\u%04x", (unsigned)rune);
            else
                r = cm_buf_append(b, u + i - l, l);
        }
    }
    return r ? r : cm_buf_puts(b, "\"");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int kl__go_json(struct cm_buf *b, const json_t *v)
{
    int r = 0;

    switch (json_typeof(v)) {
    case JSON_NULL: return cm_buf_puts(b, "null");
    case JSON_TRUE: return cm_buf_puts(b, "true");
    case JSON_FALSE: return cm_buf_puts(b, "false");
    case JSON_INTEGER: return cm_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: return go_float_fmt(b, json_real_value(v), true);
    case JSON_STRING: return go_json_string(b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY:
        r = cm_buf_puts(b, "[");
        for (size_t i = 0; !r && i < json_array_size(v); i++) {
            if (i)
                r = cm_buf_puts(b, ",");
            if (!r)
                r = kl__go_json(b, json_array_get(v, i));
        }
        return r ? r : cm_buf_puts(b, "]");
    case JSON_OBJECT: {
        size_t n = json_object_size(v), k = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        const char *key;
        json_t *val;

        if (!keys)
            return -ENOMEM;
        json_object_foreach((json_t *)v, key, val) keys[k++] = key;
        qsort(keys, n, sizeof(*keys), cmp_str);
        r = cm_buf_puts(b, "{");
        for (size_t i = 0; !r && i < n; i++) {
            if (i)
                r = cm_buf_puts(b, ",");
            if (!r)
                r = go_json_string(b, keys[i], strlen(keys[i]));
            if (!r)
                r = cm_buf_puts(b, ":");
            if (!r)
                r = kl__go_json(b, json_object_get(v, keys[i]));
        }
        free(keys);
        return r ? r : cm_buf_puts(b, "}");
    }
    }
    return -EINVAL;
}

int kl__go_value(struct cm_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return kl__go_quote(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return cm_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: return kl__go_float(b, json_real_value(v));
    case JSON_TRUE: return cm_buf_puts(b, "true");
    case JSON_FALSE: return cm_buf_puts(b, "false");
    default: return kl__go_json(b, v);
    }
}

int kl__cause_add(json_t *causes, const char *reason, const char *message, const char *field)
{
    if (!causes)
        return 0;
    json_t *c = json_pack("{s:s, s:s, s:s}", "reason", reason, "message", message, "field",
                          field ? field : "");
    if (!c || json_array_append_new(causes, c) != 0)
        return -ENOMEM;
    return 0;
}

char *kl__strdupf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

void kl__set_err(char **ret_err, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    if (!ret_err)
        return;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    free(*ret_err);
    *ret_err = s;
}
