/* http/server.c: libmicrohttpd glue. See server.h and handler.h.
 *
 * A request's life, one struct http_req per request (request_impl.h):
 *   1. first access-handler call (headers are in): allocate, pick or make
 *      the request id, refuse ambiguous framing (framing.h: 400/501 and
 *      close), match the route; answer 404/405/415 at once, and 413 when
 *      Content-Length is over the cap, so an oversized body is never read
 *      (the guard drains what the client still sends: guard.h);
 *   2. calls with upload data: append under the cap; a chunked body that
 *      crosses it is discarded and answered 413 at its end (libmicrohttpd
 *      0.9.75 cannot reply mid-upload), or cut off past twice the cap;
 *   3. the last call (no more data): parse JSON once (ROUTE_JSON), run the
 *      handler; queue its reply, or, if it deferred, suspend the connection
 *      and hand the work to the evaluation pool, which resumes it when the
 *      reply is ready; the access handler is then called again and queues;
 *   4. the request-completed callback writes the access-log line and frees
 *      everything. Nothing is freed earlier, so a worker never sees a
 *      dangling request.
 * While headers and a body arrive, and between requests, the guard
 * (guard.h, told at each stage) holds the connection to its deadlines.
 * Design after libmicrohttpd's largepost.c and suspend/resume examples, and
 * GNU Taler's exchange (table-driven routes, bodies parsed once). */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec/codec_parse.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/metrics.h"
#include "http/auth.h"
#include "http/admission.h"
#include "http/cors.h"
#include "http/framing.h"
#include "http/guard.h"
#include "http/request_impl.h"
#include "http/routes.h"
#include "http/tls.h"

struct http_server {
    struct MHD_Daemon *mhd;
    http_app *app;
    http_tls *tls;     /* HTTPS certificate, or NULL (plain HTTP) */
    http_guard *guard; /* deadlines, the connection limit, lingering close */
    int listen_fd;     /* ours until MHD_start_daemon; -1 once closed */
    int quiesced;
    atomic_uint inflight; /* requests between first callback and completion */
    atomic_uint conns;    /* open connections (keepalive_poll) */
    unsigned threads;     /* HTTP threads */
    char addr[80];        /* bound address, "127.0.0.1:41234" */
};

/* ---- listening socket ---- */

static void format_addr(const struct sockaddr *sa, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        port = ntohs(s6->sin6_port);
        snprintf(buf, n, "[%s]:%u", host, port);
    } else {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
        snprintf(buf, n, "%s:%u", host, port);
    }
}

/* "HOST:PORT" / "[V6]:PORT" -> host, port strings. */
static err_code split_listen(const char *where, char *host, size_t hn, char *port, size_t pn,
                             err *e)
{
    const char *colon = strrchr(where, ':');
    const char *h = where, *hend = colon;
    if (where[0] == '[') {
        h = where + 1;
        hend = strchr(where, ']');
        if (!hend || hend[1] != ':') colon = NULL;
    }
    if (!colon || !hend || hend <= h || (size_t)(hend - h) >= hn || strlen(colon + 1) >= pn)
        return err_set(e, ERR_CONFIG, "listen", "listen: expected HOST:PORT, got '%s'", where);
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = '\0';
    snprintf(port, pn, "%s", colon + 1);
    return ERR_OK;
}

static err_code open_listener(http_server *s, const char *where, int *family, err *e)
{
    char host[256], port[16];
    err_code rc = split_listen(where, host, sizeof host, port, sizeof port, e);
    if (rc != ERR_OK) return rc;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) return err_set(e, ERR_IO, "listen", "listen %s: %s", where, gai_strerror(gai));
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            getsockname(fd, (struct sockaddr *)&ss, &sl);
            format_addr((struct sockaddr *)&ss, s->addr, sizeof s->addr);
            *family = ai->ai_family;
            s->listen_fd = fd;
            freeaddrinfo(res);
            return ERR_OK;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    return err_set(e, ERR_IO, "listen", "listen %s: %s", where, strerror(saved));
}

