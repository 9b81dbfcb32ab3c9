/* POST /primefactor.Factors/PrimeFactors: the stream for curl. The request
 * body is newline-delimited JSON, one request a line; the response is
 * application/x-ndjson, one answer a line, streamed as answers are ready.
 * Runs on the lws service thread. */
#ifndef PF_NDJSON_FRONT_H
#define PF_NDJSON_FRONT_H

#include <libwebsockets.h>

struct pf_ndjson_session;

/* From LWS_CALLBACK_HTTP: checks the request and sends the headers. */
int pf_ndjson_start(struct lws *wsi, struct pf_ndjson_session **out);
int pf_ndjson_body(struct lws *wsi, struct pf_ndjson_session *s, const char *in, size_t len);
int pf_ndjson_body_done(struct lws *wsi, struct pf_ndjson_session *s);
int pf_ndjson_write(struct lws *wsi, struct pf_ndjson_session *s); /* HTTP_WRITEABLE */
int pf_ndjson_timer(struct lws *wsi, struct pf_ndjson_session *s); /* LWS_CALLBACK_TIMER */
void pf_ndjson_free(struct lws *wsi, struct pf_ndjson_session *s); /* NULL-safe */

/* On the service thread, once the drain starts: every stream goes on
 * reading and answering until its body ends or its client has sent nothing
 * for PF_DRAIN_QUIET_NS (service.h), then ends with everything answered. */
void pf_ndjson_drain_all(struct lws_context *ctx);

/* Once the drain deadline has passed: every stream is closed now. */
void pf_ndjson_cancel_all(struct lws_context *ctx);

#endif
