/* check_train: the training runner (jobs/train_job.c) and the job store
 * (store/jobs.c) in-process, on a real database in a temporary directory.
 *
 *   - a job's result version and its "succeeded" commit together
 *     (store_job_succeed): a job that is not running stores nothing, and a
 *     result is never stored twice;
 *   - a neural CDE job stopped and resumed from its checkpoint five times
 *     (the path a clean shutdown takes; check_jobs kills the daemon for the
 *     crash path) ends with the very loss curve and parameters of the same
 *     job run straight through, for both gradients: the checkpoint carries
 *     the parameters, the optimiser state, the RNG and the iteration;
 *   - the same seed gives the same loss curve;
 *   - the training maths alone (model/trainer.h, no store): a trainer's
 *     state restored into a fresh trainer resumes bit for bit, for a cde
 *     job (both gradients) and an ode job of windows.
 * The dataset is small (spirals turning one way or the other, irregular
 * times, missing values), so each job runs in well under a second. */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_job.h"
#include "core/log.h"
#include "jobs/train_job.h"
#include "codec/codec_model.h"
#include "model/ode_model.h"
#include "model/rng.h"
#include "model/trainer.h"
#include "store/datasets.h"
#include "store/jobs.h"
#include "store/models.h"
#include "stiff_testlib.h"
#include "store_testlib.h"
#include "testutil.h"
#include "train_testlib.h"

static void put_spirals(db *d)
{
    dataset ds;
    tt_spirals(&ds, 24, 0, 7);
    err e;
    err_clear(&e);
    ck_assert_msg(store_dataset_put(d, "spirals", &ds, &e) == ERR_OK, "%s", e.message);
    dataset_free(&ds);
}

static const char *cde_job(const char *gradient)
{
    static char body[1024];
    snprintf(body, sizeof body,
             "{\"model\": \"dir\", \"dataset\": \"spirals\", \"iterations\": 30, \"seed\": 4, "
             "\"gradient\": \"%s\", "
             "\"init\": {\"kind\": \"cde\", \"input_channels\": 3, \"hidden_dim\": 4, "
             "\"channels\": {\"time\": true}, \"interpolation\": \"linear\", "
             "\"vector_field\": {\"hidden\": [16], \"activation\": \"relu\"}, "
             "\"readout\": {\"hidden\": [], \"out\": 2}}, "
             "\"objective\": {\"loss\": \"cross_entropy\", \"batch_size\": 8}, "
             "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.05}, "
             "\"validation\": {\"every\": 5, \"holdout_fraction\": 0.25}, "
             "\"solver\": {\"rtol\": 1e-5, \"atol\": 1e-7}}",
             gradient);
    return body;
}

static long long create(db *d, const char *spec)
{
    job_spec s;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_job_decode(spec, strlen(spec), &s, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
    long long id = 0;
    ck_assert_int_eq(store_job_create(d, s.model, s.dataset, spec, s.iterations, &id, &e), ERR_OK);
    job_spec_free(&s);
    return id;
}

/* Claim the next job and run it; stop = 1 makes it stop (checkpoint and
 * requeue) after its next iteration. */
static job_status run(db *d, long long want, int stop_now)
{
    atomic_int stop = stop_now;
    const train_limits lim = {.checkpoint_every_iterations = 5,
                              .checkpoint_every_seconds = 1e9,
                              .stop = &stop,
                              .decode = codec_job_decode};
    bool found = false;
    long long id = 0;
    char *spec = NULL;
    job_ckpt ck;
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_job_claim(d, &found, &id, &spec, &ck, &e), ERR_OK);
    ck_assert(found);
    ck_assert_int_eq(id, want);
    job_status st = train_job_run(d, id, spec, &ck, &lim);
    free(spec);
    job_ckpt_free(&ck);
    return st;
}

static void load_version(db *d, int v, model_def *def)
{
    err e;
    err_clear(&e);
    ck_assert_int_eq(store_version_load(d, "dir", v, def, NULL, NULL, &e), ERR_OK);
}

