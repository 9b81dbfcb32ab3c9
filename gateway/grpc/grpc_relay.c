#include "grpc_relay.h"

#include <errno.h>
#include <linux/sockios.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc_tls.h"
#include "log.h"

/* A side is read only when this much room is free on the way out: fewer,
 * larger reads. */
#define MIN_READ 4096
/* How long a closing relay may take to get its last bytes out. */
#define GOAWAY_MS 1000
#define LINGER_MS 2000
#define BUF_CAP (PF_RELAY_BUF + PF_H2_GUARD_SLACK)

struct side {
    enum pf_epoll_kind kind; /* PF_EPOLL_RELAY: first, see grpc_relay.h */
    pf_grpc_relay *relay;
    int fd;
    uint32_t events; /* as registered in epoll */
    bool registered; /* in epoll */
    bool eof;        /* read() returned 0 */
    bool shut;       /* shutdown(SHUT_WR) done: nothing more to write */
};

/* Bytes read from one side that the other side has not taken yet. The buffer
 * exists only while there are some: most batches leave none, and go from the
 * shared scratch buffer straight out. */
struct backlog {
    struct pf_h2_out out; /* out.buf NULL when empty */
    size_t off;           /* bytes of out already written */
};

enum state {
    OPEN,
    LINGER, /* our side is shut: the client's last bytes are read and dropped */
};

struct pf_grpc_relay {
    struct side client, grpc;
    struct backlog to_grpc, to_client;
    atomic_size_t to_client_bytes; /* for pf_grpc_relay_unsent() */
    pf_h2_guard *guard;
    pf_grpc_tls *tls; /* the client's TLS, or NULL on a plaintext port */
    struct pf_relay_scratch *scratch;
    int epoll_fd;
    enum state state;
    int64_t deadline; /* -1: none */
    void *owner;
};

static size_t pending(const struct backlog *b) { return b->out.buf ? b->out.len - b->off : 0; }

/* Room a read may fill on the way out through b. */
static size_t space(const struct backlog *b)
{
    return BUF_CAP - pending(b);
}

/* Whether a side whose bytes go out through b may be read now. */
static bool room_to_read(const struct backlog *b)
{
    return space(b) >= MIN_READ + PF_H2_GUARD_SLACK;
}

/* An error that only means "not now". */
static bool transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static void drop_backlog(struct backlog *b)
{
    free(b->out.buf);
    b->out.buf = NULL;
    b->out.len = b->off = 0;
}

/* recv() and send() on one side: through TLS for a TLS client. */
static ssize_t side_recv(pf_grpc_relay *r, struct side *s, void *buf, size_t len)
{
    if (s == &r->client && r->tls)
        return pf_grpc_tls_read(r->tls, buf, len);
    return recv(s->fd, buf, len, MSG_DONTWAIT);
}

