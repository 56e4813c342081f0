/* daemon/service.c: see service.h. */
#include "build_config.h" /* autoconf (the top build dir) */

#include "daemon/service.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec_job.h"
#include "codec/codec_model.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/workq.h"
#include "daemon/notify.h"
#include "daemon/signals.h"
#include "http/metrics.h"
#include "http/auth.h"
#include "http/cors.h"
#include "http/server.h"
#include "http/tls.h"
#include "jobs/pool.h"
#include "model/hybrid_expr.h"
#include "model/served_model.h"
#include "nn/nn_blas.h"
#include "store/db.h"
#include "store/space.h"
#include "store/migrate.h"
#include "store/model_cache.h"
#include "store/models.h"
#include "store/tokens.h"

/* Client addresses the rate limit tracks at once (a few MB at most); past
 * that, new clients share buckets (core/ratelimit.h). */
#define RATE_LIMIT_CLIENTS 65536

typedef struct service {
    config cfg;            /* effective settings (reloadable ones updated by SIGHUP) */
    const config_cli *cli; /* where the settings come from */
    int db_lock;           /* db_claim's descriptor; -1 before */
    db_conns *db;
    workq *eval;
    ratelimit *rate_buckets; /* per-client token buckets (rate_limit) */
    http_cors *cors;         /* cors_origins; NULL = off */
    model_cache *models;
    jobs_pool *jobs;
    http_app app;
    http_server *http;
    int loopback; /* every address the listen host names is a loopback one */
} service;

static void notify(const char *fmt, const char *arg)
{
    err e;
    err_clear(&e);
    if (notify_sendf(&e, fmt, arg) != ERR_OK) {
        char q[ERR_MSG_MAX + 8];
        log_warn("notify_failed", "error=%s", log_quote(q, sizeof q, e.message));
    }
}

/* Every address `listen`'s host resolves to is a loopback one (127/8,
 * ::1). Anything else, or a host that does not resolve, counts as a network
 * address: the safe side. */
static int listen_is_loopback(const char *listen)
{
    char host[CONFIG_STR_MAX];
    const char *h = listen, *end = strrchr(listen, ':');
    if (listen[0] == '[') {
        h = listen + 1;
        end = strchr(listen, ']');
    }
    if (!end || end <= h) return 0;
    snprintf(host, sizeof host, "%.*s", (int)(end - h), h);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) return 0;
    int n = 0, loop = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next, n++) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)ai->ai_addr;
            loop += (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const void *)ai->ai_addr;
            loop += IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                    (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
        }
    }
    freeaddrinfo(res);
    return n > 0 && loop == n;
}

/* `auth` as the server applies it: auto is writes on loopback, else required. */
static enum http_auth_policy auth_policy(const service *s)
{
    const char *a = s->cfg.auth;
    if (strcmp(a, "off") == 0) return HTTP_AUTH_OFF;
    if (strcmp(a, "writes") == 0) return HTTP_AUTH_WRITES;
    if (strcmp(a, "required") == 0) return HTTP_AUTH_REQUIRED;
    return s->loopback ? HTTP_AUTH_WRITES : HTTP_AUTH_REQUIRED;
}

/* On a network address, a daemon whose tokens nobody holds would be either
 * useless or (had it fallen back to no auth) open: refuse to start, and say
 * how to make a token, unless auth = off was asked for. */
static err_code auth_start_check(service *s, db *d, err *e)
{
    s->loopback = listen_is_loopback(s->cfg.listen);
    long long n = 0;
    if (store_token_count_active(d, &n, e) != ERR_OK) return e->code;
    log_info("auth", "policy=%s setting=%s loopback=%d tokens=%lld",
             http_auth_policy_name(auth_policy(s)), s->cfg.auth, s->loopback, n);
    if (s->loopback || strcmp(s->cfg.auth, "off") == 0 || n > 0) return ERR_OK;
    return err_set(e, ERR_CONFIG, "auth",
                   "listen %s is not a loopback address and the database %s holds no API "
                   "token: create one first with `odeserved token create --db %s --scope "
                   "read,write --name NAME` (it prints the token once), or set auth = off to "
                   "serve without authentication",
                   s->cfg.listen, s->cfg.db, s->cfg.db);
}

