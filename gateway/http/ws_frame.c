#include "ws_frame.h"

#include <stdint.h>

#define FIN 0x80
#define OPCODE_TEXT 0x1
#define LEN_16 126 /* the length follows in 2 bytes */
#define LEN_64 127 /* the length follows in 8 bytes */

size_t pf_ws_text_frame_header(unsigned char *dst, size_t len)
{
    dst[0] = FIN | OPCODE_TEXT;
    if (len < LEN_16) {
        dst[1] = (unsigned char)len;
        return 2;
    }
    if (len <= UINT16_MAX) {
        dst[1] = LEN_16;
        dst[2] = (unsigned char)(len >> 8);
        dst[3] = (unsigned char)len;
        return 4;
    }
    dst[1] = LEN_64;
    uint64_t n = len;
    for (int i = 9; i >= 2; i--, n >>= 8)
        dst[i] = (unsigned char)n;
    return 10;
}
