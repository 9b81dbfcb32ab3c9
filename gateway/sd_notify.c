/* systemd's notification protocol, written here instead of linking
 * libsystemd: systemd documents it as stable and free to reimplement
 * (sd_notify(3), "Notes"), it is one datagram, and libsystemd.so brings seven
 * shared libraries (liblzma, libzstd, liblz4, libgcrypt...) and 1 MiB of RSS
 * at rest to a process that has 6.8 MiB (a pause() program: 1.1 -> 2.1 MiB). */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int pf_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !path[0])
        return 0;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen(path);
    /* An abstract socket's name starts with a NUL byte and is not
     * NUL-terminated: its length is the address length. */
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
        pf_warn("NOTIFY_SOCKET %s: not a socket path or @name; systemd is not told", path);
        return -EINVAL;
    }
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    socklen_t sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                   (path[0] == '/'));

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        pf_warn("NOTIFY_SOCKET: socket: %s", strerror(err));
        return -err;
    }
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
    int err = errno;
    close(fd);
    if (n < 0) {
        pf_warn("NOTIFY_SOCKET %s: %s not sent: %s", path, state, strerror(err));
        return -err;
    }
    return 1;
}