/* ---- replies ---- */

/* Turn r's stored reply into a libmicrohttpd response and queue it. The
 * reply text moves into the response. */
static enum MHD_Result send_reply(http_req *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->reply_len, r->reply, MHD_RESPMEM_MUST_FREE);
    if (!resp) return MHD_NO;
    r->reply = NULL;
    if (r->reply_len > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->ctype ? r->ctype : "application/json");
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (r->trace.trace_id[0]) {
        char tp[64];
        http_trace_format(&r->trace, r->span_id, tp, sizeof tp);
        MHD_add_response_header(resp, "traceparent", tp);
    }
    if (r->cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->cors_origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", HTTP_CORS_EXPOSE_HEADERS);
    }
    if (http_cors_varies(r->app->cors)) MHD_add_response_header(resp, "Vary", "Origin");
    if (r->status == 405 && r->allow[0]) MHD_add_response_header(resp, "Allow", r->allow);
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    if (atomic_load(&r->app->state) == HTTP_APP_DRAINING)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) r->queued = 1;
    return ok;
}

static void reply_too_large(http_req *r, const char *how)
{
    http_reply_errorf(r, ERR_TOO_LARGE, NULL, "request body %s the limit of %llu bytes", how,
                      (unsigned long long)r->body_limit);
}

/* ---- stage 1: headers ---- */

static int is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return 0;
    char c = ct[sizeof want - 1];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

/* Checks that need only the headers; may store a reply. */
static void check_headers(http_req *r, err_code why)
{
    if (!r->route) {
        if (!routes_method_known(r->method))
            http_reply_errorf(r, ERR_NOT_IMPLEMENTED, NULL,
                              "method %s is not implemented (the API uses GET, HEAD, POST, PUT, "
                              "DELETE and OPTIONS)",
                              r->method);
        else if (why == ERR_METHOD)
            http_reply_errorf(r, ERR_METHOD, NULL, "method %s is not allowed on %s (allowed: %s)",
                              r->method, r->path, r->allow);
        else
            http_reply_errorf(r, ERR_NOT_FOUND, NULL, "no such endpoint: %s", r->path);
        return;
    }
    if (!http_auth_check(r)) return; /* before the body is read: 401/403 */
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && *end == '\0' && n > r->body_limit) {
            reply_too_large(r, "would exceed");
            return;
        }
    }
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if ((r->route->flags & ROUTE_JSON) && ct && !is_json_type(ct))
        http_reply_errorf(r, ERR_MEDIA, NULL, "Content-Type must be application/json, got '%.80s'",
                          ct);
}

/* A CORS preflight from an allowed origin (cors.h): 204 with what the
 * path allows. 1 when answered. */
static int preflight(http_req *r, err_code why)
{
    if (!r->cors_origin || strcmp(r->method, "OPTIONS") != 0 || why != ERR_METHOD ||
        !MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Access-Control-Request-Method"))
        return 0;
    char *empty = malloc(1);
    if (!empty) return 0;
    http_reply_header(r, "Access-Control-Allow-Methods", r->allow);
    http_reply_header(r, "Access-Control-Allow-Headers", HTTP_CORS_ALLOW_HEADERS);
    http_reply_header(r, "Access-Control-Max-Age", HTTP_CORS_MAX_AGE);
    http_reply_buf(r, 204, empty, 0);
    r->reply_at_end = 1;
    return 1;
}

/* traceparent (trace.h): ours is a new span of the client's trace. */
static void trace_start(http_req *r)
{
    const char *tp = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "traceparent");
    if (!http_trace_parse(tp, &r->trace)) return;
    do
        req_id_new(r->span_id, sizeof r->span_id);
    while (strcmp(r->span_id, "0000000000000000") == 0);
    snprintf(r->log_extra, sizeof r->log_extra, "trace_id=%s span_id=%s", r->trace.trace_id,
             r->span_id);
}

/* Free the request, then give back its large-body admission slot if it
 * held one (after the frees: http_admission_body_done trims the heap). */