static ssize_t side_send(pf_grpc_relay *r, struct side *s, const void *buf, size_t len)
{
    if (s == &r->client && r->tls)
        return pf_grpc_tls_write(r->tls, buf, len);
    return send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Bytes the client's TLS layer holds, which no epoll event will announce. */
static bool client_tls_pending(const pf_grpc_relay *r)
{
    return r->tls && pf_grpc_tls_has_pending(r->tls);
}

/* Writes what b holds to side s. Returns -1 when the peer is gone. */
static int write_backlog(pf_grpc_relay *r, struct backlog *b, struct side *s)
{
    while (pending(b) > 0) {
        ssize_t n = side_send(r, s, b->out.buf + b->off, pending(b));
        if (n < 0)
            return transient(errno) ? 0 : -1;
        b->off += (size_t)n;
    }
    drop_backlog(b);
    return 0;
}

/* One step of one way: write what is held, read one batch if `readable`,
 * feed it through the guard, write it out; what the far side does not take
 * now stays in the backlog. Returns the bytes read, or -1 when either
 * socket failed. */
static ssize_t pump(pf_grpc_relay *r, bool from_client, bool readable, int64_t now_ms)
{
    struct side *from = from_client ? &r->client : &r->grpc;
    struct side *to = from_client ? &r->grpc : &r->client;
    struct backlog *b = from_client ? &r->to_grpc : &r->to_client;
    struct pf_relay_scratch *sc = r->scratch;

    if (to->shut)
        readable = false;
    if (pending(b) > 0 && write_backlog(r, b, to) < 0)
        return -1;
    /* Output goes into the backlog when it holds bytes (after them), else
     * into the scratch buffer. */
    struct pf_h2_out scratch_out = { sc->out, 0, sizeof(sc->out) };
    struct pf_h2_out *out = &scratch_out;
    if (pending(b) > 0) {
        memmove(b->out.buf, b->out.buf + b->off, pending(b));
        b->out.len -= b->off;
        b->off = 0;
        out = &b->out;
    }
    ssize_t n = 0;
    size_t room = out->cap - out->len;
    if (readable && !from->eof && room >= MIN_READ + PF_H2_GUARD_SLACK) {
        n = side_recv(r, from, sc->in, room - PF_H2_GUARD_SLACK);
        if (n == 0) {
            from->eof = true;
            pf_debug("grpc relay: %s closed its side", from_client ? "the client" : "grpc");
        }
        else if (n < 0 && !transient(errno))
            return -1;
        if (n < 0)
            n = 0;
    }
    size_t used = from_client
                      ? pf_h2_guard_from_client(r->guard, now_ms, sc->in, (size_t)n, out)
                      : pf_h2_guard_from_server(r->guard, sc->in, (size_t)n, out);
    if (used != (size_t)n)
        return -1; /* cannot happen: the room was left */
    if (out == &scratch_out && out->len > 0) {
        ssize_t w = side_send(r, to, out->buf, out->len);
        if (w < 0 && !transient(errno))
            return -1;
        size_t sent = w > 0 ? (size_t)w : 0;
        if (sent < out->len) {
            b->out.buf = malloc(BUF_CAP);
            if (!b->out.buf)
                return -1;
            b->out.cap = BUF_CAP;
            b->out.len = out->len - sent;
            b->off = 0;
            memcpy(b->out.buf, out->buf + sent, b->out.len);
        }
    } else if (out == &b->out && write_backlog(r, b, to) < 0) {
        return -1;
    }
    return n;
}

static void set_events(pf_grpc_relay *r, struct side *s, uint32_t events)
{
    if (!s->registered || s->events == events)
        return;
    struct epoll_event ev = { .events = events, .data.ptr = s };
    epoll_ctl(r->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev);
    s->events = events;
}

static void shut(pf_grpc_relay *r, struct side *s)
{
    if (!s->shut) {
        /* TLS: everything written has left OpenSSL (the backlog is empty),
         * so the close_notify follows the last record. */
        if (s == &r->client && r->tls)
            pf_grpc_tls_close_notify(r->tls);
        shutdown(s->fd, SHUT_WR);
        s->shut = true;
    }
}

/* After any step: what each socket is watched for, and the ends: a side that
 * has ended (or a guard that has failed) ends the other once what is held
 * for it has gone out. Returns true when the relay is over. */
static bool settle(pf_grpc_relay *r, int64_t now_ms)
{
    bool failed = pf_h2_guard_failed(r->guard);
    if (failed && r->state == OPEN && r->deadline < 0)
        r->deadline = now_ms + GOAWAY_MS; /* for grpc's current frame to end */
    if (r->client.eof && !pending(&r->to_grpc) && !failed)
        shut(r, &r->grpc); /* grpc sees the end and closes its side */
    /* Once either side has ended, the relay ends within LINGER_MS: after
     * grpc's end, for a client that does not read; after the client's, for
     * grpc, which closes once it reads that end (its last bytes go first). */
    if ((r->client.eof || r->grpc.eof) && r->state == OPEN && r->deadline < 0)
        r->deadline = now_ms + LINGER_MS;
    bool client_over = (failed && pf_h2_guard_done(r->guard)) || r->grpc.eof;
    if (r->state == OPEN && client_over && !pending(&r->to_client)) {
        /* Our last bytes (grpc's, or the GOAWAY) are in the client socket:
         * shut it, and read what the client still sends until it closes,
         * so that closing does not answer its data with a reset that would
         * destroy what it has not yet read. */
        shut(r, &r->client);
        shutdown(r->grpc.fd, SHUT_RDWR);
        r->grpc.eof = true;
        r->state = LINGER;
        r->deadline = now_ms + LINGER_MS;
    }
    if (r->state == LINGER && r->client.eof)
        return true;

    /* A socket whose peer has closed reports EPOLLHUP whatever it is watched
     * for: grpc's, once read to its end, leaves epoll, or it would spin. */
    if (r->grpc.eof && r->grpc.registered) {
        epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, r->grpc.fd, NULL);
        r->grpc.registered = false;
    }
    bool reading_client = r->state == LINGER ||
                          (!failed && !r->client.eof && room_to_read(&r->to_grpc));
    bool reading_grpc = r->state == OPEN && !r->grpc.eof && room_to_read(&r->to_client);
    /* TLS may wait for the other direction (its own messages). */
    uint32_t tls_waits = r->tls && r->state == OPEN ? pf_grpc_tls_waits_for(r->tls) : 0;
    set_events(r, &r->client, (reading_client ? EPOLLIN : 0) |
                                  (pending(&r->to_client) ? EPOLLOUT : 0) | tls_waits);
    set_events(r, &r->grpc, (reading_grpc ? EPOLLIN : 0) | (pending(&r->to_grpc) ? EPOLLOUT : 0));
    atomic_store_explicit(&r->to_client_bytes, pending(&r->to_client), memory_order_relaxed);
    return false;
}

