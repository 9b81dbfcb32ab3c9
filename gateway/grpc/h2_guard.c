#include "h2_guard.h"

#include <stdlib.h>
#include <string.h>

/* Frame types, flags and sizes of RFC 9113. */
enum { DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE,
       CONTINUATION };
#define END_STREAM 0x1
#define ACK 0x1
#define END_HEADERS 0x4
#define PADDED 0x8
#define FRAME_HEADER 9
#define GRPC_PREFIX 5
/* Taken-over streams remembered after both sides were told, so that the
 * frames that cross on the wire are still dropped. */
#define RECENT 8


void pf_h2_limits_default(struct pf_h2_limits *lim, uint32_t max_message, uint32_t max_streams)
{
    *lim = (struct pf_h2_limits){
        .max_header_block = 64 * 1024,
        .max_message = max_message,
        .max_frame = 16384,
        .max_streams = max_streams,
        /* As nghttp2 against Rapid Reset (burst 1000): a client may cancel
         * a few hundred calls at once (the tests cancel 200 in a row), then
         * at a steady rate far above what cancelling its own calls needs.
         * 1000 streams cost grpc about 6 MiB while they last. */
        .reset_burst = 1000,
        .resets_per_s = 100,
        /* grpc answers every PING and SETTINGS, and holds the answers while
         * the client does not read them: as nghttp2 (max outbound acks), at
         * most 1000 unanswered. A client that waits for each answer (grpc-go's
         * BDP pings, keepalives) never comes near it. */
        .max_unanswered = 1000,
        /* Frames grpc does nothing with: only a rate. */
        .control_burst = 1000,
        .controls_per_s = 200,
        .window_burst = 10000,
        .windows_per_s = 10000,
    };
}

/* Why the guard took a stream over; status_block() says it to the client:
 * RESOURCE_EXHAUSTED (8) for a message over --max-message, as grpc says it;
 * UNIMPLEMENTED (12) for a compressed one, as grpc says it of an algorithm
 * it does not accept; INTERNAL (13) for a flag byte gRPC does not define. */
enum refusal { TOO_LARGE = 1, COMPRESSED, BAD_FLAG };

/* What the guard knows of one open stream. */
struct stream {
    uint32_t id;
    uint32_t msg_left;          /* bytes of the current message still to come */
    uint8_t prefix[GRPC_PREFIX];
    uint8_t prefix_have;        /* bytes of the next message prefix seen */
    uint8_t refusal;            /* nonzero once taken over */
    uint8_t flags;
};
/* flags */
#define RESPONDED 0x1   /* grpc has sent its response HEADERS */
#define OWE_RESET 0x2   /* RST_STREAM(CANCEL) still to go to grpc */
#define OWE_STATUS 0x4  /* trailers and RST_STREAM(NO_ERROR) still to go to the client */

/* Tokens for a kind of frame: `burst` at most, `per_s` more each second. */
struct bucket {
    int64_t millis; /* thousandths of a token */
    int64_t last_ms;
    uint32_t burst, per_s;
};

/* One direction's frame parser. */
struct reader {
    uint8_t hdr[FRAME_HEADER];
    uint8_t hdr_have;    /* bytes of the next frame header seen */
    uint32_t left;       /* payload bytes of the current frame still to come */
    uint8_t type, flags;
    uint32_t sid;
    bool drop;           /* the current frame goes nowhere */
    bool scan;           /* DATA of a known stream: look for message prefixes */
    bool pad_pending;    /* a PADDED DATA frame's pad length byte is next */
    uint32_t data_left;  /* bytes of scanned DATA before its padding */
    bool in_block;       /* inside a header block: nothing may be injected */
    uint32_t block_sid, block_bytes;
};

struct pf_h2_guard {
    struct pf_h2_limits lim;
    struct reader c, s; /* client -> grpc, grpc -> client */
    uint32_t preface_have;
    struct stream *streams;
    uint32_t n_streams, cap_streams;
    uint32_t last_client_sid;
    uint32_t recent[RECENT]; /* ids of forgotten taken-over streams */
    uint32_t recent_next;
    struct bucket resets, server_resets, controls, windows;
    int64_t now_ms; /* of the last client bytes */
    uint32_t unanswered; /* client PINGs and SETTINGS grpc has not acknowledged */
    uint32_t owe_client_window; /* connection credit for the client's dropped DATA */
    uint32_t owe_server_window; /* and for grpc's */
    uint32_t owe_resets, owe_statuses; /* streams with OWE_RESET, OWE_STATUS */
    bool failed, goaway_sent;
    enum pf_h2_error fail_code;
    const char *why;
};

