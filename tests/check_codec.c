/* check_codec: the API's JSON codecs, in-process.
 *
 *   numbers   the number writer against Python's repr (an independent
 *             shortest round-trip implementation, tests/fixtures/
 *             shortest_doubles.txt): the same text; and on random doubles
 *             against a brute-force search with printf and strtod; and
 *             against the writer it replaced (tests/codec_num_ref.h), the
 *             same text for millions of random bit patterns, solver-like
 *             values and every edge case, each read back by codec_strtod;
 *   strtod    the number reader against glibc's strtod, bit for bit: hard
 *             cases (tests/fixtures/strtod_hard.txt, also against Python's
 *             float()) and 10^6 random tokens of five forms;
 *   parse     malformed JSON (400 with line and column), NaN / Infinity /
 *             overflowing literals named by their field path (422);
 *   model     documents decoded into model_def (layout, kinds, defaults),
 *             every validation error with its exact field, and
 *             encode -> decode -> encode round trips (bitwise, same text),
 *             docs/model-format.md's complete example included;
 *   request   trajectory requests (single state, batch, every error) and
 *             the reply's exact text. */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/codec_json.h"
#include "codec/codec_model.h"
#include "codec/codec_packed.h"
#include "codec/codec_parse.h"
#include "codec/codec_request.h"
#include "codec/codec_strtod.h"
#include "codec/codec_utf8.h"
#include "codec/jbuf.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif

#include "codec_num_ref.h"
#include "testutil.h"

static json_t *parse_ok(const char *text)
{
    json_t *j = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_parse(text, strlen(text), &j, &e) == ERR_OK, "%s: %s", text, e.message);
    return j;
}

static uint64_t bits_of(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* ---- numbers ---- */

/* "-1.25e+03" -> sign, significant digits without leading/trailing zeros,
 * and the decimal exponent of the first digit. */
static void normalize(const char *s, int *neg, char *digits, size_t n, int *exp10)
{
    *neg = *s == '-';
    if (*s == '-') s++;
    size_t o = 0;
    int point = -1, i = 0, first = -1;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            point = i;
            continue;
        }
        if (first < 0 && *s != '0') first = i;
        if (first >= 0 && o + 1 < n) digits[o++] = *s;
        i++;
    }
    if (point < 0) point = i;
    while (o > 0 && digits[o - 1] == '0')
        o--;
    digits[o] = '\0';
    int e = (*s == 'e' || *s == 'E') ? atoi(s + 1) : 0;
    *exp10 = first < 0 ? 0 : point - first - 1 + e;
}

/* A file of the source tree, open for reading; the test fails without it. */
static FILE *open_source_file(const char *rel)
{
    FILE *f = tu_source_open(rel);
    ck_assert_msg(f != NULL, "cannot open %s", rel);
    return f;
}

START_TEST(numbers_match_python_repr)
{
    FILE *f = open_source_file("tests/fixtures/shortest_doubles.txt");
    char hex[32], ref[64];
    int count = 0;
    while (fscanf(f, "%31s %63s", hex, ref) == 2) {
        uint64_t b = strtoull(hex, NULL, 16);
        double x;
        memcpy(&x, &b, sizeof x);
        char buf[CODEC_NUM_MAX];
        size_t len = codec_num_write(buf, x);
        ck_assert_uint_eq(len, strlen(buf));
        double back = strtod(buf, NULL);
        ck_assert_msg(bits_of(back) == b, "%s: wrote %s, reads back as %.17g", ref, buf, back);
        ck_assert_msg(strcmp(buf, ref) == 0, "%s: wrote %s, Python writes %s", hex, buf, ref);
        count++;
    }
    fclose(f);
    ck_assert_int_ge(count, 5900);
}
END_TEST

/* The shortest %.*e form that reads back, found by brute force: the
 * independent reference for random doubles (the nearest one at the
 * shortest length: glibc's printf rounds correctly). */
static void brute_shortest(double x, int *neg, char *digits, size_t n, int *exp10)
{
    char t[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec - 1, x);
        if (strtod(t, NULL) == x) break;
    }
    normalize(t, neg, digits, n, exp10);
}

START_TEST(numbers_random_against_brute_force)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 10000; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17; /* xorshift64 */
        double x;
        if (i % 2) {
            memcpy(&x, &state, sizeof x); /* any bit pattern */
        } else {
            x = (double)(state >> 11) / 9007199254740992.0 * 50 - 25; /* solver-like values */
        }
        if (!isfinite(x)) continue;
        char buf[CODEC_NUM_MAX], d1[32], d2[32];
        codec_num_write(buf, x);
        ck_assert_msg(bits_of(strtod(buf, NULL)) == bits_of(x), "%.17g: wrote %s", x, buf);
        int n1, n2, e1, e2;
        normalize(buf, &n1, d1, sizeof d1, &e1);
        brute_shortest(x, &n2, d2, sizeof d2, &e2);
        ck_assert_msg(n1 == n2 && e1 == e2 && strcmp(d1, d2) == 0,
                      "%.17g: wrote %s, the shortest is %s e%d", x, buf, d2, e2);
    }
}
END_TEST

/* How many random doubles the writer is checked on against its oracle:
 * 4 x 10^6, fewer under valgrind, or as CODEC_NUM_RANDOM says. */
static long oracle_count(void)
{
    const char *env = getenv("CODEC_NUM_RANDOM");
    if (env) return atol(env);
#ifdef HAVE_VALGRIND_H
    if (RUNNING_ON_VALGRIND) return 40000;
#endif
    return 4000000;
}

/* x written by codec_num_write and by the oracle: the same text, the
 * same length, and codec_strtod reads it back to x's bits (-0.0 too). */
static void check_against_oracle(double x)
{
    char got[CODEC_NUM_MAX], want[CODEC_NUM_MAX];
    memset(got, 'x', sizeof got);
    size_t n = codec_num_write(got, x), m = codec_num_ref_write(want, x);
    ck_assert_msg(n == m && strcmp(got, want) == 0, "%a: wrote %s (%zu), the oracle %s (%zu)", x,
                  got, n, want, m);
    ck_assert_uint_eq(n, strlen(got));
    if (!isfinite(x)) return;
    double back;
    ck_assert_msg(codec_strtod(got, n, &back) == 0, "%a: %s does not read back", x, got);
    ck_assert_msg(bits_of(back) == bits_of(x), "%a: %s reads back as %a", x, got, back);
}

START_TEST(numbers_match_oracle_edges)
{
    const double specials[] = {0.0,     -0.0,     NAN,      INFINITY, -INFINITY, DBL_MIN,
                               DBL_MAX, DBL_TRUE_MIN, 1e16, 1e15, 1e-4, 1e-5, 9999999999999998.0,
                               9007199254740993.0, 123456789012345680.0, 0.1, 0.2, 0.3, 1.0 / 3};
    long count = 0;
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++, count++)
        check_against_oracle(specials[i]);
    for (int sign = 0; sign < 2; sign++) {
        double s = sign ? -1 : 1;
        /* every power of two and its neighbours (the uneven gap below) */
        for (int e = -1074; e <= 1023; e++) {
            double p = s * ldexp(1, e);
            check_against_oracle(p);
            check_against_oracle(nextafter(p, 0));
            check_against_oracle(nextafter(p, s * INFINITY));
            count += 3;
        }
        /* powers of ten, their neighbours, and the digit-count and
         * positional/exponent boundaries around them */
        for (int e = -323; e <= 308; e++) {
            char t[32];
            snprintf(t, sizeof t, "%se%d", sign ? "-1" : "1", e);
            double p = strtod(t, NULL);
            check_against_oracle(p);
            check_against_oracle(nextafter(p, 0));
            check_against_oracle(nextafter(p, s * INFINITY));
            snprintf(t, sizeof t, "%s9.999999999999999e%d", sign ? "-" : "", e);
            check_against_oracle(strtod(t, NULL));
            snprintf(t, sizeof t, "%s1.0000000000000002e%d", sign ? "-" : "", e);
            check_against_oracle(strtod(t, NULL));
            count += 5;
        }
        /* small integers and halves (trailing zeros), every subnormal
         * exponent's smallest and largest significands */
        for (int k = 0; k <= 100000; k++, count += 2) {
            check_against_oracle(s * k);
            check_against_oracle(s * (k + 0.5));
        }
        for (int b = 0; b < 52; b++, count += 2) {
            uint64_t lo = 1ull << b, hi = (2ull << b) - 1;
            double a, z;
            memcpy(&a, &lo, sizeof a);
            memcpy(&z, &hi, sizeof z);
            check_against_oracle(s * a);
            check_against_oracle(s * z);
        }
    }
    /* every value of each 4-digit lane of the writer's digit blocks */
    for (int k = 0; k < 10000; k++, count += 4) {
        check_against_oracle(1e15 + k);
        check_against_oracle(1e15 + k * 1e4);
        check_against_oracle(1e16 + k * 1e8);
        check_against_oracle(1e16 + k * 1e12);
    }
    ck_assert_int_gt(count, 200000);
}
END_TEST

/* The oracle is slow, so the one random sequence is checked in ORACLE_SLICES
 * slices, each a test of its own with its own timeout; a slice runs the
 * generator from the start and checks only its part, so together they check
 * the same numbers as one run would. */
#define ORACLE_SLICES 8

