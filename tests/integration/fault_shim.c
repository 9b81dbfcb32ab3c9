/* LD_PRELOAD shim that lets a test reach pfgate's failure paths without a
 * test build (test_grpc_faults.py compiles it):
 *   PF_SHIM_FAIL_FILE + PF_SHIM_FAIL_RANGES="START-END,...": while the file
 *     exists, malloc/calloc/realloc called from inside one of those ranges of
 *     the executable (offsets from its load address, from `nm -S`) return
 *     NULL. Only pfgate's own functions are named: grpc aborts on NULL.
 *   PF_SHIM_STALL_FILE: while the file exists, sendmsg() (grpc's writes;
 *     pfgate's relay uses send()) never returns on any thread but the main
 *     one: grpc core stuck in a write, as on a hung kernel. */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

#define MAX_RANGES 8
static uintptr_t lo[MAX_RANGES], hi[MAX_RANGES];
static int nranges;
static const char *fail_file, *stall_file;

static int first_object(struct dl_phdr_info *info, size_t size, void *base)
{
    (void)size;
    *(uintptr_t *)base = info->dlpi_addr;
    return 1; /* the executable comes first */
}

__attribute__((constructor)) static void shim_init(void)
{
    fail_file = getenv("PF_SHIM_FAIL_FILE");
    stall_file = getenv("PF_SHIM_STALL_FILE");
    const char *r = getenv("PF_SHIM_FAIL_RANGES");
    uintptr_t base = 0;
    dl_iterate_phdr(first_object, &base);
    while (r && *r && nranges < MAX_RANGES) {
        char *end;
        uintptr_t a = strtoull(r, &end, 16);
        if (*end != '-')
            break;
        uintptr_t b = strtoull(end + 1, &end, 16);
        lo[nranges] = base + a;
        hi[nranges++] = base + b;
        r = *end == ',' ? end + 1 : end;
    }
}

static int fails(void *caller)
{
    uintptr_t pc = (uintptr_t)caller;
    for (int i = 0; i < nranges; i++)
        if (pc >= lo[i] && pc < hi[i])
            return fail_file && access(fail_file, F_OK) == 0;
    return 0;
}

void *malloc(size_t n)
{
    if (fails(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (fails(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (fails(__builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    while (stall_file && gettid() != getpid() && access(stall_file, F_OK) == 0)
        pause();
    return syscall(SYS_sendmsg, fd, msg, flags);
}
