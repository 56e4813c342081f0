/* check_codec_memory: the memory an upload's decode takes, as a multiple
 * of its body.
 *
 * This program replaces malloc, calloc, realloc and free (as check_nomem
 * does; each forwards to __libc_*) to count the bytes live at once
 * (malloc_usable_size, so the allocator's rounding counts too). A dataset
 * upload and a model upload of 1, 4 and 12 MiB are parsed and decoded as
 * the daemon does it (codec_parse_packed with the decoder's keys, the
 * tree released once decoded); the peak above the body must stay within
 * CODEC_MEMORY_BOUND times the body (docs/benchmarks.md and
 * docs/operations.md, "Memory per request"). The same decode through the
 * plain tree (codec_parse) is measured too and must exceed the bound: the
 * test tells the two apart. Large bodies are also decoded both ways, valid
 * and with a fault deep in a large array, and must agree bit for bit and
 * error for error (fuzz_packed does the same on small inputs). The
 * sanitizer builds replace malloc themselves: there only the agreement is
 * checked (and the skip is said). */
#include <check.h>
#include <jansson.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_dataset.h"
#include "codec/codec_model.h"
#include "codec/codec_parse.h"
#include "codec/jbuf.h"
#include "model/dataset.h"
#include "model/model_def.h"

/* The documented bound: the decode's peak, above the body it reads. */
#define CODEC_MEMORY_BOUND 1.5

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MEM_HOOKED 0
#else
#define MEM_HOOKED 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static atomic_long live_bytes, peak_bytes;

static void count(long d)
{
    long now = atomic_fetch_add(&live_bytes, d) + d;
    long peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now))
        ;
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (p) count((long)malloc_usable_size(p));
    return p;
}

void *calloc(size_t k, size_t n)
{
    void *p = __libc_calloc(k, n);
    if (p) count((long)malloc_usable_size(p));
    return p;
}

void *realloc(void *old, size_t n)
{
    long was = old ? (long)malloc_usable_size(old) : 0;
    void *p = __libc_realloc(old, n);
    if (p)
        count((long)malloc_usable_size(p) - was);
    else if (n == 0)
        count(-was); /* glibc: freed */
    return p;
}

void free(void *p)
{
    if (p) count(-(long)malloc_usable_size(p));
    __libc_free(p);
}
#endif

/* Start a measurement: the peak from here, above what is live now. */
static long mem_mark(void)
{
#if MEM_HOOKED
    long now = atomic_load(&live_bytes);
    atomic_store(&peak_bytes, now);
    return now;
#else
    return 0;
#endif
}

static long mem_peak_since(long mark)
{
#if MEM_HOOKED
    return atomic_load(&peak_bytes) - mark;
#else
    (void)mark;
    return 0;
#endif
}

/* ---- bodies ---- */

/* A dataset of about `bytes`: one series, 2 channels, the values written
 * as a client's encoder writes them (17 significant digits). */
static char *dataset_body(size_t bytes, size_t *len)
{
    size_t count = bytes / 44; /* a row and its time: about 44 bytes */
    char *b = malloc(count * 64 + 64);
    ck_assert_ptr_nonnull(b);
    size_t n = (size_t)sprintf(b, "{\"series\": [{\"t\": [");
    for (size_t i = 0; i < count; i++)
        n += (size_t)sprintf(b + n, "%s%zu.5", i ? "," : "", i);
    n += (size_t)sprintf(b + n, "], \"y\": [");
    for (size_t i = 0; i < count; i++)
        n += (size_t)sprintf(b + n, "%s[%.17g,%.17g]", i ? "," : "", 0.001 * (double)(i % 997),
                             -0.002 * (double)(i % 991));
    n += (size_t)sprintf(b + n, "]}]}");
    *len = n;
    return b;
}

static size_t put_matrix(char *b, size_t rows, size_t cols, unsigned *seed)
{
    size_t n = (size_t)sprintf(b, "[");
    for (size_t i = 0; i < rows; i++) {
        n += (size_t)sprintf(b + n, "%s[", i ? "," : "");
        for (size_t k = 0; k < cols; k++) {
            *seed = *seed * 1103515245u + 12345u;
            n += (size_t)sprintf(b + n, "%s%.17g", k ? "," : "",
                                 ((double)(*seed >> 8) / (1 << 24) - 0.5) / (double)cols);
        }
        n += (size_t)sprintf(b + n, "]");
    }
    return n + (size_t)sprintf(b + n, "]");
}

