/* Allocation fault injection for the FAULT=1 build of pfgate (make fault-build).
 *
 * Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 * so only pfgate's own objects call through here; grpc, lws, jansson and
 * protobuf-c keep the real allocator.
 *
 * PF_FAULT_ALLOC=N: while armed, the Nth allocation counted fails (once per
 * arming); 0 or unset: count only. SIGUSR2 toggles arming, so that startup is
 * not counted: arming resets the count, and each toggle writes one line to
 * stderr ("fault: armed ..." / "fault: disarmed after C allocations ..."),
 * which is how the test knows the state and the count. A failure writes
 * "fault: failed allocation N (...)", the stack, and "fault: end of stack". */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);

static unsigned long target;     /* PF_FAULT_ALLOC */
static atomic_bool armed;
static atomic_ulong counted;     /* allocations since arming */
static atomic_ulong failed_at;   /* the one that failed, 0 if none */

/* Async-signal-safe output: a line built from strings and numbers. */
struct line {
    char buf[160];
    size_t len;
};

static void put_s(struct line *l, const char *s)
{
    while (*s && l->len < sizeof(l->buf))
        l->buf[l->len++] = *s++;
}

static void put_u(struct line *l, unsigned long v)
{
    char digits[24];
    size_t n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof(digits));
    while (n && l->len < sizeof(l->buf))
        l->buf[l->len++] = digits[--n];
}

static void emit(struct line *l)
{
    int saved = errno;
    ssize_t rc = write(STDERR_FILENO, l->buf, l->len);
    (void)rc;
    errno = saved;
}

static void on_toggle(int sig)
{
    (void)sig;
    struct line l = { .len = 0 };
    if (!atomic_load(&armed)) {
        atomic_store(&counted, 0);
        atomic_store(&failed_at, 0);
        atomic_store(&armed, true);
        put_s(&l, "fault: armed, failing allocation ");
        put_u(&l, target);
        put_s(&l, target ? "\n" : " (none: counting only)\n");
    } else {
        atomic_store(&armed, false);
        put_s(&l, "fault: disarmed after ");
        put_u(&l, atomic_load(&counted));
        put_s(&l, " allocations, failed ");
        put_u(&l, atomic_load(&failed_at));
        put_s(&l, "\n");
    }
    emit(&l);
}

__attribute__((constructor)) static void fault_init(void)
{
    const char *n = getenv("PF_FAULT_ALLOC");
    target = n ? strtoul(n, NULL, 10) : 0;
    struct sigaction sa = { .sa_handler = on_toggle, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
}

/* True when this allocation is the one to fail; says so on stderr. */
static bool fail_now(const char *what, size_t n, size_t size)
{
    if (!atomic_load(&armed))
        return false;
    unsigned long k = atomic_fetch_add(&counted, 1) + 1;
    if (k != target)
        return false;
    atomic_store(&failed_at, k);
    struct line l = { .len = 0 };
    put_s(&l, "fault: failed allocation ");
    put_u(&l, k);
    put_s(&l, " (");
    put_s(&l, what);
    put_s(&l, " ");
    if (n != 1) {
        put_u(&l, n);
        put_s(&l, "x");
    }
    put_u(&l, size);
    put_s(&l, " bytes)\n");
    emit(&l);
    __sanitizer_print_stack_trace();
    struct line end = { .len = 0 };
    put_s(&end, "fault: end of stack\n"); /* the test reads the site once this is out */
    emit(&end);
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t size)
{
    return fail_now("malloc", 1, size) ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now("calloc", n, size) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    /* realloc(p, 0) frees: not an allocation that can fail. */
    return size && fail_now("realloc", 1, size) ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    return fail_now("strdup", 1, strlen(s) + 1) ? NULL : __real_strdup(s);
}