/* What OpenSSL already holds of the client's bytes is read on while there
 * is room for it and reading makes progress (the rest of a record may still
 * be on its way: then epoll reports it). Returns -1 when a socket failed. */
static int read_tls_pending(pf_grpc_relay *r, int64_t now_ms)
{
    while (r->state == OPEN && client_tls_pending(r) && !pf_h2_guard_failed(r->guard) &&
           !r->client.eof && room_to_read(&r->to_grpc)) {
        ssize_t n = pump(r, true, true, now_ms);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
    }
    return 0;
}

/* Reads and drops what a client sends after its connection was shut. */
static void discard_client(pf_grpc_relay *r)
{
    ssize_t n = recv(r->client.fd, r->scratch->in, sizeof(r->scratch->in), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && !transient(errno)))
        r->client.eof = true;
}

bool pf_grpc_relay_event(pf_grpc_relay *r, void *epoll_ptr, uint32_t events, int64_t now_ms)
{
    struct side *s = epoll_ptr;
    if (events & EPOLLERR) {
        pf_debug("grpc relay: socket error on the %s side", s == &r->client ? "client" : "grpc");
        return true;
    }
    if (r->state == LINGER) {
        if (s == &r->client && (events & (EPOLLIN | EPOLLHUP)))
            discard_client(r);
        return settle(r, now_ms);
    }
    /* HUP without IN: the peer is gone and there is nothing left to read,
     * which the read reports as the end. */
    bool readable = (events & (EPOLLIN | EPOLLHUP)) != 0;
    bool client_readable = s == &r->client &&
                           (readable || (r->tls && (events & EPOLLOUT) &&
                                         pf_grpc_tls_read_waits_for_output(r->tls)));
    if (pump(r, true, client_readable || client_tls_pending(r), now_ms) < 0 ||
        pump(r, false, s == &r->grpc && readable, now_ms) < 0) {
        pf_debug("grpc relay: a socket failed: %s", strerror(errno));
        return true;
    }
    /* Bytes from grpc can free what the guard holds for grpc (window credit). */
    if (pf_h2_guard_owes_server(r->guard) && pump(r, true, false, now_ms) < 0)
        return true;
    return read_tls_pending(r, now_ms) < 0 || settle(r, now_ms);
}

