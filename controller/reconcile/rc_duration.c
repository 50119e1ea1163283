#include "rc_duration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Upper bound keeps every intermediate product of the parse inside int64_t. */
#define DURATION_MAX_MS (INT64_MAX / 1000)

int rc_duration_parse(const char *s, int64_t *ret_ms) {
    if (!s || !*s)
        return -EINVAL;
    const char *p = s;
    int64_t total = 0;
    int units = 0;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        int64_t whole = 0;
        while (*p >= '0' && *p <= '9') {
            if (whole > DURATION_MAX_MS / 10)
                return -ERANGE;
            whole = whole * 10 + (*p++ - '0');
        }
        /* Up to 3 fraction digits are significant (we count in ms); more are accepted and
         * truncated, as in "1.23456s". */
        int64_t frac = 0, frac_div = 1;
        if (*p == '.') {
            p++;
            if (*p < '0' || *p > '9')
                return -EINVAL;
            while (*p >= '0' && *p <= '9') {
                if (frac_div < 1000) {
                    frac = frac * 10 + (*p - '0');
                    frac_div *= 10;
                }
                p++;
            }
        }
        int64_t mult;
        if (!strncmp(p, "ms", 2)) {
            mult = 1;
            p += 2;
        } else if (*p == 'h') {
            mult = 3600000;
            p++;
        } else if (*p == 'm') {
            mult = 60000;
            p++;
        } else if (*p == 's') {
            mult = 1000;
            p++;
        } else if (!*p && units == 0 && frac_div == 1) {
            mult = 1000; /* bare integer: seconds */
        } else {
            return -EINVAL;
        }
        if (whole > DURATION_MAX_MS / mult)
            return -ERANGE;
        int64_t part = whole * mult + frac * mult / frac_div;
        if (total > DURATION_MAX_MS - part)
            return -ERANGE;
        total += part;
        units++;
    }
    *ret_ms = total;
    return 0;
}

char *rc_duration_format(int64_t ms, char *out, size_t n) {
    if (!out || n == 0)
        return out;
    if (ms <= 0) {
        snprintf(out, n, "0s");
        return out;
    }
    if (ms < 1000) {
        snprintf(out, n, "%lldms", (long long)ms);
        return out;
    }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
    size_t used = 0;
    out[0] = '\0';
    if (h && used < n)
        used += (size_t)snprintf(out + used, n - used, "%lldh", (long long)h);
    if (m && used < n)
        used += (size_t)snprintf(out + used, n - used, "%lldm", (long long)m);
    if ((s || rest) && used < n) {
        if (rest)
            used += (size_t)snprintf(out + used, n - used, "%lld.%03llds", (long long)s,
                                     (long long)rest);
        else
            used += (size_t)snprintf(out + used, n - used, "%llds", (long long)s);
    }
    return out;
}
