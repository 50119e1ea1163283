/* op_plan: the Operation state machine's vocabulary and its pure decisions.
 *
 * An Operation runs its hosts through this sequence, each step written to status.hosts[] BEFORE
 * the side effect it announces (so a restarted controller resumes from status alone):
 *
 *   Pending -> Cordoning -> Draining -> Executing -> Rebooting -> Verifying
 *           -> WaitingNodeReady -> Uncordoning -> Done          (or Failed / Skipped)
 *
 * Steps that do not apply are left out: Cordoning, Draining and Uncordoning when the host is
 * not drained (spec.drain false, no container manager, or no node); WaitingNodeReady without a
 * node; Executing for restart, whose command IS the reboot. bootIDBefore is recorded with the
 * step that precedes the reboot (Rebooting for restart, Executing and again Rebooting for
 * upgrade/deploy), always read from the host in the moment before the write.
 *
 * The operation-level plan is a sliding window: hosts in flight (any step between Pending and
 * the terminal ones) never exceed the window (op_spec_window()); as soon as one finishes, the
 * next Pending host, in status order, starts. Failed hosts do not count (the reconciler
 * uncordons them), Skipped and Done hosts neither.
 *
 * Phases: Pending (waiting for its turn: at most one Operation per Cluster runs, in creation
 * order), InProcess, Paused (spec.paused: nothing new starts, hosts in flight finish),
 * then Finished, Failed or Canceled.
 *
 * Everything here is a pure function of its inputs, unit-tested in tests/unit/test_op_plan.c.
 * Thread-safe. */
#ifndef OP_PLAN_H
#define OP_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op_spec.h"

enum op_phase {
    OP_PHASE_NONE,      /* no status yet */
    OP_PHASE_PENDING,   /* waiting for its turn on the cluster */
    OP_PHASE_INPROCESS, /* hosts are being worked on */
    OP_PHASE_PAUSED,    /* spec.paused: no new host starts; in-flight hosts finish */
    OP_PHASE_FINISHED,  /* every selected host Done or Skipped (or failures within maxFailures) */
    OP_PHASE_FAILED,    /* invalid spec, or the failure policy stopped it */
    OP_PHASE_CANCELED,  /* spec.cancel or deletion */
    OP_PHASE__MAX,
};
const char *op_phase_name(enum op_phase p);                /* "" for NONE */
enum op_phase op_phase_from_string(const char *s);         /* unknown/NULL: NONE */
bool op_phase_is_terminal(enum op_phase p);

enum op_step {
    OP_STEP_PENDING,            /* not started */
    OP_STEP_CORDONING,          /* marking the node unschedulable */
    OP_STEP_DRAINING,           /* evicting its pods (PodDisruptionBudgets honoured) */
    OP_STEP_EXECUTING,          /* running the upgrade / deploy command */
    OP_STEP_REBOOTING,          /* reboot requested (or about to be): waiting for a new boot id */
    OP_STEP_VERIFYING,          /* checking the version, refreshing the Host's facts */
    OP_STEP_WAITING_NODE_READY, /* waiting for the node to report Ready again */
    OP_STEP_UNCORDONING,        /* marking the node schedulable again */
    OP_STEP_DONE,               /* finished successfully */
    OP_STEP_FAILED,             /* failed; the host entry's message says at which step and why */
    OP_STEP_SKIPPED,            /* not done: deleted, deselected, canceled or never started */
    OP_STEP__MAX,
};
const char *op_step_name(enum op_step s);
/* The step named s, or -1 when unknown. */
int op_step_from_string(const char *s);
bool op_step_is_terminal(enum op_step s);  /* Done, Failed, Skipped */
bool op_step_in_flight(enum op_step s);    /* Cordoning .. Uncordoning */
/* True when the host's command may already have run (Executing .. Uncordoning): from here on a
 * reboot may be on its way, which the reconciler must never repeat blindly. */
bool op_step_past_command(enum op_step s);