static void req_done(http_req *r)
{
    http_app *app = r->app;
    int large_slot = r->large_slot;
    req_free(r);
    if (large_slot) http_admission_body_done(app);
}

static http_req *req_start(http_server *s, struct MHD_Connection *c, const char *url,
                           const char *method)
{
    http_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->conn = c;
    r->app = s->app;
    r->t_start = clock_mono();
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->fd = fdi ? fdi->connect_fd : -1;
    r->body_limit = atomic_load(&s->app->max_body);
    size_t ml = strnlen(method, sizeof r->method - 1); /* truncated as before, no printf */
    memcpy(r->method, method, ml);
    r->method[ml] = '\0';
    /* absolute-form ("GET http://host/healthz", RFC 7230 5.3.2): the path
     * is what follows the authority */
    if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
        const char *p = strchr(strstr(url, "//") + 2, '/');
        url = p ? p : "/";
    }
    r->path = strdup(url);
    r->pathbuf = strdup(url);
    if (!r->path || !r->pathbuf) {
        req_done(r);
        return NULL;
    }
    const char *cid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (cid && req_id_ok(cid))
        snprintf(r->id, sizeof r->id, "%s", cid);
    else
        req_id_new(r->id, sizeof r->id);
    trace_start(r);
    log_context_set(r->id, r->log_extra);
    r->cors_origin =
        http_cors_allow(s->app->cors, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"));
    err_code why;
    err fe;
    err_clear(&fe);
    if (http_framing_check(c, &fe) != ERR_OK) {
        /* framed differently by a proxy in front, the rest of the stream
         * cannot be trusted: answer and close */
        http_reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        http_reply_error(r, &fe);
        return r;
    }
    r->route = routes_match(r->method, r->pathbuf, s->app->test_routes, &r->params, r->allow,
                            sizeof r->allow, &why);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    unsigned retry = http_admission_rate(s->app, ci ? ci->client_addr : NULL, r->path, r->t_start);
    if (retry) {
        char v[16];
        snprintf(v, sizeof v, "%u", retry);
        http_reply_header(r, "Retry-After", v);
        http_reply_errorf(r, ERR_RATE_LIMITED, NULL,
                          "more than %llu requests per second from this address; retry after "
                          "%u s",
                          (unsigned long long)atomic_load(&s->app->rate_limit), retry);
        return r;
    }
    if (!preflight(r, why)) check_headers(r, why);
    if (!r->replied && r->route) http_admission_body_headers(r);
    return r;
}

/* ---- stage 2: body ---- */

/* Append under the cap; past it, set too_large and keep nothing more. */
static void body_append(http_req *r, const char *data, size_t n)
{
    if (!r->too_large && !http_admission_body(r, r->body_len + n)) r->too_large = 1; /* 503 */
    if (r->too_large) return;
    if (r->body_len + n > r->body_limit) {
        r->too_large = 1;
        return;
    }
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n)
            cap *= 2;
        if (cap > r->body_limit) cap = (size_t)r->body_limit;
        char *b = realloc(r->body, cap);
        if (!b) {
            http_reply_errorf(r, ERR_NOMEM, NULL, "out of memory reading the request body");
            r->too_large = 1; /* discard the rest */
            return;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
}

/* ---- stage 3: dispatch ---- */

static void run_deferred(void *arg)
{
    http_req *r = arg;
    log_context_set(r->id, r->log_extra);
    if (http_req_cancelled(r)) {
        http_reply_errorf(r, ERR_UNAVAILABLE, NULL, "the server is shutting down");
    } else if (http_req_client_gone(r)) {
        /* it waited in the queue while its client left: nobody would read
         * the answer, and the threads are for the requests still wanted */
        log_info("eval_dropped", "request_id=%s when=queued waited_ms=%.3f", r->id,
                 (clock_mono() - http_req_ready_at(r)) * 1e3);
        metrics_eval_dropped(0);
        http_reply_errorf(r, ERR_ABORTED, NULL,
                          "the client closed the connection before the evaluation started");
    } else {
        r->work(r);
    }
    if (!r->replied)
        http_reply_errorf(r, ERR_INTERNAL, NULL, "%s %s: deferred handler gave no reply", r->method,
                          r->route->pattern);
    log_context_set(NULL, NULL);
    /* Last touch: after this the HTTP thread owns r again. */
    MHD_resume_connection(r->conn);
}

