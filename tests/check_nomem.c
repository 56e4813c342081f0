/* check_nomem: an allocation failure anywhere in decoding a request.
 *
 * This program replaces malloc, calloc, realloc and free (glibc supports
 * replacing them in the executable; each forwards to __libc_*). While
 * armed, they count allocations and the N-th one returns NULL. Each walk
 * takes one decode of the request path (the JSON parse and the model,
 * trajectory request, dataset JSON and CSV, and job decoders, as the
 * handlers call them; the uploads also with their arrays packed) and
 * fails its 1st allocation, its 2nd, ... until a
 * run makes fewer than N. Each failed run must answer an error record
 * (out_of_memory, never a "bad input" a client would be blamed for), leave
 * nothing allocated (live allocations counted before and after), and the
 * same decode must succeed afterwards. The sanitizer builds replace malloc
 * themselves: there the walks are skipped (and said so). */
#include <check.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_dataset.h"
#include "codec/codec_job.h"
#include "codec/codec_model.h"
#include "codec/codec_parse.h"
#include "codec/codec_request.h"
#include "model/dataset.h"
#include "model/job_spec.h"
#include "model/model_def.h"
#include "testutil.h"

/* ---- the counting allocator ---- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NOMEM_HOOKED 0
#else
#define NOMEM_HOOKED 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static atomic_int armed;
static atomic_long counted, target, live;
static atomic_int fired;

/* 1 when this allocation is the one to fail. */
static int fail_now(void)
{
    if (!atomic_load(&armed)) return 0;
    if (atomic_fetch_add(&counted, 1) + 1 != atomic_load(&target)) return 0;
    atomic_store(&fired, 1);
    return 1;
}

