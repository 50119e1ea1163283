#include "op_plan.h"

#include <string.h>

static const char *const phase_names[OP_PHASE__MAX] = {
    "", "Pending", "InProcess", "Paused", "Finished", "Failed", "Canceled",
};

const char *op_phase_name(enum op_phase p) {
    return p >= 0 && p < OP_PHASE__MAX ? phase_names[p] : "";
}

enum op_phase op_phase_from_string(const char *s) {
    for (int i = 1; s && i < OP_PHASE__MAX; i++)
        if (!strcmp(s, phase_names[i]))
            return (enum op_phase)i;
    return OP_PHASE_NONE;
}

bool op_phase_is_terminal(enum op_phase p) {
    return p == OP_PHASE_FINISHED || p == OP_PHASE_FAILED || p == OP_PHASE_CANCELED;
}

static const char *const step_names[OP_STEP__MAX] = {
    "Pending",  "Cordoning",        "Draining",    "Executing", "Rebooting", "Verifying",
    "WaitingNodeReady", "Uncordoning", "Done",      "Failed",    "Skipped",
};

const char *op_step_name(enum op_step s) {
    return s >= 0 && s < OP_STEP__MAX ? step_names[s] : "";
}

int op_step_from_string(const char *s) {
    for (int i = 0; s && i < OP_STEP__MAX; i++)
        if (!strcmp(s, step_names[i]))
            return i;
    return -1;
}

bool op_step_is_terminal(enum op_step s) {
    return s == OP_STEP_DONE || s == OP_STEP_FAILED || s == OP_STEP_SKIPPED;
}

bool op_step_in_flight(enum op_step s) { return s > OP_STEP_PENDING && s < OP_STEP_DONE; }

bool op_step_past_command(enum op_step s) {
    return s >= OP_STEP_EXECUTING && s <= OP_STEP_UNCORDONING;
}

enum op_step op_step_next(enum op_step cur, const struct op_host_flags *f) {
    enum op_step command = f->reboot_only ? OP_STEP_REBOOTING : OP_STEP_EXECUTING;
    switch (cur) {
    case OP_STEP_PENDING: return f->drain ? OP_STEP_CORDONING : command;
    case OP_STEP_CORDONING: return f->drain ? OP_STEP_DRAINING : command;
    case OP_STEP_DRAINING: return command;
    case OP_STEP_EXECUTING: return OP_STEP_REBOOTING;
    case OP_STEP_REBOOTING: return OP_STEP_VERIFYING;
    case OP_STEP_VERIFYING:
        if (f->node_wait)
            return OP_STEP_WAITING_NODE_READY;
        /* fall through */
    case OP_STEP_WAITING_NODE_READY: return f->drain ? OP_STEP_UNCORDONING : OP_STEP_DONE;
    case OP_STEP_UNCORDONING: return OP_STEP_DONE;
    default: return cur;
    }
}

void op_plan_compute(const struct op_plan_in *in, struct op_plan_out *out, size_t *start) {
    const struct op_spec *s = in->spec;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < in->n; i++) {
        enum op_step st = in->steps[i];
        if (st == OP_STEP_PENDING)
            (in->reserved && in->reserved[i]) ? out->in_flight++ : out->pending++;
        else if (op_step_in_flight(st))
            out->in_flight++;
        else if (st == OP_STEP_DONE)
            out->done++;
        else if (st == OP_STEP_FAILED)
            out->failed++;
        else
            out->skipped++;
    }
    out->window = op_spec_window(s, in->n);

    if (s->cancel) {
        out->cancel = true;
        out->phase = OP_PHASE_CANCELED;
        out->reason = "Canceled";
        return;
    }
    out->stopping = s->failure_policy == OP_POLICY_ABORT
                        ? out->failed > 0
                        : out->failed > (size_t)(s->max_failures < 0 ? 0 : s->max_failures);
    if (out->stopping) {
        if (out->in_flight == 0) {
            out->phase = OP_PHASE_FAILED;
            out->skip_pending = true;
        } else {
            /* Hosts in flight finish first (their reboot may be under way): no new start. */
            out->phase = s->paused ? OP_PHASE_PAUSED : OP_PHASE_INPROCESS;
        }
        out->reason = "HostFailed";
        return;
    }
    if (out->pending == 0 && out->in_flight == 0) {
        out->phase = OP_PHASE_FINISHED;
        out->reason = out->failed ? "FinishedWithFailures" : "Finished";
        return;
    }
    if (s->paused) {
        out->phase = OP_PHASE_PAUSED;
        out->reason = "Paused";
        return;
    }
    out->phase = OP_PHASE_INPROCESS;
    out->reason = "InProgress";
    size_t slots = out->window > out->in_flight ? out->window - out->in_flight : 0;
    for (size_t i = 0; i < in->n && out->n_start < slots; i++)
        if (in->steps[i] == OP_STEP_PENDING && !(in->reserved && in->reserved[i]))
            start[out->n_start++] = i;
}

