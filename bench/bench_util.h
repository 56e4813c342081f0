/* bench/bench_util.h: what every bench program times with. Header-only,
 * private to bench/. */
#ifndef ODESERVE_BENCH_UTIL_H
#define ODESERVE_BENCH_UTIL_H

#include <time.h>

/* qsort order for doubles (ascending). */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* This thread's CPU time, seconds: unlike the wall clock, not moved by
 * time the thread spent preempted on a loaded machine. */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
