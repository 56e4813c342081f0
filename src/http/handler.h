/* http/handler.h: what a route handler sees and how it replies.
 *
 * A handler is called on an HTTP thread once the whole request is in: the
 * body is accumulated under the configured cap and, for ROUTE_JSON routes,
 * parsed once; the handler borrows the parsed JSON. It must give exactly one
 * reply, in one of two ways:
 *
 *   - synchronously: call an http_reply_* function before returning;
 *   - asynchronously: call http_req_defer(r, work) and return without a
 *     reply. The connection is suspended (MHD_suspend_connection), `work(r)`
 *     runs on the evaluation pool (core/workq.h) and replies there; the
 *     connection is then resumed and the reply sent. The HTTP threads keep
 *     serving other requests meanwhile, so CPU-heavy work (a trajectory
 *     solve) never stalls /healthz. When the pool is full the request gets
 *     503 unavailable without `work` being run.
 *
 * A synchronous handler holds an HTTP thread (http_threads of them serve
 * every connection) and cannot be cancelled at shutdown, so it must be
 * quick: parsing, validation, a database lookup, or a computation bounded
 * by a small time budget (the trajectory route's inline solves, which stop
 * at inline_budget and then defer). Anything that computes for long is
 * deferred, and checks http_req_cancelled() while it runs.
 *
 * Thread rules: the accessors that read connection data held by
 * libmicrohttpd (http_req_query, http_req_header) may be called only in
 * the handler itself; copy what `work` needs (http_req_user_set). Everything
 * else may be used from `work` too. A request and everything it owns (body,
 * parsed JSON, user data) is freed only in the request-completed callback,
 * after the reply is sent or the client has gone.
 *
 * Errors: http_reply_error builds every error body,
 *   {"error": {"code": "...", "message": "...", "field": "..."}}
 * (field omitted when empty), with the HTTP status taken from one table
 * (http_status_for); on the Open Inference Protocol's routes (ROUTE_OIP)
 * in that protocol's form, {"error": "<field>: <message>"}, same status. */
#ifndef ODESERVE_HTTP_HANDLER_H
#define ODESERVE_HTTP_HANDLER_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"
#include "http/app.h"

typedef struct http_req http_req;
typedef void (*http_handler)(http_req *r);

/* ---- the request (valid until the request-completed callback) ---- */
const char *http_req_method(const http_req *r); /* "GET" (HEAD is routed as GET) */
const char *http_req_path(const http_req *r);   /* decoded path, no query */
const char *http_req_id(const http_req *r);     /* X-Request-Id sent back */
http_app *http_req_app(const http_req *r);
/* Value of the {name} segment of the route pattern, or NULL. */
const char *http_req_param(const http_req *r, const char *name);
/* Query argument / request header, or NULL. Handler thread only. */
const char *http_req_query(http_req *r, const char *key);
const char *http_req_header(http_req *r, const char *name);
/* The matched route's flags (enum route_flags of routes.h); 0 before routing. */
unsigned http_req_route_flags(const http_req *r);
/* The parsed body (ROUTE_JSON routes; NULL otherwise). Borrowed. */
json_t *http_req_json(const http_req *r);
/* The raw body (not NUL-terminated; *len may be 0). Borrowed. */
const char *http_req_body(const http_req *r, size_t *len);
/* The name of the API token the request was made with, "" when none was
 * checked (http/auth.h): the "who" of audit records. Any thread. */
const char *http_req_token_name(const http_req *r);

/* Per-request handler state, freed by `free_fn` (may be NULL) in the
 * request-completed callback. Replaces (and frees) earlier user data. */
void http_req_user_set(http_req *r, void *data, void (*free_fn)(void *));
void *http_req_user(const http_req *r);

/* ---- replies: exactly one per request; a second one is ignored ---- */
/* `body` is stolen (json_decref'd); written compactly by the codec's
 * writer (jbuf_json), reals in the shortest form that reads back to the
 * same double, as every number the daemon writes. */
void http_reply_json(http_req *r, unsigned status, json_t *body);
/* `body` (malloc'd JSON text, len bytes) is stolen. */
void http_reply_buf(http_req *r, unsigned status, char *body, size_t len);
/* `body` (malloc'd text of Content-Type `ctype`, a static string) is stolen. */
void http_reply_text(http_req *r, unsigned status, const char *ctype, char *body, size_t len);
/* Error reply: status from http_status_for(e->code). */
void http_reply_error(http_req *r, const err *e);
void http_reply_errorf(http_req *r, err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Extra response header (e.g. Location). At most 8 per reply. */
err_code http_reply_header(http_req *r, const char *name, const char *value);

/* ---- asynchronous completion ---- */
/* Run work(r) on the evaluation pool once the handler returns; work must
 * reply. Call at most once, from the handler, without replying. */
void http_req_defer(http_req *r, http_handler work);
/* True once the server's shutdown deadline has passed: long work should
 * stop and reply (ERR_UNAVAILABLE). Any thread. */
int http_req_cancelled(const http_req *r);
/* True once the client has closed its end of the connection (or reset
 * it): nobody will read the reply, so long work should stop and reply
 * ERR_ABORTED. A poll(2) of the socket, a few microseconds: call it every
 * few milliseconds, not every step. A client that half-closes its end
 * after sending and still waits for the reply counts as gone too (as for
 * nginx and Go's net/http). Any thread, while the request is being served. */
int http_req_client_gone(const http_req *r);
/* clock_mono() when the whole request was in: deadlines count from it, so
 * a wait in the evaluation queue counts against them. */
double http_req_ready_at(const http_req *r);
/* A solve of the request ran from `enter` to `leave` (clock_mono(); the
 * window of the handler's solve call, its log lines included), `solve_s`
 * of it in the solver itself. At log level debug the request's completion
 * logs "request_stages": where its time in the daemon went around the
 * solves (docs/operations.md; bench/http_overhead.sh reads it). A fallback
 * that solves again adds a second window. Any thread, while the request
 * is being served (never two at once for one request). */
void http_req_solve_window(http_req *r, double enter, double leave, double solve_s);

/* ---- the one error table (the body is codec/codec_err.h's) ---- */
unsigned http_status_for(err_code code);

#endif
