/* Unit tests for gateway/grpc/grpc_conns.c: open connections and their streams,
 * known by grpc's peer name ("fd:N"), which the kernel reuses as soon as grpc
 * closes a connection, sometimes before the listener has seen that close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "grpc_conns.h"
#include "pf.h"

#define MAX_STREAMS 2
#define MAX_STREAMS_TOTAL 5

static int setup(void **state)
{
    pf_grpc_conns *t;
    assert_int_equal(pf_grpc_conns_new(MAX_STREAMS, MAX_STREAMS_TOTAL, &t), PF_OK);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    pf_grpc_conns_free(*state);
    return 0;
}

static const char *why; /* of the last refused begin() */

static int begin(pf_grpc_conns *t, const char *peer, pf_grpc_conn **conn)
{
    why = NULL;
    return pf_grpc_conns_stream_begin(t, peer, conn, &why);
}

/* A connection the listener has already given back (evicted, or renamed
 * when its relay started) has no record left: closing it changes nothing. */
static void test_close_without_a_record(void **state)
{
    pf_grpc_conns *t = *state;
    pf_grpc_conn *a;
    assert_int_equal(pf_grpc_conns_open(t, "fd:7", &a), 0);
    pf_grpc_conns_close(t, NULL);
    assert_int_equal(pf_grpc_conns_count(t), 1);
    pf_grpc_conns_close(t, a);
    assert_int_equal(pf_grpc_conns_count(t), 0);
}

static void test_streams_count_per_connection(void **state)
{
    pf_grpc_conns *t = *state;
    pf_grpc_conn *conn, *s1, *s2, *s3, *other;
    assert_int_equal(pf_grpc_conns_open(t, "fd:7", &conn), PF_OK);
    assert_int_equal(pf_grpc_conns_count(t), 1);
    assert_int_equal(begin(t, "fd:7", &s1), PF_OK);
    assert_int_equal(begin(t, "fd:7", &s2), PF_OK);
    assert_ptr_equal(s1, conn);
    assert_int_equal(begin(t, "fd:7", &s3), PF_EFULL);
    assert_string_equal(why, "too many streams on this connection (--max-streams)");
    assert_int_equal(begin(t, "fd:8", &other), PF_OK); /* its own count */
    pf_grpc_conns_stream_end(t, s1);
    assert_int_equal(begin(t, "fd:7", &s3), PF_OK);
    pf_grpc_conns_stream_end(t, s2);
    pf_grpc_conns_stream_end(t, s3);
    pf_grpc_conns_stream_end(t, other);
    pf_grpc_conns_close(t, conn);
    assert_int_equal(pf_grpc_conns_count(t), 0);
}

/* grpc closed fd 7, a new connection got fd 7, and only then does the
 * listener see the old one's close: the new one keeps its name and count. */
static void test_name_reused_before_the_old_close(void **state)
{
    pf_grpc_conns *t = *state;
    pf_grpc_conn *old, *new, *s1, *s2, *s3;
    assert_int_equal(pf_grpc_conns_open(t, "fd:7", &old), PF_OK);
    assert_int_equal(pf_grpc_conns_open(t, "fd:7", &new), PF_OK);
    assert_ptr_not_equal(old, new);
    assert_int_equal(begin(t, "fd:7", &s1), PF_OK);
    assert_int_equal(begin(t, "fd:7", &s2), PF_OK);
    assert_ptr_equal(s1, new);
    pf_grpc_conns_close(t, old);
    assert_int_equal(pf_grpc_conns_count(t), 1);
    assert_int_equal(begin(t, "fd:7", &s3), PF_EFULL);
    pf_grpc_conns_stream_end(t, s1);
    pf_grpc_conns_stream_end(t, s2);
    pf_grpc_conns_close(t, new);
    assert_int_equal(pf_grpc_conns_count(t), 0);
}

/* A stream ends after its connection closed and a new one took the name:
 * it releases the old entry, not the new one's count. */
static void test_stream_outlives_its_connection(void **state)
{
    pf_grpc_conns *t = *state;
    pf_grpc_conn *old, *new, *s_old, *s1, *s2, *s3;
    assert_int_equal(pf_grpc_conns_open(t, "fd:9", &old), PF_OK);
    assert_int_equal(begin(t, "fd:9", &s_old), PF_OK);
    pf_grpc_conns_close(t, old);
    assert_int_equal(pf_grpc_conns_open(t, "fd:9", &new), PF_OK);
    assert_int_equal(begin(t, "fd:9", &s1), PF_OK);
    assert_int_equal(begin(t, "fd:9", &s2), PF_OK);
    assert_ptr_equal(s1, new);
    pf_grpc_conns_stream_end(t, s_old);
    assert_int_equal(begin(t, "fd:9", &s3), PF_EFULL);
    pf_grpc_conns_stream_end(t, s1);
    pf_grpc_conns_stream_end(t, s2);
    pf_grpc_conns_close(t, new);
    assert_int_equal(pf_grpc_conns_count(t), 0);
}

/* Over TLS grpc accepts by itself: streams come on names never opened. */
static void test_streams_without_an_opened_connection(void **state)
{
    pf_grpc_conns *t = *state;
    pf_grpc_conn *s1, *s2;
    assert_int_equal(begin(t, "ipv4:127.0.0.1:5000", &s1), PF_OK);
    assert_int_equal(begin(t, "ipv4:127.0.0.1:5000", &s2), PF_OK);
    assert_ptr_equal(s1, s2);
    assert_int_equal(pf_grpc_conns_count(t), 0);
    pf_grpc_conns_stream_end(t, s1);
    pf_grpc_conns_stream_end(t, s2);
}

/* All connections together hold at most MAX_STREAMS_TOTAL streams, whether
 * opened by the listener or not; an ended stream frees a place for any. */
static void test_streams_count_in_all(void **state)
{
    pf_grpc_conns *t = *state;
    pf_grpc_conn *conn, *s[MAX_STREAMS_TOTAL], *extra;
    assert_int_equal(pf_grpc_conns_open(t, "fd:1", &conn), PF_OK);
    assert_int_equal(begin(t, "fd:1", &s[0]), PF_OK);
    assert_int_equal(begin(t, "fd:1", &s[1]), PF_OK);
    assert_int_equal(begin(t, "fd:2", &s[2]), PF_OK);
    assert_int_equal(begin(t, "fd:2", &s[3]), PF_OK);
    assert_int_equal(begin(t, "ipv4:10.0.0.1:4000", &s[4]), PF_OK);
    assert_int_equal(begin(t, "fd:3", &extra), PF_EFULL);
    assert_string_equal(why, "too many streams on this server (--max-streams-total)");
    assert_int_equal(begin(t, "fd:1", &extra), PF_EFULL);
    pf_grpc_conns_stream_end(t, s[2]);
    assert_int_equal(begin(t, "fd:3", &extra), PF_OK);
    assert_int_equal(begin(t, "fd:4", &s[2]), PF_EFULL);
    pf_grpc_conns_stream_end(t, extra);
    for (int i = 0; i < MAX_STREAMS_TOTAL; i++)
        if (i != 2)
            pf_grpc_conns_stream_end(t, s[i]);
    assert_int_equal(begin(t, "fd:4", &s[2]), PF_OK);
    pf_grpc_conns_stream_end(t, s[2]);
    pf_grpc_conns_close(t, conn);
    assert_int_equal(pf_grpc_conns_count(t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_without_a_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_count_per_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_reused_before_the_old_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_outlives_its_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_without_an_opened_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_streams_count_in_all, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
