/* Unit tests for gateway/grpc/grpc_relay.c: a relay between two socketpairs,
 * one standing for the client's TCP socket, the other grpc's end, driven by
 * its own epoll set as the gRPC accept thread drives it. No grpc here: the
 * test plays grpc's part, so it can do what grpc would not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc_relay.h"
#include "h2_guard.h"

struct rig {
    int epoll_fd;
    int client;    /* the client's end of its connection */
    int grpc;      /* grpc's end of the relay's socketpair */
    pf_grpc_relay *relay;
    struct pf_h2_limits limits;
    struct pf_relay_scratch *scratch;
};

static int setup(void **state)
{
    struct rig *r = calloc(1, sizeof(*r));
    int pair[2];
    assert_non_null(r);
    assert_non_null(r->scratch = malloc(sizeof(*r->scratch)));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    r->client = pair[0];
    assert_true((r->epoll_fd = epoll_create1(0)) >= 0);
    pf_h2_limits_default(&r->limits, 4 << 20, 100);
    assert_int_equal(pf_grpc_relay_new(pair[1], NULL, r->epoll_fd, &r->limits, r->scratch, r,
                                       &r->relay, &r->grpc),
                     0);
    assert_false(pf_grpc_relay_start(r->relay, NULL, 0, 0));
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    pf_grpc_relay_free(r->relay);
    close(r->client);
    if (r->grpc >= 0)
        close(r->grpc);
    close(r->epoll_fd);
    free(r->scratch);
    free(r);
    return 0;
}

/* Hands the relay what epoll has for it now, as the accept thread does.
 * Returns true once the relay is over. */
static bool run_events(struct rig *r, int64_t now_ms)
{
    struct epoll_event ev[8];
    int n = epoll_wait(r->epoll_fd, ev, 8, 50);
    for (int i = 0; i < n; i++)
        if (pf_grpc_relay_event(r->relay, ev[i].data.ptr, ev[i].events, now_ms))
            return true;
    return false;
}

/* Reads what has reached fd by now (the relay's steps are done). */
static size_t drain(int fd, char *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

static void test_the_preface_goes_through_to_grpc(void **state)
{
    struct rig *r = *state;
    char buf[256];
    assert_int_equal(send(r->client, PF_H2_PREFACE, PF_H2_PREFACE_LEN, 0), PF_H2_PREFACE_LEN);
    assert_false(run_events(r, 0));
    assert_int_equal(drain(r->grpc, buf, sizeof(buf)), PF_H2_PREFACE_LEN);
    assert_memory_equal(buf, PF_H2_PREFACE, PF_H2_PREFACE_LEN);
    assert_int_equal(pf_grpc_relay_deadline(r->relay), -1);
}

/* grpc closes a connection whose client has ended it; should it not, the
 * relay still ends: a deadline from the client's end on, not only from
 * grpc's. */
static void test_a_client_that_ended_gives_the_relay_a_deadline(void **state)
{
    struct rig *r = *state;
    char buf[256];
    assert_int_equal(send(r->client, PF_H2_PREFACE, PF_H2_PREFACE_LEN, 0), PF_H2_PREFACE_LEN);
    shutdown(r->client, SHUT_WR);
    for (int i = 0; i < 3; i++)
        assert_false(run_events(r, 1000));
    assert_int_equal(drain(r->grpc, buf, sizeof(buf)), PF_H2_PREFACE_LEN);
    assert_int_equal(recv(r->grpc, buf, sizeof(buf), MSG_DONTWAIT), 0); /* grpc sees the end */
    int64_t deadline = pf_grpc_relay_deadline(r->relay);
    assert_true(deadline > 1000);
    assert_true(deadline <= 1000 + 2000);
}

static void test_grpc_closing_after_the_client_ends_the_relay(void **state)
{
    struct rig *r = *state;
    shutdown(r->client, SHUT_WR);
    assert_false(run_events(r, 0));
    close(r->grpc);
    r->grpc = -1;
    bool over = false;
    for (int i = 0; i < 5 && !over; i++)
        over = run_events(r, 10);
    assert_true(over);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_preface_goes_through_to_grpc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_client_that_ended_gives_the_relay_a_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_closing_after_the_client_ends_the_relay, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
