/* tests/testutil.h: what the tests share.
 *
 *  - the whole of a test's main(): run a Check suite, exit status;
 *  - files of the source tree (fixtures, docs, examples) found from
 *    $top_srcdir, the one place tests look them up;
 *  - a small HTTP/1.1 client over a plain TCP socket: method, path, headers,
 *    body -> status, headers, body; keep-alive connections, raw writes (to
 *    send headers without a body), Content-Length and chunked replies;
 *  - a daemon runner: start $(top_builddir)/src/odeserved on 127.0.0.1:0
 *    with a temporary database, its stderr in a file that the test polls
 *    (tu_wait_log), the port learned from its `event=listening` line;
 *  - files, temporary directories, running the binary to completion.
 *
 * Paths come from the environment the test harness sets (top_builddir,
 * top_srcdir; tests/local.mk). ODESERVE_TEST_WRAPPER, when set, is a
 * command prefix for every daemon the tests start, e.g.
 *   ODESERVE_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99"
 * Plain C and libc: every test links testutil.c, whatever layer it checks.
 * Not thread-safe; one test process drives one or a few daemons. */
#ifndef ODESERVE_TESTS_TESTUTIL_H
#define ODESERVE_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- a test's main ---- */

/* Run every test of `s` (a Check Suite; CK_NORMAL report) and free the
 * runner with the suite: EXIT_SUCCESS when none failed, else EXIT_FAILURE.
 * Declared with the struct tag so this header does not pull in <check.h>
 * (whose fail() macro would take the name from files that only want the
 * HTTP client). */
struct Suite;
int tu_suite_run(struct Suite *s);

/* ---- the source tree ---- */

/* $top_srcdir/rel (./rel without it) into buf; returns buf. */
const char *tu_source_path(char *buf, size_t n, const char *rel);
/* That file open for reading, or NULL after a line on stderr naming the
 * path (a test run by hand without top_srcdir is the usual cause). */
FILE *tu_source_open(const char *rel);

/* ---- HTTP client ---- */

typedef struct tu_response {
    int status; /* 200, 404, ... */
    char *head; /* status line and headers, NUL-terminated */
    char *body; /* NUL-terminated (body_len excludes the NUL) */
    size_t body_len;
} tu_response;

typedef struct tu_conn tu_conn;

/* Connect to host:port (numeric host). NULL on failure (errno kept). */
tu_conn *tu_connect(const char *host, int port);
void tu_close(tu_conn *c); /* NULL is a no-op */
int tu_conn_fd(const tu_conn *c);

/* Send a request. `headers` is a NULL-terminated list of "Name: value"
 * lines (may be NULL). When body is non-NULL a Content-Length header is
 * added unless the caller gave one (or Transfer-Encoding). Host is added.
 * Returns 0, or -1 when the write fails. */
int tu_send(tu_conn *c, const char *method, const char *path, const char *const *headers,
            const void *body, size_t body_len);
int tu_send_raw(tu_conn *c, const void *data, size_t n);

/* Read one response (skipping 1xx interim ones), waiting at most
 * timeout_s seconds in all. Returns 0, or -1 on timeout, EOF before a
 * complete response, or a malformed reply. */
int tu_recv(tu_conn *c, tu_response *out, double timeout_s);

/* 1 when the connection has bytes (or EOF) to read within timeout_s. */
int tu_readable(tu_conn *c, double timeout_s);

/* tu_send + tu_recv (60 s timeout). */
int tu_request(tu_conn *c, const char *method, const char *path, const char *const *headers,
               const void *body, size_t body_len, tu_response *out);

/* One request on a fresh connection to 127.0.0.1:port. */
int tu_http(int port, const char *method, const char *path, const char *const *headers,
            const char *body, tu_response *out);

/* Value of header `name` (case-insensitive) copied into buf, or NULL. */
const char *tu_header(const tu_response *r, const char *name, char *buf, size_t n);
void tu_response_free(tu_response *r);

/* ---- the daemon ---- */

typedef struct tu_daemon {
    pid_t pid;     /* 0 once reaped */
    int port;      /* from the listening line */
    int status;    /* exit status once reaped: 0..255, or 128 + signal */
    char dir[256]; /* temporary directory: database, log, anything else */
    char log[320]; /* the daemon's stderr */
    char db[320];  /* dir/odeserve.db */
} tu_daemon;

/* Create d->dir and the paths in it. 0 or -1. */
int tu_daemon_init(tu_daemon *d);

/* Start odeserved with `args` (NULL-terminated; may be NULL) after the
 * standard `--listen 127.0.0.1:0 --db DIR/odeserve.db`, and `--auth off`
 * unless args or env set auth (tests about something else than API tokens
 * need none; tests/check_auth.c and the README examples set it), with the extra
 * environment `env` ("K=V", NULL-terminated; may be NULL), then wait up to
 * 20 s for its listening line. Calls tu_daemon_init when d->dir is empty.
 * 0, or -1 (the log is kept for the failure message). */
int tu_daemon_start(tu_daemon *d, const char *const *args, const char *const *env);

/* Start odeserved with exactly `args` (no standard ones) and `env`; do not
 * wait. 0 or -1. */
int tu_daemon_spawn(tu_daemon *d, const char *const *args, const char *const *env);

/* Wait up to timeout_s for the log to contain `needle` (0) or not (-1). */
int tu_wait_log(tu_daemon *d, const char *needle, double timeout_s);
/* Wait up to timeout_s for `needle` to occur at least n times in the log
 * (its count, which may exceed n) or give up (the count then, below n): for
 * a line the daemon writes after the reply the client already has (the
 * access line, a keep-alive poll), or a count that grows. */
int tu_wait_log_count(tu_daemon *d, const char *needle, int n, double timeout_s);
/* Count of `needle` in the log now. */
int tu_log_count(tu_daemon *d, const char *needle);

/* Send a signal. 0 or -1. */
int tu_daemon_kill(tu_daemon *d, int sig);
/* Wait up to timeout_s for the daemon to exit; its status, or -1 on
 * timeout (the daemon is then killed with SIGKILL). */
int tu_daemon_wait(tu_daemon *d, double timeout_s);
/* Kill if still running, remove the directory. */
void tu_daemon_cleanup(tu_daemon *d);

/* ---- files and programs ---- */

const char *tu_builddir(void); /* $top_builddir or "." */
const char *tu_srcdir(void);   /* $top_srcdir or "." */
/* Whole file, NUL-terminated; NULL on failure. Caller frees. */
char *tu_read_file(const char *path, size_t *len);
int tu_write_file(const char *path, const char *text);
/* Remove a directory tree. */
void tu_rmtree(const char *dir);
/* Run odeserved with `args` to completion (30 s cap); stdout and stderr
 * together into *output (caller frees; may be NULL). Returns the exit
 * status, or -1. */
int tu_run_daemon(const char *const *args, const char *const *env, char **output);

#endif