START_TEST(numbers_match_oracle_random)
{
    uint64_t state = 0x243f6a8885a308d3ull;
    const long n = oracle_count();
    const long lo = n / ORACLE_SLICES * _i;
    const long hi = _i == ORACLE_SLICES - 1 ? n : lo + n / ORACLE_SLICES;
    for (long i = 0; i < hi; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17; /* xorshift64 */
        if (i < lo) continue;
        double x;
        switch (i % 4) {
        case 0: /* any bit pattern */
        case 1:
            memcpy(&x, &state, sizeof x);
            break;
        case 2: /* solver-like values */
            x = (double)(state >> 11) / 9007199254740992.0 * 50 - 25;
            break;
        default: { /* few significant bits: short texts, trailing zeros */
            uint64_t b = state & ~((1ull << (state % 52)) - 1);
            memcpy(&x, &b, sizeof x);
        }
        }
        check_against_oracle(x);
    }
}
END_TEST

/* codec_num_write_list, which writes its numbers two at a time (a pair of
 * normal doubles through one path, any other pair number by number): the
 * oracle's text for each, joined by commas, for lists of every length up
 * to 9 (odd and even tails) with non-finite values, zeros and subnormals
 * at every place of a pair, and the jbuf writers built on it across their
 * block boundaries. */
static double list_value(uint64_t *state, int kind)
{
    static const double specials[] = {0.0,     -0.0,    NAN,     INFINITY, -INFINITY, DBL_TRUE_MIN,
                                      -1e-310, DBL_MIN, DBL_MAX, 1e16,     1e-5,      2.0};
    uint64_t r = (*state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17);
    double x;
    switch (kind) {
    case 0: /* any bit pattern */
        memcpy(&x, &r, sizeof x);
        return x;
    case 1: /* solver-like values */
        return (double)(r >> 11) / 9007199254740992.0 * 50 - 25;
    case 2: /* integers */
        return (double)(int64_t)(r % 2000001) - 1000000;
    default:
        return specials[r % (sizeof specials / sizeof *specials)];
    }
}

START_TEST(numbers_list_against_oracle)
{
    uint64_t state = 0x452821e638d01377ull;
    double v[9];
    char got[9 * (CODEC_NUM_MAX + 1)], want[9 * (CODEC_NUM_MAX + 1)];
    for (long it = 0; it < 400000; it++) {
        size_t n = (size_t)(it % 10);
        int kind = (int)(it / 10 % 5); /* 4: each value of any kind */
        for (size_t i = 0; i < n; i++)
            v[i] = list_value(&state, kind < 4 ? kind : (int)(state % 4));
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (i) want[m++] = ',';
            m += codec_num_ref_write(want + m, v[i]);
        }
        size_t len = (size_t)(codec_num_write_list(got, v, n) - got);
        ck_assert_msg(len == m && memcmp(got, want, m) == 0, "list %ld: wrote %.*s, the oracle %.*s",
                      it, (int)len, got, (int)m, want);
    }
    enum { N = 1100 };
    double *w = malloc(N * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (size_t i = 0; i < N; i++)
        w[i] = list_value(&state, i % 7 == 0 ? 3 : (int)(i % 2));
    const size_t ns[] = {0, 1, 2, 255, 256, 257, 511, 512, 513, 1099, 1100};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        jbuf got_b, want_b;
        jbuf_init(&got_b);
        jbuf_init(&want_b);
        jbuf_vec(&got_b, w, ns[k]);
        jbuf_raw(&want_b, "[", 1);
        for (size_t i = 0; i < ns[k]; i++) {
            char t[CODEC_NUM_MAX];
            if (i) jbuf_raw(&want_b, ",", 1);
            jbuf_raw(&want_b, t, codec_num_ref_write(t, w[i]));
        }
        jbuf_raw(&want_b, "]", 1);
        size_t gl, wl;
        char *g = jbuf_take(&got_b, &gl), *x = jbuf_take(&want_b, &wl);
        ck_assert_uint_eq(gl, strlen(g));
        ck_assert_msg(gl == wl && strcmp(g, x) == 0, "jbuf_vec of %zu numbers", ns[k]);
        free(g);
        free(x);
    }
    free(w);
}
END_TEST

START_TEST(numbers_spelling)
{
    char buf[CODEC_NUM_MAX];
    const struct {
        double x;
        const char *want;
    } cases[] = {
        {2.0, "2.0"},       {-0.0, "-0.0"},         {0.0, "0.0"},   {0.1, "0.1"},
        {1e-7, "1e-07"},    {1e16, "1e+16"},        {-2.5, "-2.5"}, {1.0 / 3, "0.3333333333333333"},
        {5e-324, "5e-324"}, {2.5e-320, "2.5e-320"}, {NAN, "null"},  {INFINITY, "null"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        codec_num_write(buf, cases[i].x);
        ck_assert_str_eq(buf, cases[i].want);
    }
}
END_TEST

START_TEST(jbuf_writes_json)
{
    jbuf b;
    jbuf_init(&b);
    json_t *v = json_pack("{s:s, s:[f, i, b, n], s:{}}", "k\"\n\x01", "é", "a", 0.5, 3, 1, "o");
    jbuf_json(&b, v);
    json_decref(v);
    size_t len;
    char *t = jbuf_take(&b, &len);
    ck_assert_str_eq(t, "{\"k\\\"\\n\\u0001\":\"é\",\"a\":[0.5,3,true,null],\"o\":{}}");
    ck_assert_uint_eq(len, strlen(t));
    free(t);
    t = jbuf_take(&b, &len); /* empty buffer: empty text */
    ck_assert_str_eq(t, "");
    free(t);
}
END_TEST

/* jbuf_int's own digits (not printf's) and jbuf_vec's block writes: the
 * same text as printf and as number-by-number jbuf_double, across block
 * boundaries and from a buffer that starts full. */
START_TEST(jbuf_ints_and_vectors)
{
    const long long ints[] = {0, 7, -7, 10, 123456789, -1000000, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        jbuf b;
        jbuf_init(&b);
        jbuf_int(&b, ints[i]);
        char want[32];
        snprintf(want, sizeof want, "%lld", ints[i]);
        char *t = jbuf_take(&b, NULL);
        ck_assert_str_eq(t, want);
        free(t);
    }
    const size_t sizes[] = {0, 1, 2, 255, 256, 257, 1000};
    double v[1000];
    uint64_t state = 0x853c49e6748fea9bull;
    for (size_t i = 0; i < 1000; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        memcpy(&v[i], &state, sizeof v[i]);
        if (i % 3 == 0) v[i] = -1e-310 * (double)i; /* subnormals, -0.0 */
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        jbuf got, want;
        jbuf_init(&got);
        jbuf_init(&want);
        jbuf_lit(&got, "x");
        jbuf_lit(&want, "x");
        jbuf_vec(&got, v, sizes[i]);
        jbuf_raw(&want, "[", 1);
        for (size_t k = 0; k < sizes[i]; k++) {
            if (k) jbuf_raw(&want, ",", 1);
            jbuf_double(&want, v[k]);
        }
        jbuf_raw(&want, "]", 1);
        size_t gl, wl;
        char *g = jbuf_take(&got, &gl), *w = jbuf_take(&want, &wl);
        ck_assert_uint_eq(gl, strlen(g));
        ck_assert_uint_eq(gl, wl);
        ck_assert_str_eq(g, w);
        free(g);
        free(w);
    }
}
END_TEST

/* jbuf_rows and jbuf_rows_or_null, written a block of rows at a time: the
 * same text as a jbuf_vec per row (and, for the latter, null for a row
 * whose first value is NaN), across block boundaries, for rows of every
 * width from none to wider than a block, with NaN (first or not), infinite,
 * subnormal and negative zero values. */
START_TEST(jbuf_rows_as_vectors)
{
    enum { MAXV = 300 * 300 };
    double *v = malloc(MAXV * sizeof *v);
    ck_assert_ptr_nonnull(v);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < MAXV; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        memcpy(&v[i], &state, sizeof v[i]);
        if (i % 5 == 0) v[i] = -1e-310 * (double)(i % 7); /* subnormals, -0.0 */
        if (i % 11 == 0) v[i] = NAN;
        if (i % 13 == 0) v[i] = -INFINITY;
    }
    const size_t dims[] = {0, 1, 2, 3, 7, 255, 256, 257, 300};
    const size_t ns[] = {0, 1, 2, 127, 128, 129, 300};
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (int nul = 0; nul < 2; nul++) {
                const size_t dim = dims[di], n = ns[ni];
                jbuf got, want;
                jbuf_init(&got);
                jbuf_init(&want);
                jbuf_lit(&got, "x");
                jbuf_lit(&want, "x");
                if (nul)
                    jbuf_rows_or_null(&got, v, n, dim);
                else
                    jbuf_rows(&got, v, n, dim);
                jbuf_raw(&want, "[", 1);
                for (size_t i = 0; i < n; i++) {
                    if (i) jbuf_raw(&want, ",", 1);
                    if (nul && dim && isnan(v[i * dim]))
                        jbuf_lit(&want, "null");
                    else
                        jbuf_vec(&want, v + i * dim, dim);
                }
                jbuf_raw(&want, "]", 1);
                size_t gl, wl;
                char *g = jbuf_take(&got, &gl), *w = jbuf_take(&want, &wl);
                ck_assert_uint_eq(gl, strlen(g));
                ck_assert_msg(gl == wl && strcmp(g, w) == 0, "dim %zu, %zu rows, null rows %d",
                              dim, n, nul);
                free(g);
                free(w);
            }
    free(v);
}
END_TEST

/* The jansson values a reply is built from, with the reals the dataset
 * summary carries: the shortest round-trip form, not %.17g's. */
