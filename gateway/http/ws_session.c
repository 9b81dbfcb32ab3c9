#include "ws_session.h"

#include <libwebsockets.h> /* the RFC 6455 close codes only */

#include "pf.h"

static enum pf_ws_state end_with(struct pf_ws_fsm *m, enum pf_ws_state to, unsigned short code,
                                 const char *why)
{
    m->state = to;
    m->close_code = code;
    m->close_why = why;
    return to;
}

/* The client's end or a failure: no more numbers are taken, and the answers
 * already owed still go before the Close. */
static enum pf_ws_state stop_taking(struct pf_ws_fsm *m, unsigned short code, const char *why)
{
    if (!pf_ws_takes_numbers(m))
        return m->state; /* the first end stands */
    return end_with(m, PF_WS_ENDING, code, why);
}

enum pf_ws_state pf_ws_to(struct pf_ws_fsm *m, enum pf_ws_event ev)
{
    switch (ev) {
    case PF_WS_FRAME:
        m->frames++;
        break;
    case PF_WS_END:
        return stop_taking(m, LWS_CLOSE_STATUS_NORMAL, "");
    case PF_WS_BINARY:
        return stop_taking(m, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                    "binary frames are not accepted: send JSON text");
    case PF_WS_TOO_LARGE:
        return stop_taking(m, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
    case PF_WS_TOO_MANY:
        return stop_taking(m, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many requests in flight");
    case PF_WS_OUT_OF_MEMORY:
        return stop_taking(m, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, pf_strerror(PF_ENOMEM));
    case PF_WS_DRAIN:
        if (m->state == PF_WS_OPEN)
            m->state = PF_WS_DRAINING;
        break;
    case PF_WS_QUIET:
        /* Nothing came since everything was answered (a number that came
         * since is a frame, so "nothing pending" needs no check of its own). */
        if (m->state == PF_WS_DRAINING && m->frames == m->frames_at_check)
            m->state = PF_WS_DRAIN_QUIET;
        break;
    case PF_WS_ANSWERED:
        switch (m->state) {
        case PF_WS_DRAINING:
            m->frames_at_check = m->frames; /* the caller arms the quiet timer */
            break;
        case PF_WS_DRAIN_QUIET:
            return end_with(m, PF_WS_CLOSING, LWS_CLOSE_STATUS_GOINGAWAY, "server is shutting down");
        case PF_WS_ENDING:
            m->state = PF_WS_CLOSING;
            break;
        default:
            break;
        }
        break;
    case PF_WS_CANCEL:
        if (m->state == PF_WS_CLOSING)
            break;
        /* A failure keeps its code; everything else goes away with 1001. */
        if (m->state == PF_WS_ENDING && m->close_code != LWS_CLOSE_STATUS_NORMAL)
            m->state = PF_WS_CANCELLED;
        else
            end_with(m, PF_WS_CANCELLED, LWS_CLOSE_STATUS_GOINGAWAY, "server is shutting down");
        break;
    case PF_WS_WRITTEN:
        if (m->state == PF_WS_CANCELLED)
            m->state = PF_WS_CLOSING;
        break;
    case PF_WS_PEER_CLOSE:
        m->state = PF_WS_CLOSING;
        break;
    }
    return m->state;
}

bool pf_ws_takes_numbers(const struct pf_ws_fsm *m)
{
    return m->state == PF_WS_OPEN || m->state == PF_WS_DRAINING || m->state == PF_WS_DRAIN_QUIET;
}

/* pf_stream_push() fails with PF_EFULL or PF_ENOMEM only. */
enum pf_ws_event pf_ws_push_failure(int rc)
{
    return rc == PF_EFULL ? PF_WS_TOO_MANY : PF_WS_OUT_OF_MEMORY;
}
