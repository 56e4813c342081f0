/* http/admission.c: see admission.h. */
#include "http/admission.h"
#include "http/metrics.h"

#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>

#include "core/ratelimit.h"

void http_admission_rejections(const http_app *app, http_rejections *out)
{
    out->overloaded = atomic_load(&app->rejected_overloaded);
    out->rate_limited = atomic_load(&app->rejected_rate);
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
