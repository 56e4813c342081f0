/* bench_codec: the request parser's number reading, single-threaded.
 *
 * Reads a JSON request (a file argument, or stdin: e.g.
 *     bench/bench_solve --print-request | bench/bench_codec
 * times W1's single-trajectory request, ~100 shortest round-trip numbers of
 * 16-17 digits) and prints one JSON object per line, medians over --reps
 * timed runs after a warm-up, each run repeating for at least ~20 ms:
 *   codec_numbers   ns per number token of the request: "strtod_ns", glibc's
 *                   strtod on a NUL-terminated copy (what codec_parse did
 *                   before codec_strtod), "codec_strtod_ns" (what it does
 *                   now), and their ratio;
 *   codec_parse     the whole request through codec_parse (jansson tree
 *                   built and freed): median_us, median_cpu_us;
 *   codec_parse_decode  for a request of a 2-state model (W1's): what the
 *                   v1 trajectory route does before the solve, the parse
 *                   with "t" and "y0" packed and codec_request_ode_decode;
 *   codec_num_write ns per number written (the reply's numbers are of the
 *                   same kind): "request_ns", the request's own numbers
 *                   written back; "random_ns", doubles of random bits
 *                   (exponents over the whole normal range); "integers_ns",
 *                   small integral values (0.0 .. 999.0, the trailing-zero
 *                   case).
 * With --reply REPLY.json (a trajectory reply as the daemon sent it, e.g.
 * curl's output for W1's request; see bench/http_overhead.sh) it times the
 * reply itself instead, as the daemon writes it, and checks the text is the
 * file's byte for byte:
 *   codec_reply     one codec_request_ode_reply_ev into a fresh jbuf, taken
 *                   and freed (what a request pays): "hot_us" back to back,
 *                   "cold_us" with 4 MiB of other data touched before each
 *                   (the solve, the kernel's copies and the client run
 *                   between two replies on a core), "after_syscall_us"
 *                   with a getppid() before each (less that call's
 *                   "syscall_us": the kernel entered between two replies,
 *                   as recv and send are), "hot_ns_per_number",
 *                   "cold_ns_per_number", and "codec_num_write_ns" for the
 *                   same numbers written into one small buffer.
 * Run from the build tree (make builds it). */
#include "bench_util.h" /* next to this file */
#include "codec/codec_num.h"
#include "codec/codec_parse.h"
#include "codec/codec_request.h"
#include "codec/codec_strtod.h"
#include "core/clock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIN_RUN_S 0.02
#define MAX_TOKENS 100000

typedef struct token {
    const char *s;
    size_t len;
} token;

static volatile double sink;

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *more = realloc(buf, cap *= 2);
        if (!more) free(buf);
        buf = more;
    }
    *len = n;
    return buf;
}

/* The number tokens of a JSON text (outside strings). */
static size_t find_numbers(const char *s, size_t n, token *out, size_t max)
{
    size_t k = 0;
    int in_string = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        if (in_string) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_string = 0;
            continue;
        }
        if (s[i] == '"') {
            in_string = 1;
        } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
            size_t j = i;
            while (j < n && strchr("0123456789+-.eE", s[j]) && s[j])
                j++;
            out[k++] = (token){s + i, j - i};
            i = j - 1;
        }
    }
    return k;
}

static void read_with_strtod(const token *t, size_t k)
{
    double acc = 0;
    for (size_t i = 0; i < k; i++) {
        char local[64];
        size_t n = t[i].len < sizeof local ? t[i].len : sizeof local - 1;
        memcpy(local, t[i].s, n);
        local[n] = '\0';
        acc += strtod(local, NULL);
    }
    sink = acc;
}

static void read_with_codec(const token *t, size_t k)
{
    double acc = 0, x;
    for (size_t i = 0; i < k; i++)
        if (codec_strtod(t[i].s, t[i].len, &x) == 0) acc += x;
    sink = acc;
}

static const char *parse_text;
static size_t parse_len;

static void parse_once(const token *t, size_t k)
{
    (void)t, (void)k;
    json_t *j = NULL;
    err e;
    err_clear(&e);
    if (codec_parse(parse_text, parse_len, &j, &e) != ERR_OK) {
        fprintf(stderr, "bench_codec: %s\n", e.message);
        exit(1);
    }
    json_decref(j);
}

