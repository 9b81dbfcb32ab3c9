/* Unit tests for gateway/http/http_conns.c: who gets a slot on the HTTP port, who
 * lands in the health-only reserve, and which silent connection makes room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_conns.h"

#define MAX_CLIENTS 3

static struct pf_http_conn *admit(struct pf_http_conns *c, bool admin, struct pf_http_conn **evict)
{
    return pf_http_conns_admit(c, admin, evict);
}

static void test_clients_then_reserve_then_refused(void **state)
{
    (void)state;
    struct pf_http_conns c;
    pf_http_conns_init(&c, MAX_CLIENTS);
    struct pf_http_conn *conns[MAX_CLIENTS + PF_HTTP_RESERVE], *evict;
    for (size_t i = 0; i < MAX_CLIENTS + PF_HTTP_RESERVE; i++) {
        conns[i] = admit(&c, false, &evict);
        assert_non_null(conns[i]);
        assert_null(evict);
        pf_http_conns_spoke(conns[i]); /* busy: nothing to evict */
        assert_int_equal(conns[i]->kind, i < MAX_CLIENTS ? PF_CONN_CLIENT : PF_CONN_RESERVE);
    }
    assert_null(admit(&c, false, &evict));
    assert_null(evict);
    /* The admin port has its own room. */
    struct pf_http_conn *admin = admit(&c, true, &evict);
    assert_non_null(admin);
    assert_int_equal(admin->kind, PF_CONN_ADMIN);
    /* A client leaves: the next connection takes its slot. */
    pf_http_conns_close(&c, conns[0]);
    conns[0] = admit(&c, false, &evict);
    assert_non_null(conns[0]);
    assert_int_equal(conns[0]->kind, PF_CONN_CLIENT);
    for (size_t i = 0; i < MAX_CLIENTS + PF_HTTP_RESERVE; i++)
        pf_http_conns_close(&c, conns[i]);
    pf_http_conns_close(&c, admin);
    assert_int_equal(c.open[PF_CONN_CLIENT] + c.open[PF_CONN_RESERVE] + c.open[PF_CONN_ADMIN], 0);
}

static void test_oldest_silent_client_makes_room(void **state)
{
    (void)state;
    struct pf_http_conns c;
    pf_http_conns_init(&c, MAX_CLIENTS);
    struct pf_http_conn *a, *b, *d, *evict;
    a = admit(&c, false, &evict);
    b = admit(&c, false, &evict);
    d = admit(&c, false, &evict);
    pf_http_conns_spoke(a); /* a is serving; b is the oldest silent one */
    struct pf_http_conn *e = admit(&c, false, &evict);
    assert_ptr_equal(evict, b);
    assert_non_null(e);
    assert_int_equal(e->kind, PF_CONN_CLIENT);
    assert_false(b->counted);
    /* The evicted one is closed later, without uncounting twice. */
    pf_http_conns_close(&c, b);
    assert_int_equal(c.open[PF_CONN_CLIENT], MAX_CLIENTS);
    struct pf_http_conn *f = admit(&c, false, &evict);
    assert_ptr_equal(evict, d);
    pf_http_conns_close(&c, d);
    pf_http_conns_close(&c, a);
    pf_http_conns_close(&c, e);
    pf_http_conns_close(&c, f);
    assert_int_equal(c.open[PF_CONN_CLIENT], 0);
}

static void test_admin_port_evicts_its_own(void **state)
{
    (void)state;
    struct pf_http_conns c;
    pf_http_conns_init(&c, MAX_CLIENTS);
    struct pf_http_conn *silent_client, *evict, *admins[PF_ADMIN_MAX_CONNECTIONS];
    silent_client = admit(&c, false, &evict);
    for (size_t i = 0; i < PF_ADMIN_MAX_CONNECTIONS; i++)
        admins[i] = admit(&c, true, &evict);
    struct pf_http_conn *more = admit(&c, true, &evict);
    assert_ptr_equal(evict, admins[0]); /* never the public port's silent one */
    pf_http_conns_close(&c, admins[0]);
    admins[0] = more;
    for (size_t i = 0; i < PF_ADMIN_MAX_CONNECTIONS; i++)
        pf_http_conns_spoke(admins[i]);
    assert_null(admit(&c, true, &evict));
    assert_null(evict);
    for (size_t i = 0; i < PF_ADMIN_MAX_CONNECTIONS; i++)
        pf_http_conns_close(&c, admins[i]);
    pf_http_conns_close(&c, silent_client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clients_then_reserve_then_refused),
        cmocka_unit_test(test_oldest_silent_client_makes_room),
        cmocka_unit_test(test_admin_port_evicts_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
