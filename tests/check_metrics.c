/* check_metrics: GET /metrics of the real odeserved.
 *
 * Every scrape is read twice: by a strict reader written here from the
 * text exposition format 0.0.4 (every line a HELP, a TYPE or a sample;
 * names [a-zA-Z_:][a-zA-Z0-9_:]*; TYPE before a family's samples; histogram
 * buckets increasing, cumulative, ending in +Inf equal to _count, with
 * _sum), which also checks the naming conventions (odeserve_ prefix,
 * counters ending in _total, times in _seconds, sizes in _bytes); and by
 * Prometheus' own parser (python3-prometheus-client, tests/metrics_check.py).
 * Then values that must move: requests by route template, method and status
 * go up by exactly the number made; a trajectory moves its model's latency
 * histogram and the evaluation and step histograms by the reply's own
 * stats; a full evaluation queue's 503 is counted as rejected; the model
 * label is capped. And the `metrics` setting (off, token). */
#include "build_config.h" /* autoconf: PACKAGE_VERSION */

#include <check.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static tu_daemon d;

static void start(const char *const *extra, const char *const *env)
{
    char spiral[1024];
    tu_source_path(spiral, sizeof spiral, "examples/spiral.json");
    const char *args[32] = {"--seed-models", spiral};
    size_t n = 2;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    memset(&d, 0, sizeof d);
    if (tu_daemon_start(&d, args, env) != 0) {
        char *log = tu_read_file(d.log, NULL);
        ck_abort_msg("daemon did not start; log:\n%s", log ? log : "(none)");
    }
}

static void stop_ok(void)
{
    ck_assert_int_eq(tu_daemon_kill(&d, SIGTERM), 0);
    ck_assert_int_eq(tu_daemon_wait(&d, 30.0), 0);
}

static void cleanup(void)
{
    tu_daemon_cleanup(&d);
}

/* ---- the strict reader ---- */

/* A broken rule fails the test, or, while reader_refuses() probes a text
 * that must be refused, returns there with the reason. */
static jmp_buf probe_jmp;
static int probing;
static char probe_why[256];

__attribute__((format(printf, 1, 2), noreturn)) static void reader_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(probe_why, sizeof probe_why, fmt, ap);
    va_end(ap);
    if (probing) longjmp(probe_jmp, 1);
    ck_abort_msg("%s", probe_why);
    abort(); /* not reached */
}

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) reader_fail(__VA_ARGS__);                                                     \
    } while (0)

#define MAX_SAMPLES 4096

typedef struct sample {
    char name[128];
    char labels[512]; /* as written between the braces, "" for none */
    double value;
} sample;

typedef struct family {
    char name[128];
    char type[16];
} family;

typedef struct scrape {
    sample *s;
    size_t n;
    family f[128];
    size_t nf;
} scrape;

static int name_ok(const char *p, size_t n, int colon)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int ok = isalpha((unsigned char)c) || c == '_' || (colon && c == ':') ||
                 (i > 0 && isdigit((unsigned char)c));
        if (!ok) return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static const family *family_of(const scrape *sc, const char *sample_name)
{
    for (size_t i = 0; i < sc->nf; i++) {
        const char *f = sc->f[i].name;
        size_t n = strlen(f);
        if (strncmp(sample_name, f, n) != 0) continue;
        const char *rest = sample_name + n;
        if (*rest == '\0') return &sc->f[i];
        if (strcmp(sc->f[i].type, "histogram") == 0 &&
            (!strcmp(rest, "_bucket") || !strcmp(rest, "_sum") || !strcmp(rest, "_count")))
            return &sc->f[i];
    }
    return NULL;
}

/* Read labels at p ('{' already consumed) up to '}': checks names, quoting
 * and escapes; copies the text into out. Returns the char after '}'. */
static const char *read_labels(const char *p, char *out, size_t n, int line)
{
    const char *start = p;
    while (*p != '}') {
        const char *k = p;
        while (*p && *p != '=')
            p++;
        REQUIRE(*p == '=' && name_ok(k, (size_t)(p - k), 0), "line %d: bad label name", line);
        REQUIRE(strncmp(k, "__", 2) != 0, "line %d: reserved label name", line);
        p++;
        REQUIRE(*p == '"', "line %d: label value not quoted", line);
        for (p++; *p != '"'; p++) {
            REQUIRE(*p && *p != '\n', "line %d: unterminated label value", line);
            if (*p == '\\') {
                p++;
                REQUIRE(*p == '\\' || *p == '"' || *p == 'n', "line %d: bad escape", line);
            }
        }
        p++;
        if (*p == ',')
            p++;
        else
            REQUIRE(*p == '}', "line %d: expected , or } after a label", line);
    }
    REQUIRE((size_t)(p - start) < n, "line %d: labels too long", line);
    memcpy(out, start, (size_t)(p - start));
    out[p - start] = '\0';
    return p + 1;
}

static double read_value(const char *p, int line)
{
    if (!strcmp(p, "+Inf")) return INFINITY;
    if (!strcmp(p, "-Inf")) return -INFINITY;
    if (!strcmp(p, "NaN")) return NAN;
    char *end;
    double v = strtod(p, &end);
    REQUIRE(end != p && *end == '\0', "line %d: bad value '%s'", line, p);
    return v;
}