START_TEST(jbuf_json_numbers_shortest)
{
    jbuf b;
    jbuf_init(&b);
    json_t *v = json_pack("{s:[f, f], s:f, s:f}", "time_range", 0.0, 1.6, "missing_fraction",
                          1.0 / 14.0, "lr", 0.1);
    jbuf_json(&b, v);
    json_decref(v);
    char *t = jbuf_take(&b, NULL);
    ck_assert_str_eq(t, "{\"time_range\":[0.0,1.6],\"missing_fraction\":0.07142857142857142,"
                        "\"lr\":0.1}");
    free(t);
}
END_TEST

/* ---- UTF-8 (codec_utf8_len) ---- */

START_TEST(utf8_sequences)
{
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        {"a", 1},
        {"\xc3\xa9", 2},
        {"\xe2\x82\xac", 3},
        {"\xf0\x9f\x98\x80", 4},
        {"\xc3", 0},             /* cut by the end */
        {"\xc3\x28", 0},         /* not a continuation */
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 0},     /* overlong, 3 bytes */
        {"\xed\xa0\x80", 0},     /* a surrogate */
        {"\xf4\x90\x80\x80", 0}, /* past U+10FFFF */
        {"\x80", 0},             /* a lone continuation */
        {"\xff", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const unsigned char *p = (const unsigned char *)cases[i].s;
        ck_assert_msg(codec_utf8_len(p, p + strlen(cases[i].s)) == cases[i].len, "case %zu", i);
    }
    const unsigned char two[] = {0xc3, 0xa9};
    ck_assert_uint_eq(codec_utf8_len(two, two + 1), 0); /* end falls inside */
}
END_TEST

/* ---- the number reader (codec_strtod) ---- */

/* glibc's strtod is the reference: correctly rounded, independent code. */
static uint64_t strtod_bits(const char *s)
{
    return bits_of(strtod(s, NULL));
}

/* (Check's ck_assert records every passing assertion: a write(2) each,
 * too slow for 10^6 numbers; hence ck_abort_msg behind plain ifs.) */
static uint64_t reader_bits(const char *s, size_t len)
{
    double x = NAN;
    if (codec_strtod(s, len, &x) != 0) ck_abort_msg("%s: out of memory", s);
    return bits_of(x);
}

/* tests/fixtures/strtod_hard.txt: each token against strtod and against
 * the bits Python's float() gave; also read from inside a longer text (not
 * NUL-terminated) and through codec_parse, as a request's number. */
START_TEST(strtod_hard_cases)
{
    FILE *f = open_source_file("tests/fixtures/strtod_hard.txt");
    char line[4096], tok[4096];
    char hex[32];
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        ck_assert_int_eq(sscanf(line, "%4095s %31s", tok, hex), 2);
        size_t n = strlen(tok);
        uint64_t want = strtoull(hex, NULL, 16);
        ck_assert_msg(strtod_bits(tok) == want, "%s: strtod and Python disagree", tok);
        uint64_t got = reader_bits(tok, n);
        ck_assert_msg(got == want, "%s: %016llx, strtod %016llx", tok, (unsigned long long)got,
                      (unsigned long long)want);
        /* in place: digits after the token must not be read */
        char *padded = malloc(n + 2);
        ck_assert_ptr_nonnull(padded);
        memcpy(padded, tok, n);
        memcpy(padded + n, "7e", 2);
        ck_assert_msg(reader_bits(padded, n) == want, "%s followed by digits", tok);
        free(padded);
        char *doc = malloc(n + 3);
        ck_assert_ptr_nonnull(doc);
        snprintf(doc, n + 3, "[%s]", tok);
        json_t *j = NULL;
        err e;
        err_clear(&e);
        err_code rc = codec_parse(doc, n + 2, &j, &e);
        if (isinf(strtod(tok, NULL))) {
            ck_assert_msg(rc == ERR_INVALID && strstr(e.message, "too large"), "%s: %s", tok,
                          e.message);
        } else {
            ck_assert_msg(rc == ERR_OK, "%s: %s", tok, e.message);
            ck_assert(bits_of(json_real_value(json_array_get(j, 0))) == want);
        }
        json_decref(j);
        free(doc);
        count++;
    }
    fclose(f);
    ck_assert_int_ge(count, 300);
}
END_TEST

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* A random JSON number: 1-25 digits, the point anywhere (or none), an
 * exponent in [-350, 330] or none. */
static size_t random_token(uint64_t *st, char *buf)
{
    size_t o = 0;
    uint64_t r = xorshift(st);
    if (r & 1) buf[o++] = '-';
    int nd = 1 + (int)((r >> 1) % 25), point = (int)((r >> 8) % (unsigned)(nd + 1));
    if (point == 0) buf[o++] = '0'; /* "0.ddd" */
    for (int i = 0; i < nd; i++) {
        if (i == point && point > 0) buf[o++] = '.';
        if (i == 0 && point == 0) buf[o++] = '.';
        int d = (int)(xorshift(st) % 10);
        if (i == 0 && point != 0 && d == 0) d = 1 + (int)((r >> 20) % 9); /* no leading zero */
        buf[o++] = (char)('0' + d);
    }
    if (buf[o - 1] == '.') o--; /* point after the last digit: none */
    if ((r >> 30) % 4)
        o += (size_t)sprintf(buf + o, "%s%d", (r >> 40) & 1 ? "e" : "E",
                             (int)((r >> 41) % 681) - 350);
    buf[o] = '\0';
    return o;
}

/* How many random tokens: 10^6, fewer under valgrind (about 50x slower)
 * or as CODEC_STRTOD_RANDOM says. */
static long random_count(void)
{
    const char *env = getenv("CODEC_STRTOD_RANDOM");
    if (env) return atol(env);
#ifdef HAVE_VALGRIND_H
    if (RUNNING_ON_VALGRIND) return 20000;
#endif
    return 1000000;
}

/* Random tokens of five forms against strtod, bit for bit: the shortest
 * round-trip text of random bit patterns (codec_num_write) and of
 * solver-like values in [0, 25] (a trajectory request), %.17g of random
 * bit patterns, decimals near the midpoint of two doubles (%.*Le of the
 * midpoint, 17-21 digits: the hard decisions), and random_token's. */
START_TEST(strtod_random_against_strtod)
{
    uint64_t st = 0x2545f4914f6cdd1dull;
    long n = random_count();
    char buf[64];
    for (long i = 0; i < n; i++) {
        uint64_t b = xorshift(&st);
        double x;
        memcpy(&x, &b, sizeof x);
        size_t len = 0;
        switch (i % 5) {
        case 0:
            if (!isfinite(x)) continue;
            len = codec_num_write(buf, x);
            break;
        case 1:
            len = codec_num_write(buf, (double)(b >> 11) / 9007199254740992.0 * 25);
            break;
        case 2:
            if (!isfinite(x)) continue;
            len = (size_t)snprintf(buf, sizeof buf, "%.17g", x);
            break;
        case 3: {
            if (!isfinite(x) || !isfinite(nextafter(x, INFINITY))) continue;
            long double mid = ((long double)x + nextafter(x, INFINITY)) / 2;
            len = (size_t)snprintf(buf, sizeof buf, "%.*Le", 16 + (int)(b >> 60) % 5, mid);
            break;
        }
        default:
            len = random_token(&st, buf);
        }
        uint64_t got = reader_bits(buf, len), want = strtod_bits(buf);
        if (got != want)
            ck_abort_msg("%s: %016llx, strtod %016llx", buf, (unsigned long long)got,
                         (unsigned long long)want);
        if (i % 97 == 0 && !isinf(strtod(buf, NULL))) { /* valid JSON, read the same */
            char doc[80];
            snprintf(doc, sizeof doc, "{\"t\": [%s]}", buf);
            json_t *j = parse_ok(doc);
            json_t *v = json_array_get(json_object_get(j, "t"), 0);
            if (bits_of(json_real_value(v)) != want) ck_abort_msg("%s through codec_parse", buf);
            json_decref(j);
        }
    }
}
END_TEST

/* Tokens of 10^5 digits: the exponent's offset by the digits' position is
 * kept exactly (no saturation short of 10^15), and strtod's copy of a long
 * token is freed (valgrind). */
START_TEST(strtod_long_tokens)
{
    const size_t n = 100000;
    char *t = malloc(n + 32);
    ck_assert_ptr_nonnull(t);
    const struct {
        const char *head, *tail;
        char fill;
        double want;
    } cases[] = {{"0.", "1e100002", '0', 10.0},      {"1", "e-100000", '0', 1.0},
                 {"-0.", "e99999999999", '0', -0.0}, {"0.", "3e-10", '3', 0.0},
                 {"4", "e-100310", '9', 5e-10},      {"1.", "1", '0', 1.0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t h = strlen(cases[i].head);
        memcpy(t, cases[i].head, h);
        memset(t + h, cases[i].fill, n);
        strcpy(t + h + n, cases[i].tail);
        size_t len = strlen(t);
        uint64_t want = strtod_bits(t);
        ck_assert_msg(reader_bits(t, len) == want, "case %zu", i);
        if (i != 3 && i != 4) ck_assert(want == bits_of(cases[i].want));
    }
    free(t);
}
END_TEST

/* The grammar as codec_parse checked it before codec_strtod_scan did it in
 * the same pass (the oracle): the code and where s[0 .. n) stops. */
static int scan_ref(const char *s, size_t n, size_t *stop)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        *stop = i;
        return CODEC_STRTOD_BAD_START;
    }
    if (i < n && s[i] == '.') {
        if (++i >= n || s[i] < '0' || s[i] > '9') return *stop = i, CODEC_STRTOD_BAD_FRACTION;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return *stop = i, CODEC_STRTOD_BAD_EXPONENT;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    *stop = i;
    return CODEC_STRTOD_OK;
}