/* Settings that take effect while running. */
static void apply_runtime(service *s)
{
    enum log_level lvl = LOG_LVL_INFO;
    log_level_parse(s->cfg.log_level, &lvl);
    log_level_set(lvl);
    atomic_store(&s->app.max_body, s->cfg.max_body_size);
    atomic_store(&s->app.large_body_size, s->cfg.large_body_size);
    atomic_store(&s->app.large_body_limit, (uint64_t)s->cfg.large_body_concurrency);
    atomic_store(&s->app.max_solve_points, (uint64_t)s->cfg.max_solve_points);
    atomic_store(&s->app.max_sde_samples, (uint64_t)s->cfg.max_sde_samples);
    atomic_store(&s->app.max_cnf_points, (uint64_t)s->cfg.max_cnf_points);
    atomic_store(&s->app.max_cnf_exact_dim, (uint64_t)s->cfg.max_cnf_exact_dim);
    atomic_store(&s->app.max_cnf_probes, (uint64_t)s->cfg.max_cnf_probes);
    atomic_store(&s->app.gradient_max_tape, s->cfg.gradient_max_tape);
    hybrid_expr_limits_set((size_t)s->cfg.hybrid_max_expr_len, (size_t)s->cfg.hybrid_max_nodes,
                           (size_t)s->cfg.hybrid_max_depth);
    atomic_store(&s->app.solve_timeout_us, (uint64_t)(s->cfg.solve_timeout * 1e6 + 0.5));
    atomic_store(&s->app.inline_budget_us, (uint64_t)(s->cfg.inline_budget * 1e6 + 0.5));
    atomic_store(&s->app.keepalive_poll_us, (uint64_t)(s->cfg.keepalive_poll * 1e6 + 0.5));
    int mode = metrics_mode_from_name(s->cfg.metrics);
    atomic_store(&s->app.metrics_mode, mode < 0 ? METRICS_OFF : mode); /* the table checked it */
    atomic_store(&s->app.auth_policy, (int)auth_policy(s));
    atomic_store(&s->app.rate_limit, (uint64_t)s->cfg.rate_limit);
    atomic_store(&s->app.rate_burst, (uint64_t)s->cfg.rate_burst);
}

static db_opts db_options(const config *cfg)
{
    db_opts o;
    db_opts_default(&o);
    o.path = cfg->db;
    o.busy_timeout_ms = (int)cfg->db_busy_timeout;
    o.synchronous = cfg->db_synchronous;
    return o;
}

static void log_err(const char *event, const err *e)
{
    char q[ERR_MSG_MAX + 8];
    log_error(event, "code=%s error=%s", err_code_name(e->code),
              log_quote(q, sizeof q, e->message));
}

static err_code migrate(db *d, err *e)
{
    int from = 0, to = 0;
    if (db_migrate(d, &from, &to, e) != ERR_OK) return e->code;
    if (from != to)
        log_info("migrated", "from=%d to=%d", from, to);
    else
        log_info("schema_current", "version=%d", to);
    return ERR_OK;
}

int service_migrate(const config *cfg)
{
    err e;
    err_clear(&e);
    db_opts o = db_options(cfg);
    db *d = NULL;
    int lock = -1;
    char q[CONFIG_STR_MAX + 8];
    /* claimed like the daemon does: never migrate under a running daemon */
    if (db_claim(&o, &lock, &e) == ERR_OK && db_open(&d, &o, &e) == ERR_OK &&
        migrate(d, &e) == ERR_OK) {
        db_close(d);
        db_unclaim(lock);
        log_info("migrate_done", "db=%s", log_quote(q, sizeof q, cfg->db));
        return EXIT_OK;
    }
    db_close(d);
    db_unclaim(lock);
    log_err("migrate_failed", &e);
    return EXIT_FAIL;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* eval_threads = 0: one per CPU plus 2, at least 4, so that small requests
 * still find a thread (and a share of the CPUs) while long solves run. */
static int eval_threads(const config *cfg)
{
    if (cfg->eval_threads > 0) return (int)cfg->eval_threads;
    int n = online_cpus() + 2;
    return n < 4 ? 4 : n;
}

/* http_threads = 0: one per CPU, at least 2. Under load small solves run on
 * the HTTP threads (http/trajectory.c); with more threads than CPUs a request
 * waits behind whole solves of the other threads on its core and the tail
 * grows (p99 / p50 at 64 connections: docs/benchmarks.md, "HTTP threads"). On
 * a machine shared with other busy processes more threads win the daemon a
 * larger share of it: docs/operations.md says when to raise it. At least 2 so
 * that one slow client or solve never holds the only thread. */
static int http_threads_auto(void)
{
    int n = online_cpus();
    return n < 2 ? 2 : n;
}

static int http_threads(const config *cfg)
{
    if (cfg->http_threads > 0) return (int)cfg->http_threads;
    return http_threads_auto();
}

/* Store one seed document as version 1 of the model named after the file,
 * unless a model of that name exists. */
static err_code seed_one(db *d, const char *path, err *e)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[MODEL_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s", base);
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".json") == 0) name[n - 5] = '\0';
    if (!model_name_ok(name))
        return err_set(e, ERR_CONFIG, "seed_models",
                       "seed_models: %s: the file name gives the model name, which must be 1 to "
                       "64 of A-Z, a-z, 0-9, '.', '_' and '-'",
                       path);
    int version = 0;
    err le;
    err_clear(&le);
    char q[CONFIG_STR_MAX + 8];
    log_quote(q, sizeof q, path);
    if (store_model_latest(d, name, &version, &le) == ERR_OK) {
        log_info("model_seed_skipped", "name=%s latest_version=%d file=%s", name, version, q);
        return ERR_OK;
    }
    if (le.code != ERR_NOT_FOUND) return err_set(e, le.code, le.field, "%s", le.message);
    model_def def;
    err_code rc = codec_model_file_load(path, &def, e);
    if (rc == ERR_OK) rc = store_model_put(d, name, &def, &version, e);
    model_def_free(&def);
    if (rc == ERR_OK) log_info("model_seeded", "name=%s version=%d file=%s", name, version, q);
    return rc;
}