/* The value of label `key` in a labels text, into buf; NULL when absent. */
static const char *label_get(const char *labels, const char *key, char *buf, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=\"", key);
    for (const char *p = labels; (p = strstr(p, pat)); p++) {
        if (p != labels && p[-1] != ',') continue;
        p += strlen(pat);
        const char *q = strchr(p, '"');
        snprintf(buf, n, "%.*s", (int)(q - p), p);
        return buf;
    }
    return NULL;
}

/* labels without le="..." */
static void labels_without_le(const char *labels, char *out, size_t n)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", labels);
    char *le = strstr(tmp, "le=\"");
    while (le && le != tmp && le[-1] != ',')
        le = strstr(le + 1, "le=\"");
    if (le) {
        char *q = strchr(le + 4, '"') + 1;
        if (*q == ',') q++;
        memmove(le, q, strlen(q) + 1);
        size_t m = strlen(tmp);
        if (m && tmp[m - 1] == ',') tmp[m - 1] = '\0';
    }
    snprintf(out, n, "%s", tmp);
}

static void check_histograms(const scrape *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        const sample *b = &sc->s[i];
        if (ends_with(b->name, "_sum")) { /* a histogram's: right after its +Inf bucket */
            const family *f = family_of(sc, b->name);
            if (!f || strcmp(f->type, "histogram") != 0) continue;
            char le[32], want[160];
            snprintf(want, sizeof want, "%s_bucket", f->name);
            REQUIRE(i > 0 && !strcmp(sc->s[i - 1].name, want) &&
                        label_get(sc->s[i - 1].labels, "le", le, sizeof le) && !strcmp(le, "+Inf"),
                    "%s{%s}: its buckets do not end in +Inf", f->name, b->labels);
            continue;
        }
        if (!ends_with(b->name, "_bucket")) continue;
        char le[32];
        REQUIRE(label_get(b->labels, "le", le, sizeof le), "%s without le", b->name);
        if (i > 0 && !strcmp(sc->s[i - 1].name, b->name)) {
            char a0[512], a1[512], le0[32];
            labels_without_le(sc->s[i - 1].labels, a0, sizeof a0);
            labels_without_le(b->labels, a1, sizeof a1);
            if (!strcmp(a0, a1)) {
                label_get(sc->s[i - 1].labels, "le", le0, sizeof le0);
                REQUIRE(read_value(le0, 0) < read_value(le, 0), "%s{%s}: le not increasing",
                        b->name, b->labels);
                REQUIRE(sc->s[i - 1].value <= b->value, "%s{%s}: not cumulative", b->name,
                        b->labels);
            }
        }
        if (strcmp(le, "+Inf") != 0) continue;
        /* the +Inf bucket: _sum and _count of the same series follow */
        char base[128], rest[512];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(b->name) - 7), b->name);
        labels_without_le(b->labels, rest, sizeof rest);
        REQUIRE(i + 2 < sc->n, "%s: no _sum/_count", base);
        char want_sum[160], want_count[160];
        snprintf(want_sum, sizeof want_sum, "%s_sum", base);
        snprintf(want_count, sizeof want_count, "%s_count", base);
        REQUIRE(!strcmp(sc->s[i + 1].name, want_sum), "%s: no _sum after +Inf", base);
        REQUIRE(!strcmp(sc->s[i + 1].labels, rest), "%s: _sum of other labels", base);
        REQUIRE(!strcmp(sc->s[i + 2].name, want_count), "%s: no _count after _sum", base);
        REQUIRE(!strcmp(sc->s[i + 2].labels, rest), "%s: _count of other labels", base);
        REQUIRE(sc->s[i + 2].value == b->value, "%s{%s}: +Inf %g != _count %g", base, rest,
                b->value, sc->s[i + 2].value);
    }
}

/* The naming conventions on every family. */
static void check_names(const scrape *sc)
{
    for (size_t i = 0; i < sc->nf; i++) {
        const family *f = &sc->f[i];
        REQUIRE(!strncmp(f->name, "odeserve_", 9) || !strncmp(f->name, "process_", 8),
                "%s: no odeserve_ prefix", f->name);
        if (!strcmp(f->type, "counter"))
            REQUIRE(ends_with(f->name, "_total"), "counter %s without _total", f->name);
        else
            REQUIRE(!ends_with(f->name, "_total"), "%s %s ends in _total", f->type, f->name);
        if (strstr(f->name, "duration") || strstr(f->name, "time"))
            REQUIRE(ends_with(f->name, "_seconds") || ends_with(f->name, "_seconds_total"),
                    "%s: a time not in _seconds", f->name);
        if (strstr(f->name, "size"))
            REQUIRE(ends_with(f->name, "_bytes"), "%s: a size not in _bytes", f->name);
    }
}

