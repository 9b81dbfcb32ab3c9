#include "http_conns.h"

#include <stdlib.h>

void pf_http_conns_init(struct pf_http_conns *c, size_t max_clients)
{
    *c = (struct pf_http_conns){ .max_clients = max_clients };
    pf_list_init(&c->silent_public);
    pf_list_init(&c->silent_admin);
}

/* Takes the oldest silent connection of a port out of the count. */
static struct pf_http_conn *take_oldest_silent(struct pf_http_conns *c, struct pf_list *silent)
{
    if (pf_list_empty(silent))
        return NULL;
    struct pf_http_conn *old = PF_CONTAINER_OF(silent->next, struct pf_http_conn, silent);
    pf_list_remove(&old->silent);
    c->open[old->kind]--;
    old->counted = false;
    return old;
}

static bool full(const struct pf_http_conns *c, bool admin)
{
    if (admin)
        return c->open[PF_CONN_ADMIN] >= PF_ADMIN_MAX_CONNECTIONS;
    return c->open[PF_CONN_CLIENT] >= c->max_clients &&
           c->open[PF_CONN_RESERVE] >= PF_HTTP_RESERVE;
}

struct pf_http_conn *pf_http_conns_admit(struct pf_http_conns *c, bool admin,
                                         struct pf_http_conn **evict)
{
    *evict = NULL;
    struct pf_list *silent = admin ? &c->silent_admin : &c->silent_public;
    /* A new client takes the place of a silent one rather than landing in
     * the reserve, where it would get 503. */
    if (admin ? full(c, true) : c->open[PF_CONN_CLIENT] >= c->max_clients)
        *evict = take_oldest_silent(c, silent);
    if (full(c, admin))
        return NULL;
    struct pf_http_conn *conn = calloc(1, sizeof(*conn));
    if (!conn)
        return NULL;
    conn->kind = admin ? PF_CONN_ADMIN
                 : c->open[PF_CONN_CLIENT] < c->max_clients ? PF_CONN_CLIENT
                                                            : PF_CONN_RESERVE;
    conn->counted = true;
    c->open[conn->kind]++;
    pf_list_append(silent, &conn->silent);
    return conn;
}

void pf_http_conns_spoke(struct pf_http_conn *conn)
{
    pf_list_remove(&conn->silent);
}

void pf_http_conns_close(struct pf_http_conns *c, struct pf_http_conn *conn)
{
    if (!conn)
        return;
    if (conn->counted) {
        pf_list_remove(&conn->silent);
        c->open[conn->kind]--;
    }
    free(conn);
}