static err_code seed_models(const config *cfg, db *d, err *e)
{
    char list[CONFIG_STR_MAX], *save = NULL;
    snprintf(list, sizeof list, "%s", cfg->seed_models);
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (seed_one(d, p, e) != ERR_OK) return e->code;
    return ERR_OK;
}

void service_tls_warn(const http_tls *t, const char *key_path)
{
    if (http_tls_expires(t) < (long long)time(NULL))
        log_warn("tls_certificate_expired", "fingerprint_sha256=%s expires=%lld",
                 http_tls_fingerprint(t), http_tls_expires(t));
    /* Group-readable is how a key reaches a DynamicUser daemon (docs/operations.md,
     * "The key's permissions"); readable by every user, it is not private. */
    struct stat st;
    if (stat(key_path, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH))) {
        char q[CONFIG_STR_MAX + 8];
        log_warn("tls_key_readable_by_others", "file=%s mode=%04o",
                 log_quote(q, sizeof q, key_path), (unsigned)(st.st_mode & 07777));
    }
}

/* What an operator checks after a rotation: which certificate serves. */
static void log_tls(const char *event, const http_tls *t, const char *key_path)
{
    log_info(event, "fingerprint_sha256=%s serial=%s expires=%lld", http_tls_fingerprint(t),
             http_tls_serial(t), http_tls_expires(t));
    service_tls_warn(t, key_path);
}

/* A training job's helper threads yield while an evaluation is queued or
 * running (docs/operations.md, "Training threads and serving"). */
static int serving_busy(void *ctx)
{
    const service *s = ctx;
    return workq_busy(s->eval) > 0;
}

