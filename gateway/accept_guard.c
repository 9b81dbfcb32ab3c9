#include "accept_guard.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int pf_accept(struct pf_acceptor *a, int listen_fd, bool *pause)
{
    *pause = false;
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        switch (errno) {
        case EINTR:
        case ECONNABORTED: /* the client gave up while queued: take the next */
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            pf_log_limited(&a->out_of_fds, PF_LOG_WARN,
                           "%s: cannot accept a connection: %s; pausing accepts %d ms", a->front,
                           strerror(errno), PF_ACCEPT_PAUSE_MS);
            *pause = true;
            return -1;
        default: /* EAGAIN, or a listener closed under us */
            return -1;
        }
    }
}