/* A ROUTE_JSON body into r->json; 0 when it replied instead. jansson's
 * own reader keeps integers as integers (what these small documents hold);
 * what it refuses goes through codec_parse, the model routes' reader, so
 * that every route answers alike: NaN, Infinity and numbers beyond a
 * double are a 422 naming the field, an integer beyond int64 or a bare
 * scalar is read (the handler then says what it wanted), and the rest is
 * a 400 with jansson's line and column. */
static int body_json(http_req *r)
{
    json_error_t je;
    if (r->body_len == 0) {
        http_reply_errorf(r, ERR_BAD_JSON, NULL, "the request body is empty; expected JSON");
        return 0;
    }
    r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (r->json) return 1;
    err e;
    err_clear(&e);
    if (codec_parse(r->body, r->body_len, &r->json, &e) == ERR_OK) return 1;
    if (e.code == ERR_INVALID)
        http_reply_error(r, &e);
    else
        http_reply_errorf(r, ERR_BAD_JSON, NULL, "line %d column %d: %s", je.line, je.column,
                          je.text);
    return 0;
}

static void dispatch(http_req *r)
{
    if ((r->route->flags & ROUTE_JSON) && !body_json(r)) return;
    r->route->handler(r);
    if (!r->replied && !r->work)
        http_reply_errorf(r, ERR_INTERNAL, NULL, "%s %s: handler gave no reply", r->method,
                          r->route->pattern);
}

static enum MHD_Result defer(http_req *r)
{
    err e;
    err_clear(&e);
    /* Suspend first: the worker may resume the connection before we return.
     * (r stays valid until we return: this connection's completion can only
     * run on this thread.) */
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    if (workq_submit(r->app->eval, run_deferred, r, &e) != ERR_OK) {
        /* a full queue, not the shutdown: the client should come back */
        if (e.code == ERR_UNAVAILABLE && atomic_load(&r->app->state) != HTTP_APP_DRAINING) {
            char v[16];
            snprintf(v, sizeof v, "%d", HTTP_ADMISSION_OVERLOAD_RETRY_S);
            http_reply_header(r, "Retry-After", v);
            http_admission_overloaded(r->app);
            metrics_rejected_count(503);
        }
        http_reply_error(r, &e);
        MHD_resume_connection(r->conn); /* the access handler runs again and queues */
        return MHD_YES;
    }
    log_debug("deferred", "request_id=%s", r->id);
    return MHD_YES;
}

/* Pipelined requests: see keepalive_poll. */
#define PIPELINED_GAP_S 100e-6

static _Thread_local struct {
    const struct MHD_Connection *conn; /* NULL: none */
    double at;                         /* clock_mono() */
} quiet;

/* Whether the client means to send another request on this connection
 * (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"). */
static int wants_keepalive(struct MHD_Connection *c, const char *version)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
    if (v && strcasestr(v, "close")) return 0;
    if (version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0) return 1;
    return v && strcasestr(v, "keep-alive");
}