static err_code start(service *s, err *e)
{
    db_opts o = db_options(&s->cfg);
    db *d = NULL;
    nn_blas_single_thread();
    if (db_claim(&o, &s->db_lock, e) != ERR_OK ||
        db_space_reserve(s->cfg.db, (size_t)s->cfg.db_reserve_size, e) != ERR_OK ||
        db_conns_new(&s->db, &o, e) != ERR_OK || db_conns_get(s->db, &d, e) != ERR_OK ||
        migrate(d, e) != ERR_OK || auth_start_check(s, d, e) != ERR_OK ||
        seed_models(&s->cfg, d, e) != ERR_OK)
        return e->code;
    int threads = eval_threads(&s->cfg);
    if (workq_new(&s->eval, threads, (size_t)s->cfg.eval_queue_limit, e) != ERR_OK) return e->code;
    if (model_cache_new(&s->models, s->db, served_model_build, served_model_free,
                        (size_t)s->cfg.model_cache_size, e) != ERR_OK)
        return e->code;
    const jobs_pool_opts jo = {
        .workers = (int)s->cfg.job_workers,
        .checkpoint_every_iterations = (long)s->cfg.checkpoint_every_iterations,
        .checkpoint_every_seconds = s->cfg.checkpoint_every_seconds,
        .decode = codec_job_decode,
        .train_threads = (int)s->cfg.train_threads,
        .serving_busy = serving_busy,
        .serving_ctx = s,
    };
    if (jobs_pool_new(&s->jobs, s->db, &jo, e) != ERR_OK) return e->code;
    /* made even when rate_limit is 0, so that SIGHUP can turn it on */
    if (ratelimit_new(&s->rate_buckets, RATE_LIMIT_CLIENTS, e) != ERR_OK) return e->code;
    s->app.rate_buckets = s->rate_buckets;
    if (http_cors_new(&s->cors, s->cfg.cors_origins, e) != ERR_OK) return e->code;
    s->app.cors = s->cors;
    s->app.ui_dir = strcmp(s->cfg.ui, "off") == 0 ? ""
                    : s->cfg.ui_dir[0]            ? s->cfg.ui_dir
                                                  : ODESERVE_DATADIR "/ui";
    s->app.ui_lib_dir = s->cfg.ui_lib_dir[0] ? s->cfg.ui_lib_dir : ODESERVE_JSDIR;
    s->app.db = s->db;
    s->app.eval = s->eval;
    s->app.models = s->models;
    s->app.jobs = s->jobs;
    int hthreads = http_threads(&s->cfg);
    s->app.inline_busy = hthreads >= online_cpus();
    const char *tr = getenv("ODESERVE_TEST_ROUTES");
    s->app.test_routes = tr && strcmp(tr, "1") == 0;
    if (s->app.test_routes) log_warn("test_routes_enabled", "prefix=/v1/test/");
    apply_runtime(s);
    http_server_opts ho = {
        .listen = s->cfg.listen,
        .threads = (unsigned)hthreads,
        .connection_timeout = (unsigned)s->cfg.connection_timeout,
        .connection_limit = (unsigned)s->cfg.connection_limit,
        .per_ip_connection_limit = (unsigned)s->cfg.per_ip_connection_limit,
        .header_timeout = s->cfg.header_timeout,
        .min_body_rate = (uint64_t)s->cfg.min_body_rate,
        .tls_cert = s->cfg.tls_cert,
        .tls_key = s->cfg.tls_key,
    };
    if (http_server_start(&s->http, &ho, &s->app, e) != ERR_OK) return e->code;
    const http_tls *tls = http_server_tls(s->http);
    if (tls) log_tls("tls_certificate", tls, s->cfg.tls_key);
    log_info("listening", "addr=%s scheme=%s http_threads=%d eval_threads=%d inline_busy=%d",
             http_server_addr(s->http), tls ? "https" : "http", hthreads, threads,
             s->app.inline_busy);
    return ERR_OK;
}

/* SIGHUP: the same certificate and key paths, read again; an error keeps
 * the running certificate. */
static void reload_tls(service *s)
{
    err e;
    err_clear(&e);
    if (http_server_tls_reload(s->http, &e) != ERR_OK) {
        char q[ERR_MSG_MAX + 8];
        log_error("tls_reload_failed", "error=%s kept_fingerprint=%s",
                  log_quote(q, sizeof q, e.message),
                  http_tls_fingerprint(http_server_tls(s->http)));
        return;
    }
    if (http_server_tls(s->http)) log_tls("tls_reloaded", http_server_tls(s->http), s->cfg.tls_key);
}

static void reload(service *s)
{
    char usec[32];
    snprintf(usec, sizeof usec, "%llu", (unsigned long long)clock_mono_usec());
    notify("RELOADING=1\nMONOTONIC_USEC=%s\nSTATUS=reloading settings", usec);
    config fresh;
    err e;
    err_clear(&e);
    if (config_load(&fresh, s->cli, &e) != ERR_OK) {
        log_err("reload_failed", &e);
        notify("READY=1\nSTATUS=serving on %s; last reload failed, see the log",
               http_server_addr(s->http));
        return;
    }
    size_t n_keys, changed = 0;
    const config_key *k = config_keys(&n_keys);
    for (size_t i = 0; i < n_keys; i++) {
        char was[CONFIG_STR_MAX], now[CONFIG_STR_MAX], qw[CONFIG_STR_MAX + 8],
            qn[CONFIG_STR_MAX + 8];
        config_format(&s->cfg, &k[i], was, sizeof was);
        config_format(&fresh, &k[i], now, sizeof now);
        if (strcmp(was, now) == 0) continue;
        log_quote(qw, sizeof qw, was);
        log_quote(qn, sizeof qn, now);
        if (!k[i].reloadable) {
            log_warn("config_needs_restart", "key=%s running=%s file=%s", k[i].name, qw, qn);
            continue;
        }
        memcpy((char *)&s->cfg + k[i].offset, (const char *)&fresh + k[i].offset, k[i].size);
        log_info("config_changed", "key=%s old=%s new=%s", k[i].name, qw, qn);
        changed++;
    }
    apply_runtime(s);
    reload_tls(s);
    log_info("reloaded", "changed=%zu", changed);
    notify("READY=1\nSTATUS=serving on %s", http_server_addr(s->http));
}

/* Wait for in-flight requests until `deadline`; a second stop signal
 * ends the wait early. Returns the requests still in flight. */
