/* http/metrics.c: the counters of metrics.h and GET /metrics.
 *
 * Layout: one `struct stripe` per METRIC_STRIPES, each holding every counter
 * of the daemon; a thread adds to its own (core/metric.h) and the scrape
 * sums them. Histograms keep per-bucket counts (the scrape accumulates them
 * into Prometheus' cumulative buckets) and their sum in an integer unit
 * (nanoseconds; evaluations; steps). Series of a labelled metric are written
 * only once they have counted something, so the output stays as small as
 * what the daemon has seen. */
#include "http/metrics.h"

#include "build_config.h" /* autoconf (the top build dir): PACKAGE_VERSION */

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "codec/jbuf.h"
#include "http/auth.h"
#include "core/log.h"
#include "core/metric.h"
#include "http/handlers.h"
#include "http/request_impl.h"
#include "model/job_status.h"
#include "model/model_name.h"
#include "store/db.h"
#include "store/jobs.h"

/* ---- label values ---- */

#define N_ROUTES (METRICS_ROUTES_MAX + 1) /* the last: "unmatched" */
#define N_MODELS (METRICS_MODELS_MAX + 1) /* the last: "_other" */

static const char *const methods[] = {"GET",    "HEAD",  "POST",    "PUT",
                                      "DELETE", "PATCH", "OPTIONS", "other"};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* Index 0: no reply was sent (the client went away first); the last: any
 * status not listed. */
static const unsigned statuses[] = {0,   200, 201, 202, 204, 206, 301, 302, 304, 400, 401,
                                    403, 404, 405, 406, 408, 409, 410, 411, 413, 414, 415,
                                    422, 429, 431, 500, 501, 502, 503, 504, 505};
#define N_STATUSES (sizeof statuses / sizeof statuses[0] + 1)

/* ---- buckets (docs/metrics.md) ---- */

/* Seconds: 10 us (a /healthz on a warm connection) to 10 s (solve_timeout's
 * default), three buckets a decade. */
static const double lat_le[] = {1e-5,   2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
                                2.5e-2, 5e-2,   0.1,  0.25, 0.5,    1,    2.5,  5,      10};
#define LAT_N (sizeof lat_le / sizeof lat_le[0])
/* Evaluations of the vector field per solve: a short explicit solve takes
 * tens, a stiff or long one hundreds of thousands. */
static const double nfe_le[] = {10,   25,  50,    100, 250, 500,   1000, 2500,
                                5000, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 1e6};
#define NFE_N (sizeof nfe_le / sizeof nfe_le[0])
static const double steps_le[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4, 1e5};
#define STEPS_N (sizeof steps_le / sizeof steps_le[0])

/* A histogram row: the buckets (finite ones, then +Inf), then the sum. */
#define HIST(n) ((n) + 2)
#define HIST_MAX HIST(LAT_N) /* the longest row */
_Static_assert(NFE_N <= LAT_N && STEPS_N <= LAT_N, "HIST_MAX must fit every histogram");

struct stripe {
    _Alignas(METRIC_LINE) metric_ctr requests[N_ROUTES][N_METHODS][N_STATUSES];
    metric_ctr route_lat[N_ROUTES][HIST(LAT_N)]; /* sum in ns */
    metric_ctr model_lat[N_MODELS][HIST(LAT_N)]; /* sum in ns */
    metric_ctr nfe[N_MODELS][HIST(NFE_N)];
    metric_ctr steps[N_MODELS][HIST(STEPS_N)];
    metric_ctr started, finished; /* requests: in flight = started - finished */
    metric_ctr solves[2];         /* inline, pool */
    metric_ctr fallbacks;
    metric_ctr dropped[2];  /* evaluations dropped for a gone client: queued, running */
    metric_ctr rejected[2]; /* 503, 429 */
};

static struct stripe stripes[METRIC_STRIPES];

static struct stripe *mine(void)
{
    return &stripes[metric_stripe()];
}

/* ---- model labels: an insert-only table, read without a lock ---- */

#define MODEL_SLOTS (2 * METRICS_MODELS_MAX) /* hash slots: half full at most */

