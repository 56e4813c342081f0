/* http/request.c: the handler API of handler.h and the error table.
 *
 * DESIGN: a reply is only *stored* here (status, JSON text, headers);
 * server.c turns it into a libmicrohttpd response on an HTTP thread. So a
 * worker thread may build a reply while the connection is suspended, and
 * the error body has exactly one builder (codec_err_json) fed by one table
 * (status_for), after Taler's TALER_MHD_reply_with_error. */
#include "http/request_impl.h"

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec_err.h"
#include "codec/jbuf.h"
#include "core/clock.h"
#include "core/log.h"

/* err_code -> HTTP status: the one table. */
static const unsigned status_for[ERR__COUNT] = {
    [ERR_OK] = 200,
    [ERR_INVALID] = 422, /* well-formed JSON, wrong content */
    [ERR_BAD_JSON] = 400,
    [ERR_NOT_FOUND] = 404,
    [ERR_METHOD] = 405, /* with an Allow header */
    [ERR_TOO_LARGE] = 413,
    [ERR_MEDIA] = 415,
    [ERR_CONFLICT] = 409,
    [ERR_SOLVER] = 422, /* the request asked for a solve that cannot succeed */
    [ERR_DEADLINE] = 503,
    [ERR_UNAVAILABLE] = 503, /* starting, draining or overloaded: retry */
    [ERR_ABORTED] = 503,
    [ERR_NOMEM] = 503,
    [ERR_IO] = 500,
    [ERR_DB] = 500,
    [ERR_SCHEMA] = 500,
    [ERR_CONFIG] = 500,
    [ERR_INTERNAL] = 500,
    [ERR_STORAGE_FULL] = 507,    /* with Retry-After: deletes still work and free space */
    [ERR_UNAUTHENTICATED] = 401, /* with WWW-Authenticate: Bearer (auth.c) */
    [ERR_FORBIDDEN] = 403,
    [ERR_RATE_LIMITED] = 429,    /* with Retry-After */
    [ERR_BUSY] = 503,            /* with Retry-After: the lock is another writer's for now */
    [ERR_BAD_REQUEST] = 400,     /* framing.c; the connection is closed */
    [ERR_NOT_IMPLEMENTED] = 501, /* an unknown Transfer-Encoding (framing.c) */
};

unsigned http_status_for(err_code code)
{
    if ((int)code < 0 || code >= ERR__COUNT || status_for[code] == 0) return 500;
    return status_for[code];
}

/* ---- request ids ---- */

static _Atomic uint64_t id_counter;
static uint64_t id_seed;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void id_seed_init(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    id_seed =
        ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
}

/* splitmix64 (Steele, Lea, Flood 2014): distinct counters give distinct,
 * well-mixed ids, so ids do not repeat within a process. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void req_id_new(char *buf, size_t n)
{
    pthread_once(&id_once, id_seed_init);
    uint64_t k = atomic_fetch_add(&id_counter, 1);
    uint64_t v = mix64(id_seed + k * 0x9e3779b97f4a7c15ull);
    /* "%016llx" by hand: every request makes one, and printf costs more
     * than the digits */
    static const char hex[] = "0123456789abcdef";
    char t[17];
    for (int i = 15; i >= 0; i--, v >>= 4)
        t[i] = hex[v & 15];
    t[16] = '\0';
    if (n == 0) return;
    size_t m = n - 1 < 16 ? n - 1 : 16;
    memcpy(buf, t, m);
    buf[m] = '\0';
}

int req_id_ok(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= REQ_ID_MAX - 1) return 0;
    }
    return n > 0;
}

/* ---- accessors ---- */

unsigned http_req_route_flags(const http_req *r)
{
    return r->route ? r->route->flags : 0;
}

const char *http_req_method(const http_req *r)
{
    return r->method;
}

const char *http_req_path(const http_req *r)
{
    return r->path;
}

const char *http_req_id(const http_req *r)
{
    return r->id;
}

http_app *http_req_app(const http_req *r)
{
    return r->app;
}

const char *http_req_param(const http_req *r, const char *name)
{
    for (int i = 0; i < r->params.n; i++)
        if (strcmp(r->params.name[i], name) == 0) return r->params.value[i];
    return NULL;
}