/* The guard's record of connection c (guard.h); NULL when unguarded. */
static http_guard_conn *conn_guard(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Whether a body follows the request's headers. */
static int body_expected(struct MHD_Connection *c)
{
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return 1;
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strspn(cl, "0") != strlen(cl);
}

static enum MHD_Result access_request(http_server *s, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    http_req *r = *con_cls;
    http_guard_conn *gc = conn_guard(c);
    if (r) log_context_set(r->id, r->log_extra);
    if (!r) {
        http_guard_headers_done(gc);
        r = req_start(s, c, url, method);
        if (!r) return MHD_NO;
        *con_cls = r;
        r->keepalive = wants_keepalive(c, version);
        r->pipelined = quiet.conn == c && r->t_start - quiet.at < PIPELINED_GAP_S;
        atomic_fetch_add(&s->inflight, 1);
        metrics_request_started();
        /* a reply queued before the body is read makes libmicrohttpd close
         * the connection: right for 404/413/429, not for a preflight, which
         * a browser follows with the actual request */
        if (!r->replied || r->reply_at_end) return MHD_YES;
        http_guard_busy(gc);
        /* the client may be sending its body still: it should read our
         * reply, not a reset (lingering close, guard.h) */
        if (body_expected(c)) http_guard_linger(gc);
        return send_reply(r);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        http_guard_body(gc, n);
        body_append(r, upload_data, n);
        /* libmicrohttpd 0.9.75 queues a reply only once the whole request
         * is in, so a chunked body over the cap is discarded and answered
         * 413 at its end; one that runs on past twice the cap is cut off. */
        if (r->too_large && (r->discarded += n) > r->body_limit) {
            log_warn("body_cut", "request_id=%s limit=%llu", r->id,
                     (unsigned long long)r->body_limit);
            return MHD_NO;
        }
        return MHD_YES;
    }
    http_guard_busy(gc);
    if (r->too_large && !r->replied) reply_too_large(r, "exceeds");
    if (!r->replied && !r->work) {
        r->t_ready = clock_mono();
        dispatch(r);
        if (r->work && !r->replied) return defer(r);
    }
    return send_reply(r);
}

/* Every line logged while serving the request carries its ids (log.h). */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    enum MHD_Result rc =
        access_request(cls, c, url, method, version, upload_data, upload_data_size, con_cls);
    log_context_set(NULL, NULL);
    return rc;
}

/* ---- stage 4: completion ---- */

static const char *termination_name(enum MHD_RequestTerminationCode t)
{
    switch (t) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return NULL;
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    default:
        return "error";
    }
}

/* An idle server, having answered on a keep-alive connection, polls that
 * connection for up to `keepalive_poll` before going back to sleep in
 * libmicrohttpd's poll(). Why: a client that sends its next request at once
 * (a dashboard, a script in a loop) otherwise finds this thread asleep, and
 * on a virtual machine waking an idle vCPU is slow and leaves it cold
 * (bench/bench_http.sh; the before/after is in docs/benchmarks-archive.md,
 * "keepalive_poll"). Only when nothing else is in flight, so the spin
 * never takes a core from a solve; it stops as soon as any request starts
 * elsewhere. A request on another connection of this same HTTP thread waits
 * at most `keepalive_poll`. Only while the open connections are no more
 * than the HTTP threads: with more, this thread likely holds others too,
 * whose requests the spin would hold up, and under many connections
 * inflight touches 0 between replies so often that the spins (a poll(2)
 * each turn) took CPU from the requests and the client on the same cores
 * (docs/benchmarks.md, "Keep-alive polls under many connections").
 *
 * Pipelined requests. A request the client sent along with the previous one
 * is already in libmicrohttpd's buffer: the socket never turns readable for
 * it, and polling would only wait out keepalive_poll before serving it. So
 * a poll that found nothing is remembered (`quiet`, per HTTP thread), and a
 * request that starts on the same connection right after it (within
 * PIPELINED_GAP_S) counts as pipelined: no poll after it, and the next one
 * that follows as closely counts as pipelined too. A burst of pipelined
 * requests pays for one poll, not one each.
 *
 * Returns 1 when the connection turned readable (or closed) within the
 * poll; 0 when the poll ran out, or stopped for a request elsewhere. */
static int keepalive_poll(http_server *s, struct MHD_Connection *c)
{
    uint64_t us = atomic_load(&s->app->keepalive_poll_us);
    if (us == 0 || atomic_load_explicit(&s->conns, memory_order_relaxed) > s->threads) return 1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 1;
    struct pollfd pf = {.fd = ci->connect_fd, .events = POLLIN};
    double until = clock_mono() + (double)us * 1e-6;
    int ready;
    while ((ready = poll(&pf, 1, 0)) == 0 && atomic_load(&s->inflight) == 0 && clock_mono() < until)
        ;
    if (ready == 0) log_debug("keepalive_poll_quiet", "us=%llu", (unsigned long long)us);
    return ready != 0;
}

