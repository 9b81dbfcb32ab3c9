/* Unit tests for gateway/grpc/grpc_service.c on a real grpc server with no
 * client: which requests are pending, what a failed request leaves (the
 * worker's rearm asks again), started calls counted and listed, and no
 * request once the drain has started. A request fails here the way grpc
 * refuses one: on a queue the server does not know. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "grpc_service.h"
#include "health.h"

struct fixture {
    grpc_server *server;
    grpc_completion_queue *cq;    /* the server's */
    grpc_completion_queue *other; /* not the server's: requests on it fail */
    struct pf_grpc_service svc;
    struct pf_grpc_queue q;
};

static int inits; /* calls set up by the service */

static void init(struct pf_grpc_serving *s, size_t i, struct pf_grpc_call *c,
                 struct pf_grpc_call_into *into)
{
    (void)s, (void)i, (void)c, (void)into;
    inits++;
}

static const struct pf_grpc_call_kind kind = { .name = "test" };

static int setup(void **state)
{
    static struct fixture f;
    f.server = grpc_server_create(NULL, NULL);
    f.svc = (struct pf_grpc_service){ .nmethods = 2, .kind = &kind,
                                      .call_size = sizeof(struct pf_grpc_call), .init = init };
    f.svc.method[0] = grpc_server_register_method(f.server, "/t.S/A", NULL,
                                                  GRPC_SRM_PAYLOAD_NONE, 0);
    f.svc.method[1] = grpc_server_register_method(f.server, "/t.S/B", NULL,
                                                  GRPC_SRM_PAYLOAD_NONE, 0);
    f.cq = grpc_completion_queue_create_for_next(NULL);
    f.other = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(f.server, f.cq, NULL);
    grpc_server_start(f.server);
    pf_grpc_queue_init(&f.q, f.server, f.cq);
    inits = 0;
    *state = &f;
    return 0;
}

/* Shutting the server down fails every pending request: its call is freed. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    grpc_server_shutdown_and_notify(f->server, f->cq, f);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(f->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.tag == f)
            break;
        struct pf_grpc_tag *t = ev.tag;
        t->handle(t, ev.success != 0);
    }
    grpc_server_destroy(f->server);
    grpc_completion_queue *queues[] = { f->cq, f->other };
    for (int i = 0; i < 2; i++) {
        grpc_completion_queue_shutdown(queues[i]);
        while (grpc_completion_queue_next(queues[i], gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(queues[i]);
    }
    return 0;
}

static void arm_requests_every_method_once(void **state)
{
    struct fixture *f = *state;
    struct pf_grpc_serving *s = pf_grpc_queue_add(&f->q, &f->svc, NULL);
    pf_grpc_queue_arm(&f->q);
    assert_true(atomic_load(&s->armed[0]) && atomic_load(&s->armed[1]));
    assert_int_equal(inits, 2);
    pf_grpc_serving_request(s, 1); /* pending already */
    pf_grpc_queue_rearm(&f->q);
    assert_int_equal(inits, 2);
    assert_false(pf_grpc_queue_unarmed(&f->q));
}

static void a_failed_request_is_made_again_at_the_rearm(void **state)
{
    struct fixture *f = *state;
    struct pf_grpc_serving *s = pf_grpc_queue_add(&f->q, &f->svc, NULL);
    f->q.cq = f->other;
    pf_grpc_queue_arm(&f->q);
    assert_false(atomic_load(&s->armed[0]) || atomic_load(&s->armed[1]));
    assert_true(pf_grpc_queue_unarmed(&f->q));
    f->q.cq = f->cq;
    pf_grpc_queue_rearm(&f->q);
    assert_true(atomic_load(&s->armed[0]) && atomic_load(&s->armed[1]));
    assert_false(pf_grpc_queue_unarmed(&f->q));
    assert_int_equal(inits, 4);
}

static void a_started_call_is_listed_counted_and_replaced(void **state)
{
    struct fixture *f = *state;
    struct pf_grpc_serving *s = pf_grpc_queue_add(&f->q, &f->svc, NULL);
    pf_grpc_queue_arm(&f->q);
    /* What grpc_call.c does with a call of method 1 when its NEW event
     * comes: here one made by hand, as grpc has no client to match. */
    struct pf_grpc_call *c = pf_grpc_call_new(sizeof(*c), &kind);
    c->serving = s;
    c->method = 1;
    atomic_store(&s->armed[1], false);
    pf_grpc_serving_started(c);
    assert_true(atomic_load(&s->armed[1]));
    assert_int_equal(inits, 3);
    assert_int_equal(atomic_load(&s->live), 1);
    assert_int_equal(atomic_load(&f->svc.live), 1);
    assert_ptr_equal(s->calls.next, &c->link);
    pf_grpc_serving_ended(c);
    assert_int_equal(atomic_load(&s->live), 0);
    assert_int_equal(atomic_load(&f->svc.live), 0);
    assert_true(pf_list_empty(&s->calls));
    pf_grpc_serving_ended(c); /* not listed any more: nothing */
    assert_int_equal(atomic_load(&f->svc.live), 0);
    grpc_metadata_array_destroy(&c->request_md);
    free(c);
}

/* Last: the drain cannot be undone. */
static void no_request_once_draining(void **state)
{
    struct fixture *f = *state;
    struct pf_grpc_serving *s = pf_grpc_queue_add(&f->q, &f->svc, NULL);
    f->q.cq = f->other;
    pf_grpc_queue_arm(&f->q);
    assert_true(pf_grpc_queue_unarmed(&f->q));
    pf_health_set_draining();
    assert_false(pf_grpc_queue_unarmed(&f->q));
    f->q.cq = f->cq;
    pf_grpc_queue_rearm(&f->q);
    assert_false(atomic_load(&s->armed[0]) || atomic_load(&s->armed[1]));
    assert_int_equal(inits, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(arm_requests_every_method_once, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_request_is_made_again_at_the_rearm, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_started_call_is_listed_counted_and_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(no_request_once_draining, setup, teardown),
    };
    grpc_init();
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    grpc_shutdown();
    return failed;
}
