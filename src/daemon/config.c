/* daemon/config.c: the settings table and its parsers. See config.h.
 *
 * DESIGN: every value, including the defaults, goes through config_set, so
 * a default that would not parse is caught by the first test that loads the
 * defaults, and the shipped file, the environment and the command line are
 * validated by exactly the same code. */
#include "daemon/config.h"

#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB 1024.0
#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * 1024.0 * 1024.0)

#define STR(field) offsetof(config, field), sizeof(((config *)0)->field)
#define NUM(field) offsetof(config, field), sizeof(((config *)0)->field)

/* clang-format off */
static const config_key keys[] = {
    {"listen", CONFIG_ADDR, STR(listen), "127.0.0.1:8080", 0, 0, NULL, 0,
     "address and port to listen on, HOST:PORT or [IPv6]:PORT; port 0 picks a free port"},
    {"db", CONFIG_PATH, STR(db), "/var/lib/odeserve/odeserve.db", 0, 0, NULL, 0,
     "SQLite database file; created (and migrated) on start; its directory must exist; "
     "locked while the daemon runs (one daemon per database)"},
    {"log_level", CONFIG_ENUM, STR(log_level), "info", 0, 0, "error|warn|info|debug", 1,
     "lowest level written to stderr"},
    {"http_threads", CONFIG_INT, NUM(http_threads), "0", 0, 256, NULL, 0,
     "HTTP threads (libmicrohttpd thread pool, poll()); they parse requests, solve small "
     "trajectories and send replies; 0 = one per online CPU, at least 2"},
    {"connection_timeout", CONFIG_INT, NUM(connection_timeout), "30", 1, 86400, NULL, 0,
     "seconds a client connection may stay idle before it is closed; between two requests on "
     "a keep-alive connection, the longest wait for the next request line"},
    {"connection_limit", CONFIG_INT, NUM(connection_limit), "512", 1, 65536, NULL, 0,
     "most concurrent client connections in total"},
    {"per_ip_connection_limit", CONFIG_INT, NUM(per_ip_connection_limit), "128", 0, 65536, NULL, 0,
     "most concurrent connections from one client address; 0 = no per-address cap"},
    {"header_timeout", CONFIG_SECONDS, NUM(header_timeout), "10", 0.1, 3600, NULL, 0,
     "seconds a request's headers may take to arrive, counted from the connection's start "
     "(its first request) or from the request line (later ones); slower clients are "
     "disconnected"},
    {"min_body_rate", CONFIG_INT, NUM(min_body_rate), "1024", 0, 1073741824, NULL, 0,
     "bytes per second a request body must average once header_timeout has passed; slower "
     "uploads are disconnected; 0 = no minimum"},
    {"max_body_size", CONFIG_BYTES, NUM(max_body_size), "16M", KIB, GIB, NULL, 1,
     "largest request body accepted, in bytes or with a K/M/G suffix; larger gets 413"},
    {"large_body_size", CONFIG_BYTES, NUM(large_body_size), "1M", 0, GIB, NULL, 1,
     "a request body of at least this many bytes is large: at most large_body_concurrency of "
     "them are read and served at once, and the memory one used is handed back to the system "
     "when it completes; 0 = no body is large"},
    {"large_body_concurrency", CONFIG_INT, NUM(large_body_concurrency), "4", 0, 65536, NULL, 1,
     "large request bodies (large_body_size) read and served at once; more get 503 with "
     "Retry-After; 0 = no cap"},
    {"shutdown_timeout", CONFIG_SECONDS, NUM(shutdown_timeout), "20", 0, 3600, NULL, 1,
     "seconds in-flight requests get to finish after SIGTERM (keep below the unit's TimeoutStopSec)"},
    {"db_synchronous", CONFIG_ENUM, STR(db_synchronous), "full", 0, 0, "off|normal|full|extra", 0,
     "SQLite PRAGMA synchronous; full survives power loss"},
    {"db_busy_timeout", CONFIG_INT, NUM(db_busy_timeout), "5000", 0, 600000, NULL, 0,
     "milliseconds a database connection waits for a lock before failing"},
    {"db_reserve_size", CONFIG_BYTES, NUM(db_reserve_size), "8M", 0, GIB, NULL, 0,
     "space kept in a file next to the database and given up when the disk fills, so that "
     "deletes still work; 0 = none"},
    {"eval_threads", CONFIG_INT, NUM(eval_threads), "0", 0, 256, NULL, 0,
     "evaluation threads for CPU-heavy requests; 0 = one per online CPU plus 2, at least 4"},
    {"eval_queue_limit", CONFIG_INT, NUM(eval_queue_limit), "256", 1, 1000000, NULL, 0,
     "evaluations that may wait for a thread; beyond that requests get 503"},
    {"max_solve_points", CONFIG_INT, NUM(max_solve_points), "1000000", 1, 100000000, NULL, 1,
     "most values one trajectory reply may hold (every query time x values per time); more gets 413"},
    {"max_sde_samples", CONFIG_INT, NUM(max_sde_samples), "100000", 1, 10000000, NULL, 1,
     "most sample paths one sde trajectory request may ask for; more gets 413"},
    {"max_cnf_points", CONFIG_INT, NUM(max_cnf_points), "100000", 1, 100000000, NULL, 1,
     "most points one cnf log_prob or sample request may hold (sample: times the path's times "
     "plus one); more gets 413"},
    {"max_cnf_exact_dim", CONFIG_INT, NUM(max_cnf_exact_dim), "64", 1, 1024, NULL, 1,
     "widest cnf model whose log-density is served with the exact trace (the default there); "
     "wider ones default to Hutchinson's estimator and refuse \"exact\" with 422"},
    {"max_cnf_probes", CONFIG_INT, NUM(max_cnf_probes), "1024", 1, 1000000, NULL, 1,
     "most Hutchinson probes one cnf request may ask for; more gets 413"},
    {"hybrid_max_expr_len", CONFIG_INT, NUM(hybrid_max_expr_len), "4096", 16, 1048576, NULL, 1,
     "bytes of one equation of a hybrid model; longer gets 413 (docs/hybrid.md)"},
    {"hybrid_max_nodes", CONFIG_INT, NUM(hybrid_max_nodes), "1000", 8, 100000, NULL, 1,
     "tokens (numbers, names, operators, calls) of one equation of a hybrid model; more gets 413"},
    {"hybrid_max_depth", CONFIG_INT, NUM(hybrid_max_depth), "64", 2, 1000, NULL, 1,
     "parenthesis nesting of one equation of a hybrid model; deeper gets 413"},
    {"gradient_max_tape", CONFIG_BYTES, NUM(gradient_max_tape), "256M", 64 * KIB, 64 * GIB, NULL,
     1,
     "bytes one gradient request's engine may hold (backprop's tape grows with the steps); a "
     "request that needs more stops with 413 naming \"method\" (use adjoint_checkpointed)"},
    {"solve_timeout", CONFIG_SECONDS, NUM(solve_timeout), "10", 0, 3600, NULL, 1,
     "seconds a trajectory request may take from its arrival (the wait for an evaluation thread "
     "included) before it is stopped with 503; 0 = no limit"},
    {"inline_budget", CONFIG_SECONDS, NUM(inline_budget), "0.005", 0, 1, NULL, 1,
     "seconds a small solve may run on the HTTP thread when the server is idle (a tenth of it "
     "under load, with HTTP threads >= CPUs); longer ones move to the evaluation threads; "
     "0 = always on the evaluation threads"},
    {"keepalive_poll", CONFIG_SECONDS, NUM(keepalive_poll), "0.0002", 0, 0.01, NULL, 1,
     "seconds an idle server's HTTP thread polls a keep-alive connection after replying, "
     "so that the client's next request finds it awake; 0 = sleep at once"},
    {"model_cache_size", CONFIG_INT, NUM(model_cache_size), "64", 1, 100000, NULL, 0,
     "loaded model versions kept in memory while no request uses them"},
    {"seed_models", CONFIG_PATHS, STR(seed_models), "", 0, 0, NULL, 0,
     "model documents (comma-separated files) stored on start when no model of that name "
     "exists; the name is the file name without .json; empty = none"},
    {"job_workers", CONFIG_INT, NUM(job_workers), "1", 1, 64, NULL, 0,
     "training worker threads (each runs one job at a time; see train_threads)"},
    {"train_threads", CONFIG_INT, NUM(train_threads), "1", 1, 64, NULL, 0,
     "threads of one training job whose document gives no \"threads\" (ode and cde jobs; "
     "the results do not depend on it)"},
    {"checkpoint_every_iterations", CONFIG_INT, NUM(checkpoint_every_iterations), "100", 1,
     1000000000, NULL, 0, "a running job writes a checkpoint after this many iterations, or sooner (checkpoint_every_seconds)"},
    {"checkpoint_every_seconds", CONFIG_SECONDS, NUM(checkpoint_every_seconds), "5", 0.001, 86400,
     NULL, 0, "a running job writes a checkpoint after this many seconds, or sooner (checkpoint_every_iterations)"},
    {"metrics", CONFIG_ENUM, STR(metrics), "open", 0, 0, "open|token|off", 1,
     "who may GET /metrics (Prometheus): open = anyone who reaches the port, token = a token "
     "with the read scope, off = 404"},
    {"auth", CONFIG_ENUM, STR(auth), "auto", 0, 0, "auto|required|writes|off", 1,
     "API tokens: required = every route but /healthz and /readyz needs one, writes = reads are "
     "open, off = none; auto = writes on a loopback address, else required (and then the daemon "
     "will not start without a token: odeserved token create ...)"},
    {"tls_cert", CONFIG_OPTPATH, STR(tls_cert), "", 0, 0, NULL, 0,
     "PEM certificate (chain) to serve HTTPS with, next to tls_key; empty = plain HTTP; "
     "SIGHUP re-reads the file (a bad one keeps the running certificate)"},
    {"tls_key", CONFIG_OPTPATH, STR(tls_key), "", 0, 0, NULL, 0,
     "PEM private key of tls_cert (unencrypted); SIGHUP re-reads the file"},
    {"cors_origins", CONFIG_ORIGINS, STR(cors_origins), "", 0, 0, NULL, 0,
     "browser origins allowed to call the API (CORS), comma-separated "
     "(https://app.example.com,http://localhost:3000), or *; empty = CORS off"},
    {"ui", CONFIG_ENUM, STR(ui), "on", 0, 0, "on|off", 0,
     "the dashboard (GET / and /ui/...): on, or off = 404"},
    {"ui_dir", CONFIG_OPTPATH, STR(ui_dir), "", 0, 0, NULL, 0,
     "the dashboard's files; empty = where make install puts them ($(datadir)/odeserve/ui)"},
    {"ui_lib_dir", CONFIG_OPTPATH, STR(ui_lib_dir), "", 0, 0, NULL, 0,
     "Debian's shared JavaScript libraries, where the dashboard finds Chart.js (chart.js/, "
     "package libjs-chart.js); empty = the directory configure was given (/usr/share/javascript)"},
    {"rate_limit", CONFIG_INT, NUM(rate_limit), "0", 0, 1000000, NULL, 1,
     "requests per second one client address may make (token bucket; an IPv6 client counts by "
     "its /64); more get 429 with Retry-After; 0 = no limit"},
    {"rate_burst", CONFIG_INT, NUM(rate_burst), "20", 1, 1000000, NULL, 1,
     "requests one client address may make at once above rate_limit before 429"},
};
/* clang-format on */

