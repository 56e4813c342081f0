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
 *   codec_num_write ns per number written (the reply's numbers are of the
 *                   same kind): "request_ns", the request's own numbers
 *                   written back; "random_ns", doubles of random bits
 *                   (exponents over the whole normal range); "integers_ns",
 *                   small integral values (0.0 .. 999.0, the trailing-zero
 *                   case).
 * Run from the build tree (make builds it). */
#include "bench_util.h" /* next to this file */
#include "codec/codec_num.h"
#include "codec/codec_parse.h"
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

int main(int argc, char **argv)
{
    int reps = 15;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) reps = 1;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: %s [--reps N] [REQUEST.json]  (default: stdin)\n", argv[0]);
            return 2;
        }
    }
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
    printf("{\"bench\": \"codec_numbers\", \"numbers\": %zu, \"strtod_ns\": %.1f, "
           "\"codec_strtod_ns\": %.1f, \"speedup\": %.1f}\n",
           k, 1e9 * c_std / (double)(k ? k : 1), 1e9 * c_ours / (double)(k ? k : 1),
           c_ours > 0 ? c_std / c_ours : 0.0);
    printf("{\"bench\": \"codec_parse\", \"bytes\": %zu, \"median_us\": %.2f, "
           "\"median_cpu_us\": %.2f}\n",
           len, 1e6 * w_parse, 1e6 * c_parse);
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