bool pf_grpc_relay_start(pf_grpc_relay *r, const uint8_t *head, size_t n, int64_t now_ms)
{
    if (n > 0) {
        struct backlog *b = &r->to_grpc;
        if (!(b->out.buf = malloc(BUF_CAP)))
            return true;
        b->out.cap = BUF_CAP;
        b->out.len = b->off = 0;
        if (pf_h2_guard_from_client(r->guard, now_ms, head, n, &b->out) != n)
            return true;
    }
    if (pump(r, true, client_tls_pending(r), now_ms) < 0)
        return true;
    return read_tls_pending(r, now_ms) < 0 || settle(r, now_ms);
}

uint32_t pf_grpc_relay_open_streams(const pf_grpc_relay *r)
{
    return pf_h2_guard_open_streams(r->guard);
}

bool pf_grpc_relay_end(pf_grpc_relay *r, int64_t now_ms)
{
    if (r->state != OPEN)
        return settle(r, now_ms);
    pf_h2_guard_end(r->guard);
    /* The GOAWAY goes out now if grpc is between frames, else with the end
     * of grpc's current frame. */
    if (pump(r, false, false, now_ms) < 0)
        return true;
    return settle(r, now_ms);
}

const char *pf_grpc_relay_why(const pf_grpc_relay *r)
{
    return pf_h2_guard_why(r->guard);
}

int64_t pf_grpc_relay_deadline(const pf_grpc_relay *r)
{
    return r->deadline;
}

pf_grpc_relay *pf_grpc_relay_of(void *epoll_ptr)
{
    return ((struct side *)epoll_ptr)->relay;
}

void *pf_grpc_relay_owner(const pf_grpc_relay *r)
{
    return r->owner;
}

static int add_side(pf_grpc_relay *r, struct side *s, int fd)
{
    s->kind = PF_EPOLL_RELAY;
    s->relay = r;
    s->fd = fd;
    s->events = EPOLLIN;
    struct epoll_event ev = { .events = s->events, .data.ptr = s };
    if (epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    s->registered = true;
    return 0;
}

int pf_grpc_relay_new(int client_fd, pf_grpc_tls *tls, int epoll_fd, const struct pf_h2_limits *lim,
                      struct pf_relay_scratch *scratch, void *owner, pf_grpc_relay **out,
                      int *grpc_fd)
{
    int pair[2] = { -1, -1 };
    pf_grpc_relay *r = calloc(1, sizeof(*r));
    if (!r)
        goto fail;
    r->client.fd = r->grpc.fd = -1;
    r->tls = tls;
    r->epoll_fd = epoll_fd;
    r->scratch = scratch;
    r->owner = owner;
    r->deadline = -1;
    if (!(r->guard = pf_h2_guard_new(lim)))
        goto fail;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
        goto fail;
    if (add_side(r, &r->client, client_fd) < 0)
        goto fail;
    if (add_side(r, &r->grpc, pair[0]) < 0) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, client_fd, NULL);
        goto fail;
    }
    *out = r;
    *grpc_fd = pair[1];
    return 0;
fail:
    if (pair[0] >= 0) {
        close(pair[0]);
        close(pair[1]);
    }
    if (r)
        pf_h2_guard_free(r->guard);
    free(r);
    pf_grpc_tls_free(tls);
    close(client_fd);
    return -1;
}

size_t pf_grpc_relay_unsent(const pf_grpc_relay *r)
{
    size_t total = atomic_load_explicit(&r->to_client_bytes, memory_order_relaxed);
    int n = 0;
    if (ioctl(r->grpc.fd, SIOCINQ, &n) == 0 && n > 0)
        total += (size_t)n;
    n = 0;
    if (ioctl(r->client.fd, SIOCOUTQ, &n) == 0 && n > 0)
        total += (size_t)n;
    return total;
}

void pf_grpc_relay_free(pf_grpc_relay *r)
{
    if (!r)
        return;
    if (r->client.fd >= 0) {
        epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, r->client.fd, NULL);
        close(r->client.fd);
    }
    if (r->grpc.fd >= 0) {
        if (r->grpc.registered)
            epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, r->grpc.fd, NULL);
        close(r->grpc.fd);
    }
    drop_backlog(&r->to_grpc);
    drop_backlog(&r->to_client);
    pf_grpc_tls_free(r->tls);
    pf_h2_guard_free(r->guard);
    free(r);
}
