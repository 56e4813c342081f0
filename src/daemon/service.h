/* daemon/service.h: the daemon's life, from a valid configuration to its
 * exit status: open and migrate the database, start the evaluation pool,
 * the training worker pool (jobs left running by a crash are requeued) and
 * the HTTP server, tell systemd, then handle signals in this (the main)
 * thread until SIGTERM/SIGINT, and shut down gracefully. On start, the
 * model documents listed in seed_models are stored when their models are
 * absent (the demo model of `make run`), and the model cache is created
 * with the served-model builder (model/served_model.h). The `auth` policy
 * (http/auth.h) is decided from the setting and whether the listen address
 * is loopback; on a network address with no API token in the database and
 * auth not off, the daemon refuses to start, saying how to make one.
 *
 *   SIGHUP          re-read the settings (same sources as at start);
 *                   apply the reloadable ones (log_level, max_body_size,
 *                   shutdown_timeout, max_solve_points, solve_timeout,
 *                   inline_budget, auth, rate_limit, ...), log
 *                   each change, and warn about
 *                   changes that need a restart; read the files at
 *                   tls_cert/tls_key again (a bad pair keeps the running
 *                   certificate and logs tls_reload_failed). sd_notify RELOADING=1 +
 *                   MONOTONIC_USEC before, READY=1 after.
 *   SIGTERM/SIGINT  STOPPING=1; /readyz -> 503; stop accepting; in-flight
 *                   requests get shutdown_timeout seconds; then deferred
 *                   work is cancelled, the server stopped, running training
 *                   jobs checkpointed and requeued, the database closed;
 *                   exit 0. A second SIGTERM/SIGINT cuts the wait.
 *
 * signals_block() must have run before service_run (main does it before any
 * thread exists). */
#ifndef ODESERVE_DAEMON_SERVICE_H
#define ODESERVE_DAEMON_SERVICE_H

#include "daemon/config.h"

/* Exit statuses (LSB init-script conventions). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,    /* could not start or run: database, bind, ... */
    EXIT_INVALID = 2, /* invalid configuration or command line */
    EXIT_BUG = 70     /* EX_SOFTWARE: work would not stop at shutdown */
};

/* Serve with `cfg` (loaded from `cli`, which SIGHUP re-reads). */
int service_run(const config_cli *cli, const config *cfg);

/* Warn (log) about a loaded certificate that has expired, and about a key
 * file at key_path that every user may read: at start, after a reload, and
 * for --check-config. The daemon serves either way. */
struct http_tls;
void service_tls_warn(const struct http_tls *t, const char *key_path);

/* `odeserved migrate`: apply the migrations to cfg->db and exit. */
int service_migrate(const config *cfg);

#endif
