/* http/admission.h: whether a request may start, and how many did not.
 *
 * Two refusals a client should retry, both with Retry-After (seconds):
 *   - 429 rate_limited: its address sent more than `rate_limit` requests per
 *     second beyond a burst of `rate_burst` (token buckets, core/ratelimit.h;
 *     an IPv6 client counts by its /64, an IPv4-mapped one as IPv4);
 *     /healthz, /readyz and the /v2/health probes are never limited;
 *   - 503 unavailable: the evaluation queue is full (server.c, at hand-off);
 *   - 503 unavailable: `large_body_concurrency` request bodies of at least
 *     `large_body_size` bytes are already in (their text and parsed tree
 *     are the daemon's largest allocations; docs/operations.md, "Memory").
 * All are counted here for the metrics (http_admission_rejections).
 *
 * Memory handed back: when a large body's request completes, the freed
 * memory goes back to the system (malloc_trim), so RSS after a burst of
 * large uploads returns near its idle value instead of staying in glibc's
 * arenas (bench/soak.sh, docs/benchmarks.md "Memory per request").
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
    uint64_t large_body;   /* 503 with Retry-After: large_body_concurrency reached */
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

/* Retry-After for a refused large body: one large upload's parse and store. */
#define HTTP_ADMISSION_LARGE_RETRY_S 2

struct http_req;

/* A body of `size` bytes (declared by Content-Length, or read so far) for
 * r. When size >= large_body_size and r holds no large-body slot yet, it
 * takes one; 1 = go on, 0 = every slot is taken: r then holds a 503
 * unavailable with Retry-After, counted. Called on r's HTTP thread. */
int http_admission_body(struct http_req *r, uint64_t size);

/* http_admission_body for the size a request's Content-Length declares,
 * if any, so that a refused large body is never read. */
int http_admission_body_headers(struct http_req *r);

/* A request that held a large-body slot has been freed (request.c): give
 * the slot back and hand the memory it freed back to the system. */
void http_admission_body_done(http_app *app);

/* Large bodies being read or served now (the metrics). */
unsigned http_admission_large_active(const http_app *app);

#endif