/* What the v1 trajectory route does with W1's body before its solve:
 * parsed with "t" and "y0" packed, then decoded for a 2-state model. */
static void parse_decode_once(const token *t, size_t k)
{
    (void)t, (void)k;
    static const char *const keys[] = {"t", "y0", NULL};
    json_t *j = NULL;
    err e;
    err_clear(&e);
    codec_request_ode q;
    if (codec_parse_packed(parse_text, parse_len, keys, CODEC_PARSE_PACK_MIN, &j, &e) != ERR_OK ||
        codec_request_ode_decode(j, 2, &q, &e) != ERR_OK) {
        fprintf(stderr, "bench_codec: %s\n", e.message);
        exit(1);
    }
    sink = q.t[q.n_t - 1];
    codec_request_ode_free(&q);
    json_decref(j);
}

/* Median wall and CPU seconds of one call of fn. */
static void time_fn(void (*fn)(const token *, size_t), const token *t, size_t k, int reps,
                    double *wall_s, double *cpu_s)
{
    fn(t, k); /* warm-up */
    double t0 = clock_mono();
    fn(t, k);
    double once = clock_mono() - t0;
    int inner = once < MIN_RUN_S ? (int)(MIN_RUN_S / (once > 1e-8 ? once : 1e-8)) + 1 : 1;
    double wall[reps], cpu[reps];
    for (int r = 0; r < reps; r++) {
        double c0 = bench_cpu_now();
        t0 = clock_mono();
        for (int i = 0; i < inner; i++)
            fn(t, k);
        wall[r] = (clock_mono() - t0) / inner;
        cpu[r] = (bench_cpu_now() - c0) / inner;
    }
    qsort(wall, (size_t)reps, sizeof *wall, bench_cmp_double);
    qsort(cpu, (size_t)reps, sizeof *cpu, bench_cmp_double);
    *wall_s = wall[reps / 2];
    *cpu_s = cpu[reps / 2];
}

/* The doubles codec_num_write is timed on (write_numbers). */
static double *write_vals;
static size_t write_n;

static void write_numbers(const token *t, size_t k)
{
    (void)t, (void)k;
    char buf[CODEC_NUM_MAX];
    size_t acc = 0;
    for (size_t i = 0; i < write_n; i++)
        acc += codec_num_write(buf, write_vals[i]) + (unsigned char)buf[0];
    sink = (double)acc;
}

/* Median CPU ns per codec_num_write of the n doubles in v. */
static double time_writes(double *v, size_t n, int reps)
{
    double w, c;
    write_vals = v;
    write_n = n;
    time_fn(write_numbers, NULL, 0, reps, &w, &c);
    return 1e9 * c / (double)(n ? n : 1);
}

/* ---- --reply: a trajectory reply as the daemon writes it ---- */

static const char *reply_model;
static int reply_version;
static codec_request_ode reply_q;
static const double *reply_y;
static size_t reply_od;
static codec_request_stats reply_st;
static unsigned char *evict_buf;
#define EVICT_BYTES (4u << 20)

static void reply_once(const token *t, size_t k)
{
    (void)t, (void)k;
    jbuf b;
    jbuf_init(&b);
    codec_request_ode_reply_ev(&b, reply_model, reply_version, &reply_q, reply_y, reply_od, NULL,
                               &reply_st);
    size_t n;
    char *text = jbuf_take(&b, &n);
    sink = text ? (double)text[n / 2] : 0;
    free(text);
}

/* Touch every cache line of a buffer larger than L2, then reply: the
 * reply's code, tables and buffer are not where the last reply left them. */
static void evict(void)
{
    for (size_t i = 0; i < EVICT_BYTES; i += 64)
        evict_buf[i]++;
}

static void evict_only(const token *t, size_t k)
{
    (void)t, (void)k;
    evict();
}

static void evict_reply(const token *t, size_t k)
{
    evict();
    reply_once(t, k);
}

/* A system call, as the daemon makes several between two replies (recv,
 * send, poll): what entering the kernel leaves behind for the user code
 * after it (on some virtual machines, cold TLBs and branch predictors). */
static void syscall_only(const token *t, size_t k)
{
    (void)t, (void)k;
    sink = (double)getppid();
}