#define N_KEYS (sizeof keys / sizeof keys[0])

const config_key *config_keys(size_t *n)
{
    if (n) *n = N_KEYS;
    return keys;
}

const config_key *config_key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

/* ---- value parsers: each returns 0 or fills e with what was expected ---- */

/* Decimal digits with at most one '.', nothing else; *out in [min, max]. */
static int parse_decimal(const char *s, int allow_fraction, double *out)
{
    const char *p = s;
    int digits = 0, dots = 0;
    if (*p == '-') p++;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (*p == '.' && allow_fraction && dots == 0)
            dots++;
        else
            return -1;
    }
    if (digits == 0) return -1;
    errno = 0;
    *out = strtod(s, NULL);
    return (errno == 0 && isfinite(*out)) ? 0 : -1;
}

static err_code set_number(const config_key *k, void *field, const char *v, err *e)
{
    double x, mult = 1;
    char num[64];
    size_t len = strlen(v);
    if (len == 0 || len >= sizeof num) goto bad;
    memcpy(num, v, len + 1);
    if (k->type == CONFIG_BYTES) {
        char u = (char)toupper((unsigned char)num[len - 1]);
        mult = u == 'K' ? KIB : u == 'M' ? MIB : u == 'G' ? GIB : 1;
        if (mult > 1) num[len - 1] = '\0';
    }
    if (parse_decimal(num, k->type == CONFIG_SECONDS, &x) != 0) goto bad;
    x *= mult;
    if (x < k->min || x > k->max) goto bad;
    if (k->type == CONFIG_INT)
        *(long long *)field = (long long)x;
    else if (k->type == CONFIG_BYTES)
        *(uint64_t *)field = (uint64_t)x;
    else
        *(double *)field = x;
    return ERR_OK;
bad:
    if (k->type == CONFIG_INT)
        return err_set(e, ERR_CONFIG, k->name,
                       "%s: expected an integer from %.0f to %.0f, got '%s'", k->name, k->min,
                       k->max, v);
    if (k->type == CONFIG_BYTES)
        return err_set(e, ERR_CONFIG, k->name,
                       "%s: expected a size from %.0f to %.0f bytes (suffix K, M or G allowed), "
                       "got '%s'",
                       k->name, k->min, k->max, v);
    return err_set(e, ERR_CONFIG, k->name, "%s: expected seconds from %g to %g, got '%s'", k->name,
                   k->min, k->max, v);
}

