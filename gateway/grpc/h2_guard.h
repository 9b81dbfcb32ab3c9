/* The HTTP/2 guard: an I/O-free state machine between a gRPC client and grpc
 * core, which bounds what one client can make grpc core 1.51 hold (it has no
 * bound of its own on a header block that never ends, on Rapid Reset, or on
 * a message whose length prefix is larger than --max-message).
 *
 * The relay (grpc_listener.c) feeds it the bytes each side sends; it copies
 * them to the other side, reading only the 9-byte frame headers both ways
 * and, in the client's DATA, the 5-byte gRPC message prefixes:
 *   - a header block over max_header_block, a frame over max_frame, a frame
 *     out of place, too many streams open, too many PINGs or SETTINGS that
 *     grpc has not answered, or a client over its budget of stream resets
 *     (its own, or grpc's of its streams) or of other control frames (token
 *     buckets): GOAWAY to the client, then the relay closes both sides;
 *   - a message over max_message, compressed, or with a bad flag: the guard
 *     "takes over" the stream: RST_STREAM(CANCEL) to grpc, a trailers-only
 *     (or trailers) HEADERS frame with the gRPC status and RST_STREAM(NO_ERROR)
 *     to the client, and the stream's further DATA is dropped both ways with
 *     its connection window given back to the sender.
 * It never drops or changes a HEADERS or CONTINUATION frame: each one moves
 * an HPACK decoder on the far side. Its own header blocks use only HPACK
 * literals without indexing, which leave both decoders' tables as they were.
 * Frames are injected only between frames, never inside a header block.
 *
 * Memory: one struct, plus 16 bytes per open stream (at most max_streams). */
#ifndef PF_H2_GUARD_H
#define PF_H2_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The HTTP/2 client connection preface (RFC 9113 3.4): the accept loop
 * waits for it before a connection reaches grpc, the guard checks it. */
#define PF_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PF_H2_PREFACE_LEN (sizeof(PF_H2_PREFACE) - 1)

struct pf_h2_limits {
    uint32_t max_header_block; /* bytes of one header block, frame headers counted */
    uint32_t max_message;      /* largest gRPC message length prefix accepted */
    uint32_t max_frame;        /* frame payload (grpc announces no SETTINGS_MAX_FRAME_SIZE) */
    uint32_t max_streams;      /* streams open at once, as the guard counts them */
    uint32_t reset_burst, resets_per_s;     /* client RST_STREAM budget */
    uint32_t max_unanswered;   /* PINGs and SETTINGS grpc has not yet acknowledged */
    uint32_t control_burst, controls_per_s; /* PRIORITY, empty DATA, unknown, ACKs */
    uint32_t window_burst, windows_per_s;   /* WINDOW_UPDATE */
};

/* The defaults; max_message and max_streams come from the flags. */
void pf_h2_limits_default(struct pf_h2_limits *lim, uint32_t max_message, uint32_t max_streams);

/* HTTP/2 error codes the guard sends (RFC 9113 section 7). */
enum pf_h2_error {
    PF_H2_NO_ERROR = 0x0,
    PF_H2_PROTOCOL_ERROR = 0x1,
    PF_H2_CANCEL = 0x8,
    PF_H2_FRAME_SIZE_ERROR = 0x6,
    PF_H2_ENHANCE_YOUR_CALM = 0xb,
};

/* Where one direction's output goes: bytes are appended at buf[len], up to cap. */
struct pf_h2_out {
    uint8_t *buf;
    size_t len, cap;
};

/* Room a feed may need in its output beyond the bytes it is given: a frame
 * header that began in an earlier feed comes out whole in this one. */
#define PF_H2_GUARD_SLACK 16

typedef struct pf_h2_guard pf_h2_guard;

/* Returns NULL when out of memory. */
pf_h2_guard *pf_h2_guard_new(const struct pf_h2_limits *lim);
void pf_h2_guard_free(pf_h2_guard *g); /* NULL-safe */

/* Feeds n bytes the client sent (n may be 0: only injections then) and
 * appends what goes on to grpc to *to_server. The caller leaves at least
 * n + PF_H2_GUARD_SLACK bytes of room in *to_server; injected frames are
 * written only into room beyond that, else held for a later feed. Returns
 * the bytes consumed: n, or fewer only when that room was not left. */
size_t pf_h2_guard_from_client(pf_h2_guard *g, int64_t now_ms, const uint8_t *in, size_t n,
                               struct pf_h2_out *to_server);

/* The same for the bytes grpc sent, towards the client. */
size_t pf_h2_guard_from_server(pf_h2_guard *g, const uint8_t *in, size_t n,
                               struct pf_h2_out *to_client);

/* The client broke a rule: from now on nothing more goes to grpc, and the
 * guard's GOAWAY goes to the client at the next frame boundary of grpc's
 * bytes. Then pf_h2_guard_done() turns true and the relay closes both sides. */
bool pf_h2_guard_failed(const pf_h2_guard *g);
bool pf_h2_guard_done(const pf_h2_guard *g);

/* Why it failed, for the log (a static string), or NULL: also after
 * pf_h2_guard_end(), which is no failure of the client's. */
const char *pf_h2_guard_why(const pf_h2_guard *g);

/* pfgate ends the connection (an idle one: --idle-timeout): as a failure,
 * but the GOAWAY says NO_ERROR, and its last stream id tells the client that
 * streams it opened after it were not seen, so it may open them again. */
void pf_h2_guard_end(pf_h2_guard *g);

/* Streams open as the guard counts them: from the client's HEADERS to grpc's
 * trailers or either side's RST_STREAM. */
uint32_t pf_h2_guard_open_streams(const pf_h2_guard *g);

/* Injections held back for want of room or of a frame boundary: the relay
 * feeds 0 bytes again once room is made. */
bool pf_h2_guard_owes_server(const pf_h2_guard *g);
bool pf_h2_guard_owes_client(const pf_h2_guard *g);

#endif
