/* The one stream every front end serves, and the rule they all drain by. */
#ifndef PF_SERVICE_H
#define PF_SERVICE_H

/* The gRPC method, and the HTTP path of the same stream over WebSocket and NDJSON. */
#define PF_STREAM_PATH "/primefactor.Factors/PrimeFactors"

/* While draining, a stream ends once its client has sent nothing for this
 * long (numbers already in flight still arrive and are answered). */
#define PF_DRAIN_QUIET_NS (200ull * 1000 * 1000)

#endif
