/* core/ratelimit.h: token buckets keyed by a short byte string (a client
 * address), for a per-client request rate limit.
 *
 * Each key has a bucket of `burst` tokens that refills at `rate` per second;
 * a request takes one token or is refused with the time until one is there
 * (after the GCRA/token-bucket of RFC 2697's single-rate meter, one rate and
 * one burst). Rate and burst are arguments of every call, so a reload
 * changes them at once for every key.
 *
 * Memory is bounded: at most `max_keys` buckets. A bucket that has refilled
 * to full is the same as no bucket, so a full table first drops those; if
 * every bucket is still in use, new keys share one overflow bucket (they are
 * limited together rather than not at all). Keys are hashed with a per-table
 * random seed, so a client cannot pick addresses that collide.
 *
 * Ownership: ratelimit_new returns a table the caller frees with
 * ratelimit_free. Thread-safe: the table is split into shards, each under
 * its own mutex. */
#ifndef ODESERVE_CORE_RATELIMIT_H
#define ODESERVE_CORE_RATELIMIT_H

#include <stddef.h>

#include "core/err.h"

#define RATELIMIT_KEY_MAX 16 /* bytes: an IPv6 address */

typedef struct ratelimit ratelimit;

/* A table of at most max_keys buckets (>= 16). */
err_code ratelimit_new(ratelimit **out, size_t max_keys, err *e);

/* Take a token from the bucket of `key` (1..RATELIMIT_KEY_MAX bytes) at
 * `now` (seconds, any monotonic clock), the bucket refilling at `rate` > 0
 * tokens per second up to `burst` >= 1. Returns 0 when a token was taken;
 * otherwise the seconds until one will be there (> 0), and nothing is
 * taken. */
double ratelimit_take(ratelimit *rl, const void *key, size_t len, double rate, double burst,
                      double now);

/* Buckets held now (overflow buckets included). */
size_t ratelimit_size(ratelimit *rl);

/* NULL is a no-op. */
void ratelimit_free(ratelimit *rl);

#endif
