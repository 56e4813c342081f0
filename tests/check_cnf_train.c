/* check_cnf_train: a continuous normalizing flow trained by flow matching
 * (model/trainer_cnf.c, model/cfm.h) and by maximum likelihood
 * (model/cnf_ml.h) end to end, at the model layer: on the 8-Gaussians point
 * set of tests/fixtures/gen_cnf_8gaussians.py, the held-out NLL (exact
 * trace) comes within 0.3 nats (flow matching) or 0.4 nats (maximum
 * likelihood, from random initialisation) of the mixture's true entropy,
 * and the flow's samples pass an energy-distance permutation test against
 * fresh draws never trained on. Also: the same seed gives the same
 * parameters bit for bit, and a checkpointed state resumes bit for bit
 * (both objectives).
 * The job documents go through the real decoder (codec_job_decode). */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec_job.h"
#include "model/cnf_model.h"
#include "model/rng.h"
#include "model/trainer.h"
#include "testutil.h"

static json_t *fixture;

static void load_points(const char *key, dataset *ds)
{
    json_t *a = json_object_get(fixture, key);
    ck_assert(json_is_array(a));
    dataset_init(ds);
    ck_assert_int_eq(dataset_points_alloc(ds, json_array_size(a), 2, NULL), ERR_OK);
    for (size_t i = 0; i < json_array_size(a); i++)
        for (size_t k = 0; k < 2; k++)
            ds->series[0].y[i * 2 + k] = json_number_value(json_array_get(json_array_get(a, i), k));
}

static void spec_from(const char *doc, job_spec *s)
{
    err e;
    err_clear(&e);
    ck_assert_msg(codec_job_decode(doc, strlen(doc), s, &e) == ERR_OK, "%s: %s", e.field,
                  e.message);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Energy distance between samples a (na x 2) and b (nb x 2) from the
 * pooled distance matrix, and its permutation p-value (n_perm relabellings
 * by a seeded generator; Szekely and Rizzo 2004). */
static double energy_pvalue(const double *a, size_t na, const double *b, size_t nb, int n_perm,
                            double *stat)
{
    const size_t n = na + nb;
    double *z = malloc(n * 2 * sizeof *z), *dm = malloc(n * n * sizeof *dm);
    size_t *lab = malloc(n * sizeof *lab);
    ck_assert(z && dm && lab);
    memcpy(z, a, na * 2 * sizeof *z);
    memcpy(z + na * 2, b, nb * 2 * sizeof *z);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            dm[i * n + j] = hypot(z[i * 2] - z[j * 2], z[i * 2 + 1] - z[j * 2 + 1]);
    for (size_t i = 0; i < n; i++)
        lab[i] = i;
    rng r;
    rng_seed(&r, 2718);
    int ge = 0;
    double e0 = 0;
    for (int p = 0; p <= n_perm; p++) {
        if (p > 0) /* a fresh relabelling: Fisher-Yates */
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = (size_t)rng_below(&r, i + 1), t = lab[i];
                lab[i] = lab[j];
                lab[j] = t;
            }
        double sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                const int ai = i < na, aj = j < na; /* position i holds point lab[i] */
                const double v = dm[lab[i] * n + lab[j]];
                if (ai && aj)
                    saa += v;
                else if (!ai && !aj)
                    sbb += v;
                else if (ai)
                    sab += v;
            }
        const double en = 2 * sab / ((double)na * nb) - saa / ((double)na * na) -
                          sbb / ((double)nb * nb);
        if (p == 0)
            e0 = en;
        else
            ge += en >= e0;
    }
    free(z), free(dm), free(lab);
    *stat = e0;
    return (1.0 + ge) / (1.0 + n_perm);
}

static const char *const doc_8g =
    "{\"model\": \"eight\", \"dataset\": \"eight\", \"seed\": 1,"
    " \"init\": {\"kind\": \"cnf\", \"dim\": 2,"
    "            \"vector_field\": {\"hidden\": [64, 64], \"activation\": \"tanh\"}},"
    " \"objective\": {\"loss\": \"flow_matching\", \"coupling\": \"ot\", \"batch_size\": 128},"
    " \"optimizer\": {\"name\": \"adam\", \"lr\": 0.003},"
    " \"validation\": {\"every\": %d, \"holdout_fraction\": 0.25},"
    " \"solver\": {\"method\": \"dopri5\", \"rtol\": 1e-5, \"atol\": 1e-7},"
    " \"iterations\": %d}";

