/* check_train_threads: a job's "threads" (model/trainer.h, trainer_pool.h).
 *
 *   - the loss curve (training and validation losses), the parameters and
 *     the kept result of ode jobs (windows solved as one system and per
 *     window, several chunks per mini-batch; whole series) and cde jobs
 *     (both gradients) are bit-identical (memcmp) on 1, 2 and 3 threads;
 *   - helpers that yield to serving (the busy callback always, or every
 *     other time, says so) change nothing either, and the yields are
 *     counted;
 *   - a failing mini-batch fails with the same error on any thread count
 *     (the lowest failing chunk's);
 *   - "threads" in the job document: an integer 1..64, else 422 naming
 *     "threads"; trainer_threads_set refuses 0 and 65 the same way;
 *   - BLAS stays single-threaded inside training threads (the daemon's
 *     nn_blas_single_thread, set here as odeserved sets it).
 * TSan runs this test (.ci/run): the helpers share nothing mutable. */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_job.h"
#include "model/rng.h"
#include "model/trainer.h"
#include "nn/nn_blas.h"

#include "train_testlib.h"

#define ITER 12

/* The jobs: 0, 1 ode windows (even: one system per chunk; irregular: one
 * solve per window), 70 windows = chunks of 32, 32, 6; 2 ode whole series;
 * 3, 4 cde (backprop, adjoint). */
static const char *job(int i)
{
    static char body[1200];
    const char *ode = "{\"model\": \"m\", \"dataset\": \"s\", \"iterations\": %d, \"seed\": 5, "
                      "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [8]}, "
                      "\"objective\": {\"loss\": \"mse\"%s}, "
                      "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.01}, "
                      "\"validation\": {\"every\": 4, \"holdout_fraction\": 0.2}}";
    const char *cde = "{\"model\": \"c\", \"dataset\": \"s\", \"iterations\": %d, \"seed\": 4, "
                      "\"gradient\": \"%s\", "
                      "\"init\": {\"kind\": \"cde\", \"input_channels\": 3, \"hidden_dim\": 4, "
                      "\"channels\": {\"time\": true}, \"interpolation\": \"linear\", "
                      "\"vector_field\": {\"hidden\": [16], \"activation\": \"relu\"}, "
                      "\"readout\": {\"hidden\": [], \"out\": 2}}, "
                      "\"objective\": {\"loss\": \"cross_entropy\", \"batch_size\": 8}, "
                      "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.05}, "
                      "\"validation\": {\"every\": 4, \"holdout_fraction\": 0.25}, "
                      "\"solver\": {\"rtol\": 1e-5, \"atol\": 1e-7}}";
    if (i <= 1)
        snprintf(body, sizeof body, ode, ITER, ", \"batch_time\": 4, \"batch_size\": 70");
    else if (i == 2)
        snprintf(body, sizeof body, ode, ITER, ", \"batch_size\": 7");
    else
        snprintf(body, sizeof body, cde, ITER, i == 3 ? "backprop" : "adjoint");
    return body;
}

struct run {
    struct trainer_row rows[ITER];
    size_t np;
    double *params, *result;
    unsigned long yields;
};