static char model_names[METRICS_MODELS_MAX][MODEL_NAME_MAX + 1];
static atomic_int n_models;                /* names in model_names (release: name written) */
static atomic_int model_slot[MODEL_SLOTS]; /* 0 empty, else index + 1 */
static pthread_mutex_t model_mu = PTHREAD_MUTEX_INITIALIZER; /* serialises inserts */

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The label index of `name`: its own, or METRICS_MODELS_MAX ("_other") once
 * the table is full. */
static int model_index(const char *name)
{
    if (strlen(name) > MODEL_NAME_MAX) return METRICS_MODELS_MAX;
    unsigned h = name_hash(name) % MODEL_SLOTS;
    for (int locked = 0;; locked = 1) {
        unsigned i = h;
        int v;
        while ((v = atomic_load_explicit(&model_slot[i], memory_order_acquire)) != 0) {
            if (strcmp(model_names[v - 1], name) == 0) {
                if (locked) pthread_mutex_unlock(&model_mu);
                return v - 1;
            }
            i = (i + 1) % MODEL_SLOTS;
        }
        if (locked) { /* absent, and no one else inserts now: slot i is ours */
            int n = atomic_load_explicit(&n_models, memory_order_relaxed);
            if (n < METRICS_MODELS_MAX) {
                snprintf(model_names[n], sizeof model_names[n], "%s", name);
                atomic_store_explicit(&n_models, n + 1, memory_order_release);
                atomic_store_explicit(&model_slot[i], n + 1, memory_order_release);
            } else {
                n = METRICS_MODELS_MAX;
            }
            pthread_mutex_unlock(&model_mu);
            return n;
        }
        if (atomic_load_explicit(&n_models, memory_order_relaxed) >= METRICS_MODELS_MAX)
            return METRICS_MODELS_MAX;
        pthread_mutex_lock(&model_mu); /* look again under the lock, then insert */
    }
}

/* ---- counting ---- */

int metrics_mode_from_name(const char *name)
{
    if (strcmp(name, "open") == 0) return METRICS_OPEN;
    if (strcmp(name, "token") == 0) return METRICS_TOKEN;
    if (strcmp(name, "off") == 0) return METRICS_OFF;
    return -1;
}

static _Atomic double start_time;

void metrics_process_started(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    atomic_store(&start_time, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
}

void metrics_request_started(void)
{
    metric_add(&mine()->started, 1);
}

static size_t method_index(const char *m)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++)
        if (strcmp(m, methods[i]) == 0) return i;
    return N_METHODS - 1;
}

static size_t status_index(unsigned s)
{
    /* the common ones first: most requests take one comparison */
    if (s == 200) return 1;
    for (size_t i = 0; i + 1 < N_STATUSES; i++)
        if (statuses[i] == s) return i;
    return N_STATUSES - 1;
}

static size_t route_index(const http_route *route)
{
    if (!route) return N_ROUTES - 1;
    size_t n;
    size_t i = (size_t)(route - routes_table(&n));
    return i < METRICS_ROUTES_MAX ? i : N_ROUTES - 1;
}

static void hist_observe(metric_ctr *row, const double *le, size_t n, double v, uint64_t sum)
{
    metric_add(&row[metric_bucket(le, n, v)], 1);
    metric_add(&row[n + 1], sum);
}

static uint64_t to_ns(double s)
{
    return s > 0 ? (uint64_t)(s * 1e9 + 0.5) : 0;
}

void metrics_request_done(const http_req *r, double seconds)
{
    struct stripe *st = mine();
    size_t ri = route_index(r->route);
    unsigned status = r->queued ? r->status : 0;
    metric_add(&st->requests[ri][method_index(r->method)][status_index(status)], 1);
    uint64_t ns = to_ns(seconds);
    hist_observe(st->route_lat[ri], lat_le, LAT_N, seconds, ns);
    if (r->model_label) hist_observe(st->model_lat[r->model_label - 1], lat_le, LAT_N, seconds, ns);
    metric_add(&st->finished, 1);
}

void metrics_request_model(http_req *r, const char *model)
{
    r->model_label = model_index(model) + 1;
}