static void parse(scrape *sc, char *text)
{
    memset(sc, 0, sizeof *sc);
    sc->s = calloc(MAX_SAMPLES, sizeof *sc->s);
    REQUIRE(sc->s != NULL, "out of memory");
    size_t len = strlen(text);
    REQUIRE(len > 0 && text[len - 1] == '\n', "the text does not end in a newline");
    int line = 0;
    char help_for[128] = "";
    const family *current = NULL;
    for (char *p = text, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        *nl = '\0';
        line++;
        REQUIRE(*p != '\0', "line %d: empty", line);
        if (!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7)) {
            int is_type = p[2] == 'T';
            char *name = p + 7, *sp = strchr(name, ' ');
            REQUIRE(sp != NULL, "line %d: HELP/TYPE without text", line);
            REQUIRE(name_ok(name, (size_t)(sp - name), 1), "line %d: bad metric name", line);
            *sp = '\0';
            if (!is_type) {
                REQUIRE(strlen(sp + 1) > 0, "line %d: empty HELP", line);
                snprintf(help_for, sizeof help_for, "%s", name);
                continue;
            }
            REQUIRE(!strcmp(help_for, name), "line %d: TYPE %s without its HELP first", line, name);
            const char *t = sp + 1;
            REQUIRE(!strcmp(t, "counter") || !strcmp(t, "gauge") || !strcmp(t, "histogram") ||
                        !strcmp(t, "summary") || !strcmp(t, "untyped"),
                    "line %d: unknown type %s", line, t);
            for (size_t i = 0; i < sc->nf; i++)
                REQUIRE(strcmp(sc->f[i].name, name) != 0, "line %d: %s typed twice", line, name);
            REQUIRE(sc->nf < 128, "too many families");
            family *f = &sc->f[sc->nf++];
            snprintf(f->name, sizeof f->name, "%s", name);
            snprintf(f->type, sizeof f->type, "%s", t);
            current = f;
            continue;
        }
        REQUIRE(p[0] != '#', "line %d: a comment that is neither HELP nor TYPE", line);
        REQUIRE(sc->n < MAX_SAMPLES, "too many samples");
        sample *s = &sc->s[sc->n++];
        char *q = p;
        while (*q && *q != '{' && *q != ' ')
            q++;
        REQUIRE(name_ok(p, (size_t)(q - p), 1), "line %d: bad sample name", line);
        snprintf(s->name, sizeof s->name, "%.*s", (int)(q - p), p);
        if (*q == '{') q = (char *)read_labels(q + 1, s->labels, sizeof s->labels, line);
        REQUIRE(*q == ' ', "line %d: no space before the value", line);
        q++;
        char *ts = strchr(q, ' ');
        if (ts) { /* an optional timestamp: an integer */
            *ts = '\0';
            for (char *c = ts + 1; *c; c++)
                REQUIRE(isdigit((unsigned char)*c) || (c == ts + 1 && *c == '-'),
                        "line %d: bad timestamp", line);
        }
        s->value = read_value(q, line);
        REQUIRE(current && family_of(sc, s->name) == current,
                "line %d: sample %s outside its family's TYPE block", line, s->name);
    }
    /* a series written twice: Prometheus keeps the first and drops the rest */
    for (size_t i = 0; i < sc->n; i++)
        for (size_t j = i + 1; j < sc->n; j++)
            REQUIRE(strcmp(sc->s[i].name, sc->s[j].name) != 0 ||
                        strcmp(sc->s[i].labels, sc->s[j].labels) != 0,
                    "%s{%s} written twice", sc->s[i].name, sc->s[i].labels);
    check_histograms(sc);
    check_names(sc);
}

/* ---- the reader itself: it refuses what breaks the format ---- */

static void scrape_free(scrape *sc);

/* 1 when the strict reader refuses `text` (reason in probe_why). */
static int reader_refuses(const char *text)
{
    static scrape sc; /* static: survives the longjmp */
    static char *copy;
    copy = strdup(text);
    memset(&sc, 0, sizeof sc);
    probing = 1;
    int refused = 0;
    if (setjmp(probe_jmp) == 0)
        parse(&sc, copy);
    else
        refused = 1;
    probing = 0;
    free(sc.s);
    free(copy);
    return refused;
}

#define H "# HELP odeserve_x_seconds h\n# TYPE odeserve_x_seconds histogram\n"
#define C "# HELP odeserve_n_total h\n# TYPE odeserve_n_total counter\n"