/* The trained flow's samples against fresh data (energy-distance
 * permutation test, p > 0.01), and the base's (must fail: the test has power). */
static void samples_pass(const trainer *tr, const job_spec *s, const dataset *fresh)
{
    err e;
    err_clear(&e);
    /* the flow's samples against fresh data */
    model_def m;
    model_def_init(&m);
    ck_assert_int_eq(model_def_copy(&m, &s->init_def, NULL), ERR_OK);
    memcpy(m.params, trainer_result(tr), m.n_params * sizeof(double));
    cnf_model *cm = NULL;
    ck_assert_int_eq(cnf_model_new(&cm, &m, NULL), ERR_OK);
    enum { NS = 600 };
    double *x = malloc(NS * 2 * sizeof *x);
    struct cnf_sample_query q = {.n = NS, .seed = 99};
    snprintf(q.solver.method, sizeof q.solver.method, "dopri5");
    q.solver.rtol = 1e-5;
    q.solver.atol = 1e-7;
    ck_assert_msg(cnf_model_sample(cm, &q, x, NULL, NULL, NULL, NULL, &e) == ERR_OK, "%s",
                  e.message);
    double stat, pv = energy_pvalue(x, NS, fresh->series[0].y, 600, 199, &stat);
    printf("energy distance %.5f, permutation p-value %.3f (%d samples vs 600 fresh)\n", stat, pv,
           NS);
    fflush(stdout);
    ck_assert_msg(pv > 0.01, "samples differ from fresh data: p = %.3f", pv);
    /* and the test has power: the base distribution itself fails it */
    for (size_t i = 0; i < NS; i++)
        cnf_model_base_draw(cm, 5, i, x + 2 * i);
    double pv0 = energy_pvalue(x, NS, fresh->series[0].y, 600, 199, &stat);
    printf("the base against fresh data: energy distance %.5f, p-value %.3f\n", stat, pv0);
    fflush(stdout);
    ck_assert_msg(pv0 <= 0.01, "the base passes as data: p = %.3f", pv0);
    free(x);
    cnf_model_free(cm);
    model_def_free(&m);
}

START_TEST(eight_gaussians_end_to_end)
{
    const int iters = 3000, every = 1000;
    char doc[2048];
    snprintf(doc, sizeof doc, doc_8g, every, iters);
    job_spec s;
    spec_from(doc, &s);
    dataset ds, fresh;
    load_points("train", &ds);
    load_points("fresh", &fresh);
    trainer *tr = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(trainer_new(&tr, &s.init_def, &ds, &s, &e) == ERR_OK, "%s", e.message);
    double t0 = now(), tval = 0, first = NAN, last = NAN, best = INFINITY;
    while (!trainer_done(tr)) {
        struct trainer_row row;
        double a = now();
        ck_assert_msg(trainer_step(tr, &row, &e) == ERR_OK, "%s", e.message);
        if (isnan(first)) first = row.train_loss;
        last = row.train_loss;
        if (!isnan(row.val_loss)) {
            tval += now() - a;
            printf("iteration %ld: train loss %.4f, held-out NLL %.4f nats\n", row.iteration,
                   row.train_loss, row.val_loss);
            fflush(stdout);
            if (row.val_loss < best) best = row.val_loss;
        }
    }
    const double elapsed = now() - t0;
    const double h = json_number_value(json_object_get(fixture, "entropy_nats"));
    printf("8 gaussians: %d iterations in %.2f s (%.2f s of it validation), best held-out NLL "
           "%.4f, entropy %.4f, gap %.4f nats\n",
           iters, elapsed, tval, best, h, best - h);
    fflush(stdout);
    ck_assert(last < first);
    ck_assert_msg(fabs(best - h) < 0.3, "held-out NLL %.4f vs entropy %.4f", best, h);
    samples_pass(tr, &s, &fresh);
    trainer_free(tr);
    dataset_free(&ds);
    dataset_free(&fresh);
    job_spec_free(&s);
}
END_TEST