/* codec_strtod_scan on s[0 .. n) (a heap copy: valgrind and ASan see any
 * read past n) against scan_ref, and its number against strtod's. */
static void expect_scan(const char *s, size_t n)
{
    char *t = malloc(n + 1), *copy = malloc(n + 1);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(copy);
    memcpy(t, s, n);
    size_t want_stop;
    int want = scan_ref(t, n, &want_stop);
    const char *stop = NULL;
    double x = NAN;
    int got = codec_strtod_scan(t, t + n, &x, &stop);
    if (got != want || (size_t)(stop - t) != want_stop)
        ck_abort_msg("%.*s: code %d stop %td, want %d stop %zu", (int)n, s, got, stop - t, want,
                     want_stop);
    if (got == CODEC_STRTOD_OK) {
        memcpy(copy, t, want_stop);
        copy[want_stop] = '\0';
        if (bits_of(x) != strtod_bits(copy))
            ck_abort_msg("%s: %a, strtod %a", copy, x, strtod(copy, NULL));
    }
    free(copy);
    free(t);
}

/* codec_strtod_scan checks the grammar while it reads: every prefix of
 * adversarial tokens (long mantissas, halfway cases, edge exponents,
 * leading zeros, malformed forms), with and without a tail, and random
 * strings over the grammar's alphabet, against scan_ref and strtod; and
 * through codec_parse, the errors at the same place with the same words. */
START_TEST(strtod_scan_against_grammar)
{
    static const char *const toks[] = {
        "0", "-0", "-0.0", "0e0", "-0E-0", "00", "01", "-01", "1.", "-1.", ".5", "-.5", "1e",
        "1E+", "1e-", "-", "+1", "--1", "1ee5", "1e5.3", "1.2.3", "1.e5", "0.e1", "1e+-5", "e5",
        "1e-400", "-1e-400", "1e400", "-1e400", "1e308", "1.7976931348623157e308",
        "1.7976931348623158e308", "1.7976931348623159e308", "2.2250738585072011e-308",
        "2.2250738585072014e-308", "4.9406564584124654e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "9007199254740993", "9007199254740992.5",
        "123456789012345678", "1234567890123456789", "12345678901234567890",
        "18446744073709551615", "18446744073709551616", "99999999999999999999e-20",
        "0.000000000000000000000000000000123456789012345678901234567890",
        "7.2057594037927933e16", "1e-99999999999999999999", "1e99999999999999999999",
        "0e99999999999999999999", "8.98846567431158e307", "0.6258520832186948",
        "1.2668940456580873", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126", "12345678.12345678e-8",
        "00000000000000000001", "0.0000000000000000000000001e25"};
    char buf[160];
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        static const char *const tails[] = {"", ",", "]", " ", "x", "e", ".", "-", "0"};
        for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
            int n = snprintf(buf, sizeof buf, "%s%s", toks[i], tails[k]);
            for (int m = 0; m <= n; m++)
                expect_scan(buf, (size_t)m);
        }
        /* as a request's number: accepted to the same bits, or the same error */
        size_t stop, n = strlen(toks[i]);
        int code = scan_ref(toks[i], n, &stop);
        if (toks[i][0] != '-' && (toks[i][0] < '0' || toks[i][0] > '9')) continue;
        snprintf(buf, sizeof buf, "[%s]", toks[i]);
        json_t *j = NULL;
        err e;
        err_clear(&e);
        err_code rc = codec_parse(buf, n + 2, &j, &e);
        char want[96];
        if (code == CODEC_STRTOD_OK && stop == n) {
            if (isinf(strtod(toks[i], NULL))) {
                ck_assert_msg(rc == ERR_INVALID && strcmp(e.field, "[0]") == 0, "%s", toks[i]);
                snprintf(want, sizeof want, "must be a finite number, got %s (too large for a double)",
                         toks[i]);
                ck_assert_str_eq(e.message, want);
            } else {
                ck_assert_msg(rc == ERR_OK, "%s: %s", toks[i], e.message);
                ck_assert(bits_of(json_real_value(json_array_get(j, 0))) == strtod_bits(toks[i]));
            }
        } else {
            static const char *const why[] = {
                [CODEC_STRTOD_OK] = "expected ',' or ']'",
                [CODEC_STRTOD_BAD_START] = "invalid number",
                [CODEC_STRTOD_BAD_FRACTION] = "invalid number: a digit must follow '.'",
                [CODEC_STRTOD_BAD_EXPONENT] = "invalid number: a digit must follow the exponent"};
            size_t at = code == CODEC_STRTOD_BAD_START ? 0 : stop; /* offset in the token */
            snprintf(want, sizeof want, "line 1 column %zu: %s", at + 2, why[code]);
            ck_assert_msg(rc == ERR_BAD_JSON, "%s: %d", toks[i], rc);
            ck_assert_str_eq(e.message, want);
        }
        json_decref(j);
    }
    static const char alphabet[] = "0123456789000001-+.eE";
    uint64_t st = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 300000; i++) {
        uint64_t r = xorshift(&st);
        size_t n = (size_t)(r % 40);
        for (size_t k = 0; k < n; k++)
            buf[k] = alphabet[xorshift(&st) % (sizeof alphabet - 1)];
        if (n && r & 64) buf[0] = (char)('1' + (r >> 8) % 9); /* mostly valid starts */
        if (n > 1 && r & 128) buf[0] = '-';
        expect_scan(buf, n);
    }
}
END_TEST

/* ---- parse ---- */

static void expect_parse_error(const char *text, err_code code, const char *field, const char *part)
{
    json_t *j = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_parse(text, strlen(text), &j, &e) == code, "%s: code %d (%s)", text, e.code,
                  e.message);
    ck_assert_ptr_null(j);
    ck_assert_msg(strcmp(e.field, field) == 0, "%s: field '%s', want '%s'", text, e.field, field);
    ck_assert_msg(strstr(e.message, part), "%s: message '%s' lacks '%s'", text, e.message, part);
}

START_TEST(parse_errors)
{
    expect_parse_error("", ERR_BAD_JSON, "", "empty");
    expect_parse_error("  \n", ERR_BAD_JSON, "", "empty");
    expect_parse_error("{\"a\": [1, 2,]}", ERR_BAD_JSON, "", "line 1 column 13");
    expect_parse_error("{\n  \"a\": 1,\n  \"a\": 2\n}", ERR_BAD_JSON, "", "line 3");
    expect_parse_error("{\"a\": 1} x", ERR_BAD_JSON, "", "line 1");
    expect_parse_error("{\"y0\": [1, NaN]}", ERR_INVALID, "y0[1]", "got NaN");
    expect_parse_error("{\"y0\": [[1, 2], [3, -Infinity]]}", ERR_INVALID, "y0[1][1]", "-Infinity");
    expect_parse_error("{\"solver\": {\"rtol\": inf}}", ERR_INVALID, "solver.rtol", "inf");
    expect_parse_error("{\"t\": [1e999]}", ERR_INVALID, "t[0]", "too large");
    expect_parse_error("{\"t\": [-1e400]}", ERR_INVALID, "t[0]", "too large");
    expect_parse_error("[{\"w\": [[0, Infinity]]}]", ERR_INVALID, "[0].w[0][1]", "Infinity");
    /* a bare word as a key stays malformed; NaN next to another error too */
    expect_parse_error("{nan: 1}", ERR_BAD_JSON, "", "line 1");
    /* the first problem met is the one reported */
    expect_parse_error("{\"a\": NaN,}", ERR_INVALID, "a", "NaN");
    expect_parse_error("{\"a\": [1,], \"b\": NaN}", ERR_BAD_JSON, "", "line 1 column 10");
    /* strings: escapes, UTF-8, control characters */
    expect_parse_error("{\"a\": \"x\ty\"}", ERR_BAD_JSON, "", "control character");
    expect_parse_error("{\"a\": \"\\q\"}", ERR_BAD_JSON, "", "invalid escape");
    expect_parse_error("{\"a\": \"\\ud800\"}", ERR_BAD_JSON, "", "surrogate");
    expect_parse_error("{\"a\": \"\\u0000\"}", ERR_BAD_JSON, "", "\\u0000");
    expect_parse_error("{\"a\": \"\xc3\x28\"}", ERR_BAD_JSON, "", "UTF-8");
    expect_parse_error("{\"a\": \"\xe0\x80\xaf\"}", ERR_BAD_JSON, "", "UTF-8"); /* overlong */
    expect_parse_error("{\"a\": \"abc", ERR_BAD_JSON, "", "unterminated");
    /* numbers and literals */
    expect_parse_error("[01]", ERR_BAD_JSON, "", "expected ',' or ']'");
    expect_parse_error("[1.]", ERR_BAD_JSON, "", "digit must follow");
    expect_parse_error("[1e+]", ERR_BAD_JSON, "", "digit must follow");
    expect_parse_error("[-]", ERR_BAD_JSON, "", "invalid number");
    expect_parse_error("[.5]", ERR_BAD_JSON, "", "expected a value");
    expect_parse_error("[0x10]", ERR_BAD_JSON, "", "expected ',' or ']'");
    expect_parse_error("[True]", ERR_BAD_JSON, "", "invalid literal");
    expect_parse_error("[nulll]", ERR_BAD_JSON, "", "invalid literal");
    expect_parse_error("{\"a\" 1}", ERR_BAD_JSON, "", "expected ':'");
    expect_parse_error("{\"a\": 1 \"b\": 2}", ERR_BAD_JSON, "", "expected ',' or '}'");
    expect_parse_error("[", ERR_BAD_JSON, "", "end of the text");
    expect_parse_error("{\"a\": nul}", ERR_BAD_JSON, "", "line 1");
}
END_TEST

