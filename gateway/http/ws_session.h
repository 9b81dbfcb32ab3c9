/* The life of a WebSocket session (SPEC "The WebSocket session") as one
 * state and one transition function, with no I/O: ws_front turns what lws
 * reports into events and acts on the state that comes back.
 *
 *   OPEN ──DRAIN──> DRAINING ──QUIET──> DRAIN_QUIET
 *   OPEN, DRAINING, DRAIN_QUIET ──END or a failure──> ENDING
 *   DRAIN_QUIET, ENDING ──ANSWERED──> CLOSING (1001; ENDING's code)
 *   any but CLOSING ──CANCEL──> CANCELLED ──WRITTEN──> CLOSING
 *   any ──PEER_CLOSE──> CLOSING (lws answers the client's Close) */
#ifndef PF_WS_SESSION_H
#define PF_WS_SESSION_H

#include <stdbool.h>

enum pf_ws_state {
    PF_WS_OPEN,        /* numbers in, answers out */
    PF_WS_DRAINING,    /* pfgate drains: waiting for the client to be quiet with all answered */
    PF_WS_DRAIN_QUIET, /* it was: close 1001 once what came meanwhile is answered */
    PF_WS_ENDING,      /* no more numbers: answer those taken, then close with close_code */
    PF_WS_CANCELLED,   /* the drain deadline passed: close 1001 once lws holds nothing */
    PF_WS_CLOSING,     /* the Close is on its way; nothing more is written */
};

enum pf_ws_event {
    PF_WS_FRAME,         /* data from the client (the drain's quiet check counts these) */
    PF_WS_END,           /* {"end":true}: 1000 once all is answered */
    PF_WS_BINARY,        /* a binary frame: 1003 */
    PF_WS_TOO_LARGE,     /* a message over --max-frame: 1009 */
    PF_WS_TOO_MANY,      /* --max-pending numbers held (PF_EFULL): 1008 */
    PF_WS_OUT_OF_MEMORY, /* 1011 */
    PF_WS_DRAIN,         /* pfgate starts draining */
    PF_WS_QUIET,         /* the drain's quiet timer fired */
    PF_WS_ANSWERED,      /* every answer taken is written and lws holds none of it */
    PF_WS_CANCEL,        /* the drain deadline passed */
    PF_WS_WRITTEN,       /* lws holds nothing and the client's input is read */
    PF_WS_PEER_CLOSE,    /* the client's Close (lws replies to it) */
};

struct pf_ws_fsm {
    enum pf_ws_state state;
    unsigned short close_code; /* ENDING, CANCELLED, CLOSING: what the Close carries */
    const char *close_why;     /* static text */
    /* PF_WS_FRAME events, and their count when the quiet timer was armed. */
    unsigned long frames, frames_at_check;
};

/* The only place the state changes. Returns the new state. */
enum pf_ws_state pf_ws_to(struct pf_ws_fsm *m, enum pf_ws_event ev);

/* True while numbers from the client are taken (else they are dropped). */
bool pf_ws_takes_numbers(const struct pf_ws_fsm *m);

/* The failure event for what pf_stream_push() returned (< 0). */
enum pf_ws_event pf_ws_push_failure(int rc);

#endif