static unsigned drain(service *s, double deadline)
{
    unsigned n;
    while ((n = http_server_inflight(s->http)) > 0) {
        double left = deadline - clock_mono();
        if (left <= 0) break;
        int sig = signals_wait(left < 0.05 ? left : 0.05);
        if (sig == SIGTERM || sig == SIGINT) {
            log_warn("stop_forced", "signal=%d inflight=%u", sig, n);
            break;
        }
    }
    return n;
}

static int shutdown_gracefully(service *s, int sig)
{
    double t0 = clock_mono();
    notify("STOPPING=1\nSTATUS=%s", "draining");
    atomic_store(&s->app.state, HTTP_APP_DRAINING);
    /* Training checkpoints now, while requests drain, so that the whole stop
     * fits in systemd's TimeoutStopSec (a job loses nothing either way). */
    jobs_pool_stop(s->jobs);
    http_server_quiesce(s->http);
    log_info("draining", "signal=%s inflight=%u timeout_s=%g", sig == SIGINT ? "INT" : "TERM",
             http_server_inflight(s->http), s->cfg.shutdown_timeout);
    unsigned left = drain(s, t0 + s->cfg.shutdown_timeout);
    if (left) log_warn("drain_timeout", "inflight=%u", left);
    /* Deferred work learns about the stop; every suspended connection is
     * resumed once the pool is idle (MHD_stop_daemon requires it). */
    atomic_store(&s->app.cancel, 1);
    if (!workq_wait_idle(s->eval, 10.0)) {
        log_error("eval_stuck", "busy=%zu", workq_busy(s->eval));
        return EXIT_BUG;
    }
    drain(s, clock_mono() + 1.0); /* let the cancelled replies go out */
    http_server_stop(s->http);
    s->http = NULL;
    return EXIT_OK;
}

static void teardown(service *s)
{
    http_server_stop(s->http);
    jobs_pool_free(s->jobs); /* running jobs checkpoint and go back to the queue */
    workq_free(s->eval);
    ratelimit_free(s->rate_buckets); /* after the server: no request takes tokens */
    http_cors_free(s->cors);
    model_cache_free(s->models); /* after the last request released its handles */
    db_conns_free(s->db);
    db_unclaim(s->db_lock); /* after the last connection: see db_claim */
}

/* Blocks of SERVICE_MMAP_THRESHOLD bytes and more come from mmap and go
 * back to the system when freed. Why fixed: glibc raises its threshold to
 * the size of each mmapped block freed (up to 32 MiB), so after the first
 * large body every later body, and the arrays of doubles its numbers are
 * decoded into, came from the threads' arenas and stayed there; fixed, RSS
 * after a run of maximal uploads ends near idle (docs/operations.md and
 * docs/benchmarks.md, "Memory per request"). An operator's own
 * GLIBC_TUNABLES mmap_threshold wins. */
#define SERVICE_MMAP_THRESHOLD (256 * 1024)
static void memory_setup(void)
{
#ifdef M_MMAP_THRESHOLD
    const char *t = getenv("GLIBC_TUNABLES");
    if (!t || !strstr(t, "mmap_threshold")) mallopt(M_MMAP_THRESHOLD, SERVICE_MMAP_THRESHOLD);
#endif
}

int service_run(const config_cli *cli, const config *cfg)
{
    metrics_process_started();
    memory_setup();
    service s;
    memset(&s, 0, sizeof s);
    s.cfg = *cfg;
    s.cli = cli;
    s.db_lock = -1;
    atomic_init(&s.app.state, HTTP_APP_STARTING);
    atomic_init(&s.app.cancel, 0);
    atomic_init(&s.app.max_body, cfg->max_body_size);
    err e;
    err_clear(&e);
    log_info("starting", "pid=%ld", (long)getpid());
    config_log(&s.cfg);
    if (start(&s, &e) != ERR_OK) {
        log_err("start_failed", &e);
        notify("STATUS=start failed: %s", e.message);
        teardown(&s);
        return EXIT_FAIL;
    }
    atomic_store(&s.app.state, HTTP_APP_READY);
    notify("READY=1\nSTATUS=serving on %s", http_server_addr(s.http));
    log_info("ready", "addr=%s", http_server_addr(s.http));
    int sig;
    while ((sig = signals_wait(-1)) == SIGHUP)
        reload(&s);
    int rc = shutdown_gracefully(&s, sig);
    if (rc != EXIT_OK) _exit(rc); /* threads still run work; cannot free under them */
    teardown(&s);
    log_info("stopped", "exit=%d", rc);
    return rc;
}
