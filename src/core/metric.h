/* core/metric.h: the pieces of cheap process-wide counters.
 *
 * A counter that many threads bump on every request must not be one shared
 * cache line: every increment would move that line between cores. So a
 * counter is kept in METRIC_STRIPES copies ("stripes"), a thread always adds
 * to its own stripe (picked round-robin the first time the thread counts),
 * and a reader sums the stripes. An add is one relaxed atomic fetch-add on a
 * line that, with no more threads than stripes, no other thread writes; no
 * lock, no allocation. A histogram is a row of such counters: one per bucket
 * (not cumulative; the reader accumulates) and one for the sum of the
 * observed values in an integer unit (nanoseconds, evaluations), so that it
 * too is a plain fetch-add. After Prometheus' client_golang (histograms of
 * atomic bucket counters) and the Linux kernel's per-CPU counters.
 *
 * The storage is the caller's (arrays of metric_ctr with static storage, one
 * row per stripe, each row aligned to a cache line): this file only picks
 * stripes and buckets. Thread-safe: every function may be called from any
 * thread; a reader may see a histogram's buckets and sum from slightly
 * different moments (Prometheus clients accept the same). */
#ifndef ODESERVE_CORE_METRIC_H
#define ODESERVE_CORE_METRIC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRIC_STRIPES 8
#define METRIC_LINE 64 /* bytes: a stripe's row starts on its own cache line */

typedef _Atomic uint64_t metric_ctr;

/* This thread's stripe, 0 .. METRIC_STRIPES - 1, the same for the thread's life. */
unsigned metric_stripe(void);

static inline void metric_add(metric_ctr *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t metric_load(const metric_ctr *c)
{
    return atomic_load_explicit((metric_ctr *)c, memory_order_relaxed);
}

/* The bucket of `v` among the `n` increasing upper bounds `le` (Prometheus'
 * "less or equal"): the first i with v <= le[i], or n (the +Inf bucket) when
 * v is above them all or NaN. */
size_t metric_bucket(const double *le, size_t n, double v);

#endif
