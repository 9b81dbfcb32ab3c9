/* LD_PRELOAD shim for the out-of-memory tests: while the file named by
 * PF_FAIL_ARMED exists, every malloc() or calloc() of exactly PF_FAIL_SIZE
 * bytes returns NULL. A size picks one allocation of pfgate's (lws allocates
 * through realloc, which is never failed). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);

static int fails(size_t size)
{
    static size_t fail_size = (size_t)-1;
    if (fail_size == (size_t)-1) {
        const char *s = getenv("PF_FAIL_SIZE");
        fail_size = s ? strtoul(s, NULL, 10) : 0;
    }
    if (size == 0 || size != fail_size)
        return 0;
    const char *armed = getenv("PF_FAIL_ARMED");
    return armed && access(armed, F_OK) == 0;
}

void *malloc(size_t size)
{
    return fails(size) ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    return n && size <= (size_t)-1 / n && fails(n * size) ? NULL : __libc_calloc(n, size);
}
