/* Unit tests for gateway/http/ws_session.c: every state a WebSocket session
 * goes through, the Close it ends with (SPEC "The WebSocket session"), and
 * the failure a pf_stream_push() error becomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pf.h"
#include "ws_session.h"

static void assert_closing(const struct pf_ws_fsm *m, unsigned code, const char *why)
{
    assert_int_equal(m->state, PF_WS_CLOSING);
    assert_int_equal(m->close_code, code);
    assert_string_equal(m->close_why, why);
}

/* OOM contract: out of memory is 1011 "out of memory"; 1008 is PF_EFULL only. */
static void test_push_failures(void **state)
{
    (void)state;
    assert_int_equal(pf_ws_push_failure(PF_EFULL), PF_WS_TOO_MANY);
    assert_int_equal(pf_ws_push_failure(PF_ENOMEM), PF_WS_OUT_OF_MEMORY);
}

struct failure_case {
    enum pf_ws_event ev;
    unsigned code;
    const char *why;
};

static const struct failure_case failures[] = {
    {PF_WS_BINARY, 1003, "binary frames are not accepted: send JSON text"},
    {PF_WS_TOO_LARGE, 1009, "message too large"},
    {PF_WS_TOO_MANY, 1008, "too many requests in flight"},
    {PF_WS_OUT_OF_MEMORY, 1011, "out of memory"},
    {PF_WS_END, 1000, ""},
};

/* A failure (or the client's end) stops taking numbers, keeps answering what
 * was taken, and closes with its code once all is answered; a second one
 * does not change the code. */
static void test_end_and_failures_answer_then_close(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++) {
        struct pf_ws_fsm m = {0};
        assert_true(pf_ws_takes_numbers(&m));
        assert_int_equal(pf_ws_to(&m, failures[i].ev), PF_WS_ENDING);
        assert_false(pf_ws_takes_numbers(&m));
        assert_int_equal(pf_ws_to(&m, PF_WS_OUT_OF_MEMORY), PF_WS_ENDING);
        assert_int_equal(pf_ws_to(&m, PF_WS_QUIET), PF_WS_ENDING);
        assert_int_equal(pf_ws_to(&m, PF_WS_DRAIN), PF_WS_ENDING);
        pf_ws_to(&m, PF_WS_ANSWERED);
        assert_closing(&m, failures[i].code, failures[i].why);
    }
}

/* The drain: answered and then quiet for a timer's span closes 1001; a frame
 * within the span keeps it open (numbers sent before the signal). */
static void test_drain_waits_for_quiet(void **state)
{
    (void)state;
    struct pf_ws_fsm m = {0};
    assert_int_equal(pf_ws_to(&m, PF_WS_ANSWERED), PF_WS_OPEN); /* not draining: stays open */
    assert_int_equal(pf_ws_to(&m, PF_WS_QUIET), PF_WS_OPEN);
    assert_int_equal(pf_ws_to(&m, PF_WS_DRAIN), PF_WS_DRAINING);
    assert_int_equal(pf_ws_to(&m, PF_WS_ANSWERED), PF_WS_DRAINING); /* arms the check */
    pf_ws_to(&m, PF_WS_FRAME);
    assert_int_equal(pf_ws_to(&m, PF_WS_QUIET), PF_WS_DRAINING); /* not quiet */
    assert_true(pf_ws_takes_numbers(&m));
    assert_int_equal(pf_ws_to(&m, PF_WS_ANSWERED), PF_WS_DRAINING);
    assert_int_equal(pf_ws_to(&m, PF_WS_QUIET), PF_WS_DRAIN_QUIET);
    pf_ws_to(&m, PF_WS_FRAME); /* still taken, and answered before the Close */
    assert_true(pf_ws_takes_numbers(&m));
    pf_ws_to(&m, PF_WS_ANSWERED);
    assert_closing(&m, 1001, "server is shutting down");
}

/* {"end":true} during the drain still ends with 1000. */
static void test_end_while_draining_is_1000(void **state)
{
    (void)state;
    struct pf_ws_fsm m = {0};
    pf_ws_to(&m, PF_WS_DRAIN);
    assert_int_equal(pf_ws_to(&m, PF_WS_END), PF_WS_ENDING);
    pf_ws_to(&m, PF_WS_ANSWERED);
    assert_closing(&m, 1000, "");
}

/* The deadline: 1001 once lws holds nothing, answered or not; a failure keeps
 * its own code. */
static void test_cancel(void **state)
{
    (void)state;
    struct pf_ws_fsm m = {0};
    assert_int_equal(pf_ws_to(&m, PF_WS_CANCEL), PF_WS_CANCELLED);
    assert_false(pf_ws_takes_numbers(&m));
    assert_int_equal(pf_ws_to(&m, PF_WS_ANSWERED), PF_WS_CANCELLED);
    pf_ws_to(&m, PF_WS_WRITTEN);
    assert_closing(&m, 1001, "server is shutting down");

    struct pf_ws_fsm ended = {0};
    pf_ws_to(&ended, PF_WS_END);
    pf_ws_to(&ended, PF_WS_CANCEL);
    pf_ws_to(&ended, PF_WS_WRITTEN);
    assert_closing(&ended, 1001, "server is shutting down");

    struct pf_ws_fsm failed = {0};
    pf_ws_to(&failed, PF_WS_OUT_OF_MEMORY);
    assert_int_equal(pf_ws_to(&failed, PF_WS_CANCEL), PF_WS_CANCELLED);
    pf_ws_to(&failed, PF_WS_WRITTEN);
    assert_closing(&failed, 1011, "out of memory");

    assert_int_equal(pf_ws_to(&failed, PF_WS_CANCEL), PF_WS_CLOSING); /* closing stays */
}

static void test_peer_close(void **state)
{
    (void)state;
    struct pf_ws_fsm m = {0};
    assert_int_equal(pf_ws_to(&m, PF_WS_PEER_CLOSE), PF_WS_CLOSING);
    assert_false(pf_ws_takes_numbers(&m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_failures),
        cmocka_unit_test(test_end_and_failures_answer_then_close),
        cmocka_unit_test(test_drain_waits_for_quiet),
        cmocka_unit_test(test_end_while_draining_is_1000),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_peer_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
