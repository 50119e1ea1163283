/* Unit tests of the Operation planner (op_plan.h): the sliding window, failure policies, pause
 * and cancel, one operation per cluster in creation order, the step sequence, and the resume
 * decision from recorded boot ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "op_plan.h"

static struct op_spec spec_n(int64_t mu, bool percent) {
    struct op_spec s = {.type = OP_TYPE_RESTART, .cluster = "c", .max_unavailable = mu,
                        .max_unavailable_percent = percent, .drain = -1,
                        .drain_timeout_ms = 1000, .host_timeout_ms = 1000};
    return s;
}

static void test_names(void **state) {
    (void)state;
    for (int s = 0; s < OP_STEP__MAX; s++)
        assert_int_equal(op_step_from_string(op_step_name((enum op_step)s)), s);
    assert_int_equal(op_step_from_string("Bogus"), -1);
    assert_int_equal(op_step_from_string(NULL), -1);
    for (int p = 1; p < OP_PHASE__MAX; p++)
        assert_int_equal(op_phase_from_string(op_phase_name((enum op_phase)p)), p);
    assert_int_equal(op_phase_from_string("nope"), OP_PHASE_NONE);
    assert_string_equal(op_step_name(OP_STEP_WAITING_NODE_READY), "WaitingNodeReady");
    assert_true(op_phase_is_terminal(OP_PHASE_CANCELED));
    assert_false(op_phase_is_terminal(OP_PHASE_PAUSED));
    assert_true(op_step_in_flight(OP_STEP_CORDONING));
    assert_true(op_step_in_flight(OP_STEP_UNCORDONING));
    assert_false(op_step_in_flight(OP_STEP_PENDING));
    assert_false(op_step_in_flight(OP_STEP_DONE));
    assert_true(op_step_past_command(OP_STEP_EXECUTING));
    assert_false(op_step_past_command(OP_STEP_DRAINING));
}

static void test_window(void **state) {
    (void)state;
    struct op_spec s = spec_n(2, false);
    assert_int_equal(op_spec_window(&s, 10), 2);
    assert_int_equal(op_spec_window(&s, 1), 1); /* never more than there are hosts */
    s = spec_n(25, true);
    assert_int_equal(op_spec_window(&s, 10), 2); /* 2.5 rounds down */
    assert_int_equal(op_spec_window(&s, 3), 1);  /* 0.75 rounds down to 0, at least 1 */
    s = spec_n(10, true);
    assert_int_equal(op_spec_window(&s, 100), 10);
    assert_int_equal(op_spec_window(&s, 5), 1);
    s = spec_n(100, true);
    assert_int_equal(op_spec_window(&s, 7), 7);
    assert_int_equal(op_spec_window(&s, 0), 1);
    s = spec_n(1, true);
    assert_int_equal(op_spec_window(&s, 250), 2);
}

static void compute(const struct op_spec *s, const enum op_step *steps, size_t n,
                    const bool *reserved, struct op_plan_out *out, size_t *start) {
    struct op_plan_in in = {s, steps, n, reserved};
    op_plan_compute(&in, out, start);
}

static void test_starts_in_order_within_window(void **state) {
    (void)state;
    struct op_spec s = spec_n(2, false);
    enum op_step st[5] = {OP_STEP_PENDING, OP_STEP_PENDING, OP_STEP_PENDING, OP_STEP_PENDING,
                          OP_STEP_PENDING};
    size_t start[5];
    struct op_plan_out out;
    compute(&s, st, 5, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_INPROCESS);
    assert_int_equal(out.n_start, 2);
    assert_int_equal(start[0], 0);
    assert_int_equal(start[1], 1);
    /* One in flight, one done: one slot, the next Pending in order. */
    st[0] = OP_STEP_DONE;
    st[1] = OP_STEP_REBOOTING;
    compute(&s, st, 5, NULL, &out, start);
    assert_int_equal(out.n_start, 1);
    assert_int_equal(start[0], 2);
    assert_int_equal(out.in_flight, 1);
    assert_int_equal(out.done, 1);
    /* A reserved Pending host holds a slot and is not started twice. */
    bool res[5] = {false, false, true, false, false};
    compute(&s, st, 5, res, &out, start);
    assert_int_equal(out.in_flight, 2);
    assert_int_equal(out.n_start, 0);
    /* Skipped and failed hosts hold no slot (Continue policy). */
    s.failure_policy = OP_POLICY_CONTINUE;
    s.max_failures = 5;
    st[1] = OP_STEP_FAILED;
    st[2] = OP_STEP_SKIPPED;
    compute(&s, st, 5, NULL, &out, start);
    assert_int_equal(out.n_start, 2);
    assert_int_equal(start[0], 3);
    assert_int_equal(start[1], 4);
}