/* What applies to one host. */
struct op_host_flags {
    bool drain;       /* cordon, drain and uncordon its node */
    bool node_wait;   /* wait for its node to be Ready after the reboot */
    bool reboot_only; /* restart: the command is the reboot (no Executing step) */
};
/* The step after cur for a host with flags f (cur itself for terminal steps). */
enum op_step op_step_next(enum op_step cur, const struct op_host_flags *f);

/* ---- the operation-level plan ---- */

struct op_plan_in {
    const struct op_spec *spec;
    const enum op_step *steps; /* one per status.hosts[] entry, in order */
    size_t n;
    /* reserved[i]: host i is still Pending in status but already being started (its boot id is
     * being read); it counts as in flight. May be NULL. */
    const bool *reserved;
};

struct op_plan_out {
    enum op_phase phase;    /* the phase to record */
    const char *reason;     /* CamelCase reason for the phase (condition "Complete") */
    size_t window;          /* hosts allowed in flight */
    size_t pending, in_flight, done, failed, skipped; /* counts (reserved hosts are in flight) */
    bool stopping;          /* the failure policy stops new starts */
    bool cancel;            /* every non-terminal host must be brought back and Skipped */
    bool skip_pending;      /* the operation ends: remaining Pending hosts become Skipped */
    size_t n_start;         /* how many of start[] to begin now, in order */
};

/* Computes the plan. start must hold in->n indices; the first out->n_start are the Pending,
 * unreserved hosts to start now, in status order. */
void op_plan_compute(const struct op_plan_in *in, struct op_plan_out *out, size_t *start);

/* ---- one Operation per cluster, in creation order ---- */

struct op_queue_entry {
    const char *name;   /* Operation name (ties of creation time are broken by name) */
    int64_t created_ms; /* metadata.creationTimestamp */
    bool started;       /* has left Pending (InProcess or Paused) */
    bool terminal;      /* Finished, Failed, Canceled */
};
/* Whether entries[self] (one of the same cluster's Operations) may start now: no other one is
 * started and not terminal, and it is the earliest non-terminal one. A started self may always
 * go on. Returns true, or false with *ret_blocker (optional) the index of the Operation it
 * waits for. */
bool op_plan_may_run(const struct op_queue_entry *entries, size_t n, size_t self,
                     size_t *ret_blocker);

/* ---- did the reboot happen? ---- */

enum op_reboot_sent {
    OP_REBOOT_SENT_UNKNOWN, /* this process does not know (it resumed an operation) */
    OP_REBOOT_NOT_SENT,     /* this process knows the reboot command has not been delivered */
    OP_REBOOT_SENT,         /* this process delivered it */
};

enum op_reboot_verdict {
    OP_REBOOT_HAPPENED, /* the host runs a new boot id: go on to Verifying */
    OP_REBOOT_WAIT,     /* look again later */
    OP_REBOOT_SEND,     /* send the reboot (the host still runs the recorded boot id) */
};

struct op_reboot_in {
    const char *boot_before; /* status bootIDBefore ("" or NULL: not recorded) */
    const char *boot_now;    /* the host's boot id now; NULL: it could not be read (down) */
    enum op_reboot_sent sent;
    int64_t step_age_ms;     /* time since the step was entered (stepStartedAt) */
    int64_t grace_ms;        /* how long a delivered reboot may take to take the host down */
};
/* The decision for a host in Rebooting. A new boot id always means the reboot happened. An
 * unreachable host is waited for (it is going down or coming up). The same boot id means the
 * reboot has not happened yet: send it when we know it was not sent; when we cannot know (a
 * restarted controller), wait grace_ms from the step's start first, since a reboot delivered
 * just before the restart may not have taken the host down yet, and sending it again could
 * reboot the host twice. */
enum op_reboot_verdict op_plan_reboot(const struct op_reboot_in *in);

/* ---- status writes ---- */

/* True when the Operation statuses a and b (borrowed) differ, and only in the `message` of
 * entries of hosts[] (same keys otherwise, same hosts in the same order). The reconciler
 * coalesces such writes: a host's message is its latest word, not a record to resume from. */
bool op_plan_status_messages_only(const json_t *a, const json_t *b);

#endif