START_TEST(parse_accepts_json)
{
    json_t *j = parse_ok(" {\"s\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u20ac\", "
                         "\"u\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"e\": {}, \"a\": [], "
                         "\"n\": [true, false, null, -0.5e+2, 0, 1E3, -0]}\r\n");
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")),
                     "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac");
    ck_assert_str_eq(json_string_value(json_object_get(j, "u")),
                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    ck_assert_uint_eq(json_object_size(json_object_get(j, "e")), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "a")), 0);
    json_t *n = json_object_get(j, "n");
    ck_assert(json_is_true(json_array_get(n, 0)) && json_is_false(json_array_get(n, 1)) &&
              json_is_null(json_array_get(n, 2)));
    ck_assert_double_eq(json_real_value(json_array_get(n, 3)), -50.0);
    ck_assert_double_eq(json_real_value(json_array_get(n, 5)), 1000.0);
    /* insertion order kept (export relies on jbuf_json's order) */
    const char *first = NULL;
    void *it = json_object_iter(j);
    first = json_object_iter_key(it);
    ck_assert_str_eq(first, "s");
    json_decref(j);
    /* deep but within the limit; too deep is malformed */
    char deep[1200];
    memset(deep, '[', 500);
    memset(deep + 500, ']', 500);
    deep[1000] = '\0';
    json_decref(parse_ok(deep));
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    deep[1200 - 1] = '\0';
    expect_parse_error(deep, ERR_BAD_JSON, "", "nested too deeply");
}
END_TEST