/* Where a request's time in the daemon went, in microseconds: its body
 * read (headers in to body in), before the first solve (routing, the
 * parse, the decode), the solver, after the last solve (the reply
 * written), the send (reply made to completion: headers, the send, the
 * connection's turn); "overhead" is the whole minus the solve windows
 * (whose own log lines it leaves out). A request without a solve has its
 * handler in before_solve and 0 after. Written after the request's clock
 * stopped, so the line costs the next request, not this one. */
static void stages_log(const http_req *r, double took)
{
    const double us = 1e6, ready = r->t_ready > 0 ? r->t_ready : r->t_start;
    const double replied = r->t_replied > 0 ? r->t_replied : r->t_start + took;
    const int solved = r->solve_window_s > 0;
    log_debug("request_stages",
              "request_id=%s read_us=%.2f before_solve_us=%.2f solve_us=%.2f after_solve_us=%.2f "
              "send_us=%.2f total_us=%.2f overhead_us=%.2f",
              r->id, (ready - r->t_start) * us,
              ((solved ? r->t_solve_enter : replied) - ready) * us, r->solve_s * us,
              solved ? (replied - r->t_solve_leave) * us : 0.0,
              (r->t_start + took - replied) * us, took * us, (took - r->solve_window_s) * us);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    http_guard_idle(conn_guard(c));
    http_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    char q[512], qm[2 * sizeof r->method + 3];
    const char *outcome = termination_name(toe);
    double took = clock_mono() - r->t_start;
    metrics_request_done(r, took);
    /* the access line only when it is written: quoting the path for a
     * dropped line cost every request (log_level warn, the usual under load) */
    if (log_level_get() >= LOG_LVL_INFO) {
        log_context_set(r->id, r->log_extra);
        /* the method too: libmicrohttpd takes any bytes up to the first
         * space as one, control bytes and quotes included */
        log_info("request", "method=%s path=%s status=%u duration_ms=%.3f request_id=%s%s%s",
                 log_quote(qm, sizeof qm, r->method), log_quote(q, sizeof q, r->path), r->queued ? r->status : 0, took * 1e3,
                 r->id, outcome ? " outcome=" : "", outcome ? outcome : "");
        log_context_set(NULL, NULL);
    }
    if (log_level_get() >= LOG_LVL_DEBUG) {
        log_context_set(r->id, r->log_extra);
        stages_log(r, took);
        log_context_set(NULL, NULL);
    }
    /* not when the connection closes anyway: the client asked, the reply
     * came before the body was read (libmicrohttpd then closes), draining */
    int keepalive = r->keepalive && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->route &&
                    !r->too_large && atomic_load(&s->app->state) == HTTP_APP_READY;
    int pipelined = r->pipelined;
    req_done(r);
    quiet.conn = NULL;
    if (atomic_fetch_sub(&s->inflight, 1) == 1 && keepalive &&
        (pipelined || !keepalive_poll(s, c))) {
        quiet.conn = c;
        quiet.at = clock_mono();
    }
}

/* A connection's start and end, for the guard (guard.h). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub_explicit(&s->conns, 1, memory_order_relaxed);
        http_guard_close(s->guard, *socket_context);
        *socket_context = NULL;
        return;
    }
    atomic_fetch_add_explicit(&s->conns, 1, memory_order_relaxed);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_context = ci ? http_guard_open(s->guard, ci->connect_fd) : NULL;
}

/* A request line is in (before its headers): for the guard, a keep-alive
 * connection's idle wait ends here (guard.h). Returns the request's
 * initial context: none, as access_request makes it. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)uri;
    http_guard_request_line(conn_guard(c));
    return NULL;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode %HH in the path and query in place, except %00 and %2F, which stay
 * encoded: a NUL would cut the C string the routes see ("/versions/1%00"
 * read as "/versions/1") and a decoded '/' would split a name into two path
 * segments ("a%2Fb" answering "no such endpoint"). Left encoded, both reach
 * the name and number checks and get their 422 or 404 there. */