/* An ODE model of about `bytes`: 2 -> w -> w -> 2, tanh. */
static char *model_body(size_t bytes, size_t *len)
{
    size_t w = 8;
    while ((w + 8) * (w + 8) * 21 < bytes)
        w += 8;
    char *b = malloc((w * w + 8 * w + 64) * 26 + 1024);
    ck_assert_ptr_nonnull(b);
    unsigned seed = 7;
    size_t n = (size_t)sprintf(b, "{\"kind\": \"ode\", \"state_dim\": 2, \"vector_field\": "
                                  "{\"layers\": [{\"weight\": ");
    n += put_matrix(b + n, w, 2, &seed);
    n += (size_t)sprintf(b + n, ", \"bias\": [");
    for (size_t i = 0; i < w; i++)
        n += (size_t)sprintf(b + n, "%s%.17g", i ? "," : "", 0.01 * (double)(i % 13));
    n += (size_t)sprintf(b + n, "]");
    n += (size_t)sprintf(b + n, ", \"activation\": \"tanh\"}, {\"weight\": ");
    n += put_matrix(b + n, w, w, &seed);
    n += (size_t)sprintf(b + n, ", \"bias\": [");
    for (size_t i = 0; i < w; i++)
        n += (size_t)sprintf(b + n, "%s0", i ? "," : "");
    n += (size_t)sprintf(b + n, "], \"activation\": \"tanh\"}, {\"weight\": ");
    n += put_matrix(b + n, 2, w, &seed);
    n += (size_t)sprintf(b + n, ", \"bias\": [0, 0]}]}}");
    *len = n;
    return b;
}

/* ---- decodes, as the daemon's handlers do them ---- */

typedef struct outcome {
    err_code rc;
    err e;
    model_def md;
    dataset ds;
} outcome;

static void outcome_free(outcome *o)
{
    model_def_free(&o->md);
    dataset_free(&o->ds);
}

static char *model_text(const outcome *o)
{
    if (o->rc != ERR_OK) return NULL;
    jbuf b;
    jbuf_init(&b);
    codec_model_encode(&o->md, &b);
    size_t n;
    return jbuf_take(&b, &n);
}

static void decode(const char *body, size_t len, int is_model, int packed, outcome *o)
{
    memset(o, 0, sizeof *o);
    err_clear(&o->e);
    dataset_init(&o->ds);
    model_def_init(&o->md);
    json_t *doc = NULL;
    const char *const *keys = is_model ? codec_model_pack_keys : codec_dataset_pack_keys;
    o->rc = packed ? codec_parse_packed(body, len, keys, CODEC_PARSE_PACK_MIN, &doc, &o->e)
                   : codec_parse(body, len, &doc, &o->e);
    if (o->rc != ERR_OK) return;
    if (is_model) {
        o->rc = codec_model_decode(doc, &o->md, &o->e);
        json_decref(doc);
    } else {
        o->rc = codec_dataset_json_decode(doc, &o->ds, &o->e);
        json_decref(doc);
    }
}

static void assert_same(const outcome *a, const outcome *b, const char *what)
{
    ck_assert_msg(a->rc == b->rc, "%s: %d vs %d", what, a->rc, b->rc);
    ck_assert_str_eq(a->e.field, b->e.field);
    ck_assert_str_eq(a->e.message, b->e.message);
    char *ta = model_text(a), *tb = model_text(b);
    if (ta || tb) ck_assert_msg(ta && tb && !strcmp(ta, tb), "%s", what);
    free(ta);
    free(tb);
    ck_assert_uint_eq(a->ds.n_series, b->ds.n_series);
    for (size_t s = 0; s < a->ds.n_series; s++) {
        const dataset_series *x = &a->ds.series[s], *y = &b->ds.series[s];
        ck_assert_uint_eq(x->n, y->n);
        ck_assert(!memcmp(x->t, y->t, x->n * sizeof *x->t));
        ck_assert(!memcmp(x->y, y->y, x->n * a->ds.channels * sizeof *x->y));
    }
}

/* Peak bytes above the body of one decode (the outcome's own data
 * included: it is what the request goes on with). */
