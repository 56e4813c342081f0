/* http/request_impl.h: the body of http_req, shared by server.c (the
 * libmicrohttpd callbacks) and request.c (the handler API). Private to
 * the http layer. Ownership and threads as handler.h: server.c creates an
 * http_req per request and frees it (req_free) in the request-completed
 * callback (or at once, when setting it up fails). */
#ifndef ODESERVE_HTTP_REQUEST_IMPL_H
#define ODESERVE_HTTP_REQUEST_IMPL_H

#include <microhttpd.h>

#include "http/handler.h"
#include "http/routes.h"
#include "model/api_token.h"
#include "http/trace.h"

#define REQ_ID_MAX 65     /* accepted X-Request-Id: 1..64 of [A-Za-z0-9._:-] */
#define REQ_MAX_HEADERS 8 /* extra reply headers */

struct http_req {
    struct MHD_Connection *conn;
    http_app *app;
    const http_route *route; /* NULL when the request was answered at its headers */
    char method[16];         /* as received (truncated); routing maps HEAD to GET */
    char *path;              /* decoded path */
    char *pathbuf;           /* the path split for params */
    route_params params;
    char id[REQ_ID_MAX];
    double t_start; /* clock_mono() at the first callback */
    double t_ready; /* clock_mono() when the whole request was in (dispatch) */
    /* http_req_solve_window: the first window's start, the last one's end,
     * the windows' and the solver's own seconds (0: no solve); t_replied:
     * clock_mono() when the reply was made ("request_stages", server.c) */
    double t_solve_enter, t_solve_leave, solve_window_s, solve_s, t_replied;
    int fd;         /* the connection's socket (http_req_client_gone); -1 = unknown */
    int keepalive;  /* the client means to send more on this connection */
    int pipelined;  /* it was already buffered when the previous one completed */

    char *body; /* accumulated, at most app->max_body bytes */
    size_t body_len, body_cap;
    uint64_t body_limit; /* app->max_body when the request started */
    int too_large;       /* body went past the cap: rest discarded, 413 */
    uint64_t discarded;  /* bytes dropped since (cut off past body_limit) */
    json_t *json;        /* parsed body (ROUTE_JSON), owned */
    int large_slot;      /* holds one of large_body_concurrency (admission.c) */

    int replied; /* a reply is ready (status, reply) */
    int queued;  /* handed to libmicrohttpd */
    unsigned status;
    char *reply;       /* malloc'd JSON text */
    const char *ctype; /* the reply's Content-Type when not JSON (static string) */
    size_t reply_len;
    char allow[64]; /* Allow header for 405 */
    size_t n_headers;
    char *hname[REQ_MAX_HEADERS], *hvalue[REQ_MAX_HEADERS];

    http_handler work; /* set by http_req_defer */
    int suspended;

    int model_label; /* metrics: the model's label index + 1; 0 = none (http/metrics.c) */

    void *user; /* http_req_user_set */
    void (*user_free)(void *);

    char token_name[API_TOKEN_NAME_MAX + 1]; /* the valid token's name (auth.c); "" = none */
    http_trace trace;                        /* a valid traceparent; trace_id "" = none */
    char span_id[HTTP_TRACE_SPAN_LEN + 1];   /* ours, the parent id of the reply's traceparent */
    char log_extra[80];                      /* "trace_id=... span_id=..." in every log line */
    const char *cors_origin;                 /* Access-Control-Allow-Origin value, or NULL;
                                                borrowed from app->cors */
    int reply_at_end; /* a reply stored at the headers, queued only once the request is in,
                         so the connection stays open (a CORS preflight) */
};

/* request.c: lifecycle helpers used by server.c. req_free frees the request
 * only: a large body's admission slot (r->large_slot) is server.c's to give
 * back, after the free (http_admission_body_done trims the heap). */
void req_free(http_req *r);
/* Generate a fresh request id into buf (>= 17 bytes). Thread-safe. */
void req_id_new(char *buf, size_t n);
/* 1 when `id` may be echoed back (1..64 of [A-Za-z0-9._:-]). */
int req_id_ok(const char *id);

#endif