START_TEST(reader_refuses_broken_text)
{
    const char *good =
        C "odeserve_n_total{a=\"x\\\"y\"} 3\n" H "odeserve_x_seconds_bucket{le=\"1\"} 1\n"
          "odeserve_x_seconds_bucket{le=\"+Inf\"} 2\n"
          "odeserve_x_seconds_sum 1.5\nodeserve_x_seconds_count 2\n";
    ck_assert_msg(!reader_refuses(good), "a good text refused: %s", probe_why);
    const char *bad[] = {
        C "odeserve_n_total 3",     /* no final newline */
        C "\nodeserve_n_total 3\n", /* an empty line */
        C "# just a comment\nodeserve_n_total 3\n",
        C "odeserve_n_total{a=x} 3\n",                                    /* unquoted label value */
        C "odeserve_n_total{a=\"x\\q\"} 3\n",                             /* bad escape */
        C "odeserve_n_total{1a=\"x\"} 3\n",                               /* bad label name */
        C "odeserve-n_total 3\n",                                         /* bad metric name */
        C "odeserve_n_total three\n",                                     /* bad value */
        "odeserve_n_total 3\n",                                           /* no TYPE */
        "# TYPE odeserve_n_total counter\nodeserve_n_total 3\n",          /* TYPE without HELP */
        C C "odeserve_n_total 3\n",                                       /* typed twice */
        C "odeserve_other_total 3\n",                                     /* outside its family */
        "# HELP odeserve_n h\n# TYPE odeserve_n counter\nodeserve_n 3\n", /* no _total */
        "# HELP n_total h\n# TYPE n_total counter\nn_total 3\n",          /* no prefix */
        "# HELP odeserve_wait_time h\n# TYPE odeserve_wait_time gauge\nodeserve_wait_time 1\n",
        "# HELP odeserve_db_size h\n# TYPE odeserve_db_size gauge\nodeserve_db_size 1\n",
        H "odeserve_x_seconds_bucket{le=\"1\"} 3\nodeserve_x_seconds_bucket{le=\"+Inf\"} 2\n"
          "odeserve_x_seconds_sum 1\nodeserve_x_seconds_count 2\n", /* not cumulative */
        H "odeserve_x_seconds_bucket{le=\"2\"} 1\nodeserve_x_seconds_bucket{le=\"1\"} 1\n"
          "odeserve_x_seconds_bucket{le=\"+Inf\"} 1\n"
          "odeserve_x_seconds_sum 1\nodeserve_x_seconds_count 1\n", /* le decreasing */
        H "odeserve_x_seconds_bucket{le=\"+Inf\"} 2\n"
          "odeserve_x_seconds_sum 1\nodeserve_x_seconds_count 3\n", /* +Inf != _count */
        H "odeserve_x_seconds_bucket{le=\"+Inf\"} 2\nodeserve_x_seconds_count 2\n", /* no _sum */
        H "odeserve_x_seconds_bucket{le=\"1\"} 2\n"
          "odeserve_x_seconds_sum 1\nodeserve_x_seconds_count 2\n", /* no +Inf */
        C "odeserve_n_total{a=\"x\"} 3\nodeserve_n_total{a=\"x\"} 4\n", /* one series twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(reader_refuses(bad[i]), "broken text %zu accepted:\n%s", i, bad[i]);
}
END_TEST

static void scrape_free(scrape *sc)
{
    free(sc->s);
    sc->s = NULL;
}

/* The value of name{labels}; NAN when absent. */
static double value(const scrape *sc, const char *name, const char *labels)
{
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->s[i].name, name) && !strcmp(sc->s[i].labels, labels ? labels : ""))
            return sc->s[i].value;
    return NAN;
}

/* 0 when absent: a labelled series appears once it has counted something. */
static double count(const scrape *sc, const char *name, const char *labels)
{
    double v = value(sc, name, labels);
    return isnan(v) ? 0 : v;
}

static int have_python_parser(void)
{
    return system("/usr/bin/python3 -c 'import prometheus_client.parser' >/dev/null 2>&1") == 0;
}

/* Prometheus' own parser on the text; returns its summary (families). */
static json_t *python_check(const char *text)
{
    char in[400], out[400], cmd[2048], script[1024];
    snprintf(in, sizeof in, "%s/metrics.txt", d.dir);
    snprintf(out, sizeof out, "%s/metrics.json", d.dir);
    ck_assert_int_eq(tu_write_file(in, text), 0);
    tu_source_path(script, sizeof script, "tests/metrics_check.py");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' <'%s' >'%s'", script, in, out);
    ck_assert_msg(system(cmd) == 0, "Prometheus' parser refused the text (see stderr)");
    char *j = tu_read_file(out, NULL);
    json_error_t je;
    json_t *v = json_loads(j, 0, &je);
    free(j);
    ck_assert_ptr_nonnull(v);
    return v;
}

/* GET /metrics, checked by both readers. */
static void get(scrape *sc)
{
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", NULL, NULL, &r), 0);
    ck_assert_msg(r.status == 200, "status %d: %s", r.status, r.body);
    char ct[128];
    ck_assert_str_eq(tu_header(&r, "Content-Type", ct, sizeof ct),
                     "text/plain; version=0.0.4; charset=utf-8");
    if (have_python_parser()) json_decref(python_check(r.body));
    parse(sc, r.body);
    tu_response_free(&r);
}

/* Scrape until name{labels} reaches `want` (a request is counted when it
 * completes, which may be just after its client has the reply), at most
 * 30 s (a sanitized daemon on a loaded machine is slow to get there);
 * then it must equal `want` exactly. The last scrape stays in *sc. */
static void expect_count(scrape *sc, const char *name, const char *labels, double want)
{
    for (int i = 0; i < 600; i++) {
        get(sc);
        double v = count(sc, name, labels);
        ck_assert_msg(v <= want, "%s{%s} = %g, more than %g", name, labels ? labels : "", v, want);
        if (v == want) return;
        scrape_free(sc);
        usleep(50000);
    }
    get(sc);
    ck_assert_msg(count(sc, name, labels) == want, "%s{%s} = %g, want %g", name,
                  labels ? labels : "", count(sc, name, labels), want);
}

typedef struct move {
    const char *name, *labels;
    double by; /* how much name{labels} must have moved since the first scrape */
} move;