/* ---- small helpers ---------------------------------------------------------- */

static uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Takes what it can of a frame header from in[*i..n). True once the whole
 * header is in r (parsed; its payload is next), false when in ran out. */
static bool read_frame_header(struct reader *r, const uint8_t *in, size_t n, size_t *i)
{
    size_t take = min_size(FRAME_HEADER - r->hdr_have, n - *i);
    memcpy(r->hdr + r->hdr_have, in + *i, take);
    r->hdr_have += (uint8_t)take;
    *i += take;
    if (r->hdr_have < FRAME_HEADER)
        return false;
    r->hdr_have = 0;
    r->left = be24(r->hdr);
    r->type = r->hdr[3];
    r->flags = r->hdr[4];
    r->sid = be32(r->hdr + 5) & 0x7fffffffu;
    return true;
}
static size_t room(const struct pf_h2_out *o) { return o->cap - o->len; }

static void append(struct pf_h2_out *o, const void *p, size_t n)
{
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void put_frame_header(struct pf_h2_out *o, uint32_t len, uint8_t type, uint8_t flags,
                             uint32_t sid)
{
    uint8_t h[FRAME_HEADER] = { (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags };
    put32(h + 5, sid);
    append(o, h, sizeof(h));
}

/* A frame with a 4-byte payload: RST_STREAM or WINDOW_UPDATE. */
static void put_frame32(struct pf_h2_out *o, uint8_t type, uint32_t sid, uint32_t value)
{
    uint8_t v[4];
    put32(v, value);
    put_frame_header(o, 4, type, 0, sid);
    append(o, v, 4);
}

static bool bucket_take(struct bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->millis += (now_ms - b->last_ms) * (int64_t)b->per_s;
        if (b->millis > (int64_t)b->burst * 1000)
            b->millis = (int64_t)b->burst * 1000;
    }
    b->last_ms = now_ms;
    if (b->millis < 1000)
        return false;
    b->millis -= 1000;
    return true;
}

static void fail(pf_h2_guard *g, enum pf_h2_error code, const char *why)
{
    if (g->failed)
        return;
    g->failed = true;
    g->fail_code = code;
    g->why = why;
}

/* ---- streams ---------------------------------------------------------------- */

static struct stream *find(pf_h2_guard *g, uint32_t id)
{
    for (uint32_t i = 0; i < g->n_streams; i++)
        if (g->streams[i].id == id)
            return &g->streams[i];
    return NULL;
}

static struct stream *add(pf_h2_guard *g, uint32_t id)
{
    if (g->n_streams == g->cap_streams) {
        if (g->cap_streams >= g->lim.max_streams)
            return NULL;
        uint32_t cap = g->cap_streams ? g->cap_streams * 2 : 8;
        if (cap > g->lim.max_streams)
            cap = g->lim.max_streams;
        struct stream *s = realloc(g->streams, cap * sizeof(*s));
        if (!s)
            return NULL;
        g->streams = s;
        g->cap_streams = cap;
    }
    struct stream *s = &g->streams[g->n_streams++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    return s;
}

/* Pointers into the table are good only until the next remove(). */
static void remove_stream(pf_h2_guard *g, struct stream *s)
{
    if (s->flags & OWE_RESET)
        g->owe_resets--;
    if (s->flags & OWE_STATUS)
        g->owe_statuses--;
    *s = g->streams[--g->n_streams];
}

/* A taken-over stream is forgotten once both sides have been told: frames
 * that cross the resets on the wire then go through, and each side ignores
 * them as frames on a closed stream. */
static void forget_if_told(pf_h2_guard *g, struct stream *s)
{
    if (s->refusal && !(s->flags & (OWE_RESET | OWE_STATUS))) {
        g->recent[g->recent_next++ % RECENT] = s->id;
        remove_stream(g, s);
    }
}

/* A stream the guard took over, still open or recently told: its frames
 * are dropped. */
static bool refused(const pf_h2_guard *g, const struct stream *s, uint32_t sid)
{
    if (s)
        return s->refusal != 0;
    for (int i = 0; sid && i < RECENT; i++)
        if (g->recent[i] == sid)
            return true;
    return false;
}

static void take_over(pf_h2_guard *g, struct stream *s, enum refusal why)
{
    s->refusal = (uint8_t)why;
    s->flags |= OWE_RESET | OWE_STATUS;
    g->owe_resets++;
    g->owe_statuses++;
}

/* Follows the gRPC messages in a stream's DATA: only the 5-byte prefixes
 * are read, the messages themselves are skipped. */
static void scan_messages(pf_h2_guard *g, struct stream *s, const uint8_t *p, size_t n)
{
    while (n > 0 && !s->refusal) {
        if (s->msg_left) {
            size_t skip = min_size(s->msg_left, n);
            s->msg_left -= (uint32_t)skip;
            p += skip;
            n -= skip;
            continue;
        }
        s->prefix[s->prefix_have++] = *p++;
        n--;
        if (s->prefix_have < GRPC_PREFIX)
            continue;
        s->prefix_have = 0;
        uint32_t len = be32(s->prefix + 1);
        if (s->prefix[0] > 1)
            take_over(g, s, BAD_FLAG);
        else if (s->prefix[0] == 1)
            take_over(g, s, COMPRESSED);
        else if (len > g->lim.max_message)
            take_over(g, s, TOO_LARGE);
        else
            s->msg_left = len;
    }
}

/* ---- client -> grpc --------------------------------------------------------- */

/* Decides what happens to the frame whose header has just come in. */
static void client_frame_begin(pf_h2_guard *g, int64_t now_ms)
{
    struct reader *r = &g->c;
    uint32_t len = r->left;
    struct stream *s = NULL;
    r->drop = r->scan = r->pad_pending = false;

    if (len > g->lim.max_frame)
        return fail(g, PF_H2_FRAME_SIZE_ERROR, "frame larger than the 16384-byte maximum");
    if (r->in_block && (r->type != CONTINUATION || r->sid != r->block_sid))
        return fail(g, PF_H2_PROTOCOL_ERROR, "header block interrupted by another frame");

    switch (r->type) {
    case HEADERS:
        if (r->sid & 1 && r->sid > g->last_client_sid) {
            g->last_client_sid = r->sid;
            if (!add(g, r->sid))
                return fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many streams open at once");
        }
        /* fall through */
    case PUSH_PROMISE:
        r->block_bytes = FRAME_HEADER + len;
        r->block_sid = r->sid;
        r->in_block = !(r->flags & END_HEADERS);
        break;
    case CONTINUATION:
        if (!r->in_block)
            return fail(g, PF_H2_PROTOCOL_ERROR, "CONTINUATION without a header block");
        r->block_bytes += FRAME_HEADER + len;
        r->in_block = !(r->flags & END_HEADERS);
        break;
    case DATA:
        s = r->sid ? find(g, r->sid) : NULL;
        if (refused(g, s, r->sid)) {
            r->drop = true;
            g->owe_client_window += len;
            break;
        }
        /* An empty DATA frame that does not end its stream carries nothing:
         * a flood of them only makes grpc work. */
        if (len == 0 && !(r->flags & END_STREAM) && !bucket_take(&g->controls, now_ms))
            return fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many empty DATA frames");
        if (s) {
            r->scan = true;
            r->pad_pending = (r->flags & PADDED) != 0;
            r->data_left = len;
        }
        break;
    case RST_STREAM:
        if (!bucket_take(&g->resets, now_ms))
            return fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many RST_STREAM frames (Rapid Reset)");
        s = r->sid ? find(g, r->sid) : NULL;
        if (refused(g, s, r->sid))
            r->drop = true; /* grpc has had the guard's own */
        else if (s)
            remove_stream(g, s);
        break;
    case WINDOW_UPDATE:
        if (!bucket_take(&g->windows, now_ms))
            return fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many WINDOW_UPDATE frames");
        s = r->sid ? find(g, r->sid) : NULL;
        r->drop = refused(g, s, r->sid);
        break;
    case GOAWAY:
        break;
    case PING:
    case SETTINGS:
        if (!(r->flags & ACK)) {
            if (++g->unanswered > g->lim.max_unanswered)
                return fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many PING or SETTINGS unanswered");
            break;
        }
        /* An ACK is the client's answer to grpc: a rate will do. */
        if (!bucket_take(&g->controls, now_ms))
            return fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many PING or SETTINGS ACKs");
        break;
    default: /* PRIORITY, and unknown types (which grpc ignores) */
        if (!bucket_take(&g->controls, now_ms))
            return fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many PRIORITY or unknown frames");
        break;
    }
    if (r->block_bytes > g->lim.max_header_block && (r->type == HEADERS || r->type == CONTINUATION ||
                                                      r->type == PUSH_PROMISE))
        fail(g, PF_H2_ENHANCE_YOUR_CALM, "header block too large");
}

/* Payload bytes of a forwarded frame: DATA of a known stream is scanned. */
static void client_payload(pf_h2_guard *g, const uint8_t *p, size_t n)
{
    struct reader *r = &g->c;
    if (!r->scan || n == 0)
        return;
    if (r->pad_pending) {
        r->pad_pending = false;
        uint32_t pad = p[0];
        if (pad > r->data_left - 1)
            return fail(g, PF_H2_PROTOCOL_ERROR, "DATA padding longer than the frame");
        r->data_left -= 1 + pad;
        p++;
        n--;
    }
    size_t data = min_size(n, r->data_left);
    r->data_left -= (uint32_t)data;
    struct stream *s = find(g, r->sid);
    if (s && data)
        scan_messages(g, s, p, data);
}

/* Frames the guard owes grpc, written only into room that the bytes still
 * to be forwarded do not need. */
static void inject_to_server(pf_h2_guard *g, struct pf_h2_out *out, size_t reserved)
{
    const size_t frame32 = FRAME_HEADER + 4;
    for (uint32_t i = 0; g->owe_resets && i < g->n_streams;) {
        struct stream *s = &g->streams[i];
        if (!(s->flags & OWE_RESET)) {
            i++;
            continue;
        }
        if (room(out) < reserved + frame32)
            return;
        put_frame32(out, RST_STREAM, s->id, PF_H2_CANCEL);
        s->flags &= (uint8_t)~OWE_RESET;
        g->owe_resets--;
        uint32_t before = g->n_streams;
        forget_if_told(g, s);
        if (g->n_streams == before)
            i++; /* else a new stream moved into slot i */
    }
    if (g->owe_server_window && room(out) >= reserved + frame32) {
        put_frame32(out, WINDOW_UPDATE, 0, g->owe_server_window);
        g->owe_server_window = 0;
    }
}

size_t pf_h2_guard_from_client(pf_h2_guard *g, int64_t now_ms, const uint8_t *in, size_t n,
                               struct pf_h2_out *to_server)
{
    struct reader *r = &g->c;
    g->now_ms = now_ms;
    if (room(to_server) < PF_H2_GUARD_SLACK)
        return 0;
    n = min_size(n, room(to_server) - PF_H2_GUARD_SLACK);
    size_t i = 0;
    while (i < n && !g->failed) {
        if (g->preface_have < PF_H2_PREFACE_LEN) {
            size_t take = min_size(PF_H2_PREFACE_LEN - g->preface_have, n - i);
            if (memcmp(in + i, &PF_H2_PREFACE[g->preface_have], take) != 0) {
                fail(g, PF_H2_PROTOCOL_ERROR, "not the HTTP/2 client preface");
                break;
            }
            append(to_server, in + i, take);
            g->preface_have += (uint32_t)take;
            i += take;
            continue;
        }
        if (r->left == 0 && r->hdr_have == 0 && !r->in_block)
            inject_to_server(g, to_server, n - i + PF_H2_GUARD_SLACK);
        if (r->left == 0) {
            if (!read_frame_header(r, in, n, &i))
                break;
            client_frame_begin(g, now_ms);
            if (g->failed)
                break;
            if (!r->drop)
                append(to_server, r->hdr, FRAME_HEADER);
            continue;
        }
        size_t take = min_size(r->left, n - i);
        if (!r->drop) {
            client_payload(g, in + i, take);
            append(to_server, in + i, take);
        }
        r->left -= (uint32_t)take;
        i += take;
    }
    if (g->failed)
        return n; /* nothing more goes to grpc */
    if (r->left == 0 && r->hdr_have == 0 && !r->in_block && g->preface_have == PF_H2_PREFACE_LEN)
        inject_to_server(g, to_server, PF_H2_GUARD_SLACK);
    return n;
}

/* ---- grpc -> client --------------------------------------------------------- */

static void server_frame_begin(pf_h2_guard *g)
{
    struct reader *r = &g->s;
    r->drop = false;
    struct stream *s = r->sid ? find(g, r->sid) : NULL;
    switch (r->type) {
    case HEADERS:
    case PUSH_PROMISE:
        r->in_block = !(r->flags & END_HEADERS);
        /* Always forwarded, even on a taken-over stream: the client's HPACK
         * decoder must see every header block grpc encodes. */
        if (s && r->type == HEADERS && !s->refusal) {
            if (r->flags & END_STREAM)
                remove_stream(g, s);
            else
                s->flags |= RESPONDED;
        }
        break;
    case CONTINUATION:
        r->in_block = !(r->flags & END_HEADERS);
        break;
    case DATA:
        if (refused(g, s, r->sid)) {
            r->drop = true;
            g->owe_server_window += r->left;
        }
        break;
    case RST_STREAM:
        if (refused(g, s, r->sid)) {
            r->drop = true;
            break;
        }
        if (!s)
            break; /* already closed: the client reset it, or grpc ended it */
        remove_stream(g, s);
        /* A client can make grpc reset streams as fast as it could reset
         * them itself (streams over the limit, bad frames on a stream: the
         * "MadeYouReset" variant): grpc's resets of open streams have a
         * budget of their own, as large, timed by the client bytes that
         * caused them. */
        if (!bucket_take(&g->server_resets, g->now_ms))
            fail(g, PF_H2_ENHANCE_YOUR_CALM, "too many streams reset by grpc");
        break;
    case WINDOW_UPDATE:
        r->drop = refused(g, s, r->sid);
        break;
    case PING:
    case SETTINGS:
        if (r->flags & ACK && g->unanswered > 0)
            g->unanswered--;
        break;
    default:
        break;
    }
}

/* Literal header field without indexing, new name, no Huffman (RFC 7541
 * 6.2.2): it leaves the client's HPACK table as it was. Strings < 127. */
static size_t hpack_literal(uint8_t *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    p[0] = 0;
    p[1] = (uint8_t)nl;
    memcpy(p + 2, name, nl);
    p[2 + nl] = (uint8_t)vl;
    memcpy(p + 3 + nl, value, vl);
    return 3 + nl + vl;
}

/* The gRPC status of a taken-over stream, as the header block of a HEADERS
 * frame with END_STREAM: trailers-only when grpc has not yet responded. */
static size_t status_block(const struct stream *s, uint8_t *p)
{
    static const char *const statuses[] = { "0", "8", "12", "13" };
    static const char *const messages[] = {
        "",
        "grpc: received message larger than max (pfgate --max-message)",
        "compressed messages are not accepted (pfgate has gRPC compression off)",
        "gRPC message with a compressed flag other than 0 or 1",
    };
    size_t n = 0;
    if (!(s->flags & RESPONDED)) {
        p[n++] = 0x88; /* :status 200, static table entry 8 */
        n += hpack_literal(p + n, "content-type", "application/grpc");
    }
    n += hpack_literal(p + n, "grpc-status", statuses[s->refusal]);
    n += hpack_literal(p + n, "grpc-message", messages[s->refusal]);
    return n;
}

/* Frames the guard owes the client, between two of grpc's frames. */
static void inject_to_client(pf_h2_guard *g, struct pf_h2_out *out, size_t reserved)
{
    const size_t frame32 = FRAME_HEADER + 4;
    if (g->failed) {
        if (g->goaway_sent)
            return;
        char debug[96];
        size_t dl = strlen(g->why);
        if (dl > sizeof(debug))
            dl = sizeof(debug);
        if (room(out) < reserved + FRAME_HEADER + 8 + dl)
            return;
        uint8_t body[8];
        put32(body, g->last_client_sid);
        put32(body + 4, g->fail_code);
        put_frame_header(out, (uint32_t)(8 + dl), GOAWAY, 0, 0);
        append(out, body, 8);
        append(out, g->why, dl);
        g->goaway_sent = true;
        return;
    }
    for (uint32_t i = 0; g->owe_statuses && i < g->n_streams;) {
        struct stream *s = &g->streams[i];
        if (!(s->flags & OWE_STATUS)) {
            i++;
            continue;
        }
        uint8_t block[256];
        size_t bl = status_block(s, block);
        if (room(out) < reserved + FRAME_HEADER + bl + frame32)
            return;
        put_frame_header(out, (uint32_t)bl, HEADERS, END_STREAM | END_HEADERS, s->id);
        append(out, block, bl);
        put_frame32(out, RST_STREAM, s->id, PF_H2_NO_ERROR);
        s->flags &= (uint8_t)~OWE_STATUS;
        g->owe_statuses--;
        uint32_t before = g->n_streams;
        forget_if_told(g, s);
        if (g->n_streams == before)
            i++;
    }
    if (g->owe_client_window && room(out) >= reserved + frame32) {
        put_frame32(out, WINDOW_UPDATE, 0, g->owe_client_window);
        g->owe_client_window = 0;
    }
}

size_t pf_h2_guard_from_server(pf_h2_guard *g, const uint8_t *in, size_t n,
                               struct pf_h2_out *to_client)
{
    struct reader *r = &g->s;
    if (g->goaway_sent)
        return n; /* the connection is closing: grpc's last words are dropped */
    if (room(to_client) < PF_H2_GUARD_SLACK)
        return 0;
    n = min_size(n, room(to_client) - PF_H2_GUARD_SLACK);
    size_t i = 0;
    while (i < n && !g->goaway_sent) {
        if (r->left == 0 && r->hdr_have == 0 && !r->in_block) {
            inject_to_client(g, to_client, n - i + PF_H2_GUARD_SLACK);
            if (g->goaway_sent)
                break;
        }
        if (r->left == 0) {
            if (!read_frame_header(r, in, n, &i))
                break;
            server_frame_begin(g);
            if (!r->drop)
                append(to_client, r->hdr, FRAME_HEADER);
            continue;
        }
        size_t take = min_size(r->left, n - i);
        if (!r->drop)
            append(to_client, in + i, take);
        r->left -= (uint32_t)take;
        i += take;
    }
    if (r->left == 0 && r->hdr_have == 0 && !r->in_block && !g->goaway_sent)
        inject_to_client(g, to_client, PF_H2_GUARD_SLACK);
    return g->goaway_sent ? n : i;
}

/* ---- life ------------------------------------------------------------------- */

pf_h2_guard *pf_h2_guard_new(const struct pf_h2_limits *lim)
{
    pf_h2_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->lim = *lim;
    g->resets = (struct bucket){ (int64_t)lim->reset_burst * 1000, 0, lim->reset_burst,
                                 lim->resets_per_s };
    g->server_resets = g->resets;
    g->controls = (struct bucket){ (int64_t)lim->control_burst * 1000, 0, lim->control_burst,
                                   lim->controls_per_s };
    g->windows = (struct bucket){ (int64_t)lim->window_burst * 1000, 0, lim->window_burst,
                                  lim->windows_per_s };
    return g;
}

void pf_h2_guard_free(pf_h2_guard *g)
{
    if (!g)
        return;
    free(g->streams);
    free(g);
}

bool pf_h2_guard_failed(const pf_h2_guard *g) { return g->failed; }
bool pf_h2_guard_done(const pf_h2_guard *g) { return g->goaway_sent; }
const char *pf_h2_guard_why(const pf_h2_guard *g)
{
    return g->fail_code == PF_H2_NO_ERROR ? NULL : g->why;
}
void pf_h2_guard_end(pf_h2_guard *g) { fail(g, PF_H2_NO_ERROR, "idle"); }
uint32_t pf_h2_guard_open_streams(const pf_h2_guard *g) { return g->n_streams; }
bool pf_h2_guard_owes_server(const pf_h2_guard *g)
{
    return !g->failed && (g->owe_resets || g->owe_server_window);
}
bool pf_h2_guard_owes_client(const pf_h2_guard *g)
{
    return (g->failed && !g->goaway_sent) || g->owe_statuses || g->owe_client_window;
}
