/* LD_PRELOAD shim for test_shutdown_stall.py (which compiles it): while the
 * file PF_STALL_FILE names exists, sendmsg() (grpc's writes; pfgate's relay
 * uses send()) never returns on any thread but the main one: grpc core stuck
 * in a write, as on a hung kernel. Allocation faults are the fault build's
 * (tests/fault/alloc_fault.c), not this shim's. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *stall_file;

__attribute__((constructor)) static void stall_init(void)
{
    stall_file = getenv("PF_STALL_FILE");
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    while (stall_file && gettid() != getpid() && access(stall_file, F_OK) == 0)
        pause();
    return syscall(SYS_sendmsg, fd, msg, flags);
}
