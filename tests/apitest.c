/* tests/apitest.c: see apitest.h. */
#include "apitest.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_log(const tu_daemon *d, const char *why)
{
    char *log = tu_read_file(d->log, NULL);
    fprintf(stderr, "%s; daemon log:\n%s\n", why, log ? log : "(none)");
    free(log);
}

int apitest_start(tu_daemon *d, const char *const *extra)
{
    static char seed[1024];
    tu_source_path(seed, sizeof seed, "examples/spiral.json");
    const char *args[48] = {"--seed-models", seed};
    size_t n = 2;
    for (const char *const *a = extra; a && *a && n + 1 < sizeof args / sizeof args[0]; a++)
        args[n++] = *a;
    args[n] = NULL;
    memset(d, 0, sizeof *d);
    if (tu_daemon_start(d, args, NULL) == 0) return 0;
    print_log(d, "the daemon did not start");
    return -1;
}

int apitest_stop(tu_daemon *d)
{
    if (tu_daemon_kill(d, SIGTERM) != 0) return -1;
    int st = tu_daemon_wait(d, 60.0);
    if (st != 0) {
        char why[64];
        snprintf(why, sizeof why, "the daemon exited with status %d", st);
        print_log(d, why);
    }
    return st;
}

json_t *apitest_json(const tu_response *r, char *why, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &je);
    if (!j) snprintf(why, n, "the reply is not JSON (%s): %.200s", je.text, r->body);
    return j;
}

static int fail(char *why, size_t n, const char *path, const char *fmt, const json_t *w,
                const json_t *g)
{
    char *ws = json_dumps(w, JSON_ENCODE_ANY | JSON_COMPACT);
    char *gs = g ? json_dumps(g, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(why, n, "%s: %s (want %.120s, got %.120s)", path[0] ? path : "(top)", fmt,
             ws ? ws : "?", gs ? gs : "nothing");
    free(ws);
    free(gs);
    return 0;
}

static int match_at(const json_t *w, const json_t *g, double tol, char *path, char *why, size_t n)
{
    size_t plen = strlen(path);
    if (json_is_string(w) && strcmp(json_string_value(w), "*") == 0)
        return g ? 1 : fail(why, n, path, "missing", w, g);
    if (!g) return fail(why, n, path, "missing", w, g);
    if (json_is_number(w)) {
        if (!json_is_number(g)) return fail(why, n, path, "not a number", w, g);
        double a = json_number_value(w), b = json_number_value(g);
        if (a == b || fabs(a - b) <= tol * fmax(fabs(a), fabs(b))) return 1;
        return fail(why, n, path, "numbers differ", w, g);
    }
    if (json_is_object(w)) {
        if (!json_is_object(g)) return fail(why, n, path, "not an object", w, g);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)w, k, x)
        {
            snprintf(path + plen, 256 - plen, "%s%s", plen ? "." : "", k);
            if (!match_at(x, json_object_get(g, k), tol, path, why, n)) return 0;
            path[plen] = '\0';
        }
        return 1;
    }
    if (json_is_array(w)) {
        if (!json_is_array(g) || json_array_size(w) != json_array_size(g))
            return fail(why, n, path, "not an array of that length", w, g);
        for (size_t i = 0; i < json_array_size(w); i++) {
            snprintf(path + plen, 256 - plen, "[%zu]", i);
            if (!match_at(json_array_get(w, i), json_array_get(g, i), tol, path, why, n)) return 0;
            path[plen] = '\0';
        }
        return 1;
    }
    return json_equal((json_t *)w, (json_t *)g) ? 1 : fail(why, n, path, "differs", w, g);
}

int apitest_match(const json_t *want, const json_t *got, double tol, char *why, size_t n)
{
    char path[256] = "";
    return match_at(want, got, tol, path, why, n);
}