START_TEST(parse_numbers_are_reals)
{
    json_t *j =
        parse_ok("{\"a\": [1, -0, 2.5e-3, 123456789012345678901234567890], \"s\": \"NaN\"}");
    json_t *a = json_object_get(j, "a");
    for (size_t i = 0; i < 4; i++)
        ck_assert(json_is_real(json_array_get(a, i)));
    ck_assert(signbit(json_real_value(json_array_get(a, 1))));
    ck_assert_double_eq(json_real_value(json_array_get(a, 3)), 123456789012345678901234567890.0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")), "NaN");
    json_decref(j);
    j = parse_ok("3");
    ck_assert(json_is_real(j));
    json_decref(j);
}
END_TEST

START_TEST(content_types)
{
    ck_assert(codec_parse_is_json_type("application/json"));
    ck_assert(codec_parse_is_json_type("Application/JSON; charset=utf-8"));
    ck_assert(codec_parse_is_json_type("application/json;charset=UTF-8"));
    ck_assert(!codec_parse_is_json_type(NULL));
    ck_assert(!codec_parse_is_json_type("application/jsonx"));
    ck_assert(!codec_parse_is_json_type("text/plain"));
    ck_assert(!codec_parse_is_json_type("application/x-www-form-urlencoded"));
}
END_TEST

/* ---- model documents ---- */

/* 2 -> 3 (tanh) -> cube -> 2 (identity by default), time input off. */
static const char small_doc[] =
    "{\"kind\": \"ode\", \"state_dim\": 2, \"description\": \"small\",\n"
    " \"vector_field\": {\"time_input\": false, \"layers\": [\n"
    "   {\"weight\": [[1, 2], [3, 4], [5, 6]], \"bias\": [0.1, 0.2, 0.3], \"activation\": "
    "\"tanh\"},\n"
    "   {\"activation\": \"cube\"},\n"
    "   {\"weight\": [[-1, -2, -3], [-4, -5, -6]], \"bias\": [7, 8]}]},\n"
    " \"solver\": {\"method\": \"tsit5\", \"rtol\": 1e-7, \"atol\": 1e-9, \"max_steps\": 5000}}";

START_TEST(model_decode_ode)
{
    json_t *j = parse_ok(small_doc);
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(j, &d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    json_decref(j);
    ck_assert_int_eq(d.kind, MODEL_KIND_ODE);
    ck_assert_uint_eq(d.state_dim, 2);
    ck_assert_uint_eq(d.augment_dim, 0);
    ck_assert_str_eq(d.description, "small");
    ck_assert_uint_eq(d.n_nets, 1);
    const model_net *n = &d.nets[0];
    ck_assert_uint_eq(n->in_dim, 2);
    ck_assert(!n->time_input);
    ck_assert_uint_eq(n->n_layers, 3);
    ck_assert_int_eq(n->layers[0].kind, MLP_LINEAR);
    ck_assert_uint_eq(n->layers[0].in, 2);
    ck_assert_uint_eq(n->layers[0].out, 3);
    ck_assert_int_eq(n->layers[0].act, ACT_TANH);
    ck_assert_int_eq(n->layers[1].kind, MLP_ELEMENTWISE);
    ck_assert_int_eq(n->layers[1].act, ACT_CUBE);
    ck_assert_int_eq(n->layers[2].act, ACT_IDENTITY);
    /* nn/mlp.h layout: W1 row-major, b1, W3, b3 */
    const double want[] = {1, 2, 3, 4, 5, 6, 0.1, 0.2, 0.3, -1, -2, -3, -4, -5, -6, 7, 8};
    ck_assert_uint_eq(d.n_params, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < d.n_params; i++)
        ck_assert_double_eq(d.params[i], want[i]);
    ck_assert_str_eq(d.solver.method, "tsit5");
    ck_assert_double_eq(d.solver.rtol, 1e-7);
    ck_assert_double_eq(d.solver.atol, 1e-9);
    ck_assert_int_eq(d.solver.max_steps, 5000);
    ck_assert_double_eq(d.solver.first_step, 0);
    model_def_free(&d);
}
END_TEST

/* Replace the first occurrence of `from` in small_doc by `to`. */
static char *doc_with(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    ck_assert_msg(at != NULL, "'%s' not in the document", from);
    size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    return s;
}

static void expect_model_error(const char *text, const char *field, const char *part)
{
    json_t *j = NULL;
    err e;
    err_clear(&e);
    model_def d;
    if (codec_parse(text, strlen(text), &j, &e) == ERR_OK) {
        ck_assert_msg(codec_model_decode(j, &d, &e) == ERR_INVALID, "accepted: %s", text);
        ck_assert_ptr_null(d.params);
    }
    json_decref(j);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_msg(strcmp(e.field, field) == 0, "field '%s' (%s), want '%s' in\n%s", e.field,
                  e.message, field, text);
    ck_assert_msg(strstr(e.message, part), "message '%s' lacks '%s'", e.message, part);
}

START_TEST(model_decode_errors)
{
    const struct {
        const char *from, *to, *field, *part;
    } cases[] = {
        /* shapes */
        {"[[-1, -2, -3], [-4, -5, -6]]", "[[-1, -2, -3], [-4, -5]]",
         "vector_field.layers[2].weight[1]", "has 2 values, row 0 has 3"},
        {"[[-1, -2, -3], [-4, -5, -6]]", "[[-1, -2], [-4, -5]]", "vector_field.layers[2].weight",
         "the layer before gives 3"},
        {"[[1, 2], [3, 4], [5, 6]]", "[[1, 2, 0], [3, 4, 0], [5, 6, 0]]",
         "vector_field.layers[0].weight", "the network's input has 2"},
        {"\"bias\": [7, 8]", "\"bias\": [7, 8, 9]", "vector_field.layers[2].bias",
         "must hold 2 numbers"},
        {"[[-1, -2, -3], [-4, -5, -6]], \"bias\": [7, 8]", "[[-1, -2, -3]], \"bias\": [7]",
         "vector_field.layers[2]", "gives 1 outputs, expected 2"},
        {"[[-1, -2, -3], [-4, -5, -6]]", "[]", "vector_field.layers[2].weight", "non-empty"},
        {"[[-1, -2, -3], [-4, -5, -6]]", "[[-1, -2, -3], 4]", "vector_field.layers[2].weight[1]",
         "got a number"},
        {"\"time_input\": false", "\"time_input\": true", "vector_field.layers[0].weight",
         "plus time"},
        {"\"state_dim\": 2", "\"state_dim\": 2, \"augment_dim\": 1",
         "vector_field.layers[0].weight", "= 3"},
        /* values */
        {"[3, 4]", "[3, NaN]", "vector_field.layers[0].weight[1][1]", "NaN"},
        {"[0.1, 0.2, 0.3]", "[0.1, 1e999, 0.3]", "vector_field.layers[0].bias[1]", "too large"},
        {"[3, 4]", "[3, \"4\"]", "vector_field.layers[0].weight[1][1]", "got a string"},
        {"\"tanh\"", "\"tanhh\"", "vector_field.layers[0].activation", "tanh"},
        {"\"tanh\"", "3", "vector_field.layers[0].activation", "must be a string"},
        {"{\"activation\": \"cube\"}", "{}", "vector_field.layers[1]", "an activation alone"},
        {"{\"activation\": \"cube\"}", "{\"bias\": [1]}", "vector_field.layers[1].bias",
         "needs a weight"},
        {", \"bias\": [7, 8]", "", "vector_field.layers[2].bias", "missing"},
        /* keys */
        {"\"description\"", "\"descr\"", "descr", "unknown key"},
        {"\"activation\": \"cube\"", "\"activation\": \"cube\", \"width\": 3",
         "vector_field.layers[1].width", "unknown key"},
        {"\"time_input\": false,", "\"time_input\": false, \"extra\": 1,", "vector_field.extra",
         "unknown key"},
        {"\"rtol\"", "\"tolerance\"", "solver.tolerance", "unknown key"},
        {"\"kind\": \"ode\"", "\"kind\": \"pde\"", "kind", "unknown kind"},
        {"\"kind\": \"ode\", ", "", "kind", "missing"},
        {"\"state_dim\": 2", "\"state_dim\": 0", "state_dim", "from 1"},
        {"\"state_dim\": 2", "\"state_dim\": 2.5", "state_dim", "fraction"},
        {"\"state_dim\": 2", "\"state_dim\": \"2\"", "state_dim", "got a string"},
        {"\"time_input\": false", "\"time_input\": 0", "vector_field.time_input", "true or false"},
        {"\"layers\": [", "\"layerz\": [", "vector_field.layerz", "unknown key"},
        /* solver */
        {"\"rtol\": 1e-7", "\"rtol\": 0", "solver.rtol", "positive"},
        {"\"atol\": 1e-9", "\"atol\": -1e-9", "solver.atol", "positive"},
        {"\"tsit5\"", "\"rk45\"", "solver.method", "unknown method"},
        {"\"max_steps\": 5000", "\"max_steps\": 0", "solver.max_steps", "from 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *doc = doc_with(small_doc, cases[i].from, cases[i].to);
        expect_model_error(doc, cases[i].field, cases[i].part);
        free(doc);
    }
    expect_model_error("[1]", "", "must be an object");
    expect_model_error("{\"kind\": \"ode\", \"state_dim\": 2}", "vector_field", "missing");
}
END_TEST

static void round_trip(const char *text)
{
    json_t *j = parse_ok(text);
    model_def a, b;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(j, &a, &e) == ERR_OK, "%s: %s", e.field, e.message);
    json_decref(j);
    jbuf buf;
    jbuf_init(&buf);
    codec_model_encode(&a, &buf);
    char *t1 = jbuf_take(&buf, NULL);
    j = parse_ok(t1);
    ck_assert_msg(codec_model_decode(j, &b, &e) == ERR_OK, "%s: %s in\n%s", e.field, e.message, t1);
    json_decref(j);
    ck_assert_uint_eq(a.n_params, b.n_params);
    ck_assert_int_eq(memcmp(a.params, b.params, a.n_params * sizeof(double)), 0);
    ck_assert_mem_eq(&a.solver, &b.solver, sizeof a.solver);
    codec_model_encode(&b, &buf);
    char *t2 = jbuf_take(&buf, NULL);
    ck_assert_str_eq(t1, t2);
    free(t1);
    free(t2);
    model_def_free(&a);
    model_def_free(&b);
}

START_TEST(model_round_trip)
{
    round_trip(small_doc);
    /* awkward numbers: every one must come back bit for bit */
    char *doc = doc_with(small_doc, "[[1, 2], [3, 4], [5, 6]]",
                         "[[0.1, -0.0], [5e-324, 1.7976931348623157e308], [0.30000000000000004, "
                         "-2.2250738585072014e-308]]");
    round_trip(doc);
    free(doc);
    /* time input and augmentation */
    round_trip("{\"kind\": \"ode\", \"state_dim\": 1, \"augment_dim\": 1, \"vector_field\": "
               "{\"time_input\": true, \"layers\": [{\"weight\": [[1, 2, 3], [4, 5, 6]], "
               "\"bias\": [0, 0], \"activation\": \"sin\"}]}}");
}
END_TEST

static const char cde_doc[] =
    "{\"kind\": \"cde\", \"input_channels\": 3, \"hidden_dim\": 2,"
    " \"channels\": {\"time\": true, \"intensity\": false}, \"interpolation\": \"hermite_bdiff\","
    " \"initial\": {\"layers\": [{\"weight\": [[1, 2, 3], [4, 5, 6]], \"bias\": [0, 1]}]},"
    " \"vector_field\": {\"layers\": [{\"weight\": [[1, 0], [0, 1], [1, 1], [2, 0], [0, 2], [1, "
    "-1]], \"bias\": [0, 0, 0, 0, 0, 0], \"activation\": \"tanh\"}]},"
    " \"readout\": {\"layers\": [{\"weight\": [[0.5, -0.5]], \"bias\": [0.25]}]},"
    " \"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-4, \"atol\": 1e-6}}";

START_TEST(model_decode_cde)
{
    json_t *j = parse_ok(cde_doc);
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(j, &d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    json_decref(j);
    ck_assert_int_eq(d.kind, MODEL_KIND_CDE);
    ck_assert_uint_eq(d.input_channels, 3);
    ck_assert_uint_eq(d.hidden_dim, 2);
    ck_assert(d.channel_time && !d.channel_intensity);
    ck_assert_int_eq(d.interp, MODEL_INTERP_HERMITE_BDIFF);
    ck_assert_uint_eq(d.n_nets, 3);
    ck_assert_uint_eq(d.n_params, 8 + 18 + 3);
    ck_assert_double_eq(d.params[8 + 18], 0.5); /* readout W starts after initial and field */
    model_def_free(&d);
    round_trip(cde_doc);

    char *bad = doc_with(cde_doc, "[[0.5, -0.5]]", "[[0.5, -0.5, 1]]");
    expect_model_error(bad, "readout.layers[0].weight", "the network's input has 2");
    free(bad);
    bad = doc_with(cde_doc, "[1, -1]]", "[1, -1], [0, 0]]");
    expect_model_error(bad, "vector_field.layers[0].bias", "must hold 7");
    free(bad);
    bad = doc_with(cde_doc, "\"hermite_bdiff\"", "\"cubic\"");
    expect_model_error(bad, "interpolation", "natural_cubic");
    free(bad);
    bad = doc_with(cde_doc, "\"intensity\": false", "\"intensity\": false, \"count\": true");
    expect_model_error(bad, "channels.count", "unknown key");
    free(bad);
    bad = doc_with(cde_doc, "{\"layers\": [{\"weight\": [[1, 0]",
                   "{\"time_input\": false, \"layers\": [{\"weight\": [[1, 0]");
    expect_model_error(bad, "vector_field.time_input", "unknown key");
    free(bad);
}
END_TEST

/* The complete examples of docs/model-format.md (each ```json block after
 * <!-- model-example -->) are valid documents. */
START_TEST(model_format_doc_example)
{
    FILE *f = open_source_file("docs/model-format.md");
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof text - 1, f);
    ck_assert_uint_lt(n, sizeof text - 1);
    fclose(f);
    text[n] = '\0';
    int count = 0;
    for (const char *m = strstr(text, "<!-- model-example -->"); m;
         m = strstr(m + 1, "<!-- model-example -->"), count++) {
        const char *a = strstr(m, "```json\n"), *b = a ? strstr(a + 8, "```") : NULL;
        ck_assert(a && b);
        char *doc = strndup(a + 8, (size_t)(b - a - 8));
        round_trip(doc);
        free(doc);
    }
    ck_assert_int_ge(count, 2); /* the ode example and the cde one */
}
END_TEST

START_TEST(model_load_file_errors)
{
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_int_eq(codec_model_file_load("/nonexistent/spiral.json", &d, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.message, "/nonexistent/spiral.json: cannot open"));
    char path[] = "/tmp/check_codec_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"kind\": \"ode\", \"state_dim\": -1}", f);
    fclose(f);
    err_clear(&e);
    ck_assert_int_eq(codec_model_file_load(path, &d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "state_dim");
    ck_assert_ptr_nonnull(strstr(e.message, path));
    unlink(path);
}
END_TEST

/* ---- trajectory requests ---- */

static err_code decode_req(const char *text, size_t dim, codec_request_ode *q, err *e)
{
    json_t *j = NULL;
    err_clear(e);
    err_code rc = codec_parse(text, strlen(text), &j, e);
    if (rc == ERR_OK) rc = codec_request_ode_decode(j, dim, q, e);
    json_decref(j);
    return rc;
}

START_TEST(request_decode)
{
    codec_request_ode q;
    err e;
    ck_assert_int_eq(decode_req("{\"y0\": [2, 0], \"t\": [0.5, 3.1, 0.2, 25, 0.5]}", 2, &q, &e),
                     ERR_OK);
    ck_assert(!q.batched);
    ck_assert_uint_eq(q.batch, 1);
    ck_assert_uint_eq(q.n_t, 5);
    ck_assert_double_eq(q.t[2], 0.2);
    ck_assert_double_eq(q.t0, 0);
    ck_assert_double_eq(q.y0[0], 2);
    ck_assert(!q.augmented);
    ck_assert_str_eq(q.solver.method, "");
    codec_request_ode_free(&q);

    ck_assert_int_eq(decode_req("{\"y0\": [[1, 2], [3, 4], [5, 6]], \"t\": [-1], \"t0\": 2.5,"
                                " \"version\": 3, \"augmented\": true,"
                                " \"solver\": {\"method\": \"dop853\", \"max_steps\": 10}}",
                                2, &q, &e),
                     ERR_OK);
    ck_assert(q.batched);
    ck_assert_uint_eq(q.batch, 3);
    ck_assert_double_eq(q.y0[5], 6);
    ck_assert_double_eq(q.t0, 2.5);
    ck_assert(q.augmented);
    ck_assert_str_eq(q.solver.method, "dop853");
    ck_assert_int_eq(q.solver.max_steps, 10);
    codec_request_ode_free(&q);
    /* the implicit methods are in the one solver table */
    ck_assert_int_eq(decode_req("{\"y0\": [1, 2], \"t\": [1], \"solver\": {\"method\": \"rodas4\"}}",
                                2, &q, &e),
                     ERR_OK);
    ck_assert_str_eq(q.solver.method, "rodas4");
    codec_request_ode_free(&q);

    /* a batch of one keeps its nesting */
    ck_assert_int_eq(decode_req("{\"y0\": [[1, 2]], \"t\": [1]}", 2, &q, &e), ERR_OK);
    ck_assert(q.batched);
    ck_assert_uint_eq(q.batch, 1);
    codec_request_ode_free(&q);
}
END_TEST

START_TEST(request_errors)
{
    const struct {
        const char *text, *field, *part;
    } cases[] = {
        {"{\"t\": [1]}", "y0", "missing"},
        {"{\"y0\": [1, 2]}", "t", "missing"},
        {"{\"y0\": [1, 2], \"t\": []}", "t", "must not be empty"},
        {"{\"y0\": [1, 2], \"t\": 3}", "t", "must be an array"},
        {"{\"y0\": [1, 2], \"t\": [1, \"2\"]}", "t[1]", "got a string"},
        {"{\"y0\": [1, 2], \"t\": [1, NaN]}", "t[1]", "NaN"},
        {"{\"y0\": [1, 2, 3], \"t\": [1]}", "y0", "must hold 2 numbers, got 3"},
        {"{\"y0\": [], \"t\": [1]}", "y0", "must hold 2 numbers, got 0"},
        {"{\"y0\": 2, \"t\": [1]}", "y0", "must be a state"},
        {"{\"y0\": [[1, 2], [3]], \"t\": [1]}", "y0[1]", "must hold 2 numbers, got 1"},
        {"{\"y0\": [[1, 2], 3], \"t\": [1]}", "y0[1]", "must be an array"},
        {"{\"y0\": [1, [2]], \"t\": [1]}", "y0[1]", "must be a number"},
        {"{\"y0\": [[1, 2], [3, Infinity]], \"t\": [1]}", "y0[1][1]", "Infinity"},
        {"{\"y0\": [1, 2], \"t\": [1], \"t0\": \"0\"}", "t0", "must be a number"},
        {"{\"y0\": [1, 2], \"t\": [1], \"augmented\": 1}", "augmented", "true or false"},
        {"{\"y0\": [1, 2], \"t\": [1], \"times\": [1]}", "times", "unknown key"},
        {"{\"y0\": [1, 2], \"t\": [1], \"solver\": {\"rtol\": 0}}", "solver.rtol", "positive"},
        {"{\"y0\": [1, 2], \"t\": [1], \"solver\": {\"atol\": -1}}", "solver.atol", "positive"},
        {"{\"y0\": [1, 2], \"t\": [1], \"solver\": {\"method\": \"rk45\"}}", "solver.method",
         "unknown method"},
        {"{\"y0\": [1, 2], \"t\": [1], \"solver\": {\"method\": \"\"}}", "solver.method",
         "unknown method"},
        {"{\"y0\": [1, 2], \"t\": [1], \"solver\": {\"max_steps\": 1.5}}", "solver.max_steps",
         "fraction"},
        {"{\"y0\": [1, 2], \"t\": [1], \"solver\": {\"rtol\": 1e-6, \"order\": 5}}", "solver.order",
         "unknown key"},
        {"{\"y0\": [1, 2], \"t\": [1], \"solver\": []}", "solver", "must be an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        codec_request_ode q;
        err e;
        ck_assert_msg(decode_req(cases[i].text, 2, &q, &e) == ERR_INVALID, "accepted: %s",
                      cases[i].text);
        ck_assert_ptr_null(q.t);
        ck_assert_ptr_null(q.y0);
        ck_assert_msg(strcmp(e.field, cases[i].field) == 0, "%s: field '%s' (%s), want '%s'",
                      cases[i].text, e.field, e.message, cases[i].field);
        ck_assert_msg(strstr(e.message, cases[i].part), "%s: message '%s' lacks '%s'",
                      cases[i].text, e.message, cases[i].part);
    }
}
END_TEST

/* The trajectory route parses "t" and "y0" packed (codec_parse_packed):
 * every request, good or bad, decodes exactly as from the plain tree (the
 * same values, or the same error, field and message), and
 * codec_packed_unpack gives back the plain tree (for the decoders that read
 * arrays themselves). pack_min 1, so that even these short arrays pack. */
START_TEST(request_packed_as_plain)
{
    static const char *const texts[] = {
        "{\"y0\": [2, 0], \"t\": [0.5, 3.1, 0.2, 25, 0.5]}",
        "{\"y0\": [[1, 2], [3, 4], [5, 6]], \"t\": [-1], \"t0\": 2.5}",
        "{\"y0\": [[1, 2]], \"t\": [1]}",
        "{\"y0\": [[1, 2], [3, 4]], \"t\": [[1, 2], [3]]}",
        "{\"y0\": [[1, 2], [3, 4]], \"t\": [[1, 2], [3, 4.5]]}",
        "{\"y0\": [[1, 2], [3, 4]], \"t\": [[1, 2], [3, null]]}",
        "{\"y0\": [[1, 2], [3, 4]], \"t\": [[1, 2], []]}",
        "{\"y0\": [[1, 2], [3, 4]], \"t\": [[1, 2]]}",
        "{\"y0\": [1, 2], \"t\": [[1, 2]]}",
        "{\"y0\": [[1, null], [3, 4]], \"t\": [1]}",
        "{\"y0\": [null, 2], \"t\": [1]}",
        "{\"y0\": [1, 2], \"t\": [1, null]}",
        "{\"y0\": [1, 2], \"t\": [null]}",
        "{\"y0\": [1, 2], \"t\": [[null]]}",
        "{\"t\": [1]}",
        "{\"y0\": [1, 2], \"t\": []}",
        "{\"y0\": [1, 2], \"t\": [1, \"2\"]}",
        "{\"y0\": [1, 2, 3], \"t\": [1]}",
        "{\"y0\": [], \"t\": [1]}",
        "{\"y0\": [[1, 2], [3]], \"t\": [1]}",
        "{\"y0\": [[1, 2], 3], \"t\": [1]}",
        "{\"y0\": [1, [2]], \"t\": [1]}",
        "{\"y0\": [[1, 2, 3], [4, 5, 6]], \"t\": [1]}",
        "{\"y0\": [1, 2], \"t\": [1], \"events\": [{\"name\": \"a\", \"t\": [1, 2]}]}",
    };
    static const char *const keys[] = {"t", "y0", NULL};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *text = texts[i];
        json_t *plain = NULL, *packed = NULL;
        err e1, e2;
        err_clear(&e1);
        err_clear(&e2);
        ck_assert_int_eq(codec_parse(text, strlen(text), &plain, &e1), ERR_OK);
        ck_assert_int_eq(codec_parse_packed(text, strlen(text), keys, 1, &packed, &e2), ERR_OK);
        codec_request_ode a, b;
        err_code ra = codec_request_ode_decode(plain, 2, &a, &e1),
                 rb = codec_request_ode_decode(packed, 2, &b, &e2);
        ck_assert_msg(ra == rb, "%s: %d plain, %d packed", text, ra, rb);
        if (ra != ERR_OK) {
            ck_assert_msg(strcmp(e1.field, e2.field) == 0 && strcmp(e1.message, e2.message) == 0,
                          "%s: plain %s: %s; packed %s: %s", text, e1.field, e1.message,
                          e2.field, e2.message);
        } else {
            ck_assert_int_eq(a.batched, b.batched);
            ck_assert_uint_eq(a.batch, b.batch);
            ck_assert_uint_eq(a.n_t, b.n_t);
            ck_assert_int_eq(!a.t_len, !b.t_len);
            ck_assert_mem_eq(a.y0, b.y0, a.batch * 2 * sizeof *a.y0);
            ck_assert_mem_eq(a.t, b.t, a.n_t * sizeof *a.t);
            if (a.t_len) ck_assert_mem_eq(a.t_len, b.t_len, a.batch * sizeof *a.t_len);
            codec_request_ode_free(&a);
            codec_request_ode_free(&b);
        }
        ck_assert_int_eq(codec_packed_unpack(packed, &e2), ERR_OK);
        ck_assert_msg(json_equal(plain, packed), "%s: unpacked tree differs", text);
        json_decref(plain);
        json_decref(packed);
    }
}
END_TEST

START_TEST(request_version)
{
    const struct {
        const char *text;
        err_code rc;
        int version;
        const char *alias;
    } cases[] = {{"{}", ERR_OK, 0, ""},
                 {"{\"version\": \"latest\"}", ERR_OK, 0, ""},
                 {"{\"version\": 3}", ERR_OK, 3, ""},
                 {"{\"version\": \"stable\"}", ERR_OK, 0, "stable"},
                 {"{\"version\": \"canary-2_b\"}", ERR_OK, 0, "canary-2_b"},
                 {"{\"version\": 0}", ERR_INVALID, 0, ""},
                 {"{\"version\": 1.5}", ERR_INVALID, 0, ""},
                 {"{\"version\": \"3\"}", ERR_INVALID, 0, ""},
                 {"{\"version\": \"Stable\"}", ERR_INVALID, 0, ""},
                 {"{\"version\": \"2x\"}", ERR_INVALID, 0, ""},
                 {"{\"version\": \"\"}", ERR_INVALID, 0, ""},
                 {"{\"version\": \"abcdefghijabcdefghijabcdefghijabc\"}", ERR_INVALID, 0, ""},
                 {"{\"version\": null}", ERR_INVALID, 0, ""}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = parse_ok(cases[i].text);
        err e;
        err_clear(&e);
        model_version_ref v = {.version = -1};
        ck_assert_int_eq(codec_request_version(j, &v, &e), cases[i].rc);
        if (cases[i].rc == ERR_OK) {
            ck_assert_int_eq(v.version, cases[i].version);
            ck_assert_str_eq(v.alias, cases[i].alias);
        } else {
            ck_assert_str_eq(e.field, "version");
        }
        json_decref(j);
    }
}
END_TEST

START_TEST(reply_text)
{
    double t[] = {0.5, 0.1};
    double y[] = {1, 2, 0.25, -0.0, 5, 6, 7, 8};
    codec_request_ode q = {.n_t = 2, .t = t, .batch = 1};
    codec_request_stats st = {.nfe = 86, .steps = 14, .rejected = 1, .elapsed_ms = 0.21};
    jbuf b;
    jbuf_init(&b);
    codec_request_ode_reply(&b, "spiral", 3, &q, y, 2, &st);
    char *s = jbuf_take(&b, NULL);
    ck_assert_str_eq(s, "{\"model\":\"spiral\",\"version\":3,\"t\":[0.5,0.1],\"y\":[[1.0,2.0],"
                        "[0.25,-0.0]],\"stats\":{\"nfe\":86,\"steps\":14,\"rejected\":1,"
                        "\"elapsed_ms\":0.21}}");
    free(s);
    q.batch = 2;
    q.batched = true;
    codec_request_ode_reply(&b, "m", 1, &q, y, 2, &st);
    s = jbuf_take(&b, NULL);
    ck_assert_ptr_nonnull(strstr(s, "\"y\":[[[1.0,2.0],[0.25,-0.0]],[[5.0,6.0],[7.0,8.0]]]"));
    free(s);
}
END_TEST

/* The implicit methods' keys only when one ran; "methods" only for auto. */
START_TEST(reply_stats_implicit)
{
    double t[] = {1};
    double y[] = {2};
    codec_request_ode q = {.n_t = 1, .t = t, .batch = 1};
    codec_request_stats st = {.nfe = 9, .steps = 2, .n_jac = 2, .n_lu = 3};
    jbuf b;
    jbuf_init(&b);
    codec_request_ode_reply(&b, "m", 1, &q, y, 1, &st);
    char *s = jbuf_take(&b, NULL);
    ck_assert_str_eq(s, "{\"model\":\"m\",\"version\":1,\"t\":[1.0],\"y\":[[2.0]],\"stats\":"
                        "{\"nfe\":9,\"steps\":2,\"rejected\":0,\"elapsed_ms\":0.0,\"n_jac\":2,"
                        "\"n_lu\":3}}");
    free(s);
    st.auto_steps[0] = 40;
    st.auto_steps[1] = 120;
    st.n_switches = 1;
    codec_request_ode_reply(&b, "m", 1, &q, y, 1, &st);
    s = jbuf_take(&b, NULL);
    ck_assert_ptr_nonnull(strstr(s, "\"n_lu\":3,\"methods\":{\"dopri5\":40,\"rodas4\":120},"
                                    "\"switches\":1}}"));
    free(s);
}
END_TEST

/* Events and per-state grids: decoded with their defaults, and the reply's
 * text: events per state, stopped_at (number, pair, null), null rows. */
START_TEST(request_events_and_grids)
{
    codec_request_ode q;
    err e;
    ck_assert_int_eq(decode_req("{\"y0\": [[2, 0], [1, 1]], \"t\": [[0.5, 0.1], []], "
                                "\"events\": [{\"name\": \"a\", \"state\": [1, 0]}, "
                                "{\"name\": \"b\", \"state\": [0, 2], \"value\": 0.5, "
                                "\"direction\": \"falling\", \"terminal\": true}]}",
                                2, &q, &e),
                     ERR_OK);
    ck_assert_uint_eq(q.n_t, 2);
    ck_assert_ptr_nonnull(q.t_len);
    ck_assert_uint_eq(q.t_len[0], 2);
    ck_assert_uint_eq(q.t_len[1], 0);
    ck_assert_uint_eq(q.n_events, 2);
    ck_assert_str_eq(q.event_names[1], "b");
    ck_assert_int_eq(q.events[0].direction, ODE_EVENT_BOTH);
    ck_assert_int_eq(q.events[0].terminal, 0);
    ck_assert_double_eq(q.events[0].value, 0);
    ck_assert_int_eq(q.events[1].direction, ODE_EVENT_FALLING);
    ck_assert_int_eq(q.events[1].terminal, 1);
    ck_assert_double_eq(q.events[1].value, 0.5);
    ck_assert_double_eq(q.events[1].w[1], 2);

    double y[] = {1, 2, NAN, NAN};
    size_t eb[] = {0, 0}, ew[] = {1, 0};
    double et[] = {0.2, 0.3}, ey[] = {3, 4, 5, 6}, fwd[] = {0.3, NAN}, bwd[] = {-1, NAN};
    struct ode_model_events ev = {.n = 2, .b = eb, .which = ew, .t = et, .y = ey,
                                  .stop_fwd = fwd, .stop_bwd = bwd, .od = 2};
    codec_request_stats st = {.nfe = 1, .steps = 2, .rejected = 3, .elapsed_ms = 0.5};
    jbuf b;
    jbuf_init(&b);
    codec_request_ode_reply_ev(&b, "m", 1, &q, y, 2, &ev, &st);
    char *s = jbuf_take(&b, NULL);
    ck_assert_str_eq(s, "{\"model\":\"m\",\"version\":1,\"t\":[[0.5,0.1],[]],\"y\":[[[1.0,2.0],"
                        "null],[]],\"events\":[[{\"name\":\"b\",\"t\":0.2,\"y\":[3.0,4.0]},"
                        "{\"name\":\"a\",\"t\":0.3,\"y\":[5.0,6.0]}],[]],\"stopped_at\":"
                        "[[-1.0,0.3],null],\"stats\":{\"nfe\":1,\"steps\":2,\"rejected\":3,"
                        "\"elapsed_ms\":0.5}}");
    free(s);
    codec_request_ode_free(&q);

    /* one state: stopped_at a number, absent when nothing stopped */
    ck_assert_int_eq(decode_req("{\"y0\": [2, 0], \"t\": [0.5], \"events\": [{\"name\": \"a\", "
                                "\"state\": [1, 0]}]}",
                                2, &q, &e),
                     ERR_OK);
    bwd[0] = NAN;
    ev.n = 0;
    codec_request_ode_reply_ev(&b, "m", 1, &q, y, 2, &ev, &st);
    s = jbuf_take(&b, NULL);
    ck_assert_ptr_nonnull(strstr(s, "\"events\":[],\"stopped_at\":0.3,"));
    free(s);
    fwd[0] = NAN;
    codec_request_ode_reply_ev(&b, "m", 1, &q, y, 2, &ev, &st);
    s = jbuf_take(&b, NULL);
    ck_assert_ptr_null(strstr(s, "stopped_at"));
    free(s);
    codec_request_ode_free(&q);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("codec");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 120); /* sanitizer builds are several times slower */
    tcase_add_test(c, numbers_match_python_repr);
    tcase_add_test(c, reply_stats_implicit);
    tcase_add_test(c, numbers_random_against_brute_force);
    tcase_add_test(c, numbers_spelling);
    tcase_add_test(c, numbers_list_against_oracle);
    tcase_add_test(c, numbers_match_oracle_edges);
    tcase_add_loop_test(c, numbers_match_oracle_random, 0, ORACLE_SLICES);
    tcase_add_test(c, strtod_hard_cases);
    tcase_add_test(c, strtod_random_against_strtod);
    tcase_add_test(c, jbuf_writes_json);
    tcase_add_test(c, jbuf_ints_and_vectors);
    tcase_add_test(c, jbuf_rows_as_vectors);
    tcase_add_test(c, jbuf_json_numbers_shortest);
    tcase_add_test(c, utf8_sequences);
    tcase_add_test(c, parse_accepts_json);
    tcase_add_test(c, parse_numbers_are_reals);
    tcase_add_test(c, content_types);
    tcase_add_test(c, model_decode_ode);
    tcase_add_test(c, model_decode_cde);
    tcase_add_test(c, request_events_and_grids);
    tcase_add_test(c, model_round_trip);
    tcase_add_test(c, model_format_doc_example);
    tcase_add_test(c, request_decode);
    tcase_add_test(c, request_version);
    tcase_add_test(c, reply_text);
    suite_add_tcase(s, c);
    TCase *lim = tcase_create("limits");
    tcase_set_timeout(lim, 120);
    tcase_add_test(lim, strtod_long_tokens);
    tcase_add_test(lim, strtod_scan_against_grammar);
    suite_add_tcase(s, lim);
    TCase *er = tcase_create("errors");
    tcase_set_timeout(er, 120);
    tcase_add_test(er, parse_errors);
    tcase_add_test(er, model_decode_errors);
    tcase_add_test(er, model_load_file_errors);
    tcase_add_test(er, request_errors);
    tcase_add_test(er, request_packed_as_plain);
    suite_add_tcase(s, er);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