/* Maximum likelihood (model/cnf_ml.h) on the same point set, from random
 * initialisation: the held-out NLL within 0.4 nats of the entropy. */
static const char *const doc_ml =
    "{\"model\": \"eight\", \"dataset\": \"eight\", \"seed\": %d,"
    " \"init\": {\"kind\": \"cnf\", \"dim\": 2,"
    "            \"vector_field\": {\"hidden\": [64, 64], \"activation\": \"tanh\"}},"
    " \"objective\": {\"loss\": \"max_likelihood\", \"batch_size\": %d},"
    " \"optimizer\": {\"name\": \"adam\", \"lr\": %g},"
    " \"validation\": {\"every\": %d, \"holdout_fraction\": 0.25},"
    " \"solver\": {\"method\": \"dopri5\", \"rtol\": %g, \"atol\": %g},"
    " \"iterations\": %d}";

START_TEST(eight_gaussians_max_likelihood)
{
    const int iters = 200, every = 50;
    char doc[2048];
    snprintf(doc, sizeof doc, doc_ml, 1, 128, 5e-3, every, 1e-4, 1e-6, iters);
    job_spec s;
    spec_from(doc, &s);
    ck_assert_int_eq(s.cnf_objective, JOB_CNF_MAX_LIKELIHOOD);
    ck_assert(s.gradient_default); /* so backprop through the steps */
    dataset ds, fresh;
    load_points("train", &ds);
    load_points("fresh", &fresh);
    trainer *tr = NULL;
    err e;
    err_clear(&e);
    ck_assert_msg(trainer_new(&tr, &s.init_def, &ds, &s, &e) == ERR_OK, "%s", e.message);
    double t0 = now(), tval = 0, best = INFINITY;
    while (!trainer_done(tr)) {
        struct trainer_row row;
        double a = now();
        ck_assert_msg(trainer_step(tr, &row, &e) == ERR_OK, "%s", e.message);
        if (!isnan(row.val_loss)) {
            tval += now() - a;
            printf("max likelihood, iteration %ld (%.1f s): train NLL %.4f, held-out NLL %.4f\n",
                   row.iteration, now() - t0, row.train_loss, row.val_loss);
            fflush(stdout);
            if (row.val_loss < best) best = row.val_loss;
        }
    }
    const double elapsed = now() - t0;
    const double h = json_number_value(json_object_get(fixture, "entropy_nats"));
    printf("8 gaussians by max likelihood: %d iterations in %.2f s (%.2f s of it validation), "
           "best held-out NLL %.4f, entropy %.4f, gap %.4f nats\n",
           iters, elapsed, tval, best, h, best - h);
    fflush(stdout);
    ck_assert_msg(fabs(best - h) < 0.4, "held-out NLL %.4f vs entropy %.4f", best, h);
    samples_pass(tr, &s, &fresh);
    trainer_free(tr);
    dataset_free(&ds);
    dataset_free(&fresh);
    job_spec_free(&s);
}
END_TEST

START_TEST(same_seed_same_parameters_and_resume)
{
    char doc[2048];
    if (_i == 0)
        snprintf(doc, sizeof doc, doc_8g, 0, 20);
    else
        snprintf(doc, sizeof doc, doc_ml, 3, 64, 5e-3, 0, 1e-4, 1e-6, 20);
    job_spec s;
    spec_from(doc, &s);
    dataset ds;
    load_points("train", &ds);
    trainer *a = NULL, *b = NULL;
    ck_assert_int_eq(trainer_new(&a, &s.init_def, &ds, &s, NULL), ERR_OK);
    ck_assert_int_eq(trainer_new(&b, &s.init_def, &ds, &s, NULL), ERR_OK);
    struct trainer_row row;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(trainer_step(a, &row, NULL), ERR_OK);
        ck_assert_int_eq(trainer_step(b, &row, NULL), ERR_OK);
    }
    /* c resumes from a's state at 10; then a, b and c go on to 20 */
    struct trainer_state st;
    trainer_state_get(a, &st);
    trainer *c = NULL;
    ck_assert_int_eq(trainer_new(&c, &s.init_def, &ds, &s, NULL), ERR_OK);
    ck_assert_int_eq(trainer_state_set(c, &st, NULL), ERR_OK);
    while (!trainer_done(a)) {
        ck_assert_int_eq(trainer_step(a, &row, NULL), ERR_OK);
        ck_assert_int_eq(trainer_step(b, &row, NULL), ERR_OK);
        ck_assert_int_eq(trainer_step(c, &row, NULL), ERR_OK);
    }
    const size_t np = s.init_def.n_params;
    ck_assert_mem_eq(trainer_result(a), trainer_result(b), np * sizeof(double));
    ck_assert_mem_eq(trainer_result(a), trainer_result(c), np * sizeof(double));
    ck_assert(memcmp(trainer_result(a), s.init_def.params, np * sizeof(double)) != 0);
    trainer_free(a), trainer_free(b), trainer_free(c);
    dataset_free(&ds);
    job_spec_free(&s);
}
END_TEST

