/* Server-to-client WebSocket frame headers (RFC 6455 5.2), so that many
 * answer frames can leave in one write: lws_write() sends one frame per
 * call, and one send() per answer is what a busy socket pays most for. */
#ifndef PF_WS_FRAME_H
#define PF_WS_FRAME_H

#include <stddef.h>

/* A header is 2, 4 or 10 bytes. */
#define PF_WS_FRAME_HEADER_MAX 10

/* Writes at dst the header of a final, unmasked text frame (servers do not
 * mask) of len payload bytes; returns its size. */
size_t pf_ws_text_frame_header(unsigned char *dst, size_t len);

#endif