/* Simulates operations of many sizes and windows with hosts finishing at random moments: the
 * number in flight never exceeds the window, every host is started exactly once, in order, and
 * the operation finishes. */
static void test_window_never_exceeded(void **state) {
    (void)state;
    srand(12345);
    for (size_t n = 0; n <= 40; n += 3) {
        for (int64_t mu = 1; mu <= 12; mu += 3) {
            for (int pct = 0; pct <= 1; pct++) {
                struct op_spec s = spec_n(pct ? mu * 8 : mu, pct);
                enum op_step *st = calloc(n + 1, sizeof *st);
                size_t *start = calloc(n + 1, sizeof *start);
                size_t window = op_spec_window(&s, n), next_expected = 0;
                struct op_plan_out out;
                int rounds = 0;
                for (;;) {
                    compute(&s, st, n, NULL, &out, start);
                    assert_true(out.in_flight + out.n_start <= window);
                    for (size_t i = 0; i < out.n_start; i++) {
                        assert_int_equal(start[i], next_expected++);
                        st[start[i]] = OP_STEP_CORDONING;
                    }
                    if (out.phase == OP_PHASE_FINISHED)
                        break;
                    assert_int_equal(out.phase, OP_PHASE_INPROCESS);
                    /* Advance hosts in flight by random steps. */
                    for (size_t i = 0; i < n; i++)
                        if (op_step_in_flight(st[i]) && rand() % 3 == 0)
                            st[i] = (rand() % 2) ? OP_STEP_DONE : st[i] + 1;
                    assert_true(++rounds < 100000);
                }
                assert_int_equal(next_expected, n);
                assert_int_equal(out.done, n);
                free(st);
                free(start);
            }
        }
    }
}

static void test_abort_policy(void **state) {
    (void)state;
    struct op_spec s = spec_n(2, false);
    enum op_step st[4] = {OP_STEP_FAILED, OP_STEP_REBOOTING, OP_STEP_PENDING, OP_STEP_PENDING};
    size_t start[4];
    struct op_plan_out out;
    compute(&s, st, 4, NULL, &out, start);
    assert_true(out.stopping);
    assert_int_equal(out.n_start, 0); /* a free slot, but nothing new starts */
    assert_int_equal(out.phase, OP_PHASE_INPROCESS); /* the host in flight finishes first */
    assert_false(out.skip_pending);
    assert_string_equal(out.reason, "HostFailed");
    st[1] = OP_STEP_DONE;
    compute(&s, st, 4, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_FAILED);
    assert_true(out.skip_pending);
    /* maxFailures means nothing with Abort. */
    s.max_failures = 3;
    compute(&s, st, 4, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_FAILED);
}

static void test_continue_policy(void **state) {
    (void)state;
    struct op_spec s = spec_n(1, false);
    s.failure_policy = OP_POLICY_CONTINUE;
    s.max_failures = 1;
    enum op_step st[4] = {OP_STEP_FAILED, OP_STEP_PENDING, OP_STEP_PENDING, OP_STEP_PENDING};
    size_t start[4];
    struct op_plan_out out;
    compute(&s, st, 4, NULL, &out, start);
    assert_false(out.stopping);
    assert_int_equal(out.n_start, 1);
    assert_int_equal(start[0], 1);
    /* A second failure is more than maxFailures: stop. */
    st[1] = OP_STEP_FAILED;
    compute(&s, st, 4, NULL, &out, start);
    assert_true(out.stopping);
    assert_int_equal(out.phase, OP_PHASE_FAILED);
    assert_true(out.skip_pending);
    /* Failures within maxFailures: the operation finishes. */
    st[1] = OP_STEP_DONE;
    st[2] = OP_STEP_DONE;
    st[3] = OP_STEP_DONE;
    compute(&s, st, 4, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_FINISHED);
    assert_string_equal(out.reason, "FinishedWithFailures");
    /* Continue with maxFailures 0 stops at the first failure, like Abort. */
    s.max_failures = 0;
    enum op_step st2[2] = {OP_STEP_FAILED, OP_STEP_PENDING};
    compute(&s, st2, 2, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_FAILED);
}