struct bad_doc {
    const char *objective, *field;
};

static const struct bad_doc bad[] = {
    {"{\"loss\": \"mse\"}", NULL}, /* the default loss is flow matching's */
    {"{\"loss\": \"l1\"}", "objective.loss"},
    {"{\"loss\": \"max_likelihood\"}", NULL},
    {"\"max_likelihood\"", NULL},
    {"{\"loss\": \"max_likelihood\", \"trace\": \"hutchinson\", \"probes\": 2}", NULL},
    {"{\"loss\": \"max_likelihood\", \"trace\": \"hutchinson\", \"noise\": \"gaussian\"}", NULL},
    {"{\"loss\": \"max_likelihood\", \"trace\": \"laplace\"}", "objective.trace"},
    {"{\"loss\": \"max_likelihood\", \"trace\": \"hutchinson\", \"probes\": 0}", "objective.probes"},
    {"{\"loss\": \"max_likelihood\", \"trace\": \"hutchinson\", \"noise\": \"cauchy\"}", "objective.noise"},
    {"{\"loss\": \"max_likelihood\", \"trace\": \"exact\", \"probes\": 2}", "objective.probes"},
    {"{\"loss\": \"max_likelihood\", \"coupling\": \"ot\"}", "objective"},
    {"{\"loss\": \"flow_matching\", \"probes\": 2}", "objective"},
    {"{\"loss\": \"flow_matching\", \"coupling\": \"sinkhorn\"}", "objective.coupling"},
    {"{\"loss\": \"flow_matching\", \"sigma_min\": -1}", "objective.sigma_min"},
    {"{\"loss\": \"flow_matching\", \"batch_time\": 4}", "objective.batch_time"},
    {"{\"loss\": \"flow_matching\", \"target\": \"label\"}", "objective.target"},
    {"\"flow_matching\"", NULL},
    {"\"l1\"", "objective.loss"},
    {"3", "objective"},
};

START_TEST(cnf_job_errors)
{
    const struct bad_doc *c = &bad[_i];
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 3,"
             " \"init\": {\"kind\": \"cnf\", \"dim\": 2, \"vector_field\": {\"hidden\": [8]}},"
             " \"objective\": %s}",
             c->objective);
    job_spec s;
    err e;
    err_clear(&e);
    err_code rc = codec_job_decode(doc, strlen(doc), &s, &e);
    if (!c->field) {
        ck_assert_msg(rc == ERR_OK, "case %d: %s %s", _i, e.field, e.message);
        ck_assert_int_eq(s.init_def.kind, MODEL_KIND_CNF);
        ck_assert(s.init_def.nets[0].time_input);
        ck_assert_uint_eq(s.init_def.nets[0].in_dim, 2);
        job_spec_free(&s);
        return;
    }
    ck_assert_msg(rc == ERR_INVALID, "case %d: rc %d", _i, rc);
    ck_assert_msg(strcmp(e.field, c->field) == 0, "case %d: field %s, want %s (%s)", _i, e.field,
                  c->field, e.message);
}
END_TEST

/* The other misuses: flow-matching keys on an ode job, a cnf on time
 * series or points of the wrong width, an implicit method, a bad base. */