const char *http_req_query(http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_req_header(http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

json_t *http_req_json(const http_req *r)
{
    return r->json;
}

const char *http_req_body(const http_req *r, size_t *len)
{
    if (len) *len = r->body_len;
    return r->body;
}

void http_req_user_set(http_req *r, void *data, void (*free_fn)(void *))
{
    if (r->user && r->user_free) r->user_free(r->user);
    r->user = data;
    r->user_free = free_fn;
}

void *http_req_user(const http_req *r)
{
    return r->user;
}

void http_req_defer(http_req *r, http_handler work)
{
    if (!r->replied && !r->work) r->work = work;
}

int http_req_cancelled(const http_req *r)
{
    return atomic_load(&r->app->cancel);
}

int http_req_client_gone(const http_req *r)
{
    if (r->fd < 0) return 0;
    struct pollfd p = {.fd = r->fd, .events = POLLRDHUP};
    /* bytes to read (a pipelined request, a TLS record) do not say gone;
     * the peer's FIN (POLLRDHUP), a reset or an error do */
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void http_req_solve_window(http_req *r, double enter, double leave, double solve_s)
{
    if (r->solve_window_s == 0) r->t_solve_enter = enter;
    r->t_solve_leave = leave;
    r->solve_window_s += leave - enter;
    r->solve_s += solve_s;
}

double http_req_ready_at(const http_req *r)
{
    return r->t_ready > 0 ? r->t_ready : r->t_start;
}

/* ---- replies ---- */

static const char oom_body[] =
    "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory building the reply\"}}";

void http_reply_buf(http_req *r, unsigned status, char *body, size_t len)
{
    if (r->replied) {
        free(body);
        return;
    }
    if (!body) { /* the caller ran out of memory building it */
        status = 503;
        len = sizeof oom_body - 1;
        body = malloc(len);
        if (body)
            memcpy(body, oom_body, len);
        else
            len = 0;
    }
    r->status = status;
    r->reply = body;
    r->reply_len = len;
    r->replied = 1;
    r->t_replied = clock_mono();
}

void http_reply_text(http_req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    int was = r->replied;
    http_reply_buf(r, status, body, len);
    if (!was && body) r->ctype = ctype; /* no body: the JSON out-of-memory reply */
}

void http_reply_json(http_req *r, unsigned status, json_t *body)
{
    char *text = NULL;
    size_t len = 0;
    if (body) {
        jbuf b;
        jbuf_init(&b);
        jbuf_json(&b, body);
        text = jbuf_take(&b, &len);
        json_decref(body);
    }
    http_reply_buf(r, status, text, len); /* NULL: the out-of-memory reply */
}

void http_reply_error(http_req *r, const err *e)
{
    unsigned status = http_status_for(e->code);
    if (status >= 500) {
        char q[ERR_MSG_MAX + 8];
        log_warn("request_error", "request_id=%s code=%s message=%s", r->id, err_code_name(e->code),
                 log_quote(q, sizeof q, e->message));
    }
    /* a full disk clears when space is freed (deletes still work): say when to look again */
    if (e->code == ERR_STORAGE_FULL) http_reply_header(r, "Retry-After", "60");
    /* the database was locked for all of busy_timeout: nothing was written,
     * and the lock is usually gone a moment later */
    if (e->code == ERR_BUSY) http_reply_header(r, "Retry-After", "1");
    http_reply_json(r, status,
                    (http_req_route_flags(r) & ROUTE_OIP) ? codec_err_oip_json(e)
                                                          : codec_err_json(e));
}

void http_reply_errorf(http_req *r, err_code code, const char *field, const char *fmt, ...)
{
    err e;
    err_clear(&e);
    e.code = code;
    snprintf(e.field, sizeof e.field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    http_reply_error(r, &e);
}

err_code http_reply_header(http_req *r, const char *name, const char *value)
{
    if (r->n_headers >= REQ_MAX_HEADERS) return ERR_TOO_LARGE;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return ERR_NOMEM;
    }
    r->hname[r->n_headers] = n;
    r->hvalue[r->n_headers] = v;
    r->n_headers++;
    return ERR_OK;
}

void req_free(http_req *r)
{
    if (!r) return;
    if (r->user && r->user_free) r->user_free(r->user);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    json_decref(r->json);
    free(r->reply);
    free(r->body);
    free(r->pathbuf);
    free(r->path);
    free(r);
}
