/* bench_metrics: what counting one request costs (http/metrics.h), in CPU
 * nanoseconds per request, on 1 thread and on several at once.
 *
 * One "request" is what the daemon does for a trajectory request: count it
 * started, name its model (the label lookup), count its solve (evaluations
 * and steps histograms) and count it done (by route, method and status;
 * latency by route and by model). Timed with the thread's CPU clock, median
 * of REPS runs of N requests, so a loaded machine moves it little. With
 * threads > 1 every thread counts at once (the stripes are what keeps that
 * cheap). Prints one JSON line per thread count. The target (docs/benchmarks.md):
 * at most 1 us per request. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "http/metrics.h"
#include "http/request_impl.h"
#include "http/routes.h"

#define N 1000000
#define REPS 7

static const http_route *traj_route(void)
{
    size_t n;
    const http_route *t = routes_table(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].pattern, "/v1/models/{name}/trajectory") == 0) return &t[i];
    return &t[0];
}

static double run_once(void)
{
    http_req r;
    memset(&r, 0, sizeof r);
    r.route = traj_route();
    snprintf(r.method, sizeof r.method, "POST");
    r.queued = 1;
    r.status = 200;
    double t0 = bench_cpu_now();
    for (long i = 0; i < N; i++) {
        metrics_request_started();
        metrics_request_model(&r, "spiral");
        metrics_solve_done(&r, 0, 614 + (i & 255), 88);
        metrics_request_done(&r, 1e-4 + (double)(i & 1023) * 1e-6);
    }
    return (bench_cpu_now() - t0) / N * 1e9;
}

static void *thread_main(void *arg)
{
    double *ns = arg;
    double v[REPS];
    for (int k = 0; k < REPS; k++)
        v[k] = run_once();
    qsort(v, REPS, sizeof v[0], bench_cmp_double);
    *ns = v[REPS / 2];
    return NULL;
}

int main(int argc, char **argv)
{
    int max_threads = argc > 1 ? atoi(argv[1]) : 4;
    for (int nt = 1; nt <= max_threads; nt *= 2) {
        pthread_t th[64];
        double ns[64];
        for (int i = 0; i < nt; i++)
            pthread_create(&th[i], NULL, thread_main, &ns[i]);
        double worst = 0, sum = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            sum += ns[i];
            if (ns[i] > worst) worst = ns[i];
        }
        printf("{\"bench\": \"metrics_request\", \"threads\": %d, \"cpu_ns_per_request_mean\": "
               "%.1f, \"cpu_ns_per_request_worst_thread\": %.1f}\n",
               nt, sum / nt, worst);
    }
    return 0;
}