static int enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (n > 0 && len == n && strncmp(p, v, n) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

/* HOST:PORT or [V6]:PORT; HOST non-empty, PORT 0..65535. Resolution is
 * left to the listener. */
static int addr_valid(const char *v)
{
    const char *colon;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || close == v + 1 || close[1] != ':') return 0;
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon || colon == v || memchr(v, ':', (size_t)(colon - v))) return 0;
    }
    const char *port = colon + 1;
    if (!*port || strlen(port) > 5) return 0;
    for (const char *p = port; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    for (const char *p = v; p < colon; p++)
        if (isspace((unsigned char)*p)) return 0;
    return atoi(port) <= 65535;
}

/* "" or "a,b,c" with no empty item. */
static int paths_valid(const char *v)
{
    if (!*v) return 1;
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) return 0;
        if (!comma) return 1;
        p = comma + 1;
    }
}

/* One origin as a browser sends it (RFC 6454): http or https, a host of
 * letters, digits, '.', '-' or a bracketed IPv6 literal, an optional port,
 * nothing after. */
static int origin_valid(const char *p, size_t len)
{
    size_t skip = len >= 8 && strncmp(p, "https://", 8) == 0  ? 8
                  : len >= 7 && strncmp(p, "http://", 7) == 0 ? 7
                                                              : 0;
    if (!skip || skip == len) return 0;
    const char *h = p + skip, *end = p + len;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close || close == h + 1) return 0;
        for (const char *q = h + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.') return 0;
        h = close + 1;
    } else {
        const char *start = h;
        while (h < end && (isalnum((unsigned char)*h) || *h == '.' || *h == '-'))
            h++;
        if (h == start) return 0;
    }
    if (h < end && *h == ':') {
        const char *port = ++h;
        while (h < end && isdigit((unsigned char)*h))
            h++;
        if (h == port || h - port > 5) return 0;
    }
    return h == end;
}