static void syscall_reply(const token *t, size_t k)
{
    syscall_only(t, k);
    reply_once(t, k);
}

/* A number from a jansson node (integer or real). */
static double num_of(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static int bench_reply(const char *path, int reps)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t len;
    char *text = read_all(f, &len);
    fclose(f);
    json_t *j = NULL;
    err e;
    err_clear(&e);
    if (!text || codec_parse(text, len, &j, &e) != ERR_OK) {
        fprintf(stderr, "bench_codec: %s: %s\n", path, text ? e.message : "out of memory");
        return 1;
    }
    const json_t *jt = json_object_get(j, "t"), *jy = json_object_get(j, "y"),
                 *js = json_object_get(j, "stats");
    size_t n = json_array_size(jt);
    if (!json_is_string(json_object_get(j, "model")) || n == 0 || json_array_size(jy) != n ||
        !json_is_array(json_array_get(jy, 0)) || !json_is_object(js)) {
        fprintf(stderr, "bench_codec: %s is not an unbatched trajectory reply\n", path);
        return 1;
    }
    reply_od = json_array_size(json_array_get(jy, 0));
    double *t = malloc(n * sizeof *t), *y = malloc(n * reply_od * sizeof *y);
    double *all = malloc(n * (reply_od + 1) * sizeof *all);
    evict_buf = calloc(1, EVICT_BYTES);
    if (!t || !y || !all || !evict_buf) {
        fprintf(stderr, "bench_codec: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        t[i] = num_of(json_array_get(jt, i));
        for (size_t d = 0; d < reply_od; d++)
            y[i * reply_od + d] = num_of(json_array_get(json_array_get(jy, i), d));
    }
    reply_model = json_string_value(json_object_get(j, "model"));
    reply_version = (int)num_of(json_object_get(j, "version"));
    reply_q.n_t = n;
    reply_q.t = t;
    reply_q.batch = 1;
    reply_y = y;
    reply_st.nfe = (long)num_of(json_object_get(js, "nfe"));
    reply_st.steps = (long)num_of(json_object_get(js, "steps"));
    reply_st.rejected = (long)num_of(json_object_get(js, "rejected"));
    reply_st.elapsed_ms = num_of(json_object_get(js, "elapsed_ms"));
    /* the bench times what the daemon sends: the same text, byte for byte */
    jbuf b;
    jbuf_init(&b);
    codec_request_ode_reply_ev(&b, reply_model, reply_version, &reply_q, reply_y, reply_od, NULL,
                               &reply_st);
    size_t out_len;
    char *out = jbuf_take(&b, &out_len);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (!out || out_len != len || memcmp(out, text, len) != 0) {
        fprintf(stderr, "bench_codec: the reply written differs from %s\n", path);
        return 1;
    }
    free(out);
    size_t numbers = n * (reply_od + 1) + 1; /* t, y and elapsed_ms */
    double w, hot, ev_cpu, ev_reply;
    time_fn(reply_once, NULL, 0, reps, &w, &hot);
    time_fn(evict_only, NULL, 0, reps, &w, &ev_cpu);
    time_fn(evict_reply, NULL, 0, reps, &w, &ev_reply);
    double cold = ev_reply - ev_cpu, sys_cpu, sys_reply;
    time_fn(syscall_only, NULL, 0, reps, &w, &sys_cpu);
    time_fn(syscall_reply, NULL, 0, reps, &w, &sys_reply);
    for (size_t i = 0; i < n; i++) {
        all[i] = t[i];
        for (size_t d = 0; d < reply_od; d++)
            all[n + i * reply_od + d] = y[i * reply_od + d];
    }
    double write_ns = time_writes(all, n * (reply_od + 1), reps);
    printf("{\"bench\": \"codec_reply\", \"bytes\": %zu, \"numbers\": %zu, \"hot_us\": %.2f, "
           "\"cold_us\": %.2f, \"after_syscall_us\": %.2f, \"syscall_us\": %.2f, \"hot_ns_per_number\": %.1f, \"cold_ns_per_number\": %.1f, "
           "\"codec_num_write_ns\": %.1f}\n",
           len, numbers, 1e6 * hot, 1e6 * cold, 1e6 * (sys_reply - sys_cpu), 1e6 * sys_cpu, 1e9 * hot / (double)numbers,
           1e9 * cold / (double)numbers, write_ns);
    json_decref(j);
    free(t);
    free(y);
    free(all);
    free(evict_buf);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 15;
    const char *path = NULL, *reply = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) reps = 1;
        } else if (strcmp(argv[i], "--reply") == 0 && i + 1 < argc) {
            reply = argv[++i];
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr,
                    "usage: %s [--reps N] [REQUEST.json]  (default: stdin)\n"
                    "       %s [--reps N] --reply REPLY.json\n",
                    argv[0], argv[0]);
            return 2;
        }
    }
    if (reply) return bench_reply(reply, reps);
    if (!path && isatty(0)) {
        fprintf(stderr, "bench_codec: give a request, e.g. bench/bench_solve --print-request | "
                        "bench/bench_codec\n");
        return 2;
    }
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f) {
        perror(path);
        return 1;
    }
    size_t len;
    char *text = read_all(f, &len);
    if (path) fclose(f);
    token *t = malloc(MAX_TOKENS * sizeof *t);
    if (!text || !t) {
        fprintf(stderr, "bench_codec: out of memory\n");
        return 1;
    }
    size_t k = find_numbers(text, len, t, MAX_TOKENS);
    parse_text = text;
    parse_len = len;
    double w_std, c_std, w_ours, c_ours, w_parse, c_parse;
    time_fn(read_with_strtod, t, k, reps, &w_std, &c_std);
    time_fn(read_with_codec, t, k, reps, &w_ours, &c_ours);
    time_fn(parse_once, t, k, reps, &w_parse, &c_parse);
    double w_pd = 0, c_pd = 0;
    json_t *probe = NULL;
    err pe;
    err_clear(&pe);
    /* a trajectory request for a 2-state model (W1's): its route's parse and decode too */
    int is_w1 = codec_parse(text, len, &probe, &pe) == ERR_OK && json_is_object(probe) &&
                json_array_size(json_object_get(probe, "y0")) == 2 &&
                json_object_get(probe, "t") != NULL;
    json_decref(probe);
    if (is_w1) time_fn(parse_decode_once, t, k, reps, &w_pd, &c_pd);
    printf("{\"bench\": \"codec_numbers\", \"numbers\": %zu, \"strtod_ns\": %.1f, "
           "\"codec_strtod_ns\": %.1f, \"speedup\": %.1f}\n",
           k, 1e9 * c_std / (double)(k ? k : 1), 1e9 * c_ours / (double)(k ? k : 1),
           c_ours > 0 ? c_std / c_ours : 0.0);
    printf("{\"bench\": \"codec_parse\", \"bytes\": %zu, \"median_us\": %.2f, "
           "\"median_cpu_us\": %.2f}\n",
           len, 1e6 * w_parse, 1e6 * c_parse);
    if (is_w1)
        printf("{\"bench\": \"codec_parse_decode\", \"bytes\": %zu, \"median_us\": %.2f, "
               "\"median_cpu_us\": %.2f}\n",
               len, 1e6 * w_pd, 1e6 * c_pd);
    size_t nw = k > 1000 ? k : 1000;
    double *vals = malloc(nw * sizeof *vals);
    if (!vals) {
        fprintf(stderr, "bench_codec: out of memory\n");
        return 1;
    }
    size_t nr = 0;
    for (size_t i = 0; i < k; i++)
        if (codec_strtod(t[i].s, t[i].len, &vals[nr]) == 0) nr++;
    double req_ns = time_writes(vals, nr, reps);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < nw; i++) {
        uint64_t bits;
        do { /* xorshift64*, finite normal doubles only */
            state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
            bits = state * 2685821657736338717ull;
        } while (((bits >> 52) & 0x7ff) == 0x7ff || ((bits >> 52) & 0x7ff) == 0);
        memcpy(&vals[i], &bits, sizeof bits);
    }
    double rnd_ns = time_writes(vals, nw, reps);
    for (size_t i = 0; i < nw; i++)
        vals[i] = (double)(i % 1000);
    double int_ns = time_writes(vals, nw, reps);
    printf("{\"bench\": \"codec_num_write\", \"request_ns\": %.1f, \"random_ns\": %.1f, "
           "\"integers_ns\": %.1f}\n",
           req_ns, rnd_ns, int_ns);
    free(vals);
    free(t);
    free(text);
    return 0;
}
