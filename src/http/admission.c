/* http/admission.c: see admission.h. */
#include "http/admission.h"
#include "http/metrics.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>

#include "core/log.h"
#include "core/ratelimit.h"
#include "http/request_impl.h"

void http_admission_rejections(const http_app *app, http_rejections *out)
{
    out->overloaded = atomic_load(&app->rejected_overloaded);
    out->rate_limited = atomic_load(&app->rejected_rate);
    out->large_body = atomic_load(&app->rejected_large);
}

void http_admission_overloaded(http_app *app)
{
    atomic_fetch_add_explicit(&app->rejected_overloaded, 1, memory_order_relaxed);
}

/* Probes must see the daemon as it is, whoever sends them. */
static int exempt(const char *path)
{
    return strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
           strncmp(path, "/v2/health/", 11) == 0;
}

/* The bucket key of a client: IPv4 address, or an IPv6 /64 (one host's
 * usual allocation, so a client cannot dodge the limit by using more of
 * its own addresses). 0 bytes when there is no address. */
static size_t client_key(const struct sockaddr *sa, unsigned char key[16])
{
    if (!sa) return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            memcpy(key, a + 12, 4);
            return 4;
        }
        memcpy(key, a, 8); /* 8 bytes: never equal to a 4-byte IPv4 key */
        return 8;
    }
    return 0;
}

unsigned http_admission_rate(http_app *app, const struct sockaddr *client, const char *path,
                             double now)
{
    uint64_t rate = atomic_load_explicit(&app->rate_limit, memory_order_relaxed);
    if (rate == 0 || !app->rate_buckets || exempt(path)) return 0;
    unsigned char key[16];
    size_t len = client_key(client, key);
    if (len == 0) return 0;
    double burst = (double)atomic_load_explicit(&app->rate_burst, memory_order_relaxed);
    double wait = ratelimit_take(app->rate_buckets, key, len, (double)rate, burst < 1 ? 1 : burst,
                                 now);
    if (wait <= 0) return 0;
    atomic_fetch_add_explicit(&app->rejected_rate, 1, memory_order_relaxed);
    metrics_rejected_count(429);
    double s = ceil(wait);
    return s < 1 ? 1 : s > 86400 ? 86400 : (unsigned)s;
}

/* ---- large bodies ---- */

unsigned http_admission_large_active(const http_app *app)
{
    return atomic_load(&app->large_active);
}

int http_admission_body(http_req *r, uint64_t size)
{
    http_app *app = r->app;
    uint64_t large = atomic_load_explicit(&app->large_body_size, memory_order_relaxed);
    if (r->large_slot || large == 0 || size < large) return 1;
    uint64_t cap = atomic_load_explicit(&app->large_body_limit, memory_order_relaxed);
    unsigned n = atomic_load(&app->large_active);
    do {
        if (cap && n >= cap) {
            atomic_fetch_add_explicit(&app->rejected_large, 1, memory_order_relaxed);
            metrics_rejected_count(503);
            char v[16];
            snprintf(v, sizeof v, "%d", HTTP_ADMISSION_LARGE_RETRY_S);
            http_reply_header(r, "Retry-After", v);
            http_reply_errorf(r, ERR_UNAVAILABLE, NULL,
                              "%llu large request bodies (of %llu bytes or more) are being "
                              "served; retry after %d s",
                              (unsigned long long)cap, (unsigned long long)large,
                              HTTP_ADMISSION_LARGE_RETRY_S);
            return 0;
        }
    } while (!atomic_compare_exchange_weak(&app->large_active, &n, n + 1));
    r->large_slot = 1;
    return 1;
}

int http_admission_body_headers(http_req *r)
{
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return 1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno != 0 || end == cl || *end != '\0') return 1; /* framing is server.c's to refuse */
    return http_admission_body(r, n);
}

/* Why trim after each large request, not on a timer: the memory is freed
 * in bursts (the body, its tree, the decoded arrays), right here; glibc
 * keeps freed small chunks (a parsed tree is millions of them) in its
 * arenas and returns only the top of the main heap by itself. malloc_trim
 * also releases whole free pages inside every arena (glibc >= 2.8). Its
 * cost is a walk of the free lists, small beside parsing megabytes. */
void http_admission_body_done(http_app *app)
{
    atomic_fetch_sub(&app->large_active, 1);
    malloc_trim(0);
}
