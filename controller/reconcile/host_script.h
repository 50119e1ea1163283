/* host_script: the shell items of a bootstrap script (host_bootstrap.c) and what they reported.
 *
 * A bootstrap pass runs several profile steps in ONE round trip (sshc_exec_batch()): each step
 * is one item. Its outcome must be exact per step (status.bootstrap.completedSteps, the failure
 * message), so every outcome other than "applied" ends with a marker line
 * "<nonce> <word> [status]" carrying a random per-pass nonce: the output of a command cannot
 * forge another result without knowing it.
 *
 *   HOST_SCRIPT_RUN    `check` passes -> nothing else runs (PASSED); otherwise `apply` and then
 *                      `check` again (APPLIED, APPLY_FAILED, CHECK_FAILED)
 *   HOST_SCRIPT_APPLY  `apply` then `check` (a failed check or a changed file: it must run)
 *   HOST_SCRIPT_CHECK  only reports whether `check` passes (PASSED / CHECK_FAILED); exits 0 so
 *                      a batch that stops at failures goes on
 * A NULL check means "always apply" (RUN and APPLY skip the checks; CHECK reports failed).
 * Commands are the profile's own text and each runs in a subshell on lines of its own, so a
 * trailing comment or an `exit` in it stays inside.
 * Threads: pure functions, any thread. */
#ifndef HOST_SCRIPT_H
#define HOST_SCRIPT_H

#include <stddef.h>

struct sshc_batch_item;

#define HOST_SCRIPT_NONCE_LEN 32

enum host_script_mode {
    HOST_SCRIPT_RUN,   /* check || { apply && check } */
    HOST_SCRIPT_APPLY, /* apply && check */
    HOST_SCRIPT_CHECK, /* report check */
};

enum host_script_outcome {
    HOST_SCRIPT_PASSED,       /* the check passed (nothing applied) */
    HOST_SCRIPT_APPLIED,      /* applied, and the check passes now */
    HOST_SCRIPT_APPLY_FAILED, /* apply exited non-zero (or the item died) */
    HOST_SCRIPT_CHECK_FAILED, /* the check fails (after apply, for RUN and APPLY) */
    HOST_SCRIPT_NOT_RUN,      /* the batch stopped before this item */
};

/* The item's shell text (malloc'ed), or NULL on -ENOMEM. apply may be NULL ("true"). */
char *host_script_item(const char *check, const char *apply, enum host_script_mode mode,
                       const char *nonce);
/* What item it (after sshc_exec_batch()) reported. *ret_end: the length of the commands' own
 * output (the marker line and what follows are cut off), for failure messages. */
enum host_script_outcome host_script_outcome(const struct sshc_batch_item *it, const char *nonce,
                                             size_t *ret_end);
/* A fresh random nonce: HOST_SCRIPT_NONCE_LEN hex digits and a NUL. */
void host_script_nonce(char out[HOST_SCRIPT_NONCE_LEN + 1]);

#endif