/* "", "*", or comma-separated origins (none empty). */
static int origins_valid(const char *v)
{
    if (!*v || strcmp(v, "*") == 0) return 1;
    for (const char *p = v;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!origin_valid(p, len)) return 0;
        if (!comma) return 1;
        p = comma + 1;
    }
}

static err_code set_string(const config_key *k, char *field, const char *v, err *e)
{
    if (strlen(v) >= k->size)
        return err_set(e, ERR_CONFIG, k->name, "%s: expected at most %zu characters", k->name,
                       k->size - 1);
    if (k->type == CONFIG_ENUM && !enum_has(k->choices, v))
        return err_set(e, ERR_CONFIG, k->name, "%s: expected one of %s, got '%s'", k->name,
                       k->choices, v);
    if (k->type == CONFIG_PATH && v[0] == '\0')
        return err_set(e, ERR_CONFIG, k->name, "%s: expected a non-empty path", k->name);
    if (k->type == CONFIG_PATHS && !paths_valid(v))
        return err_set(e, ERR_CONFIG, k->name,
                       "%s: expected comma-separated file paths (none empty), got '%s'", k->name,
                       v);
    if (k->type == CONFIG_ORIGINS && !origins_valid(v))
        return err_set(e, ERR_CONFIG, k->name,
                       "%s: expected * or comma-separated origins such as "
                       "https://app.example.com or http://localhost:3000 (scheme, host, "
                       "optional port; no path), got '%s'",
                       k->name, v);
    if (k->type == CONFIG_ADDR && !addr_valid(v))
        return err_set(e, ERR_CONFIG, k->name,
                       "%s: expected HOST:PORT or [IPV6]:PORT with a port from 0 to 65535, "
                       "got '%s'",
                       k->name, v);
    memcpy(field, v, strlen(v) + 1);
    return ERR_OK;
}