START_TEST(cde_resume_matches_a_straight_run)
{
    const char *grad = _i ? "adjoint" : "backprop";
    db *d = stl_open();
    put_spirals(d);
    long long a = create(d, cde_job(grad)), b = create(d, cde_job(grad));
    ck_assert_int_eq(run(d, a, 0), JOB_SUCCEEDED);
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(run(d, b, 1), JOB_QUEUED);
    err e;
    err_clear(&e);
    job_info j;
    ck_assert_int_eq(store_job_get(d, b, &j, &e), ERR_OK);
    ck_assert_int_eq(j.iteration, 5);
    ck_assert_int_eq(j.status, JOB_QUEUED);
    ck_assert_int_eq(run(d, b, 0), JOB_SUCCEEDED);
    job_metric *ma = NULL, *mb = NULL;
    size_t na = 0, nb = 0;
    ck_assert_int_eq(store_job_metrics(d, a, &ma, &na, &e), ERR_OK);
    ck_assert_int_eq(store_job_metrics(d, b, &mb, &nb, &e), ERR_OK);
    ck_assert_uint_eq(na, 30);
    ck_assert_uint_eq(nb, 30);
    for (size_t i = 0; i < na; i++) {
        ck_assert_int_eq(mb[i].iteration, (long)i + 1);
        ck_assert_msg(ma[i].train_loss == mb[i].train_loss, "iteration %zu: %.17g vs %.17g", i + 1,
                      ma[i].train_loss, mb[i].train_loss);
        ck_assert(isnan(ma[i].val_loss) ? isnan(mb[i].val_loss) : ma[i].val_loss == mb[i].val_loss);
    }
    /* it learns: the last validation loss far below log 2 = 0.69 (chance) */
    ck_assert_msg(ma[29].val_loss < 0.05, "validation loss %g", ma[29].val_loss);
    free(ma);
    free(mb);
    model_def va, vb;
    load_version(d, 1, &va);
    load_version(d, 2, &vb);
    ck_assert_int_eq(va.kind, MODEL_KIND_CDE);
    ck_assert_uint_eq(va.n_params, vb.n_params);
    ck_assert(memcmp(va.params, vb.params, va.n_params * sizeof(double)) == 0);
    model_def_free(&va);
    model_def_free(&vb);
    db_close(d);
}
END_TEST