START_TEST(cnf_job_misuse)
{
    job_spec s;
    err e;
    err_clear(&e);
    const char *ode = "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 3,"
                      " \"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [8]},"
                      " \"objective\": {\"coupling\": \"ot\"}}";
    ck_assert_int_eq(codec_job_decode(ode, strlen(ode), &s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "objective");
    err_clear(&e);
    const char *odefm = "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 3,"
                        " \"init\": {\"kind\": \"ode\", \"state_dim\": 2, \"hidden\": [8]},"
                        " \"objective\": \"flow_matching\"}";
    ck_assert_int_eq(codec_job_decode(odefm, strlen(odefm), &s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "objective.loss");
    err_clear(&e);
    const char *impl = "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 3,"
                       " \"init\": {\"kind\": \"cnf\", \"dim\": 2, \"vector_field\": {\"hidden\": [8]}},"
                       " \"solver\": {\"method\": \"rodas4\"}}";
    ck_assert_int_eq(codec_job_decode(impl, strlen(impl), &s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    err_clear(&e);
    const char *base = "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 3,"
                       " \"init\": {\"kind\": \"cnf\", \"dim\": 2, \"vector_field\": {\"hidden\": [8]},"
                       " \"base\": {\"mean\": [0, 0], \"scale\": [1, -1]}}}";
    ck_assert_int_eq(codec_job_decode(base, strlen(base), &s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "init.base.scale[1]");
    err_clear(&e);
    const char *ok = "{\"model\": \"m\", \"dataset\": \"d\", \"iterations\": 3, \"seed\": 4,"
                     " \"init\": {\"kind\": \"cnf\", \"dim\": 2, \"vector_field\": {\"hidden\": [8]},"
                     " \"base\": {\"mean\": [1, 2], \"scale\": [0.5, 2]}},"
                     " \"validation\": {\"every\": 1, \"holdout_fraction\": 0.5}}";
    ck_assert_int_eq(codec_job_decode(ok, strlen(ok), &s, &e), ERR_OK);
    ck_assert(s.init_def.base_mean && s.init_def.base_scale[1] == 2);
    dataset ds;
    dataset_init(&ds);
    ck_assert_int_eq(dataset_points_alloc(&ds, 10, 3, NULL), ERR_OK);
    trainer *t = NULL;
    ck_assert_int_eq(trainer_new(&t, &s.init_def, &ds, &s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "dataset");
    dataset_free(&ds);
    ck_assert_int_eq(dataset_points_alloc(&ds, 10, 2, NULL), ERR_OK);
    ds.kind = DATASET_KIND_SERIES;
    err_clear(&e);
    ck_assert_int_eq(trainer_new(&t, &s.init_def, &ds, &s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "dataset");
    ds.kind = DATASET_KIND_POINTS;
    for (size_t i = 0; i < 20; i++)
        ds.series[0].y[i] = (double)i / 7;
    err_clear(&e);
    ck_assert_int_eq(trainer_new(&t, &s.init_def, &ds, &s, &e), ERR_OK);
    struct trainer_row row;
    ck_assert_int_eq(trainer_step(t, &row, &e), ERR_OK); /* validates: 5 held-out points */
    ck_assert(isfinite(row.train_loss) && isfinite(row.val_loss));
    trainer_free(t);
    s.holdout_fraction = 0.9999;
    ck_assert_int_eq(trainer_new(&t, &s.init_def, &ds, &s, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "validation.holdout_fraction");
    dataset_free(&ds);
    job_spec_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cnf_train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, eight_gaussians_end_to_end);
    tcase_add_test(tc, eight_gaussians_max_likelihood);
    tcase_add_loop_test(tc, same_seed_same_parameters_and_resume, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_loop_test(tc, cnf_job_errors, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, cnf_job_misuse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    json_error_t je;
    char path[4096];
    fixture = json_load_file(tu_source_path(path, sizeof path, "tests/fixtures/cnf_8gaussians.json"),
                             0, &je);
    if (!fixture) {
        fprintf(stderr, "check_cnf_train: %s: %s\n", path, je.text);
        return 1;
    }
    int rc = tu_suite_run(suite());
    json_decref(fixture);
    return rc;
}