void metrics_solve_done(const http_req *r, int where, long nfe, long steps)
{
    struct stripe *st = mine();
    metric_add(&st->solves[where ? 1 : 0], 1);
    if (!r->model_label) return;
    size_t m = (size_t)r->model_label - 1;
    if (nfe < 0) nfe = 0;
    if (steps < 0) steps = 0;
    hist_observe(st->nfe[m], nfe_le, NFE_N, (double)nfe, (uint64_t)nfe);
    hist_observe(st->steps[m], steps_le, STEPS_N, (double)steps, (uint64_t)steps);
}

void metrics_solve_fallback(void)
{
    metric_add(&mine()->fallbacks, 1);
}

void metrics_eval_dropped(int running)
{
    metric_add(&mine()->dropped[running != 0], 1);
}

void metrics_rejected_count(unsigned status)
{
    if (status == 503 || status == 429) metric_add(&mine()->rejected[status == 429], 1);
}

/* ---- the scrape ---- */

/* Sum over the stripes of the counter at byte offset `off` of a stripe. */
static uint64_t sum_at(size_t off)
{
    uint64_t s = 0;
    for (size_t k = 0; k < METRIC_STRIPES; k++)
        s += metric_load((const metric_ctr *)(const void *)((const char *)&stripes[k] + off));
    return s;
}
/* A counter's byte offset in a stripe (indices may be run-time values). */
#define OFF(field) ((size_t)((const char *)&stripes[0].field - (const char *)&stripes[0]))
#define SUM(field) sum_at(OFF(field))

static void head(jbuf *b, const char *name, const char *type, const char *help)
{
    jbuf_lit(b, "# HELP ");
    jbuf_lit(b, name);
    jbuf_lit(b, " ");
    jbuf_lit(b, help);
    jbuf_lit(b, "\n# TYPE ");
    jbuf_lit(b, name);
    jbuf_lit(b, " ");
    jbuf_lit(b, type);
    jbuf_lit(b, "\n");
}

/* A label value, escaped as the format wants (\\, \", \n). */
static void label_value(jbuf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            jbuf_lit(b, "\\\\");
        else if (*p == '"')
            jbuf_lit(b, "\\\"");
        else if (*p == '\n')
            jbuf_lit(b, "\\n");
        else
            jbuf_raw(b, p, 1);
    }
}

/* name{k1="v1",k2="v2"} (labels: NULL-terminated pairs; none: no braces) */
static void series(jbuf *b, const char *name, const char *suffix, const char *const *labels)
{
    jbuf_lit(b, name);
    if (suffix) jbuf_lit(b, suffix);
    if (!labels || !labels[0]) return;
    jbuf_lit(b, "{");
    for (size_t i = 0; labels[i]; i += 2) {
        if (i) jbuf_lit(b, ",");
        jbuf_lit(b, labels[i]);
        jbuf_lit(b, "=\"");
        label_value(b, labels[i + 1]);
        jbuf_lit(b, "\"");
    }
    jbuf_lit(b, "}");
}

static void value_u(jbuf *b, uint64_t v)
{
    jbuf_lit(b, " ");
    jbuf_int(b, (long long)v);
    jbuf_lit(b, "\n");
}

