/* Every place pfgate leans on how grpc core 1.51 (core version 29) behaves
 * rather than on its documented API; each says why. Another grpc version
 * fails the build here: read each item against the new version first. */
#ifndef PF_GRPC_151_H
#define PF_GRPC_151_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <stdbool.h>
#include <stddef.h>

/* The Makefile passes the major of `pkg-config --modversion grpc`; tools
 * that only preprocess (check-layers) do not. */
#if defined(PF_GRPC_CORE_VERSION_MAJOR) && PF_GRPC_CORE_VERSION_MAJOR != 29
#error "pfgate is written for grpc 1.51 (core 29): review gateway/grpc/grpc_151.h for this version"
#endif
#define PF_GRPC_CORE_VERSION "29." /* grpc_version_string()'s prefix, checked at start */

/* The core version of the library pfgate runs with: 0, or -1 after logging
 * that it is not 1.51 (a shared library swapped under the binary). */
int pf_grpc151_check_runtime(void);

/* Fd peer names: grpc names a connection added with
 * grpc_server_add_channel_from_fd() "fd:N" (grpc_call_get_peer()), and the
 * per-connection stream count keys on that name. */
void pf_grpc151_peer_name(int fd, char *buf, size_t size);

/* Queue steering. When two threads take turns polling, the events of one
 * thread's stream are found by the other, which has to wake it (one busy
 * stream: 1.4x the CPU per number), so only the first worker's queue polls.
 * grpc publishes a new stream of a connection added by fd to the first queue
 * registered without a pollset, or, with no request there, to the next
 * queue that has one, in the order of registration: the steering queue,
 * registered first and never given a request, sends streams to the polling
 * worker first. And grpc frees a stream reset before a request took it only
 * when a later request is matched past it, so the other workers always keep
 * a request pending: while the polling worker parses a rapid-reset flood,
 * they must keep taking streams (BENCHMARKS.md, "Threads and one stream"). */
grpc_completion_queue *pf_grpc151_steer_queue(grpc_server *server);
/* A worker's queue, registered with server; only the first one polls. */
grpc_completion_queue *pf_grpc151_worker_queue(grpc_server *server, bool polls);

/* Hinted first message: grpc completes a batch with the initial metadata
 * when the headers are written, and with a GRPC_WRITE_BUFFER_HINT message in
 * it nothing starts that write (a one-number stream stalls): the first
 * message of a call is never hinted (grpc_front.c). */

/* Raw byte-buffer access: a message that arrived in one uncompressed slice
 * is read in place (*out) instead of through grpc_byte_buffer_reader, which
 * copies it first. False when bb is not such a buffer. Inline, as pb_codec.c is
 * linked alone into the load client and a fuzz target. */
static inline bool pf_grpc151_one_slice(grpc_byte_buffer *bb, grpc_slice *out)
{
    if (bb->type != GRPC_BB_RAW || bb->data.raw.compression != GRPC_COMPRESS_NONE ||
        bb->data.raw.slice_buffer.count != 1)
        return false;
    *out = bb->data.raw.slice_buffer.slices[0];
    return true;
}

/* The abseil symbol: Debian builds abseil without NDEBUG, so every
 * absl::Mutex grpc core locks runs abseil's deadlock-cycle detection: 5% of
 * pfgate's CPU on 64 gRPC streams (perf).
 * absl::SetMutexDeadlockDetectionMode(OnDeadlockCycle::kIgnore) turns it off;
 * it is C++, named here by its mangled name in Debian's inline namespace
 * (debian3), and weak: with another abseil it is absent and the detection
 * stays on. Inline: the gRPC load client (bench/grpc_load.c) uses it too. */
extern void pf_absl_set_mutex_deadlock_detection_mode(int mode) __asm__(
    "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE") __attribute__((weak));

/* Call once, before the first call is served. */
static inline void pf_grpc151_quiet_abseil(void)
{
    enum { ABSL_ON_DEADLOCK_CYCLE_IGNORE = 0 };
    if (pf_absl_set_mutex_deadlock_detection_mode)
        pf_absl_set_mutex_deadlock_detection_mode(ABSL_ON_DEADLOCK_CYCLE_IGNORE);
}

#endif
