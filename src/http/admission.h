/* http/admission.h: whether a request may start, and how many did not.
 *
 * Two refusals a client should retry, both with Retry-After (seconds):
 *   - 429 rate_limited: its address sent more than `rate_limit` requests per
 *     second beyond a burst of `rate_burst` (token buckets, core/ratelimit.h;
 *     an IPv6 client counts by its /64, an IPv4-mapped one as IPv4);
 *     /healthz, /readyz and the /v2/health probes are never limited;
 *   - 503 unavailable: the evaluation queue is full (server.c, at hand-off).
 * Both are counted here for the metrics (http_admission_rejections).
 *
 * Threads: any; the counters are atomics, the buckets lock per shard. */
#ifndef ODESERVE_HTTP_ADMISSION_H
#define ODESERVE_HTTP_ADMISSION_H

#include <stdint.h>
#include <sys/socket.h>

#include "http/app.h"

/* Retry-After for a full evaluation queue: work drains in about this long
 * at the request sizes the queue is sized for (eval_queue_limit). */
#define HTTP_ADMISSION_OVERLOAD_RETRY_S 1

typedef struct http_rejections {
    uint64_t overloaded;   /* 503 with Retry-After: the evaluation queue was full */
    uint64_t rate_limited; /* 429 with Retry-After: over rate_limit */
} http_rejections;

/* The counts since start. */
void http_admission_rejections(const http_app *app, http_rejections *out);

/* 0 when a request for `path` from `client` may proceed (also when the
 * limit is off or the address unknown); otherwise it is counted and the
 * whole seconds to wait (>= 1) are returned for Retry-After. */
unsigned http_admission_rate(http_app *app, const struct sockaddr *client, const char *path,
                             double now);

/* Count one request refused because the evaluation queue was full. */
void http_admission_overloaded(http_app *app);

#endif
