/* See host_script.h. */
#include "host_script.h"

#include "cm_backoff.h"
#include "cm_time.h"
#include "sshc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

char *host_script_item(const char *check, const char *apply, enum host_script_mode mode,
                       const char *nonce) {
    char *out = NULL, *pre = NULL, *verify = NULL;
    int r;
    if (mode == HOST_SCRIPT_CHECK) {
        r = asprintf(&out,
                     "if (\n%s\n) >/dev/null 2>&1; then echo '%s ok'; else echo '%s no'; fi",
                     check ? check : "false", nonce, nonce);
        return r < 0 ? NULL : out;
    }
    if (mode == HOST_SCRIPT_RUN && check)
        r = asprintf(&pre, "if (\n%s\n) >/dev/null 2>&1; then echo '%s skip'; exit 0; fi\n",
                     check, nonce);
    else
        r = (pre = strdup("")) ? 0 : -1;
    if (r < 0)
        return NULL;
    if (check)
        r = asprintf(&verify, "(\n%s\n) || { e=$?; echo; echo \"%s check $e\"; exit $e; }\n",
                     check, nonce);
    else
        r = (verify = strdup("")) ? 0 : -1;
    if (r >= 0)
        r = asprintf(&out, "%s(\n%s\n) || { e=$?; echo; echo \"%s apply $e\"; exit $e; }\n%s",
                     pre, apply ? apply : "true", nonce, verify);
    free(pre);
    free(verify);
    return r < 0 ? NULL : out;
}

/* The first line "<nonce> <word>...": the word, and in *ret_at the line's offset. */
static const char *marker(const char *out, const char *nonce, size_t *ret_at) {
    size_t nl = strlen(nonce);
    for (const char *l = out; l && *l;) {
        if (!strncmp(l, nonce, nl) && l[nl] == ' ') {
            *ret_at = (size_t)(l - out);
            return l + nl + 1;
        }
        l = strchr(l, '\n');
        if (l)
            l++;
    }
    return NULL;
}

static bool word_is(const char *w, const char *want) {
    size_t n = strlen(want);
    return !strncmp(w, want, n) && (w[n] == '\0' || w[n] == '\n' || w[n] == ' ');
}

enum host_script_outcome host_script_outcome(const struct sshc_batch_item *it, const char *nonce,
                                             size_t *ret_end) {
    const char *out = it->output ? it->output : "";
    *ret_end = strlen(out);
    if (!it->ran)
        return HOST_SCRIPT_NOT_RUN;
    const char *w = marker(out, nonce, ret_end);
    if (w && (word_is(w, "skip") || word_is(w, "ok")))
        return it->exit_status == 0 ? HOST_SCRIPT_PASSED : HOST_SCRIPT_APPLY_FAILED;
    if (w && (word_is(w, "no") || word_is(w, "check")))
        return HOST_SCRIPT_CHECK_FAILED;
    if (w && word_is(w, "apply"))
        return HOST_SCRIPT_APPLY_FAILED;
    /* No marker: the item ran to its end (applied), or died without a word (killed). */
    return it->exit_status == 0 ? HOST_SCRIPT_APPLIED : HOST_SCRIPT_APPLY_FAILED;
}

void host_script_nonce(char out[HOST_SCRIPT_NONCE_LEN + 1]) {
    unsigned char raw[HOST_SCRIPT_NONCE_LEN / 2];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        /* Not reachable on Linux >= 3.17 for 16 bytes; the time still differs per pass. */
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (unsigned char)((double)cm_time_mono_ms() * cm_backoff_rand() * 251.0);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}