err_code config_set(config *c, const char *key, const char *value, err *e)
{
    const config_key *k = config_key_find(key);
    if (!k) return err_set(e, ERR_CONFIG, key, "unknown key '%s'", key);
    void *field = (char *)c + k->offset;
    switch (k->type) {
    case CONFIG_INT:
    case CONFIG_BYTES:
    case CONFIG_SECONDS:
        return set_number(k, field, value, e);
    default:
        return set_string(k, field, value, e);
    }
}

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++) {
        err_code rc = config_set(c, keys[i].name, keys[i].def, NULL);
        (void)rc; /* defaults are checked by tests/check_config.c */
    }
}

const char *config_format(const config *c, const config_key *k, char *buf, size_t n)
{
    const void *field = (const char *)c + k->offset;
    switch (k->type) {
    case CONFIG_INT:
        snprintf(buf, n, "%lld", *(const long long *)field);
        break;
    case CONFIG_BYTES: {
        uint64_t v = *(const uint64_t *)field;
        static const char suffix[] = {'G', 'M', 'K'};
        const uint64_t unit[] = {1ull << 30, 1ull << 20, 1ull << 10};
        for (int i = 0; i < 3; i++) {
            if (v >= unit[i] && v % unit[i] == 0) {
                snprintf(buf, n, "%llu%c", (unsigned long long)(v / unit[i]), suffix[i]);
                return buf;
            }
        }
        snprintf(buf, n, "%llu", (unsigned long long)v);
        break;
    }
    case CONFIG_SECONDS:
        snprintf(buf, n, "%g", *(const double *)field);
        break;
    default:
        snprintf(buf, n, "%s", (const char *)field);
    }
    return buf;
}

/* ---- the file ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int key_syntax_ok(const char *k)
{
    if (!*k) return 0;
    for (; *k; k++)
        if (!(islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_')) return 0;
    return 1;
}

/* An unquoted value with a '#' at its start or after a space: a comment
 * written after the value, which the syntax does not have. */
static int comment_in(const char *v)
{
    for (const char *p = strchr(v, '#'); p; p = strchr(p + 1, '#'))
        if (p == v || isspace((unsigned char)p[-1])) return 1;
    return 0;
}

/* One line; `seen[i]` holds the line where key i was set (0 = not yet). */
static err_code apply_line(config *c, char *line, unsigned lineno, unsigned *seen, err *e)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#') return ERR_OK;
    char *eq = strchr(s, '=');
    if (!eq) return err_set(e, ERR_CONFIG, NULL, "expected 'key = value', got '%.60s'", s);
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (!key_syntax_ok(key))
        return err_set(e, ERR_CONFIG, NULL,
                       "expected 'key = value' with a key of a-z, 0-9 and '_', got '%.60s'", key);
    const config_key *k = config_key_find(key);
    if (!k) return err_set(e, ERR_CONFIG, key, "unknown key '%s'", key);
    size_t idx = (size_t)(k - keys);
    if (seen[idx])
        return err_set(e, ERR_CONFIG, key, "duplicate key '%s' (first set on line %u)", key,
                       seen[idx]);
    seen[idx] = lineno;
    size_t vn = strlen(value);
    if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
        value[vn - 1] = '\0';
        value++;
    } else if (vn >= 1 && value[0] == '"') {
        return err_set(e, ERR_CONFIG, key, "%s: expected a closing '\"'", key);
    } else if (comment_in(value)) {
        /* else `db = /var/lib/odeserve/odeserve.db  # main` would name
         * another file, silently */
        return err_set(e, ERR_CONFIG, key,
                       "%s: a '#' comment goes on a line of its own, got '%.60s' (quote the "
                       "value if the '#' belongs to it)",
                       key, value);
    }
    return config_set(c, key, value, e);
}