START_TEST(result_and_success_commit_together)
{
    db *d = stl_open();
    err e;
    err_clear(&e);
    model_def def;
    stl_cde_def(&def, 1);
    long long id = 0;
    ck_assert_int_eq(store_job_create(d, "m", "ds", "{}", 10, &id, &e), ERR_OK);
    /* queued, not running: nothing is stored */
    int v = -1, latest = 0;
    ck_assert_int_eq(store_job_succeed(d, id, "m", &def, &v, &e), ERR_CONFLICT);
    ck_assert_str_eq(e.field, "id");
    ck_assert_int_eq(v, -1);
    err_clear(&e);
    ck_assert_int_eq(store_model_latest(d, "m", &latest, &e), ERR_NOT_FOUND);
    bool found = false;
    long long got = 0;
    char *spec = NULL;
    job_ckpt ck;
    err_clear(&e);
    ck_assert_int_eq(store_job_claim(d, &found, &got, &spec, &ck, &e), ERR_OK);
    ck_assert(found && got == id);
    free(spec);
    job_ckpt_free(&ck);
    /* a model the store refuses: the job stays running */
    ck_assert_int_eq(store_job_succeed(d, id, "bad/name", &def, &v, &e), ERR_INVALID);
    job_info j;
    err_clear(&e);
    ck_assert_int_eq(store_job_get(d, id, &j, &e), ERR_OK);
    ck_assert_int_eq(j.status, JOB_RUNNING);
    /* running: the version and the status together */
    ck_assert_int_eq(store_job_succeed(d, id, "m", &def, &v, &e), ERR_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(store_job_get(d, id, &j, &e), ERR_OK);
    ck_assert_int_eq(j.status, JOB_SUCCEEDED);
    ck_assert_int_eq(j.result_version, 1);
    ck_assert(j.finished_at[0]);
    /* again (a rerun after the commit): refused, no second version */
    ck_assert_int_eq(store_job_succeed(d, id, "m", &def, &v, &e), ERR_CONFLICT);
    err_clear(&e);
    ck_assert_int_eq(store_model_latest(d, "m", &latest, &e), ERR_OK);
    ck_assert_int_eq(latest, 1);
    model_def_free(&def);
    db_close(d);
}
END_TEST

/* An ode job of windows on the spirals (their labels unused). */
static const char *ode_job(void)
{
    return "{\"model\": \"m\", \"dataset\": \"spirals\", \"iterations\": 30, \"seed\": 5, "
           "\"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [8]}, "
           "\"objective\": {\"loss\": \"l1\", \"batch_time\": 4, \"batch_size\": 6}, "
           "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.01}, "
           "\"validation\": {\"every\": 5}}";
}

/* Run t from its iteration to `until` (0 = to the end), its rows into
 * rows[iteration - 1]. */
static void steps(trainer *t, long until, struct trainer_row *rows)
{
    err e;
    err_clear(&e);
    while (!trainer_done(t) && (!until || trainer_iteration(t) < until)) {
        struct trainer_row r;
        ck_assert_msg(trainer_step(t, &r, &e) == ERR_OK, "%s: %s", e.field, e.message);
        ck_assert_int_eq(r.iteration, trainer_iteration(t));
        rows[r.iteration - 1] = r;
    }
}

static double *dup(const double *p, size_t n)
{
    double *q = malloc(n * sizeof *q + 1);
    ck_assert_ptr_nonnull(q);
    memcpy(q, p, n * sizeof *q);
    return q;
}

START_TEST(trainer_state_resumes_bit_for_bit)
{
    const char *doc = _i == 2 ? ode_job() : cde_job(_i ? "adjoint" : "backprop");
    job_spec spec;
    err e;
    err_clear(&e);
    ck_assert_msg(codec_job_decode(doc, strlen(doc), &spec, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
    dataset ds;
    tt_spirals(&ds, 24, 0, 7);
    struct trainer_row a[30], b[30];
    trainer *ta = NULL, *tb = NULL;
    ck_assert_msg(trainer_new(&ta, &spec.init_def, &ds, &spec, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
    steps(ta, 0, a);
    ck_assert_int_eq(trainer_iteration(ta), 30);
    /* 12 iterations, the state copied out, the trainer gone; a new one resumes */
    ck_assert_int_eq(trainer_new(&tb, &spec.init_def, &ds, &spec, &e), ERR_OK);
    steps(tb, 12, b);
    struct trainer_state st;
    trainer_state_get(tb, &st);
    ck_assert_int_eq(st.iteration, 12);
    st.params = dup(st.params, st.n_params);
    st.best = dup(st.best, st.n_params);
    st.optim = dup(st.optim, st.optim_len);
    trainer_free(tb);
    ck_assert_int_eq(trainer_new(&tb, &spec.init_def, &ds, &spec, &e), ERR_OK);
    ck_assert_int_eq(trainer_state_set(tb, &st, &e), ERR_OK);
    free(st.params), free(st.best), free(st.optim);
    ck_assert_int_eq(trainer_iteration(tb), 12);
    steps(tb, 0, b);
    for (size_t i = 0; i < 30; i++) {
        ck_assert_int_eq(b[i].iteration, a[i].iteration);
        ck_assert_msg(a[i].train_loss == b[i].train_loss, "iteration %zu: %.17g vs %.17g", i + 1,
                      a[i].train_loss, b[i].train_loss);
        ck_assert(isnan(a[i].val_loss) ? isnan(b[i].val_loss) : a[i].val_loss == b[i].val_loss);
    }
    trainer_state_get(ta, &st);
    ck_assert(memcmp(trainer_result(ta), trainer_result(tb), st.n_params * sizeof(double)) == 0);
    ck_assert(isfinite(st.best_val_loss) && st.best_val_loss <= st.val_loss);
    /* a state of another shape is refused */
    st.n_params++;
    ck_assert_int_eq(trainer_state_set(tb, &st, &e), ERR_INVALID);
    trainer_free(ta);
    trainer_free(tb);
    dataset_free(&ds);
    job_spec_free(&spec);
}
END_TEST

/* backprop has no reverse sweep through the implicit methods: refused at
 * decoding, naming the field. With the adjoint the cde job is taken and
 * trains (the ode case: stiff_ode_job_trains). */
START_TEST(implicit_methods_cde_job)
{
    static const char *const names[] = {"rodas4", "esdirk4", "auto"}; /* auto may run rodas4 */
    dataset ds;
    tt_spirals(&ds, 24, 0, 7);
    for (int m = 0; m < 6; m++) {
        char doc[1200];
        const char *base = cde_job(m < 3 ? "backprop" : "adjoint");
        const char *at = strstr(base, "\"solver\": {");
        ck_assert_ptr_nonnull(at);
        snprintf(doc, sizeof doc, "%.*s\"solver\": {\"method\": \"%s\", %s", (int)(at - base), base,
                 names[m % 3], at + strlen("\"solver\": {"));
        job_spec s;
        err e;
        err_clear(&e);
        if (m < 3) {
            ck_assert_int_eq(codec_job_decode(doc, strlen(doc), &s, &e), ERR_INVALID);
            ck_assert_str_eq(e.field, "gradient");
            ck_assert_msg(strstr(e.message, names[m]) != NULL, "%s", e.message);
            continue;
        }
        ck_assert_msg(codec_job_decode(doc, strlen(doc), &s, &e) == ERR_OK, "%s: %s", e.field,
                      e.message);
        trainer *t = NULL;
        ck_assert_msg(trainer_new(&t, &s.init_def, &ds, &s, &e) == ERR_OK, "%s", e.message);
        struct trainer_row row;
        for (int it = 0; it < 3; it++) {
            ck_assert_msg(trainer_step(t, &row, &e) == ERR_OK, "%s: %s: %s", names[m % 3], e.field,
                          e.message);
            ck_assert(isfinite(row.train_loss));
        }
        trainer_free(t);
        job_spec_free(&s);
    }
    dataset_free(&ds);
}
END_TEST

/* A job on a stiff neural ODE (tests/stiff_testlib.h, fast mode -2e4):
 * teacher data from the model with b2 = 0.3, the student starts from b2 =
 * 0; every iteration takes all 20 windows (length 1.0). With rodas4,
 * esdirk4 and auto (the adjoint: esdirk4 backwards on the recorded forward,
 * grad_adjoint.c) the loss falls by more than half over 12 iterations
 * (measured: 0.0096 -> 0.00093, the same to 4 digits for the three) within
 * max_steps 3000 per solve; dopri5 needs about 6000 steps per unit
 * of time on this model (its stability bound 3.3 / 2e4) and stops at the
 * first iteration with max_steps reached. */
static char *stiff_model_doc(const double *p)
{
    static char doc[8192];
    size_t n = 0;
    n += (size_t)snprintf(doc + n, sizeof doc - n,
                          "{\"kind\": \"ode\", \"state_dim\": 3, \"vector_field\": {\"layers\": [");
    const size_t rows[2] = {8, 3}, cols[2] = {3, 8};
    size_t off = 0;
    for (int l = 0; l < 2; l++) {
        n += (size_t)snprintf(doc + n, sizeof doc - n, "%s{\"weight\": [", l ? ", " : "");
        for (size_t r = 0; r < rows[l]; r++) {
            n += (size_t)snprintf(doc + n, sizeof doc - n, "%s[", r ? ", " : "");
            for (size_t c = 0; c < cols[l]; c++)
                n += (size_t)snprintf(doc + n, sizeof doc - n, "%s%.17g", c ? ", " : "",
                                      p[off + r * cols[l] + c]);
            n += (size_t)snprintf(doc + n, sizeof doc - n, "]");
        }
        off += rows[l] * cols[l];
        n += (size_t)snprintf(doc + n, sizeof doc - n, "], \"bias\": [");
        for (size_t r = 0; r < rows[l]; r++)
            n += (size_t)snprintf(doc + n, sizeof doc - n, "%s%.17g", r ? ", " : "", p[off + r]);
        off += rows[l];
        n += (size_t)snprintf(doc + n, sizeof doc - n, "], \"activation\": \"%s\"}",
                              l ? "identity" : "tanh");
    }
    snprintf(doc + n, sizeof doc - n, "]}}");
    ck_assert_uint_lt(n, sizeof doc - 8);
    return doc;
}

static void stiff_def(model_def *d, const double *p)
{
    json_error_t je;
    json_t *doc = json_loads(stiff_model_doc(p), 0, &je);
    ck_assert_msg(doc != NULL, "%s", je.text);
    model_def_init(d);
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(doc, d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    json_decref(doc);
}

START_TEST(stiff_ode_job_trains)
{
    double p[STIFF_MLP_PARAMS];
    stiff_mlp_params(2e4, 77, p);
    double *b2 = p + STIFF_MLP_PARAMS - 3;
    for (int k = 0; k < 3; k++)
        b2[k] = 0.3;
    model_def teacher;
    stiff_def(&teacher, p);
    for (int k = 0; k < 3; k++)
        b2[k] = 0;
    model_def student;
    stiff_def(&student, p);
    /* the teacher's trajectories: 4 series, 9 times on [0, 2] */
    dataset ds;
    dataset_init(&ds);
    ds.channels = 3;
    ds.n_series = 4;
    ds.series = calloc(4, sizeof *ds.series);
    ck_assert_ptr_nonnull(ds.series);
    ode_model *tm = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(ode_model_new(&tm, &teacher, &e) == ERR_OK, "%s", e.message);
    rng r;
    rng_seed(&r, 5);
    for (size_t k = 0; k < 4; k++) {
        dataset_series *x = &ds.series[k];
        x->n = 9;
        x->t = calloc(9, sizeof(double));
        x->y = calloc(27, sizeof(double));
        ck_assert(x->t && x->y);
        double y0[3];
        for (int c = 0; c < 3; c++)
            y0[c] = rng_uniform_range(&r, -1, 1);
        for (size_t i = 0; i < 9; i++)
            x->t[i] = 0.25 * (double)i;
        struct ode_model_query q = {.t0 = 0, .batch = 1, .y0 = y0, .t = x->t, .n_t = 9};
        snprintf(q.solver.method, sizeof q.solver.method, "rodas4");
        q.solver.rtol = 1e-9;
        q.solver.atol = 1e-11;
        struct ode_model_stats mst;
        ck_assert_msg(ode_model_solve(tm, &q, x->y, &mst, &e) == ERR_OK, "%s", e.message);
    }
    ode_model_free(tm);
    static const char *const methods[] = {"rodas4", "esdirk4", "auto", "dopri5"};
    for (int m = 0; m < 4; m++) {
        char doc[1024];
        snprintf(doc, sizeof doc,
                 "{\"model\": \"stiff\", \"dataset\": \"stiff\", \"iterations\": 12, \"seed\": 3, "
                 "\"from_version\": 1, \"objective\": {\"loss\": \"mse\", \"batch_size\": 20, "
                 "\"batch_time\": 5}, \"optimizer\": {\"name\": \"adam\", \"lr\": %g}, "
                 "\"solver\": {\"method\": \"%s\", \"rtol\": 1e-6, \"atol\": 1e-8, "
                 "\"max_steps\": 3000}}",
                 0.001, methods[m]);
        job_spec spec;
        ck_assert_msg(codec_job_decode(doc, strlen(doc), &spec, &e) == ERR_OK, "%s: %s", e.field,
                      e.message);
        trainer *t = NULL;
        ck_assert_msg(trainer_new(&t, &student, &ds, &spec, &e) == ERR_OK, "%s: %s", e.field,
                      e.message);
        struct trainer_row row;
        if (m == 3) {
            ck_assert_int_eq(trainer_step(t, &row, &e), ERR_SOLVER);
            ck_assert_msg(strstr(e.message, "max_steps") != NULL, "%s", e.message);
            printf("stiff ode job, dopri5: %s\n", e.message);
        } else {
            double first = NAN, last = NAN;
            for (int it = 0; it < 12; it++) {
                ck_assert_msg(trainer_step(t, &row, &e) == ERR_OK, "%s: %s: %s", methods[m],
                              e.field, e.message);
                if (it == 0) first = row.train_loss;
                last = row.train_loss;
            }
            printf("stiff ode job, %s: training loss %.4g -> %.4g in 12 iterations\n", methods[m],
                   first, last);
            ck_assert_msg(last < 0.5 * first, "%s: %.6g -> %.6g", methods[m], first, last);
        }
        trainer_free(t);
        job_spec_free(&spec);
    }
    dataset_free(&ds);
    model_def_free(&teacher);
    model_def_free(&student);
}
END_TEST

static Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, stl_tmp_setup, stl_tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, cde_resume_matches_a_straight_run, 0, 2);
    tcase_add_test(tc, result_and_success_commit_together);
    tcase_add_loop_test(tc, trainer_state_resumes_bit_for_bit, 0, 3);
    tcase_add_test(tc, implicit_methods_cde_job);
    tcase_add_test(tc, stiff_ode_job_trains);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_level_set(LOG_LVL_WARN);
    stl_init("check_train");
    int rc = tu_suite_run(train_suite());
    stl_done();
    return rc;
}