static void decode(const char *doc, job_spec *spec)
{
    err e;
    err_clear(&e);
    ck_assert_msg(codec_job_decode(doc, strlen(doc), spec, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
}

/* Every iteration of `doc` on `threads` threads, helpers asking busy. */
static void run(const char *doc, const dataset *ds, int threads, int (*busy)(void *), void *ctx,
                struct run *out)
{
    job_spec spec;
    decode(doc, &spec);
    err e;
    err_clear(&e);
    trainer *t = NULL;
    ck_assert_msg(trainer_new(&t, &spec.init_def, ds, &spec, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
    ck_assert_msg(trainer_threads_set(t, threads, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(trainer_threads(t), threads);
    trainer_yield_set(t, busy, ctx);
    memset(out->rows, 0, sizeof out->rows);
    while (!trainer_done(t)) {
        struct trainer_row r;
        ck_assert_msg(trainer_step(t, &r, &e) == ERR_OK, "%s: %s", e.field, e.message);
        out->rows[r.iteration - 1] = r;
    }
    struct trainer_state st;
    trainer_state_get(t, &st);
    out->np = st.n_params;
    out->params = malloc(st.n_params * sizeof(double));
    out->result = malloc(st.n_params * sizeof(double));
    ck_assert(out->params && out->result);
    memcpy(out->params, st.params, st.n_params * sizeof(double));
    memcpy(out->result, trainer_result(t), st.n_params * sizeof(double));
    out->yields = trainer_yields(t);
    trainer_free(t);
    job_spec_free(&spec);
}

static void same(const struct run *a, const struct run *b, const char *what)
{
    for (size_t i = 0; i < ITER; i++)
        ck_assert_msg(memcmp(&a->rows[i], &b->rows[i], sizeof a->rows[i]) == 0,
                      "%s: iteration %zu: loss %.17g vs %.17g, val %.17g vs %.17g", what, i + 1,
                      a->rows[i].train_loss, b->rows[i].train_loss, a->rows[i].val_loss,
                      b->rows[i].val_loss);
    ck_assert_uint_eq(a->np, b->np);
    ck_assert_msg(memcmp(a->params, b->params, a->np * sizeof(double)) == 0, "%s: parameters",
                  what);
    ck_assert_msg(memcmp(a->result, b->result, a->np * sizeof(double)) == 0, "%s: result", what);
}

static void run_free(struct run *r)
{
    free(r->params), free(r->result);
}

START_TEST(bit_identical_on_any_thread_count)
{
    dataset ds;
    tt_spirals(&ds, 24, _i == 0, 7);
    const char *doc = job(_i);
    struct run one, more;
    run(doc, &ds, 1, NULL, NULL, &one);
    /* the loss moved: the run trained */
    ck_assert(isfinite(one.rows[ITER - 1].train_loss));
    ck_assert(one.rows[ITER - 1].train_loss != one.rows[0].train_loss);
    for (int th = 2; th <= 3; th++) {
        char what[64];
        snprintf(what, sizeof what, "job %d, %d threads", _i, th);
        run(doc, &ds, th, NULL, NULL, &more);
        same(&one, &more, what);
        run_free(&more);
    }
    run_free(&one);
    dataset_free(&ds);
}
END_TEST

static int always(void *ctx)
{
    (void)ctx;
    return 1;
}

static int every_other(void *ctx)
{
    return (int)(atomic_fetch_add((atomic_uint *)ctx, 1) & 1);
}

START_TEST(yielding_helpers_change_nothing)
{
    dataset ds;
    tt_spirals(&ds, 24, 1, 7);
    const char *doc = job(_i ? 3 : 0);
    struct run one, busy, half;
    run(doc, &ds, 1, NULL, NULL, &one);
    run(doc, &ds, 2, always, NULL, &busy);
    ck_assert_uint_gt(busy.yields, 0);
    same(&one, &busy, "always busy");
    atomic_uint n = 0;
    run(doc, &ds, 3, every_other, &n, &half);
    same(&one, &half, "busy every other time");
    ck_assert_uint_gt(atomic_load(&n), 0);
    run_free(&one), run_free(&busy), run_free(&half);
    dataset_free(&ds);
}
END_TEST

/* A solver that may take 3 steps fails a window chunk (or a series): the
 * error is the same on every thread count. */
START_TEST(failure_is_the_same_on_any_thread_count)
{
    dataset ds;
    tt_spirals(&ds, 24, 0, 7);
    char doc[1400];
    snprintf(doc, sizeof doc, "%s", job(_i ? 3 : 1));
    char *end = strrchr(doc, '}');
    snprintf(end, sizeof doc - (size_t)(end - doc), ", \"solver\": {\"max_steps\": 3}}");
    if (_i) { /* the cde job has a solver already: replace it */
        char *s = strstr(doc, ", \"solver\": {\"rtol\"");
        char *close = strchr(s, '}');
        memmove(s, close + 1, strlen(close + 1) + 1);
    }
    err first;
    err_clear(&first);
    for (int th = 1; th <= 3; th++) {
        job_spec spec;
        decode(doc, &spec);
        err e;
        err_clear(&e);
        trainer *t = NULL;
        ck_assert_msg(trainer_new(&t, &spec.init_def, &ds, &spec, &e) == ERR_OK, "%s", e.message);
        ck_assert_int_eq(trainer_threads_set(t, th, &e), ERR_OK);
        struct trainer_row r;
        ck_assert_int_ne(trainer_step(t, &r, &e), ERR_OK);
        ck_assert_int_eq(trainer_iteration(t), 0);
        if (th == 1)
            first = e;
        else
            ck_assert_msg(e.code == first.code && !strcmp(e.field, first.field) &&
                              !strcmp(e.message, first.message),
                          "%d threads: %s: %s; 1 thread: %s: %s", th, e.field, e.message,
                          first.field, first.message);
        trainer_free(t);
        job_spec_free(&spec);
    }
    ck_assert_int_eq(first.code, ERR_SOLVER);
    dataset_free(&ds);
}
END_TEST

START_TEST(threads_are_validated)
{
    static const char *const bad[] = {"0", "65", "1.5", "-1", "\"2\"", "true", "null"};
    const char *base = job(2);
    char doc[1400];
    err e;
    job_spec spec;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(doc, sizeof doc, "{\"threads\": %s, %s", bad[i], base + 1);
        err_clear(&e);
        ck_assert_int_eq(codec_job_decode(doc, strlen(doc), &spec, &e), ERR_INVALID);
        ck_assert_msg(!strcmp(e.field, "threads"), "%s: field %s", bad[i], e.field);
    }
    snprintf(doc, sizeof doc, "{\"threads\": 64, %s", base + 1);
    decode(doc, &spec);
    ck_assert_int_eq(spec.threads, 64);
    job_spec_free(&spec);
    decode(base, &spec);
    ck_assert_int_eq(spec.threads, 0); /* not given: the daemon's train_threads */
    dataset ds;
    tt_spirals(&ds, 24, 0, 7);
    trainer *t = NULL;
    err_clear(&e);
    ck_assert_int_eq(trainer_new(&t, &spec.init_def, &ds, &spec, &e), ERR_OK);
    ck_assert_int_eq(trainer_threads_set(t, 0, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "threads");
    ck_assert_int_eq(trainer_threads_set(t, TRAINER_MAX_THREADS + 1, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "threads");
    ck_assert_int_eq(trainer_threads(t), 1);
    trainer_free(t);
    job_spec_free(&spec);
    dataset_free(&ds);
}
END_TEST

int main(void)
{
    nn_blas_single_thread(); /* as odeserved does before any worker starts */
    Suite *s = suite_create("train_threads");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, bit_identical_on_any_thread_count, 0, 5);
    tcase_add_loop_test(tc, yielding_helpers_change_nothing, 0, 2);
    tcase_add_loop_test(tc, failure_is_the_same_on_any_thread_count, 0, 2);
    tcase_add_test(tc, threads_are_validated);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
