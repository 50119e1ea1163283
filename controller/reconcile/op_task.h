/* op_task: the Operation reconciler's SSH work, run off the reconcile workers.
 *
 * A rolling operation spends most of its time waiting for hosts (an upgrade command, a reboot),
 * and a reconcile worker must never sleep on that. So every SSH interaction with a host is a
 * task: the reconciler starts it and returns (requeue); a small thread pool runs it, bounded by
 * the SSH connect and command timeouts; when it ends, its result is stored under the task's key
 * and done_cb is called (the reconciler enqueues the Operation), and the next reconcile pass
 * takes the result.
 *
 * One task per key ("ns/operation|host") at a time. A result carries the tag given at start
 * (the reconciler uses "<uid>|<step>|<stepStartedAt>"); op_tasks_take() only hands out a result
 * whose tag matches what the caller expects now, so the result of a task started for a step the
 * host has since left (another leader moved on, the operation was canceled) is dropped, never
 * applied.
 *
 * Results live only in memory: a controller that dies loses them, which is safe because every
 * task is either read-only (boot id, facts) or announced in status before it starts (command,
 * reboot), and the reconciler re-derives what happened from the host itself.
 *
 * Threads: every function is thread-safe; done_cb runs on a pool thread. */
#ifndef OP_TASK_H
#define OP_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sshc_facts.h"

struct rc_env;
struct op_tasks;

enum op_task_kind {
    OP_TASK_BOOTID, /* read the boot id (before recording bootIDBefore) */
    OP_TASK_EXEC,   /* run the upgrade/deploy command, then read the boot id */
    OP_TASK_REBOOT, /* send the reboot, guarded on the host by the recorded boot id */
    OP_TASK_POLL,   /* is it back? TCP probe, then connect and gather facts */
    OP_TASK__MAX,
};
const char *op_task_kind_name(enum op_task_kind k);

enum op_task_cmd {
    OP_CMD_RESTART, /* the profile's restart command (default: reboot) */
    OP_CMD_REBOOT,  /* the profile's reboot command */
    OP_CMD_UPGRADE, /* the profile's upgrade command */
    OP_CMD_DEPLOY,  /* the profile's deploy command for version */
};

struct op_task_spec {
    enum op_task_kind kind;
    const json_t *host;      /* the Host object (a reference is taken) */
    enum op_task_cmd cmd;    /* EXEC, REBOOT */
    const char *version;     /* EXEC deploy (copied) */
    const char *boot_before; /* REBOOT: the recorded boot id the guard compares with (copied) */
    int64_t timeout_ms;      /* EXEC/REBOOT command timeout; 0: the environment's */
    const char *tag;         /* copied; see above */
    const char *op_key;      /* "ns/name" of the Operation, given to done_cb (copied) */
    bool until_down;         /* POLL: the reboot was just delivered and the host not yet seen
                                down: a probe that connects ends the task (err -EINPROGRESS,
                                reason "StillUp") instead of an SSH handshake with a host that
                                is going down */
    bool background;         /* work done ahead of its need (a boot id read before the host's
                                turn): runs only when no other task waits, on at most half of
                                the threads, so it never delays a host in flight */
};

struct op_task_result {
    enum op_task_kind kind;
    int err;              /* 0: the task did its job (see below); < 0: it could not */
    const char *reason;   /* static CamelCase reason when err < 0 */
    char message[600];    /* what went wrong (err < 0 or a failed command), no secrets */
    bool unreachable;     /* the host did not answer (refused, timeout, session died) */
    bool fatal;           /* retrying cannot help (host key mismatch, auth, no such command) */
    int exit_status;      /* EXEC/REBOOT: the command's exit status (err == 0) */
    bool sent;            /* REBOOT: the command was delivered (or the session died under it) */
    bool rebooted;        /* REBOOT: the guard found a different boot id: nothing was sent */
    char boot_id[72];     /* BOOTID, EXEC (after the command), REBOOT (the one found), POLL */
    bool have_facts;      /* POLL: facts gathered */
    struct sshc_facts facts; /* POLL; freed by op_task_result_done() */
    char profile[64];     /* EXEC/REBOOT: the OS profile used */
    int64_t duration_ms;
    int64_t done_ms;      /* monotonic time the task ended (how old the result is) */
    int64_t probe_ms;     /* POLL: the TCP probe's time */
    int64_t connect_ms;   /* the SSH connect's time (0 when none was tried) */
};
void op_task_result_done(struct op_task_result *r);

typedef void (*op_tasks_done_cb)(const char *op_key, void *userdata);

/* Creates the pool with `threads` threads (0: 16). env is borrowed for the pool's life.
 * Returns 0, -ENOMEM, -EAGAIN. */
int op_tasks_new(const struct rc_env *env, unsigned threads, op_tasks_done_cb done_cb,
                 void *userdata, struct op_tasks **ret);
/* Stops the threads after the tasks in progress end (bounded by SSH timeouts), drops queued
 * tasks and results. Accepts NULL. */
void op_tasks_free(struct op_tasks *t);

/* Starts a task under key. Returns 0 (queued), -EBUSY (a task for key is queued or running),
 * -EALREADY (a finished result for key waits to be taken), -ESHUTDOWN, -ENOMEM. */
int op_tasks_start(struct op_tasks *t, const char *key, const struct op_task_spec *spec);
/* A background task for key still queued becomes an ordinary one (its result is needed now).
 * No-op otherwise. */
void op_tasks_promote(struct op_tasks *t, const char *key);
/* Whether a task for key is queued or running (true) — its result not yet stored. */
bool op_tasks_busy(struct op_tasks *t, const char *key);
/* Takes the stored result for key if it is of kind and carries tag: returns 1 and fills *ret
 * (release with op_task_result_done()). A stored result with another tag is stale and dropped;
 * one with the same tag but another kind is left for its own take. Both return 0, as does
 * nothing stored. */
int op_tasks_take(struct op_tasks *t, const char *key, enum op_task_kind kind, const char *tag,
                  struct op_task_result *ret);
/* Drops stored results whose key starts with prefix (an Operation that is gone). Tasks in
 * progress finish; their results are dropped as they arrive only if forgotten again. */
void op_tasks_forget(struct op_tasks *t, const char *prefix);
/* Same for exactly one key (a host leaving its operation): a queued task never runs, a running
 * one's result is dropped, and a new task may be started for key at once. */
void op_tasks_drop(struct op_tasks *t, const char *key);

/* Pure helpers, exposed for tests. */
/* True when s looks like a boot id: 1..64 characters of [0-9a-fA-F-]. */
bool op_task_boot_id_valid(const char *s);
/* The REBOOT guard script: prints the boot id and exits 97 when it is not boot_before, else
 * runs cmd. boot_before must satisfy op_task_boot_id_valid() (it is the only value ever put in
 * the script, single-quoted). malloc'ed, NULL on -EINVAL/-ENOMEM. */
char *op_task_reboot_script(const char *boot_before, const char *cmd);

#endif