static void value_d(jbuf *b, double v)
{
    jbuf_lit(b, " ");
    if (isfinite(v))
        jbuf_double(b, v);
    else
        jbuf_lit(b, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
    jbuf_lit(b, "\n");
}

static void sample_u(jbuf *b, const char *name, const char *const *labels, uint64_t v)
{
    series(b, name, NULL, labels);
    value_u(b, v);
}

static void sample_d(jbuf *b, const char *name, const char *const *labels, double v)
{
    series(b, name, NULL, labels);
    value_d(b, v);
}

/* One histogram series from the sum of its rows at byte offsets `off[0..n_off)`
 * in a stripe (one row, or the rows of routes that share a pattern):
 * cumulative buckets, +Inf, _sum (the row's last counter / per: 1e9 for
 * nanoseconds, so that the sum prints in the fewest digits), _count.
 * Nothing when it has counted nothing. `label`/`value`: its one label. */
static void hist_series_rows(jbuf *b, const char *name, const char *label, const char *value,
                             const size_t *off, size_t n_off, const double *le, size_t n,
                             double per)
{
    uint64_t counts[HIST_MAX], total = 0;
    for (size_t i = 0; i < n + 2; i++) {
        counts[i] = 0;
        for (size_t k = 0; k < n_off; k++)
            counts[i] += sum_at(off[k] + i * sizeof(metric_ctr));
    }
    for (size_t i = 0; i <= n; i++)
        total += counts[i];
    if (total == 0) return;
    uint64_t cum = 0;
    for (size_t i = 0; i <= n; i++) {
        cum += counts[i];
        char lev[32]; /* %g: every bound here has at most 6 significant digits */
        if (i < n)
            snprintf(lev, sizeof lev, "%g", le[i]);
        else
            snprintf(lev, sizeof lev, "+Inf");
        const char *l[] = {label, value, "le", lev, NULL};
        series(b, name, "_bucket", l);
        value_u(b, cum);
    }
    const char *l[] = {label, value, NULL};
    series(b, name, "_sum", l);
    value_d(b, (double)counts[n + 1] / per);
    series(b, name, "_count", l);
    value_u(b, total);
}

static void hist_series(jbuf *b, const char *name, const char *label, const char *value, size_t off,
                        const double *le, size_t n, double per)
{
    hist_series_rows(b, name, label, value, &off, 1, le, n, per);
}

/* What the scrape reads from the rest of the daemon. */
typedef struct scrape {
    workq_stats q;
    unsigned long long hits, misses;
    int have_db; /* the database answered: the three below are set */
    unsigned long long db_bytes;
    long long jobs[JOB__COUNT];
    double iters_per_s;
} scrape;

static void write_http(jbuf *b)
{
    size_t nr;
    const http_route *table = routes_table(&nr);
    head(b, "odeserve_http_requests_total", "counter",
         "HTTP requests completed, by route template (the pattern of the route table; "
         "\"unmatched\" for 404 and 405 answered before any route), method and status "
         "(\"0\": the client left before the reply).");
    for (size_t ri = 0; ri < N_ROUTES; ri++) {
        const char *route = ri < nr && ri < METRICS_ROUTES_MAX ? table[ri].pattern : "unmatched";
        for (size_t mi = 0; mi < N_METHODS; mi++)
            for (size_t si = 0; si < N_STATUSES; si++) {
                uint64_t v = SUM(requests[ri][mi][si]);
                if (!v) continue;
                char st[16];
                if (si + 1 < N_STATUSES)
                    snprintf(st, sizeof st, "%u", statuses[si]);
                else
                    snprintf(st, sizeof st, "other");
                const char *l[] = {"route", route, "method", methods[mi], "status", st, NULL};
                sample_u(b, "odeserve_http_requests_total", l, v);
            }
    }
    head(b, "odeserve_http_request_duration_seconds", "histogram",
         "Time from a request's headers to its completion (reply sent), by route template.");
    /* One series per pattern: the rows of one pattern's methods (GET and
     * DELETE /v1/models/{name}, ...) are added up, since a series of the
     * same name and labels written twice is a broken exposition (Prometheus
     * keeps the first sample and drops the rest as duplicates). */
    for (size_t ri = 0; ri < N_ROUTES; ri++) {
        const char *route = ri < nr && ri < METRICS_ROUTES_MAX ? table[ri].pattern : "unmatched";
        size_t off[N_ROUTES], n_off = 0;
        int seen = 0;
        for (size_t rj = 0; rj < ri && rj < nr && ri < nr && !seen; rj++)
            seen = strcmp(table[rj].pattern, route) == 0;
        if (seen) continue;
        off[n_off++] = OFF(route_lat[ri]);
        for (size_t rj = ri + 1; ri < nr && rj < nr && rj < METRICS_ROUTES_MAX; rj++)
            if (strcmp(table[rj].pattern, route) == 0) off[n_off++] = OFF(route_lat[rj]);
        hist_series_rows(b, "odeserve_http_request_duration_seconds", "route", route, off, n_off,
                         lat_le, LAT_N, 1e9);
    }
    uint64_t fin = SUM(finished), sta = SUM(started); /* finished first: never negative */
    head(b, "odeserve_http_requests_in_flight", "gauge",
         "Requests whose headers are in and that have not completed (this scrape included).");
    sample_u(b, "odeserve_http_requests_in_flight", NULL, sta >= fin ? sta - fin : 0);
    head(b, "odeserve_http_rejected_total", "counter",
         "Requests turned away for load before any work: 503 (evaluation queue full, or "
         "shutting down) and 429 (rate limited).");
    const char *l503[] = {"status", "503", NULL}, *l429[] = {"status", "429", NULL};
    sample_u(b, "odeserve_http_rejected_total", l503, SUM(rejected[0]));
    sample_u(b, "odeserve_http_rejected_total", l429, SUM(rejected[1]));
    head(b, "odeserve_auth_failures_total", "counter",
         "Requests refused by authentication: 401 (missing or wrong token), 403 (scope).");
    const char *l401[] = {"status", "401", NULL}, *l403[] = {"status", "403", NULL};
    /* auth.c counts by reason; every reason but the scope's is a 401 */
    const uint64_t forbidden = http_auth_failures(HTTP_AUTH_FAIL_FORBIDDEN);
    sample_u(b, "odeserve_auth_failures_total", l401, http_auth_failures_total() - forbidden);
    sample_u(b, "odeserve_auth_failures_total", l403, forbidden);
}

static const char *model_label(int m)
{
    return m < METRICS_MODELS_MAX ? model_names[m] : "_other";
}

static void write_solves(jbuf *b)
{
    int nm = atomic_load_explicit(&n_models, memory_order_acquire);
    head(b, "odeserve_model_request_duration_seconds", "histogram",
         "Time from a trajectory request's headers to its completion, by model (the first 64 "
         "model names served; later ones as \"_other\").");
    for (int m = 0; m < N_MODELS; m++) {
        if (m >= nm && m < METRICS_MODELS_MAX) continue;
        hist_series(b, "odeserve_model_request_duration_seconds", "model", model_label(m),
                    OFF(model_lat[m]), lat_le, LAT_N, 1e9);
    }
    head(b, "odeserve_solve_function_evaluations", "histogram",
         "Evaluations of the vector field per trajectory solve, by model.");
    for (int m = 0; m < N_MODELS; m++) {
        if (m >= nm && m < METRICS_MODELS_MAX) continue;
        hist_series(b, "odeserve_solve_function_evaluations", "model", model_label(m), OFF(nfe[m]),
                    nfe_le, NFE_N, 1);
    }
    head(b, "odeserve_solve_steps", "histogram",
         "Accepted solver steps per trajectory solve, by model.");
    for (int m = 0; m < N_MODELS; m++) {
        if (m >= nm && m < METRICS_MODELS_MAX) continue;
        hist_series(b, "odeserve_solve_steps", "model", model_label(m), OFF(steps[m]), steps_le,
                    STEPS_N, 1);
    }
    head(b, "odeserve_solves_total", "counter",
         "Trajectory solves run to their end, by where: inline (on the HTTP thread) or pool.");
    const char *li[] = {"where", "inline", NULL}, *lp[] = {"where", "pool", NULL};
    sample_u(b, "odeserve_solves_total", li, SUM(solves[0]));
    sample_u(b, "odeserve_solves_total", lp, SUM(solves[1]));
    head(b, "odeserve_solve_inline_fallbacks_total", "counter",
         "Inline solves stopped at inline_budget and started again on the evaluation pool.");
    sample_u(b, "odeserve_solve_inline_fallbacks_total", NULL, SUM(fallbacks));
    head(b, "odeserve_evaluations_dropped_total", "counter",
         "Evaluations given up because the client closed its connection: before they started "
         "(queued) or stopped while they ran (running).");
    const char *lq[] = {"when", "queued", NULL}, *lr[] = {"when", "running", NULL};
    sample_u(b, "odeserve_evaluations_dropped_total", lq, SUM(dropped[0]));
    sample_u(b, "odeserve_evaluations_dropped_total", lr, SUM(dropped[1]));
}

static void write_daemon(jbuf *b, const scrape *s)
{
    head(b, "odeserve_eval_queue_depth", "gauge",
         "Evaluations waiting for a thread of the evaluation pool.");
    sample_u(b, "odeserve_eval_queue_depth", NULL, s->q.queued);
    head(b, "odeserve_eval_queue_limit", "gauge",
         "Waiting evaluations past which requests are refused with 503 (eval_queue_limit).");
    sample_u(b, "odeserve_eval_queue_limit", NULL, s->q.max_queued);
    head(b, "odeserve_eval_running", "gauge", "Evaluations running on the pool's threads.");
    sample_u(b, "odeserve_eval_running", NULL, s->q.running);
    head(b, "odeserve_eval_threads", "gauge", "Threads of the evaluation pool (eval_threads).");
    sample_u(b, "odeserve_eval_threads", NULL, (uint64_t)s->q.threads);

    head(b, "odeserve_model_cache_hits_total", "counter",
         "Model version lookups answered from memory.");
    sample_u(b, "odeserve_model_cache_hits_total", NULL, s->hits);
    head(b, "odeserve_model_cache_misses_total", "counter",
         "Model version lookups that loaded (and built) the version from the database.");
    sample_u(b, "odeserve_model_cache_misses_total", NULL, s->misses);

    if (s->have_db) {
        head(b, "odeserve_training_jobs", "gauge", "Training jobs in the database, by state.");
        for (int i = 0; i < JOB__COUNT; i++) {
            const char *l[] = {"state", job_status_name((job_status)i), NULL};
            sample_u(b, "odeserve_training_jobs", l, (uint64_t)s->jobs[i]);
        }
        head(b, "odeserve_training_iterations_per_second", "gauge",
             "Sum over the running jobs of iterations per training second, as of each one's "
             "last checkpoint.");
        sample_d(b, "odeserve_training_iterations_per_second", NULL, s->iters_per_s);
        head(b, "odeserve_database_size_bytes", "gauge",
             "Size of the SQLite database file (page_count x page_size; the WAL not included).");
        sample_u(b, "odeserve_database_size_bytes", NULL, s->db_bytes);
    }

    head(b, "odeserve_build_info", "gauge", "The daemon's version; always 1.");
    const char *lv[] = {"version", PACKAGE_VERSION, NULL};
    sample_u(b, "odeserve_build_info", lv, 1);
    head(b, "process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch, in seconds.");
    sample_d(b, "process_start_time_seconds", NULL, atomic_load(&start_time));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        head(b, "process_cpu_seconds_total", "counter",
             "User and system CPU time the process has used, in seconds.");
        sample_d(b, "process_cpu_seconds_total", NULL,
                 (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6);
    }
}

static void gather(http_app *app, scrape *s)
{
    memset(s, 0, sizeof *s);
    workq_stats_get(app->eval, &s->q);
    model_cache_counts(app->models, &s->hits, &s->misses);
    err e;
    err_clear(&e);
    db *d = NULL;
    if (db_conns_get(app->db, &d, &e) == ERR_OK && db_size_bytes(d, &s->db_bytes, &e) == ERR_OK &&
        store_job_counts(d, s->jobs, &s->iters_per_s, &e) == ERR_OK)
        s->have_db = 1;
    else {
        char q[ERR_MSG_MAX + 8];
        log_warn("metrics_db", "message=%s", log_quote(q, sizeof q, e.message));
    }
}

/* The hook for `metrics = token`: 1 when the request may read the metrics,
 * else 0 after replying. The token check (#15, http/auth.c) joins here:
 * a valid token with the read scope passes. Until it does, `token` fails
 * closed: no one reads the metrics, and the reply says why. */
static int metrics_token_ok(http_req *r)
{
    return http_auth_require(r, ROUTE_SCOPE_READ);
}

void h_metrics(http_req *r)
{
    http_app *app = http_req_app(r);
    int mode = atomic_load(&app->metrics_mode);
    if (mode == METRICS_OFF) {
        http_reply_errorf(r, ERR_NOT_FOUND, NULL,
                          "no such endpoint: %s (metrics = off in the settings)", r->path);
        return;
    }
    if (mode == METRICS_TOKEN && !metrics_token_ok(r)) return;
    scrape s;
    gather(app, &s);
    jbuf b;
    jbuf_init(&b);
    jbuf_reserve(&b, 16384);
    write_http(&b);
    write_solves(&b);
    write_daemon(&b, &s);
    size_t len = 0;
    char *text = jbuf_take(&b, &len);
    http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