static void test_pause_and_cancel(void **state) {
    (void)state;
    struct op_spec s = spec_n(2, false);
    s.paused = true;
    enum op_step st[3] = {OP_STEP_DRAINING, OP_STEP_PENDING, OP_STEP_PENDING};
    size_t start[3];
    struct op_plan_out out;
    compute(&s, st, 3, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_PAUSED);
    assert_int_equal(out.n_start, 0);
    st[0] = OP_STEP_DONE;
    compute(&s, st, 3, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_PAUSED); /* still paused with nothing in flight */
    s.paused = false;
    compute(&s, st, 3, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_INPROCESS);
    assert_int_equal(out.n_start, 2);
    /* Paused but nothing left: finished. */
    s.paused = true;
    enum op_step all_done[2] = {OP_STEP_DONE, OP_STEP_SKIPPED};
    compute(&s, all_done, 2, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_FINISHED);
    /* Cancel wins over everything. */
    s.cancel = true;
    compute(&s, st, 3, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_CANCELED);
    assert_true(out.cancel);
    assert_int_equal(out.n_start, 0);
    /* Nothing selected: finished at once. */
    s = spec_n(1, false);
    compute(&s, NULL, 0, NULL, &out, start);
    assert_int_equal(out.phase, OP_PHASE_FINISHED);
}

static void test_step_sequence(void **state) {
    (void)state;
    struct op_host_flags full = {.drain = true, .node_wait = true, .reboot_only = false};
    enum op_step want[] = {OP_STEP_PENDING,   OP_STEP_CORDONING, OP_STEP_DRAINING,
                           OP_STEP_EXECUTING, OP_STEP_REBOOTING, OP_STEP_VERIFYING,
                           OP_STEP_WAITING_NODE_READY, OP_STEP_UNCORDONING, OP_STEP_DONE};
    enum op_step s = OP_STEP_PENDING;
    for (size_t i = 1; i < sizeof want / sizeof want[0]; i++) {
        s = op_step_next(s, &full);
        assert_int_equal(s, want[i]);
    }
    assert_int_equal(op_step_next(OP_STEP_DONE, &full), OP_STEP_DONE);
    assert_int_equal(op_step_next(OP_STEP_FAILED, &full), OP_STEP_FAILED);
    /* restart without drain nor node: straight to the reboot, then done after verifying. */
    struct op_host_flags bare = {.reboot_only = true};
    assert_int_equal(op_step_next(OP_STEP_PENDING, &bare), OP_STEP_REBOOTING);
    assert_int_equal(op_step_next(OP_STEP_REBOOTING, &bare), OP_STEP_VERIFYING);
    assert_int_equal(op_step_next(OP_STEP_VERIFYING, &bare), OP_STEP_DONE);
    /* restart with drain: the drain leads to the reboot. */
    struct op_host_flags rd = {.drain = true, .node_wait = true, .reboot_only = true};
    assert_int_equal(op_step_next(OP_STEP_DRAINING, &rd), OP_STEP_REBOOTING);
    /* a node but no drain (spec.drain false): wait for it, no uncordon. */
    struct op_host_flags nd = {.node_wait = true};
    assert_int_equal(op_step_next(OP_STEP_PENDING, &nd), OP_STEP_EXECUTING);
    assert_int_equal(op_step_next(OP_STEP_VERIFYING, &nd), OP_STEP_WAITING_NODE_READY);
    assert_int_equal(op_step_next(OP_STEP_WAITING_NODE_READY, &nd), OP_STEP_DONE);
}

static void test_queue(void **state) {
    (void)state;
    struct op_queue_entry e[4] = {
        {.name = "b", .created_ms = 1000},
        {.name = "a", .created_ms = 2000},
        {.name = "c", .created_ms = 1000},
        {.name = "old", .created_ms = 10, .terminal = true},
    };
    size_t blocker = 99;
    /* Earliest first; a tie in creation time is broken by name; terminal ones do not count. */
    assert_true(op_plan_may_run(e, 4, 0, &blocker));
    assert_false(op_plan_may_run(e, 4, 1, &blocker));
    assert_int_equal(blocker, 0);
    assert_false(op_plan_may_run(e, 4, 2, &blocker));
    assert_int_equal(blocker, 0);
    /* A started one blocks every other, even earlier ones. */
    e[1].started = true;
    assert_false(op_plan_may_run(e, 4, 0, &blocker));
    assert_int_equal(blocker, 1);
    assert_true(op_plan_may_run(e, 4, 1, NULL));
    /* Once it is done, the earliest waiting one goes. */
    e[1].terminal = true;
    assert_true(op_plan_may_run(e, 4, 0, NULL));
    assert_false(op_plan_may_run(e, 4, 2, NULL));
    e[0].terminal = true;
    assert_true(op_plan_may_run(e, 4, 2, NULL));
    /* Alone on its cluster. */
    struct op_queue_entry one = {.name = "x", .created_ms = 5};
    assert_true(op_plan_may_run(&one, 1, 0, NULL));
}