/* Scrape into *b until every move is reached (requests are counted as they
 * complete, a moment after their clients have the replies), at most 30 s;
 * then each must be exact. */
static void expect_moves(const scrape *a, scrape *b, const move *m, size_t n)
{
    for (int round = 0; round < 600; round++) {
        get(b);
        size_t reached = 0;
        for (size_t i = 0; i < n; i++) {
            double by = count(b, m[i].name, m[i].labels) - count(a, m[i].name, m[i].labels);
            ck_assert_msg(by <= m[i].by, "%s{%s} moved by %g, more than %g", m[i].name, m[i].labels,
                          by, m[i].by);
            reached += by == m[i].by;
        }
        if (reached == n) return;
        scrape_free(b);
        usleep(50000);
    }
    get(b);
    for (size_t i = 0; i < n; i++) {
        double by = count(b, m[i].name, m[i].labels) - count(a, m[i].name, m[i].labels);
        ck_assert_msg(by == m[i].by, "%s{%s} moved by %g, want %g", m[i].name, m[i].labels, by,
                      m[i].by);
    }
}

static void http_expect(const char *method, const char *path, const char *body, int status,
                        json_t **reply)
{
    tu_response r;
    const char *h[] = {"Content-Type: application/json", NULL};
    ck_assert_int_eq(tu_http(d.port, method, path, body ? h : NULL, body, &r), 0);
    ck_assert_msg(r.status == status, "%s %s: %d, want %d: %s", method, path, r.status, status,
                  r.body);
    if (reply) *reply = json_loads(r.body, 0, NULL);
    tu_response_free(&r);
}

/* ---- core ---- */