static size_t url_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = hex_val(p[1])) >= 0 && (lo = hex_val(p[2])) >= 0) {
            int v = hi * 16 + lo;
            if (v != 0 && v != '/') {
                *w++ = (char)v;
                p += 2;
                continue;
            }
        }
        *w++ = *p;
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], q[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("mhd", "message=%s", log_quote(q, sizeof q, msg));
}

/* ---- lifecycle ---- */

err_code http_server_start(http_server **out, const http_server_opts *o, http_app *app, err *e)
{
    *out = NULL;
    http_server *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, ERR_NOMEM, NULL, "http server: out of memory");
    s->app = app;
    s->listen_fd = -1;
    s->threads = o->threads;
    int family = AF_INET;
    const char *cert = o->tls_cert ? o->tls_cert : "", *key = o->tls_key ? o->tls_key : "";
    err_code rc = ERR_OK;
    if (cert[0] || key[0]) rc = http_tls_new(&s->tls, cert, key, e);
    if (rc == ERR_OK)
        rc = http_guard_new(&s->guard, o->connection_limit,
                            o->header_timeout > 0 ? o->header_timeout : 10.0,
                            (double)o->connection_timeout, o->min_body_rate, e);
    if (rc == ERR_OK) rc = open_listener(s, o->listen, &family, e);
    if (rc != ERR_OK) {
        http_guard_free(s->guard);
        http_tls_free(s->tls);
        free(s);
        return rc;
    }
    /* poll(), not epoll: libmicrohttpd 0.9.75's MHD_quiesce_daemon races with
     * its own epoll loop in a thread pool (both remove the listen FD from the
     * epoll set; the loser gets ENOENT and MHD_PANIC aborts the process: seen
     * here at SIGTERM under load). With poll() the workers just stop polling
     * the listen FD once told through the ITC. At our connection counts
     * (connection_limit, default 512, spread over the pool) poll costs nothing
     * measurable. */
    unsigned flags =
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    /* TLS: the certificate comes from our callback at each handshake, so a
     * reload can swap it (http/tls.h) */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, http_tls_mhd_callback()},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)http_tls_priorities()},
        {MHD_OPTION_END, 0, NULL},
    };
    if (s->tls)
        flags |= MHD_USE_TLS;
    else
        tls_opts[0].option = MHD_OPTION_END;
    /* connection_limit is the guard's (it evicts slow connections to stay
     * under it); libmicrohttpd's, split over its threads, is a backstop */
    unsigned mhd_limit = o->connection_limit * 2 + o->threads;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, o->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout, MHD_OPTION_CONNECTION_LIMIT,
        mhd_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip_connection_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s, MHD_OPTION_UNESCAPE_CALLBACK,
        url_unescape, NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!s->mhd) {
        close(s->listen_fd);
        http_guard_free(s->guard);
        http_tls_free(s->tls);
        free(s);
        return err_set(e, ERR_IO, "listen", "cannot start the HTTP server on %s", o->listen);
    }
    *out = s;
    return ERR_OK;
}

const char *http_server_addr(const http_server *s)
{
    return s->addr;
}

const struct http_tls *http_server_tls(const http_server *s)
{
    return s->tls;
}

err_code http_server_tls_reload(http_server *s, err *e)
{
    return s->tls ? http_tls_reload(s->tls, e) : ERR_OK;
}

void http_server_quiesce(http_server *s)
{
    if (s->quiesced) return;
    s->quiesced = 1;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    s->listen_fd = -1;
}

unsigned http_server_inflight(const http_server *s)
{
    return atomic_load(&s->inflight);
}

void http_server_stop(http_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->mhd);
    http_guard_free(s->guard); /* every connection has been closed */
    http_tls_free(s->tls);     /* no handshake can run any more */
    free(s);
}