static bool entry_before(const struct op_queue_entry *a, const struct op_queue_entry *b) {
    if (a->created_ms != b->created_ms)
        return a->created_ms < b->created_ms;
    return strcmp(a->name ? a->name : "", b->name ? b->name : "") < 0;
}

bool op_plan_may_run(const struct op_queue_entry *e, size_t n, size_t self,
                     size_t *ret_blocker) {
    if (e[self].started && !e[self].terminal)
        return true;
    size_t first = self;
    for (size_t i = 0; i < n; i++) {
        if (i == self || e[i].terminal)
            continue;
        if (e[i].started) {
            if (ret_blocker)
                *ret_blocker = i;
            return false;
        }
        if (entry_before(&e[i], &e[first]))
            first = i;
    }
    if (first != self) {
        if (ret_blocker)
            *ret_blocker = first;
        return false;
    }
    return true;
}

enum op_reboot_verdict op_plan_reboot(const struct op_reboot_in *in) {
    bool have_before = in->boot_before && *in->boot_before;
    if (!in->boot_now)
        return OP_REBOOT_WAIT;
    if (have_before && strcmp(in->boot_before, in->boot_now))
        return OP_REBOOT_HAPPENED;
    if (!have_before) {
        /* Cannot happen with status written by this controller (the boot id is recorded with
         * the step); without it nothing proves a reboot, so only a known-unsent one is sent. */
        return in->sent == OP_REBOOT_NOT_SENT ? OP_REBOOT_SEND : OP_REBOOT_WAIT;
    }
    switch (in->sent) {
    case OP_REBOOT_NOT_SENT: return OP_REBOOT_SEND;
    case OP_REBOOT_SENT: return OP_REBOOT_WAIT;
    default: return in->step_age_ms >= in->grace_ms ? OP_REBOOT_SEND : OP_REBOOT_WAIT;
    }
}

/* Whether objects a and b are equal but for the member skip (NULL: none). */
static bool equal_but(const json_t *a, const json_t *b, const char *skip) {
    if (!json_is_object(a) || !json_is_object(b))
        return false;
    const char *k;
    json_t *v;
    size_t na = 0, nb = 0;
    json_object_foreach((json_t *)a, k, v) {
        if (skip && !strcmp(k, skip))
            continue;
        na++;
        if (!json_equal(v, json_object_get(b, k)))
            return false;
    }
    json_object_foreach((json_t *)b, k, v) {
        if (!skip || strcmp(k, skip))
            nb++;
    }
    return na == nb;
}

bool op_plan_status_messages_only(const json_t *a, const json_t *b) {
    if (!json_is_object(a) || !json_is_object(b) || json_equal(a, b))
        return false;
    const json_t *ha = json_object_get(a, "hosts"), *hb = json_object_get(b, "hosts");
    if (!json_is_array(ha) || !json_is_array(hb) || json_array_size(ha) != json_array_size(hb) ||
        !equal_but(a, b, "hosts"))
        return false;
    for (size_t i = 0; i < json_array_size(ha); i++)
        if (!equal_but(json_array_get(ha, i), json_array_get(hb, i), "message"))
            return false;
    return true;
}
