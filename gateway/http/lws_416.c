#include "lws_416.h"

#include <string.h>
#include <strings.h>

#define PAUSED_TICK_US 1000

void pf_lws416_want_write(struct lws *wsi, bool rx_paused)
{
    if (!rx_paused)
        lws_callback_on_writable(wsi);
    else if (lws_send_pipe_choked(wsi) || lws_partial_buffered(wsi))
        lws_set_timer_usecs(wsi, PAUSED_TICK_US); /* until the socket takes more */
    else
        lws_set_timer_usecs(wsi, 1); /* at the next turn of the service loop */
}

int pf_lws416_paused_write(struct lws *wsi, int (*write)(struct lws *, void *), void *arg)
{
    int wrote = 0;
    while (!lws_send_pipe_choked(wsi) && !lws_partial_buffered(wsi)) {
        int rc = write(wsi, arg);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        wrote = 1;
    }
    return wrote;
}

bool pf_lws416_body_unreadable(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

int pf_lws416_continue(struct lws *wsi)
{
    char expect[32] = "";
    if (lws_hdr_custom_copy(wsi, expect, sizeof(expect), "expect:", 7) <= 0 ||
        strcasecmp(expect, "100-continue") != 0)
        return 0;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    unsigned char buf[LWS_PRE + sizeof(cont)];
    memcpy(buf + LWS_PRE, cont, sizeof(cont) - 1);
    return lws_write(wsi, buf + LWS_PRE, sizeof(cont) - 1, LWS_WRITE_RAW) < 0 ? -1 : 0;
}
