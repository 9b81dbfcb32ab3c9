#include "grpc_conns.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf.h"

#define BUCKETS 1024 /* a power of two */

/* An entry lives while the listener holds it (its connection is open) or
 * any of its streams does: a stream may end after its connection was closed,
 * and a connection may close after a new one took its name. */
struct pf_grpc_conn {
    pf_grpc_conn *next;
    bool in_table; /* reachable by name */
    bool held;     /* by the listener: counted as an open connection */
    size_t streams;
    char client[48]; /* the client's ADDR:PORT (pf_grpc_conns_name_client), or "" */
    char peer[];
};

struct pf_grpc_conns {
    pthread_mutex_t lock;
    size_t max_streams, max_streams_total;
    size_t open, streams;
    pf_grpc_conn *buckets[BUCKETS];
};

static size_t hash(const char *s)
{
    size_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h & (BUCKETS - 1);
}

int pf_grpc_conns_new(size_t max_streams_per_conn, size_t max_streams_total,
                      pf_grpc_conns **out)
{
    pf_grpc_conns *t = calloc(1, sizeof(*t));
    if (!t)
        return PF_ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    t->max_streams = max_streams_per_conn;
    t->max_streams_total = max_streams_total;
    *out = t;
    return PF_OK;
}

void pf_grpc_conns_free(pf_grpc_conns *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (pf_grpc_conn *c = t->buckets[i], *next; c; c = next) {
            next = c->next;
            free(c);
        }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static pf_grpc_conn **find(pf_grpc_conns *t, const char *peer)
{
    pf_grpc_conn **p = &t->buckets[hash(peer)];
    while (*p && strcmp((*p)->peer, peer) != 0)
        p = &(*p)->next;
    return p;
}

/* Where c itself is linked (find() gives the first entry of a name). */
static pf_grpc_conn **find_entry(pf_grpc_conns *t, pf_grpc_conn *c)
{
    pf_grpc_conn **p = &t->buckets[hash(c->peer)];
    while (*p != c)
        p = &(*p)->next;
    return p;
}

static void maybe_free(pf_grpc_conn *c)
{
    if (!c->in_table && !c->held && c->streams == 0)
        free(c);
}

/* Takes the entry at *p out of the table (it stays alive while held). */
static void unlink_conn(pf_grpc_conn **p)
{
    pf_grpc_conn *c = *p;
    *p = c->next;
    c->in_table = false;
    maybe_free(c);
}

static pf_grpc_conn *insert(pf_grpc_conns *t, const char *peer)
{
    size_t n = strlen(peer) + 1;
    pf_grpc_conn *c = calloc(1, sizeof(*c) + n);
    if (!c)
        return NULL;
    memcpy(c->peer, peer, n);
    pf_grpc_conn **head = &t->buckets[hash(peer)];
    c->next = *head;
    *head = c;
    c->in_table = true;
    return c;
}

int pf_grpc_conns_open(pf_grpc_conns *t, const char *peer, pf_grpc_conn **conn)
{
    pthread_mutex_lock(&t->lock);
    pf_grpc_conn **p = find(t, peer);
    if (*p)
        unlink_conn(p); /* the name was reused: the old entry is no longer found by it */
    pf_grpc_conn *c = insert(t, peer);
    if (c) {
        c->held = true;
        t->open++;
        *conn = c;
    }
    pthread_mutex_unlock(&t->lock);
    return c ? PF_OK : PF_ENOMEM;
}

void pf_grpc_conns_close(pf_grpc_conns *t, pf_grpc_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    c->held = false;
    t->open--;
    if (c->in_table)
        unlink_conn(find_entry(t, c));
    else
        maybe_free(c);
    pthread_mutex_unlock(&t->lock);
}

void pf_grpc_conns_name_client(pf_grpc_conns *t, pf_grpc_conn *c, const char *client)
{
    pthread_mutex_lock(&t->lock);
    snprintf(c->client, sizeof(c->client), "%s", client);
    pthread_mutex_unlock(&t->lock);
}

bool pf_grpc_conns_client_of(pf_grpc_conns *t, const char *peer, char *buf, size_t size)
{
    pthread_mutex_lock(&t->lock);
    pf_grpc_conn *c = *find(t, peer);
    bool known = c && c->client[0];
    if (known)
        snprintf(buf, size, "%s", c->client);
    pthread_mutex_unlock(&t->lock);
    return known;
}

const char *pf_grpc_conns_client(const pf_grpc_conn *conn)
{
    return conn->client;
}

size_t pf_grpc_conns_count(pf_grpc_conns *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->open;
    pthread_mutex_unlock(&t->lock);
    return n;
}

int pf_grpc_conns_stream_begin(pf_grpc_conns *t, const char *peer, pf_grpc_conn **conn,
                               const char **why)
{
    int rc = PF_OK;
    pthread_mutex_lock(&t->lock);
    pf_grpc_conn *c = NULL;
    if (t->streams >= t->max_streams_total) {
        rc = PF_EFULL;
        *why = "too many streams on this server (--max-streams-total)";
    } else if (!(c = *find(t, peer)) && !(c = insert(t, peer))) {
        rc = PF_ENOMEM;
    } else if (c->streams >= t->max_streams) {
        rc = PF_EFULL;
        *why = "too many streams on this connection (--max-streams)";
    } else {
        c->streams++;
        t->streams++;
        *conn = c;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void pf_grpc_conns_stream_end(pf_grpc_conns *t, pf_grpc_conn *c)
{
    pthread_mutex_lock(&t->lock);
    c->streams--;
    t->streams--;
    if (c->streams == 0 && c->in_table && !c->held)
        unlink_conn(find_entry(t, c)); /* an entry made by stream_begin alone */
    else
        maybe_free(c);
    pthread_mutex_unlock(&t->lock);
}