START_TEST(text_parses_and_names_hold)
{
    start(NULL, NULL);
    http_expect("GET", "/healthz", NULL, 200, NULL);
    http_expect("POST", "/v1/models/spiral/trajectory", "{\"y0\": [2, 0], \"t\": [1, 2]}", 200,
                NULL);
    scrape sc;
    expect_count(&sc, "odeserve_http_requests_total",
                 "route=\"/v1/models/{name}/trajectory\",method=\"POST\",status=\"200\"", 1);
    if (have_python_parser()) {
        tu_response r;
        ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", NULL, NULL, &r), 0);
        json_t *fams = python_check(r.body);
        tu_response_free(&r);
        const char *want[][2] = {
            {"odeserve_http_requests", "counter"},
            {"odeserve_http_request_duration_seconds", "histogram"},
            {"odeserve_model_request_duration_seconds", "histogram"},
            {"odeserve_solve_function_evaluations", "histogram"},
            {"odeserve_solve_steps", "histogram"},
            {"odeserve_http_requests_in_flight", "gauge"},
            {"odeserve_eval_queue_depth", "gauge"},
            {"odeserve_eval_queue_limit", "gauge"},
            {"odeserve_solves", "counter"},
            {"odeserve_http_rejected", "counter"},
            {"odeserve_model_cache_hits", "counter"},
            {"odeserve_model_cache_misses", "counter"},
            {"odeserve_training_jobs", "gauge"},
            {"odeserve_training_iterations_per_second", "gauge"},
            {"odeserve_database_size_bytes", "gauge"},
            {"odeserve_auth_failures", "counter"},
            {"odeserve_build_info", "gauge"},
            {"process_start_time_seconds", "gauge"},
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            json_t *f = json_object_get(fams, want[i][0]);
            ck_assert_msg(f != NULL, "Prometheus' parser found no family %s", want[i][0]);
            ck_assert_str_eq(json_string_value(json_object_get(f, "type")), want[i][1]);
        }
        json_decref(fams);
    } else {
        fprintf(stderr, "check_metrics: /usr/bin/python3 has no prometheus_client "
                        "(apt-get install python3-prometheus-client); the strict reader alone\n");
    }
    char lv[128];
    snprintf(lv, sizeof lv, "version=\"%s\"", PACKAGE_VERSION);
    ck_assert(value(&sc, "odeserve_build_info", lv) == 1);
    double started = value(&sc, "process_start_time_seconds", NULL);
    double now = (double)time(NULL);
    ck_assert_msg(started > now - 300 && started <= now + 1, "start time %f, now %f", started, now);
    ck_assert(value(&sc, "odeserve_database_size_bytes", NULL) > 0);
    ck_assert(value(&sc, "odeserve_eval_queue_limit", NULL) == 256); /* the default */
    ck_assert(value(&sc, "odeserve_eval_queue_depth", NULL) == 0);
    ck_assert(value(&sc, "odeserve_http_requests_in_flight", NULL) >= 1); /* this scrape */
    const char *states[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (size_t i = 0; i < 5; i++) {
        char l[64];
        snprintf(l, sizeof l, "state=\"%s\"", states[i]);
        ck_assert(value(&sc, "odeserve_training_jobs", l) == 0);
    }
    scrape_free(&sc);
    stop_ok();
}
END_TEST

START_TEST(counts_move_by_exactly_the_requests_made)
{
    start(NULL, NULL);
    scrape a, b;
    get(&a);
    const char *traj = "/v1/models/spiral/trajectory";
    for (int i = 0; i < 3; i++)
        http_expect("GET", "/healthz", NULL, 200, NULL);
    for (int i = 0; i < 2; i++)
        http_expect("GET", "/no/such/thing", NULL, 404, NULL);
    http_expect("POST", "/healthz", "{}", 405, NULL);
    json_t *ok = NULL;
    http_expect("POST", traj, "{\"y0\": [2.0, 0.0], \"t\": [0.5, 3.1, 0.2]}", 200, &ok);
    http_expect("POST", traj, "{\"y0\": [2.0, 0.0, 1.0], \"t\": [1]}", 422, NULL);
    http_expect("POST", "/v1/models/nosuchmodel/trajectory", "{\"y0\": [2, 0], \"t\": [1]}", 404,
                NULL);
    http_expect("GET", "/v1/models/spiral/versions/1", NULL, 200, NULL);
    /* two routes of one pattern: one latency series, counting both */
    http_expect("GET", "/v1/models/nosuchmodel", NULL, 404, NULL);
    http_expect("DELETE", "/v1/models/nosuchmodel", NULL, 404, NULL);

    const char *req = "odeserve_http_requests_total";
    const char *traj200 = "route=\"/v1/models/{name}/trajectory\",method=\"POST\",status=\"200\"";
    const char *lat = "odeserve_http_request_duration_seconds_count";
    const char *mlat = "odeserve_model_request_duration_seconds_count";
    const move moves[] = {
        {req, "route=\"/healthz\",method=\"GET\",status=\"200\"", 3},
        {req, "route=\"unmatched\",method=\"GET\",status=\"404\"", 2},
        {req, "route=\"unmatched\",method=\"POST\",status=\"405\"", 1},
        {req, traj200, 1},
        {req, "route=\"/v1/models/{name}/trajectory\",method=\"POST\",status=\"422\"", 1},
        {req, "route=\"/v1/models/{name}/trajectory\",method=\"POST\",status=\"404\"", 1},
        {req, "route=\"/v1/models/{name}/versions/{v}\",method=\"GET\",status=\"200\"", 1},
        /* latency by route: one observation per request */
        {lat, "route=\"/healthz\"", 3},
        {lat, "route=\"unmatched\"", 3},
        {lat, "route=\"/v1/models/{name}/trajectory\"", 3},
        /* by model: both requests that reached the spiral model (the 422 too) */
        {mlat, "model=\"spiral\"", 2},
        {req, "route=\"/v1/models/{name}\",method=\"GET\",status=\"404\"", 1},
        {req, "route=\"/v1/models/{name}\",method=\"DELETE\",status=\"404\"", 1},
        {lat, "route=\"/v1/models/{name}\"", 2},
    };
    expect_moves(&a, &b, moves, sizeof moves / sizeof moves[0]);
    ck_assert(isnan(value(&b, mlat, "model=\"nosuchmodel\"")));
    ck_assert(value(&b, "odeserve_model_request_duration_seconds_sum", "model=\"spiral\"") > 0);
    /* evaluations and steps: the one solve, by the reply's own stats */
    json_t *stats = json_object_get(ok, "stats");
    ck_assert_ptr_nonnull(stats);
    double nfe = json_number_value(json_object_get(stats, "nfe"));
    double steps = json_number_value(json_object_get(stats, "steps"));
    ck_assert(nfe > 0 && steps > 0);
    const char *m = "model=\"spiral\"";
    ck_assert(count(&b, "odeserve_solve_function_evaluations_count", m) -
                  count(&a, "odeserve_solve_function_evaluations_count", m) ==
              1);
    ck_assert(count(&b, "odeserve_solve_function_evaluations_sum", m) -
                  count(&a, "odeserve_solve_function_evaluations_sum", m) ==
              nfe);
    ck_assert(count(&b, "odeserve_solve_steps_sum", m) - count(&a, "odeserve_solve_steps_sum", m) ==
              steps);
    double solves_a = count(&a, "odeserve_solves_total", "where=\"inline\"") +
                      count(&a, "odeserve_solves_total", "where=\"pool\"");
    double solves_b = count(&b, "odeserve_solves_total", "where=\"inline\"") +
                      count(&b, "odeserve_solves_total", "where=\"pool\"");
    ck_assert(solves_b - solves_a == 1);
    /* two lookups of spiral in the cache (the 422 is after the lookup) */
    double look_a = count(&a, "odeserve_model_cache_hits_total", NULL) +
                    count(&a, "odeserve_model_cache_misses_total", NULL);
    double look_b = count(&b, "odeserve_model_cache_hits_total", NULL) +
                    count(&b, "odeserve_model_cache_misses_total", NULL);
    ck_assert_msg(look_b - look_a >= 2, "cache lookups moved by %g", look_b - look_a);
    ck_assert(count(&b, "odeserve_model_cache_hits_total", NULL) >= 1);
    json_decref(ok);
    scrape_free(&a);
    scrape_free(&b);
    stop_ok();
}
END_TEST

/* A full evaluation queue: every 503 it gives is counted as rejected. */
START_TEST(queue_full_503_is_counted)
{
    const char *args[] = {"--eval-threads", "1", "--eval-queue-limit", "1", "--log-level",
                          "debug",          NULL};
    const char *env[] = {"ODESERVE_TEST_ROUTES=1", NULL};
    start(args, env);
    scrape a;
    get(&a);
    ck_assert(value(&a, "odeserve_eval_queue_limit", NULL) == 1);
    ck_assert(value(&a, "odeserve_eval_threads", NULL) == 1);
    ck_assert(value(&a, "odeserve_http_rejected_total", "status=\"503\"") == 0);
    tu_conn *c1 = tu_connect("127.0.0.1", d.port), *c2 = tu_connect("127.0.0.1", d.port);
    const char *h1[] = {"X-Request-Id: m-a", NULL}, *h2[] = {"X-Request-Id: m-b", NULL};
    ck_assert_int_eq(tu_send(c1, "GET", "/v1/test/eval?ms=5000", h1, NULL, 0), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=test_sleep_start request_id=m-a", 30), 0);
    ck_assert_int_eq(tu_send(c2, "GET", "/v1/test/eval?ms=10", h2, NULL, 0), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=deferred request_id=m-b", 30), 0);
    scrape b;
    get(&b); /* one running, one waiting */
    ck_assert(value(&b, "odeserve_eval_queue_depth", NULL) == 1);
    ck_assert(value(&b, "odeserve_eval_running", NULL) == 1);
    scrape_free(&b);
    for (int i = 0; i < 2; i++)
        http_expect("GET", "/v1/test/eval?ms=10", NULL, 503, NULL);
    expect_count(&b, "odeserve_http_rejected_total", "status=\"503\"", 2);
    scrape_free(&b);
    /* counted when each completes, which may be a moment after the rejection */
    expect_count(&b, "odeserve_http_requests_total",
                 "route=\"/v1/test/eval\",method=\"GET\",status=\"503\"", 2);
    tu_response r;
    ck_assert_int_eq(tu_recv(c1, &r, 15.0), 0);
    tu_response_free(&r);
    ck_assert_int_eq(tu_recv(c2, &r, 15.0), 0);
    tu_response_free(&r);
    tu_close(c1);
    tu_close(c2);
    scrape_free(&a);
    scrape_free(&b);
    stop_ok();
}
END_TEST

/* Training jobs by state, and iterations per second while one runs. */
START_TEST(training_jobs_by_state)
{
    const char *args[] = {"--checkpoint-every-iterations", "5", NULL};
    start(args, NULL);
    http_expect("POST", "/v1/datasets/turns",
                "{\"series\": ["
                "{\"t\": [0.0, 0.4, 1.1, 1.5], \"y\": [[1.0, 0.0], [0.92, 0.4], [0.45, 0.89], "
                "[0.07, 1.0]], \"label\": 1},"
                "{\"t\": [0.0, 0.5, 0.9, 1.6], \"y\": [[1.0, 0.0], [0.88, -0.48], [0.6, -0.78], "
                "[-0.03, -1.0]], \"label\": 0}]}",
                201, NULL);
    http_expect("POST", "/v1/jobs",
                "{\"model\": \"turns\", \"dataset\": \"turns\", \"init\": {\"kind\": \"cde\", "
                "\"input_channels\": 3, \"hidden_dim\": 4, \"channels\": {\"time\": true}, "
                "\"interpolation\": \"linear\", \"vector_field\": {\"hidden\": [16], "
                "\"activation\": \"relu\"}, \"readout\": {\"hidden\": [], \"out\": 2}}, "
                "\"objective\": {\"loss\": \"cross_entropy\"}, \"optimizer\": {\"name\": "
                "\"adam\", \"lr\": 0.01}, \"iterations\": 100000000, \"gradient\": "
                "\"backprop\", \"seed\": 1}",
                202, NULL);
    /* running, and past a checkpoint: iterations per second > 0 */
    scrape sc;
    int seen = 0;
    for (int i = 0; i < 1200 && !seen; i++) {
        get(&sc);
        seen = value(&sc, "odeserve_training_jobs", "state=\"running\"") == 1 &&
               value(&sc, "odeserve_training_iterations_per_second", NULL) > 0;
        if (!seen) {
            scrape_free(&sc);
            usleep(50000);
        }
    }
    ck_assert_msg(seen, "no running job with iterations per second > 0 within 60 s");
    ck_assert(value(&sc, "odeserve_training_jobs", "state=\"queued\"") == 0);
    scrape_free(&sc);
    http_expect("POST", "/v1/jobs/1/cancel", NULL, 202, NULL);
    expect_count(&sc, "odeserve_training_jobs", "state=\"cancelled\"", 1);
    ck_assert(value(&sc, "odeserve_training_jobs", "state=\"running\"") == 0);
    ck_assert(value(&sc, "odeserve_training_iterations_per_second", NULL) == 0);
    scrape_free(&sc);
    stop_ok();
}
END_TEST

/* ---- limits ---- */

/* The model label is capped: past METRICS_MODELS_MAX (64) names, "_other". */
START_TEST(model_labels_are_capped)
{
    start(NULL, NULL);
    char path[1024];
    char *doc = tu_read_file(tu_source_path(path, sizeof path, "examples/spiral.json"), NULL);
    ck_assert_ptr_nonnull(doc);
    const int n = 66;
    for (int i = 0; i < n; i++) {
        char p[128];
        snprintf(p, sizeof p, "/v1/models/m%02d/versions", i);
        http_expect("POST", p, doc, 201, NULL);
        snprintf(p, sizeof p, "/v1/models/m%02d/trajectory", i);
        http_expect("POST", p, "{\"y0\": [2, 0], \"t\": [1]}", 200, NULL);
    }
    free(doc);
    scrape sc;
    expect_count(&sc, "odeserve_model_request_duration_seconds_count", "model=\"_other\"", 2);
    size_t labels = 0;
    for (size_t i = 0; i < sc.n; i++)
        if (!strcmp(sc.s[i].name, "odeserve_model_request_duration_seconds_count")) labels++;
    ck_assert_uint_eq(labels, 65); /* 64 names and _other */
    ck_assert(value(&sc, "odeserve_model_request_duration_seconds_count", "model=\"m63\"") == 1);
    ck_assert(isnan(value(&sc, "odeserve_model_request_duration_seconds_count", "model=\"m64\"")));
    ck_assert(value(&sc, "odeserve_solve_steps_count", "model=\"_other\"") == 2);
    scrape_free(&sc);
    stop_ok();
}
END_TEST

/* ---- errors: the setting ---- */

/* `odeserved token create` on the database at `db`: the token (malloc'd). */
static char *token_create(const char *db, const char *scope, const char *name)
{
    const char *const args[] = {"token", "create", "--scope", scope, "--name", name,
                                "--db",  db,       NULL};
    char *out = NULL;
    int st = tu_run_daemon(args, NULL, &out);
    ck_assert_msg(st == 0, "token create exited %d: %s", st, out ? out : "");
    const char *p = out; /* the line the token is on, alone */
    while (p && strncmp(p, "ods_", 4) != 0)
        if ((p = strchr(p, '\n'))) p++;
    ck_assert_msg(p != NULL, "no token line in: %s", out);
    char *tok = strndup(p, strcspn(p, "\n"));
    free(out);
    return tok;
}

START_TEST(metrics_off_and_token)
{
    const char *off[] = {"--metrics", "off", NULL};
    start(off, NULL);
    tu_response r;
    ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_nonnull(strstr(r.body, "\"code\":\"not_found\""));
    ck_assert_ptr_nonnull(strstr(r.body, "metrics = off"));
    tu_response_free(&r);
    /* SIGHUP applies a change of the setting */
    char conf[400];
    snprintf(conf, sizeof conf, "%s/odeserve.conf", d.dir);
    stop_ok();
    cleanup();
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(tu_daemon_init(&d), 0);
    snprintf(conf, sizeof conf, "%s/odeserve.conf", d.dir);
    ck_assert_int_eq(tu_write_file(conf, "metrics = token\n"), 0);
    /* a token with the read scope, and one without it, made by the CLI on
     * the database the daemon will use (the daemon runs with auth off:
     * metrics = token asks for a token whatever the policy) */
    char dbpath[sizeof d.db], dir[sizeof d.dir];
    snprintf(dbpath, sizeof dbpath, "%s", d.db); /* start() makes a new directory */
    snprintf(dir, sizeof dir, "%s", d.dir);
    char *tok_read = token_create(dbpath, "read", "scraper");
    char *tok_write = token_create(dbpath, "write", "writer");
    const char *tok[] = {"--config", conf, "--db", dbpath, NULL};
    start(tok, NULL);
    ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 401);
    tu_response_free(&r);
    char h[256];
    snprintf(h, sizeof h, "Authorization: Bearer %s", tok_write);
    const char *hw[] = {h, NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", hw, NULL, &r), 0);
    ck_assert_msg(r.status == 403, "%d: %s", r.status, r.body);
    tu_response_free(&r);
    snprintf(h, sizeof h, "Authorization: Bearer %s", tok_read);
    const char *hr[] = {h, NULL};
    ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", hr, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    /* the refusals just made are counted */
    ck_assert_ptr_nonnull(strstr(r.body, "odeserve_auth_failures_total{status=\"401\"} 1"));
    ck_assert_ptr_nonnull(strstr(r.body, "odeserve_auth_failures_total{status=\"403\"} 1"));
    tu_response_free(&r);
    free(tok_read);
    free(tok_write);
    ck_assert_int_eq(tu_write_file(conf, "metrics = open\n"), 0);
    ck_assert_int_eq(tu_daemon_kill(&d, SIGHUP), 0);
    ck_assert_int_eq(tu_wait_log(&d, "event=reloaded", 30), 0);
    ck_assert_int_eq(tu_http(d.port, "GET", "/metrics", NULL, NULL, &r), 0);
    ck_assert_int_eq(r.status, 200);
    tu_response_free(&r);
    stop_ok();
    tu_rmtree(dir);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, NULL, cleanup);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, reader_refuses_broken_text);
    tcase_add_test(core, text_parses_and_names_hold);
    tcase_add_test(core, counts_move_by_exactly_the_requests_made);
    tcase_add_test(core, queue_full_503_is_counted);
    tcase_add_test(core, training_jobs_by_state);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, NULL, cleanup);
    tcase_set_timeout(limits, 300);
    tcase_add_test(limits, model_labels_are_capped);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, NULL, cleanup);
    tcase_set_timeout(errors, 120);
    tcase_add_test(errors, metrics_off_and_token);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_suite_run(metrics_suite());
}