err_code config_file_apply(config *c, const char *path, err *e)
{
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, ERR_IO, NULL, "%s: cannot open: %s", path, strerror(errno));
    unsigned seen[N_KEYS] = {0};
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    err_code rc = ERR_OK;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        err le;
        err_clear(&le);
        if (apply_line(c, line, lineno, seen, &le) != ERR_OK) {
            rc = err_set(e, le.code, le.field, "%s:%u: %s", path, lineno, le.message);
            goto out;
        }
    }
    if (ferror(f)) rc = err_set(e, ERR_IO, NULL, "%s: cannot read: %s", path, strerror(errno));
out:
    free(line);
    fclose(f);
    return rc;
}

/* ---- environment and command line ---- */

static void env_name(const char *key, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "ODESERVE_");
    for (; *key && o + 1 < n; key++)
        buf[o++] = (char)toupper((unsigned char)*key);
    buf[o] = '\0';
}

err_code config_env_apply(config *c, err *e)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        char name[96];
        env_name(keys[i].name, name, sizeof name);
        const char *v = getenv(name);
        if (!v) continue;
        err le;
        err_clear(&le);
        if (config_set(c, keys[i].name, v, &le) != ERR_OK)
            return err_set(e, le.code, le.field, "environment %s: %s", name, le.message);
    }
    return ERR_OK;
}

/* "--log-level" -> the row for "log_level". */
static const config_key *key_for_option(const char *opt, size_t len)
{
    char name[96];
    if (len >= sizeof name) return NULL;
    for (size_t i = 0; i < len; i++)
        name[i] = opt[i] == '-' ? '_' : opt[i];
    name[len] = '\0';
    return config_key_find(name);
}

static err_code parse_option(int argc, char **argv, int *i, config_cli *cli, err *e)
{
    const char *arg = argv[*i], *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *value = eq ? eq + 1 : NULL;
    int *flag = NULL;
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) flag = &cli->help;
    if (strcmp(arg, "--version") == 0) flag = &cli->version;
    if (strcmp(arg, "--check-config") == 0) flag = &cli->check_config;
    if (flag) {
        *flag = 1;
        return ERR_OK;
    }
    const config_key *k = NULL;
    int is_config = strncmp(arg, "--config", 8) == 0 && len == 6;
    if (!is_config &&
        (strncmp(arg, "--", 2) != 0 || memchr(name, '_', len) || !(k = key_for_option(name, len))))
        return err_set(e, ERR_CONFIG, NULL, "unknown option '%s' (see --help)", arg);
    if (!value) {
        if (*i + 1 >= argc)
            return err_set(e, ERR_CONFIG, NULL, "option %.*s: expected a value", (int)len + 2, arg);
        value = argv[++*i];
    }
    if (is_config) {
        cli->config_file = value;
        return ERR_OK;
    }
    if (cli->n_set >= CONFIG_MAX_SET)
        return err_set(e, ERR_CONFIG, NULL, "too many options (at most %d)", CONFIG_MAX_SET);
    cli->set[cli->n_set].key = k->name;
    cli->set[cli->n_set].value = value;
    cli->n_set++;
    return ERR_OK;
}

static err_code token_arg(config_cli *cli, const char *arg, err *e)
{
    if (cli->n_args >= CONFIG_MAX_ARGS)
        return err_set(e, ERR_CONFIG, NULL, "token: too many arguments (at most %d)",
                       CONFIG_MAX_ARGS);
    cli->args[cli->n_args++] = arg;
    return ERR_OK;
}

