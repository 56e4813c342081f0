/* bench/bench_util.h: what every bench program times with. Header-only,
 * private to bench/. */
#ifndef ODESERVE_BENCH_UTIL_H
#define ODESERVE_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* qsort order for doubles (ascending). */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort v[0..n) (n >= 1) and return v[n / 2]: the median for odd n, the
 * upper of the middle two for even n. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

/* This thread's CPU time, seconds: unlike the wall clock, not moved by
 * time the thread spent preempted on a loaded machine. */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* OpenBLAS starts its own threads when the library loads, and they spin
 * for a while before they sleep, on the other core: a bench that starts
 * timing at once would run beside them, which a daemon's solve or job
 * (long after its start) never does. Unless OPENBLAS_NUM_THREADS is set,
 * start the program again with it at 1, so those threads never exist. Call
 * first thing in main. */
static inline void bench_blas_one_thread_from_start(char **argv)
{
    if (getenv("OPENBLAS_NUM_THREADS") || setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    perror("bench: execv /proc/self/exe"); /* go on as we are */
}

#endif