static long decode_peak(const char *body, size_t len, int is_model, int packed, outcome *o)
{
    long mark = mem_mark();
    decode(body, len, is_model, packed, o);
    return mem_peak_since(mark);
}

static void check_bound(int is_model, size_t mib)
{
    size_t len;
    char *body = is_model ? model_body(mib << 20, &len) : dataset_body(mib << 20, &len);
    outcome plain, packed;
    long p_plain = decode_peak(body, len, is_model, 0, &plain);
    long p_packed = decode_peak(body, len, is_model, 1, &packed);
    ck_assert_msg(packed.rc == ERR_OK, "%s", packed.e.message);
    assert_same(&plain, &packed, is_model ? "model" : "dataset");
    fprintf(stderr,
            "codec_memory: %s of %zu bytes: decode peak %.2f x the body packed, %.2f x plain\n",
            is_model ? "model" : "dataset", len, (double)p_packed / (double)len,
            (double)p_plain / (double)len);
#if MEM_HOOKED
    ck_assert_msg((double)p_packed <= CODEC_MEMORY_BOUND * (double)len,
                  "packed peak %ld for a body of %zu", p_packed, len);
    ck_assert_msg((double)p_plain > CODEC_MEMORY_BOUND * (double)len,
                  "plain peak %ld for a body of %zu: the bound tells nothing apart", p_plain, len);
#endif
    outcome_free(&plain);
    outcome_free(&packed);
    free(body);
}

START_TEST(dataset_decode_is_bounded)
{
    static const size_t mib[] = {1, 4, 12};
    check_bound(0, mib[_i]);
}
END_TEST

START_TEST(model_decode_is_bounded)
{
    static const size_t mib[] = {1, 4, 12};
    check_bound(1, mib[_i]);
}
END_TEST

/* A fault deep in a large array answers as the plain tree does. */
START_TEST(large_faults_answer_alike)
{
    static const struct {
        const char *find, *put;
        int is_model;
    } faults[] = {
        {"1000.5,", "1000.5,null,", 0},      /* a null time */
        {"1000.5,", "1e400,", 0},            /* overflow */
        {"1000.5,", "NaN,", 0},              /* not JSON */
        {"2000.5,", "\"x\",", 0},            /* a string */
        {"],[", "],[1],[", 0},               /* a short row */
        {"],[", "],null,[", 0},              /* a null row */
        {"],[", "],[[1,2]],[", 0},           /* nested */
        {"],[", "],[1,2,3],[", 0},           /* a long row (y) */
        {"]}]}", ",[]]}]}", 0},              /* an empty row at the end, y too long */
        {"\"t\": [", "\"t\": [1,", 0},       /* times out of order */
        {"],[", "],[", 1},                   /* none: the model itself */
        {"],[", "],[0.5],[", 1},             /* a short weight row */
        {"],[", "],[null,1],[", 1},          /* a null weight */
        {"\"bias\": [", "\"bias\": [1,", 1}, /* a bias too long */
    };
    for (int m = 0; m < 2; m++) {
        size_t len;
        char *body = m ? model_body(1 << 20, &len) : dataset_body(1 << 20, &len);
        for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
            if (faults[i].is_model != m) continue;
            const char *at = strstr(body, faults[i].find);
            ck_assert_ptr_nonnull(at);
            size_t off = (size_t)(at - body), fl = strlen(faults[i].find),
                   pl = strlen(faults[i].put);
            char *bad = malloc(len + pl + 1);
            ck_assert_ptr_nonnull(bad);
            memcpy(bad, body, off);
            memcpy(bad + off, faults[i].put, pl);
            memcpy(bad + off + pl, at + fl, len - off - fl + 1);
            size_t bl = len - fl + pl;
            outcome a, b;
            decode(bad, bl, m, 0, &a);
            decode(bad, bl, m, 1, &b);
            assert_same(&a, &b, faults[i].put);
            outcome_free(&a);
            outcome_free(&b);
            free(bad);
        }
        free(body);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("codec_memory");
    TCase *t = tcase_create("decode");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, dataset_decode_is_bounded, 0, 3);
    tcase_add_loop_test(t, model_decode_is_bounded, 0, 3);
    tcase_add_test(t, large_faults_answer_alike);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
#if !MEM_HOOKED
    fprintf(stderr, "codec_memory: the sanitizer owns malloc: bounds not measured\n");
#endif
    SRunner *sr = srunner_create(suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