/* The token command's own options; the value stays a separate word. */
static int token_option(const char *arg)
{
    static const char *const opts[] = {"--scope", "--name", "--expires", NULL};
    for (int i = 0; opts[i]; i++) {
        size_t n = strlen(opts[i]);
        if (strncmp(arg, opts[i], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) return 1;
    }
    return 0;
}

err_code config_args_parse(int argc, char **argv, config_cli *cli, err *e)
{
    memset(cli, 0, sizeof *cli);
    for (int i = 1; i < argc; i++) {
        if (cli->command && strcmp(cli->command, "token") == 0 && token_option(argv[i])) {
            if (token_arg(cli, argv[i], e) != ERR_OK) return ERR_CONFIG;
            if (!strchr(argv[i], '=')) {
                if (i + 1 >= argc)
                    return err_set(e, ERR_CONFIG, NULL, "option %s: expected a value", argv[i]);
                if (token_arg(cli, argv[++i], e) != ERR_OK) return ERR_CONFIG;
            }
        } else if (argv[i][0] == '-') {
            if (parse_option(argc, argv, &i, cli, e) != ERR_OK) return ERR_CONFIG;
        } else if (!cli->command && strcmp(argv[i], "migrate") == 0) {
            cli->command = "migrate";
        } else if (!cli->command && strcmp(argv[i], "token") == 0) {
            cli->command = "token";
        } else if (cli->command && strcmp(cli->command, "token") == 0) {
            if (token_arg(cli, argv[i], e) != ERR_OK) return ERR_CONFIG;
        } else {
            return err_set(e, ERR_CONFIG, NULL,
                           "unexpected argument '%s' (the commands are 'migrate' and 'token')",
                           argv[i]);
        }
    }
    return ERR_OK;
}

err_code config_load(config *c, const config_cli *cli, err *e)
{
    err_code rc;
    config_defaults(c);
    if (cli->config_file && (rc = config_file_apply(c, cli->config_file, e)) != ERR_OK) return rc;
    if ((rc = config_env_apply(c, e)) != ERR_OK) return rc;
    for (size_t i = 0; i < cli->n_set; i++) {
        err le;
        err_clear(&le);
        if (config_set(c, cli->set[i].key, cli->set[i].value, &le) != ERR_OK) {
            char opt[96];
            size_t j = 0;
            for (const char *p = cli->set[i].key; *p && j + 1 < sizeof opt; p++)
                opt[j++] = *p == '_' ? '-' : *p;
            opt[j] = '\0';
            return err_set(e, le.code, le.field, "option --%s: %s", opt, le.message);
        }
    }
    return ERR_OK;
}

void config_print_help(void *out, const char *argv0)
{
    FILE *f = out;
    fprintf(f,
            "usage: %s [--config FILE] [--listen ADDR:PORT] [--db PATH] [--log-level LEVEL]\n"
            "          [--check-config] [--version] [--help] [--KEY VALUE ...]\n"
            "       %s migrate --db PATH\n"
            "       %s token create --scope SCOPES --name NAME [--expires 30d] [--db PATH]\n"
            "       %s token list [--db PATH]\n"
            "       %s token revoke NAME|ID [--db PATH]\n\n"
            "  --config FILE     read settings from FILE (key = value lines)\n"
            "  --check-config    validate the settings and exit (0 = valid, 2 = invalid)\n"
            "  --version         print the version and exit\n"
            "  migrate           apply the database migrations and exit\n"
            "  token             API tokens in the database (docs/api.md#authentication):\n"
            "                    create prints a new token once (SCOPES: read, write,\n"
            "                    train, admin, comma-separated, or all); list; revoke.\n"
            "                    A running daemon sees the change at its next request\n\n"
            "Settings (command line > environment ODESERVE_<KEY> > file > default):\n",
            argv0, argv0, argv0, argv0, argv0);
    for (size_t i = 0; i < N_KEYS; i++) {
        char opt[96];
        size_t j = 0;
        for (const char *p = keys[i].name; *p && j + 1 < sizeof opt; p++)
            opt[j++] = *p == '_' ? '-' : *p;
        opt[j] = '\0';
        fprintf(f, "  --%-28s %s%s (default %s)\n", opt, keys[i].doc,
                keys[i].reloadable ? "; SIGHUP reloads it" : "", keys[i].def);
    }
}

void config_log(const config *c)
{
    char line[1800], v[CONFIG_STR_MAX], q[CONFIG_STR_MAX + 8];
    size_t o = 0;
    line[0] = '\0';
    for (size_t i = 0; i < N_KEYS && o < sizeof line; i++) {
        log_quote(q, sizeof q, config_format(c, &keys[i], v, sizeof v));
        o += (size_t)snprintf(line + o, sizeof line - o, "%s%s=%s", i ? " " : "", keys[i].name, q);
    }
    log_info("config", "%s", line);
}
