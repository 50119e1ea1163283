/* kube_ratelimit: token bucket and retry delay maths. */
#include "kube_ratelimit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_backoff.h"

void kube_bucket_init(struct kube_bucket *b, double qps, int burst, int64_t now_ms) {
    b->qps = qps;
    b->burst = burst < 1 ? 1 : burst;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

int64_t kube_bucket_reserve(struct kube_bucket *b, int64_t now_ms) {
    if (b->qps <= 0)
        return 0;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->qps / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    /* A reservation made "in the past" (now_ms < last_ms can happen between threads reading the
     * clock) is computed at last_ms; the wait below accounts for the difference. */
    b->tokens -= 1.0;
    if (b->tokens >= 0)
        return b->last_ms > now_ms ? b->last_ms - now_ms : 0;
    double wait = -b->tokens * 1000.0 / b->qps;
    int64_t w = (int64_t)wait;
    if ((double)w < wait)
        w++;
    if (b->last_ms > now_ms)
        w += b->last_ms - now_ms;
    return w;
}

static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Parses the IMF-fixdate form only ("Sun, 06 Nov 1994 08:49:37 GMT"), the one RFC 9110 says
 * senders must use. */
static int parse_http_date(const char *s, int64_t *ret_ms) {
    char wd[4], mon[4], zone[4];
    int day, year, hh, mm, ss, n = 0;
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3s%n", wd, &day, mon, &year, &hh,
               &mm, &ss, zone, &n) != 8)
        return -EINVAL;
    if (strcmp(zone, "GMT") != 0 || s[n] != '\0')
        return -EINVAL;
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, MONTHS[i]) == 0)
            m = i;
    if (m < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
        return -EINVAL;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = m, .tm_mday = day,
                    .tm_hour = hh, .tm_min = mm, .tm_sec = ss};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *ret_ms = (int64_t)t * 1000;
    return 0;
}

int kube_retry_after_parse(const char *value, int64_t now_wall_ms, int64_t cap_ms,
                           int64_t *ret_ms) {
    if (!value)
        return -EINVAL;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return -EINVAL;
    int64_t ms;
    if (isdigit((unsigned char)*value)) {
        char *end;
        errno = 0;
        unsigned long long sec = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end || errno)
            return -EINVAL;
        ms = sec > (unsigned long long)(INT64_MAX / 1000) ? INT64_MAX : (int64_t)sec * 1000;
    } else {
        /* Header values may keep their CRLF when taken raw from curl. */
        char tmp[64];
        size_t n = strcspn(value, "\r\n");
        if (n >= sizeof(tmp))
            return -EINVAL;
        memcpy(tmp, value, n);
        tmp[n] = '\0';
        int64_t at;
        if (parse_http_date(tmp, &at) < 0)
            return -EINVAL;
        ms = at > now_wall_ms ? at - now_wall_ms : 0;
    }
    if (cap_ms >= 0 && ms > cap_ms)
        ms = cap_ms;
    *ret_ms = ms;
    return 0;
}

int64_t kube_retry_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms,
                            int64_t retry_after_ms, double rnd) {
    int64_t d = cm_backoff_delay_ms(base_ms, cap_ms, attempt);
    d = cm_backoff_jitter_ms(d, cap_ms, 0.2, rnd);
    if (retry_after_ms >= 0) {
        int64_t ra = retry_after_ms > cap_ms ? cap_ms : retry_after_ms;
        if (ra > d)
            d = ra;
    }
    return d;
}