void *malloc(size_t n)
{
    if (fail_now()) return NULL;
    void *p = __libc_malloc(n);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

void *calloc(size_t k, size_t n)
{
    if (fail_now()) return NULL;
    void *p = __libc_calloc(k, n);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (n > 0 && fail_now()) return NULL;
    void *p = __libc_realloc(old, n);
    if (!old && p) atomic_fetch_add(&live, 1);
    if (old && n == 0) atomic_fetch_sub(&live, 1); /* glibc: freed */
    return p;
}

void free(void *p)
{
    if (p) atomic_fetch_sub(&live, 1);
    __libc_free(p);
}
#endif

static void nomem_arm(long nth)
{
#if NOMEM_HOOKED
    atomic_store(&armed, 0);
    atomic_store(&counted, 0);
    atomic_store(&fired, 0);
    atomic_store(&target, nth);
    atomic_store(&armed, 1);
#else
    (void)nth;
#endif
}

/* Stop failing; whether the fault fired. */
static int nomem_disarm(void)
{
#if NOMEM_HOOKED
    atomic_store(&armed, 0);
    return atomic_load(&fired);
#else
    return 0;
#endif
}

static long nomem_live(void)
{
#if NOMEM_HOOKED
    return atomic_load(&live);
#else
    return 0;
#endif
}

/* ---- the decodes ---- */

static char *model_text;
static size_t model_len;

typedef err_code (*decode_fn)(err *e);

static err_code parse(const char *text, size_t n, json_t **out, err *e)
{
    return codec_parse(text, n, out, e);
}

static err_code dec_model(err *e)
{
    json_t *doc = NULL;
    err_code rc = parse(model_text, model_len, &doc, e);
    if (rc) return rc;
    model_def def;
    model_def_init(&def);
    rc = codec_model_decode(doc, &def, e);
    if (rc == ERR_OK) rc = model_def_validate(&def, e);
    model_def_free(&def);
    json_decref(doc);
    return rc;
}

/* As the upload handler reads it: its arrays packed (pack_min 1, so every
 * array that can be packed is). */
static err_code dec_model_packed(err *e)
{
    json_t *doc = NULL;
    err_code rc = codec_parse_packed(model_text, model_len, codec_model_pack_keys, 1, &doc, e);
    if (rc) return rc;
    model_def def;
    model_def_init(&def);
    rc = codec_model_decode(doc, &def, e);
    if (rc == ERR_OK) rc = model_def_validate(&def, e);
    model_def_free(&def);
    json_decref(doc);
    return rc;
}

/* As the trajectory route reads it: "t" and "y0" packed (pack_min 1), a
 * batch of states with one grid each, then a batch on shared times. */
static err_code dec_request_packed(err *e)
{
    static const char *const keys[] = {"t", "y0", NULL};
    static const char *const bodies[] = {
        "{\"t\": [[0, 0.25], [0.5, 1], [0.1, 0.2]], \"y0\": [[1, 0], [0, 1], [0.5, 0.5]]}",
        "{\"t\": [0, 0.25, 0.5, 1], \"y0\": [[1, 0], [0, 1], [0.5, 0.5]]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *doc = NULL;
        err_code rc = codec_parse_packed(bodies[i], strlen(bodies[i]), keys, 1, &doc, e);
        if (rc) return rc;
        codec_request_ode q;
        memset(&q, 0, sizeof q);
        rc = codec_request_ode_decode(doc, 2, &q, e);
        if (rc == ERR_OK && q.batch != 3)
            rc = err_set(e, ERR_INTERNAL, NULL, "decoded a batch of %zu", q.batch);
        codec_request_ode_free(&q);
        json_decref(doc);
        if (rc) return rc;
    }
    return ERR_OK;
}

static err_code dec_request(err *e)
{
    static const char body[] = "{\"t\": [0, 0.25, 0.5, 1], \"y0\": [[1, 0], [0, 1], [0.5, 0.5]],"
                               " \"solver\": {\"rtol\": 1e-6}}";
    json_t *doc = NULL;
    err_code rc = parse(body, sizeof body - 1, &doc, e);
    if (rc) return rc;
    codec_request_ode q;
    memset(&q, 0, sizeof q);
    rc = codec_request_ode_decode(doc, 2, &q, e);
    /* no ck_assert while armed: Check allocates to record it */
    if (rc == ERR_OK && !(q.batch == 3 && q.n_t == 4))
        rc = err_set(e, ERR_INTERNAL, NULL, "decoded %zu x %zu", q.batch, q.n_t);
    codec_request_ode_free(&q);
    json_decref(doc);
    return rc;
}

static err_code dec_dataset_json(err *e)
{
    static const char body[] =
        "{\"series\": [{\"t\": [0, 0.5, 1.5], \"y\": [[1, 2], [null, 3], [4, null]], \"label\": 1},"
        " {\"t\": [2], \"y\": [[5, 6]], \"label\": 0}]}";
    json_t *doc = NULL;
    err_code rc = parse(body, sizeof body - 1, &doc, e);
    if (rc) return rc;
    dataset ds;
    dataset_init(&ds);
    rc = codec_dataset_json_decode(doc, &ds, e);
    if (rc == ERR_OK && ds.n_series != 2)
        rc = err_set(e, ERR_INTERNAL, NULL, "decoded %zu series", ds.n_series);
    dataset_free(&ds);
    json_decref(doc);
    return rc;
}

/* Packed (pack_min 1): flat arrays, rows with nulls, and a "t" that
 * spills back into nodes at its string (the decode then refuses it). */
static err_code dec_dataset_packed(err *e)
{
    static const char body[] =
        "{\"series\": [{\"t\": [0, 0.5, 1.5], \"y\": [[1, 2], [null, 3], [4, null]], \"label\": 1},"
        " {\"t\": [2], \"y\": [[5, 6]], \"label\": 0}]}";
    static const char spill[] = "{\"series\": [{\"t\": [0, 1, \"2\"], \"y\": [[1], [2], 3]}]}";
    json_t *doc = NULL;
    err_code rc = codec_parse_packed(spill, sizeof spill - 1, codec_dataset_pack_keys, 1, &doc, e);
    if (rc) return rc;
    json_decref(doc);
    rc = codec_parse_packed(body, sizeof body - 1, codec_dataset_pack_keys, 1, &doc, e);
    if (rc) return rc;
    dataset ds;
    dataset_init(&ds);
    rc = codec_dataset_json_decode(doc, &ds, e);
    if (rc == ERR_OK && ds.n_series != 2)
        rc = err_set(e, ERR_INTERNAL, NULL, "decoded %zu series", ds.n_series);
    dataset_free(&ds);
    json_decref(doc);
    return rc;
}

static err_code dec_dataset_csv(err *e)
{
    static const char body[] = "series,t,a,b,label\n0,0,1,2,1\n0,0.5,,3,1\n1,2,5,6,0\n"
                               "1,3,7,,0\n2,0,1,1,1\n";
    dataset ds;
    dataset_init(&ds);
    err_code rc = codec_dataset_csv_decode(body, sizeof body - 1, &ds, e);
    dataset_free(&ds);
    return rc;
}

static err_code dec_job(err *e)
{
    static const char body[] = "{\"model\": \"spiral\", \"dataset\": \"obs\", \"iterations\": 50, "
                               "\"from_version\": 1}";
    job_spec s;
    err_code rc = codec_job_decode(body, sizeof body - 1, &s, e);
    if (rc == ERR_OK) job_spec_free(&s);
    return rc;
}

static void walk(const char *what, decode_fn dec)
{
    err e;
    err_clear(&e);
    ck_assert_msg(dec(&e) == ERR_OK, "%s without a fault: %s", what, e.message);
#if !NOMEM_HOOKED
    fprintf(stderr, "check_nomem: %s: skipped (the sanitizer owns malloc)\n", what);
    return;
#endif
    /* is the allocator ours? (under valgrind it is not) */
    void *(*volatile alloc)(size_t) = malloc; /* not elided by the compiler */
    nomem_arm(1);
    void *probe = alloc(16);
    int hooked = nomem_disarm();
    free(probe);
    if (!hooked) {
        fprintf(stderr, "check_nomem: %s: skipped (malloc is not replaceable here)\n", what);
        return;
    }
    long n, failed = 0, absorbed = 0;
    for (n = 1;; n++) {
        ck_assert_msg(n < 100000, "%s: the walk does not end", what);
        long before = nomem_live();
        err_clear(&e);
        nomem_arm(n);
        err_code rc = dec(&e);
        int hit = nomem_disarm();
        ck_assert_msg(nomem_live() == before, "%s, allocation %ld failed: %ld blocks leaked", what,
                      n, nomem_live() - before);
        if (!hit) {
            ck_assert_msg(rc == ERR_OK, "%s: %s", what, e.message);
            break;
        }
        if (rc == ERR_OK) {
            absorbed++;
            continue;
        }
        failed++;
        ck_assert_msg(rc == ERR_NOMEM, "%s, allocation %ld failed: %s (%s), wanted out_of_memory",
                      what, n, err_code_name(rc), e.message);
        ck_assert(e.message[0] != '\0');
        err_clear(&e);
        ck_assert_msg(dec(&e) == ERR_OK, "%s: retry after allocation %ld: %s", what, n, e.message);
    }
    fprintf(stderr, "check_nomem: %s: %ld allocations, %ld failed cleanly, %ld absorbed\n", what,
            n - 1, failed, absorbed);
    ck_assert_int_ge(failed, 1);
}

START_TEST(model_upload)
{
    walk("model document", dec_model);
}
END_TEST

START_TEST(model_upload_packed)
{
    walk("model document (packed)", dec_model_packed);
}
END_TEST

START_TEST(dataset_json_packed)
{
    walk("dataset (JSON, packed)", dec_dataset_packed);
}
END_TEST

START_TEST(trajectory_request)
{
    walk("trajectory request", dec_request);
}
END_TEST

START_TEST(trajectory_request_packed)
{
    walk("trajectory request (packed)", dec_request_packed);
}
END_TEST

START_TEST(dataset_json)
{
    walk("dataset (JSON)", dec_dataset_json);
}
END_TEST

START_TEST(dataset_csv)
{
    walk("dataset (CSV)", dec_dataset_csv);
}
END_TEST

START_TEST(job_document)
{
    walk("job document", dec_job);
}
END_TEST

static Suite *nomem_suite(void)
{
    Suite *s = suite_create("nomem");
    TCase *tc = tcase_create("walks");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, model_upload);
    tcase_add_test(tc, trajectory_request);
    tcase_add_test(tc, trajectory_request_packed);
    tcase_add_test(tc, dataset_json);
    tcase_add_test(tc, model_upload_packed);
    tcase_add_test(tc, dataset_json_packed);
    tcase_add_test(tc, dataset_csv);
    tcase_add_test(tc, job_document);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    char path[1024];
    tu_source_path(path, sizeof path, "examples/spiral.json");
    model_text = tu_read_file(path, &model_len);
    if (!model_text) {
        fprintf(stderr, "check_nomem: cannot read %s\n", path);
        return 1;
    }
    int rc = tu_suite_run(nomem_suite());
    free(model_text);
    return rc;
}
