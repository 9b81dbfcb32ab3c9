/* Tells systemd (Type=notify) that pfgate is ready or stopping. */
#ifndef PF_SD_NOTIFY_H
#define PF_SD_NOTIFY_H

/* Sends `state` ("READY=1", "STOPPING=1", newline-separated assignments) as
 * one datagram to $NOTIFY_SOCKET: a socket path, or "@name" for an abstract
 * socket. Returns 1 when sent, 0 when NOTIFY_SOCKET is unset or empty (not
 * run by systemd), a negative errno when it could not be sent. */
int pf_sd_notify(const char *state);

#endif