static void test_reboot_verdict(void **state) {
    (void)state;
    struct op_reboot_in in = {.boot_before = "aaaa", .boot_now = "bbbb",
                              .sent = OP_REBOOT_SENT_UNKNOWN, .step_age_ms = 0,
                              .grace_ms = 20000};
    /* A new boot id: the reboot happened, whatever this process knows. */
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_HAPPENED);
    in.sent = OP_REBOOT_NOT_SENT;
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_HAPPENED);
    in.sent = OP_REBOOT_SENT;
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_HAPPENED);
    /* Unreachable: wait (going down or coming up), never send. */
    in.boot_now = NULL;
    for (int s = 0; s < 3; s++) {
        in.sent = (enum op_reboot_sent)s;
        in.step_age_ms = 999999;
        assert_int_equal(op_plan_reboot(&in), OP_REBOOT_WAIT);
    }
    /* Same boot id. */
    in.boot_now = "aaaa";
    in.step_age_ms = 0;
    in.sent = OP_REBOOT_SENT; /* delivered by us: the host has not gone down yet */
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_WAIT);
    in.step_age_ms = 999999;
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_WAIT);
    in.sent = OP_REBOOT_NOT_SENT; /* known unsent: send */
    in.step_age_ms = 0;
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_SEND);
    /* Resumed (unknown): a reboot delivered just before the restart may still be on its way,
     * so wait the grace time before sending again. */
    in.sent = OP_REBOOT_SENT_UNKNOWN;
    in.step_age_ms = 19999;
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_WAIT);
    in.step_age_ms = 20000;
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_SEND);
    /* No recorded boot id: nothing proves a reboot; only a known-unsent one is sent. */
    in.boot_before = "";
    in.boot_now = "bbbb";
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_WAIT);
    in.sent = OP_REBOOT_NOT_SENT;
    assert_int_equal(op_plan_reboot(&in), OP_REBOOT_SEND);
}

/* Writes that change only hosts' messages are recognised (and coalesced by the reconciler);
 * any other difference is not. */
static void test_messages_only(void **state) {
    (void)state;
    json_t *a = json_loads("{\"phase\":\"InProcess\",\"total\":2,\"hosts\":["
                           "{\"name\":\"h1\",\"step\":\"Rebooting\",\"message\":\"m1\"},"
                           "{\"name\":\"h2\",\"step\":\"Pending\"}]}",
                           0, NULL);
    assert_non_null(a);
    json_t *b = json_deep_copy(a);
    assert_false(op_plan_status_messages_only(a, b)); /* equal: nothing to write at all */
    json_t *h1 = json_array_get(json_object_get(b, "hosts"), 0);
    json_object_set_new(h1, "message", json_string("m2"));
    assert_true(op_plan_status_messages_only(a, b));
    /* A message appearing on a host that had none is still a message. */
    json_object_set_new(json_array_get(json_object_get(b, "hosts"), 1), "message",
                        json_string("x"));
    assert_true(op_plan_status_messages_only(a, b));
    /* A step change is not. */
    json_object_set_new(h1, "step", json_string("Verifying"));
    assert_false(op_plan_status_messages_only(a, b));
    json_object_set_new(h1, "step", json_string("Rebooting"));
    assert_true(op_plan_status_messages_only(a, b));
    /* Nor a new member of a host entry, nor an operation-level change. */
    json_object_set_new(h1, "bootIDBefore", json_string("b"));
    assert_false(op_plan_status_messages_only(a, b));
    json_object_del(h1, "bootIDBefore");
    json_object_set_new(b, "total", json_integer(3));
    assert_false(op_plan_status_messages_only(a, b));
    json_object_set_new(b, "total", json_integer(2));
    json_object_set_new(b, "message", json_string("op message"));
    assert_false(op_plan_status_messages_only(a, b));
    json_object_del(b, "message");
    assert_true(op_plan_status_messages_only(a, b));
    /* Hosts added or removed. */
    json_array_append_new(json_object_get(b, "hosts"), json_pack("{s:s}", "name", "h3"));
    assert_false(op_plan_status_messages_only(a, b));
    assert_false(op_plan_status_messages_only(NULL, b));
    json_decref(a);
    json_decref(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_starts_in_order_within_window),
        cmocka_unit_test(test_window_never_exceeded),
        cmocka_unit_test(test_abort_policy),
        cmocka_unit_test(test_continue_policy),
        cmocka_unit_test(test_pause_and_cancel),
        cmocka_unit_test(test_step_sequence),
        cmocka_unit_test(test_queue),
        cmocka_unit_test(test_reboot_verdict),
        cmocka_unit_test(test_messages_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
