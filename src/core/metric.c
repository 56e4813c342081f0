/* core/metric.c: see metric.h. */
#include "core/metric.h"

static atomic_uint next_stripe;
static _Thread_local unsigned my_stripe = METRIC_STRIPES; /* not yet picked */

unsigned metric_stripe(void)
{
    if (my_stripe == METRIC_STRIPES)
        my_stripe =
            atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) % METRIC_STRIPES;
    return my_stripe;
}

size_t metric_bucket(const double *le, size_t n, double v)
{
    /* a binary search: the bounds are few, but this runs on every request */
    size_t lo = 0, hi = n;
    if (!(v <= le[n - 1])) return n; /* above every bound, or NaN */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= le[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}
