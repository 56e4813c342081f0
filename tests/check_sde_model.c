/* tests/check_sde_model.c: model/sde_model.h, the sde kind of model_def and
 * its model document (codec_model.c).
 *
 * What the numbers must not depend on: the thread count (a real core/workq
 * pool helping), which samples, initial states or times are asked for.
 * Milstein's derivative term through the networks is checked against an
 * independent evaluation: num/sde.h driven by callbacks that take the
 * diagonal (or J g) from nn's full Jacobian (mlp_jacobian) instead of the
 * model's forward-mode products. The statistics of the solvers themselves
 * are tests/check_sde.c's. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_model.h"
#include "codec/jbuf.h"
#include "core/workq.h"
#include "model/rng.h"
#include "model/sde_model.h"
#include "nn/mlp.h"
#include "testutil.h"

static void load_demo(model_def *d)
{
    FILE *f = tu_source_open("examples/sde-demo.json");
    ck_assert_ptr_nonnull(f);
    json_error_t je;
    json_t *doc = json_loadf(f, 0, &je);
    fclose(f);
    ck_assert_ptr_nonnull(doc);
    err e;
    err_clear(&e);
    ck_assert_msg(codec_model_decode(doc, d, &e) == ERR_OK, "%s: %s", e.field, e.message);
    json_decref(doc);
}

/* A document from text (a small model written in the test). */
static err_code decode_text(const char *text, model_def *d, err *e)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    ck_assert_msg(doc != NULL, "%s", je.text);
    err_code rc = codec_model_decode(doc, d, e);
    json_decref(doc);
    return rc;
}

static double *solve(const sde_model *m, const double *y0, size_t batch, const double *t,
                     size_t n_t, size_t samples, uint64_t seed, workq *pool, int helpers,
                     struct sde_model_stats *st)
{
    const size_t d = sde_model_state_dim(m);
    double *y = malloc(batch * samples * n_t * d * sizeof *y);
    struct sde_model_query q = {.t0 = 0, .batch = batch, .y0 = y0, .t = t, .n_t = n_t,
                                .samples = samples, .seed = seed, .pool = pool,
                                .max_helpers = helpers};
    err e;
    err_clear(&e);
    ck_assert_msg(sde_model_solve(m, &q, y, st, &e) == ERR_OK, "%s: %s", e.field, e.message);
    return y;
}

START_TEST(test_independent_of_threads_and_subsets)
{
    model_def d;
    load_demo(&d);
    sde_model *m;
    ck_assert_int_eq(sde_model_new(&m, &d, NULL), ERR_OK);
    const double y0[] = {1.0, 0.0, -0.5, 0.7}, t[] = {2.0, 0.3, 1.0};
    const size_t S = 300, nt = 3, dim = 2, cell = nt * dim;
    struct sde_model_stats st1, st3;
    double *one = solve(m, y0, 2, t, nt, S, 11, NULL, 0, &st1);
    workq *pool;
    ck_assert_int_eq(workq_new(&pool, 3, 64, NULL), ERR_OK);
    /* until the helpers did run: on a loaded machine the calling thread
     * may finish every sample before a helper is scheduled; each answer
     * must be the same either way */
    double *three = NULL;
    for (int attempt = 0; attempt < 100; attempt++) {
        free(three);
        three = solve(m, y0, 2, t, nt, S, 11, pool, 3, &st3);
        ck_assert(memcmp(one, three, 2 * S * cell * sizeof *one) == 0);
        ck_assert_int_eq(st1.steps, st3.steps);
        if (st3.threads > 1) break;
    }
    ck_assert_int_gt(st3.threads, 1);
    ck_assert_int_eq(st1.threads, 1);
    /* the first 5 samples alone */
    double *few = solve(m, y0, 2, t, nt, 5, 11, NULL, 0, NULL);
    for (size_t b = 0; b < 2; b++)
        ck_assert(memcmp(few + b * 5 * cell, one + b * S * cell, 5 * cell * sizeof *few) == 0);
    /* the second initial state alone, one time */
    double *alone = solve(m, y0 + 2, 1, &t[2], 1, S, 11, pool, 3, NULL);
    for (size_t k = 0; k < S; k++)
        ck_assert(memcmp(alone + k * dim, one + (S + k) * cell + 2 * dim, dim * sizeof *alone) == 0);
    /* another seed: other paths */
    double *other = solve(m, y0, 1, t, 1, 1, 12, NULL, 0, NULL);
    ck_assert(other[0] != one[0]);
    free(one);
    free(three);
    free(few);
    free(alone);
    free(other);
    workq_free(pool);
    sde_model_free(m);
    model_def_free(&d);
}
END_TEST

/* ---- Milstein through the networks, against mlp_jacobian ---- */

typedef struct ref_ctx {
    mlp *f, *g;
    mlp_ws *fws, *gws;
    size_t dim;
    int scalar;
    double J[64];
} ref_ctx;

static int ref_f(void *c, double t, const double *y, double *out)
{
    ref_ctx *r = c;
    mlp_forward(r->f, r->fws, y, t, out);
    return 0;
}
static int ref_g(void *c, double t, const double *y, double *out)
{
    ref_ctx *r = c;
    mlp_forward(r->g, r->gws, y, t, out);
    return 0;
}
static int ref_gq(void *c, double t, const double *y, double *g, double *q)
{
    ref_ctx *r = c;
    mlp_jacobian(r->g, r->gws, y, t, g, r->J, NULL);
    for (size_t i = 0; i < r->dim; i++) {
        if (r->scalar) {
            q[i] = 0;
            for (size_t j = 0; j < r->dim; j++)
                q[i] += r->J[i * r->dim + j] * g[j];
        } else {
            q[i] = g[i] * r->J[i * r->dim + i];
        }
    }
    return 0;
}

static mlp *net_of(const model_def *d, size_t which)
{
    const model_net *n = &d->nets[which];
    const mlp_spec spec = {n->in_dim, n->time_input, n->n_layers, n->layers};
    mlp *m;
    ck_assert_int_eq(mlp_new(&m, &spec, NULL), ERR_OK);
    memcpy(mlp_params(m), d->params + model_def_net_offset(d, which),
           mlp_n_params(m) * sizeof(double));
    return m;
}

START_TEST(test_milstein_jacobian)
{
    for (int scalar = 0; scalar < 2; scalar++) {
        model_def d;
        load_demo(&d);
        d.sde_noise = scalar ? SDE_NOISE_SCALAR : SDE_NOISE_DIAGONAL;
        snprintf(d.solver.method, sizeof d.solver.method, "milstein");
        sde_model *m;
        ck_assert_int_eq(sde_model_new(&m, &d, NULL), ERR_OK);
        const double y0[] = {0.8, -0.4}, t[] = {0.5, 1.5};
        double *y = solve(m, y0, 1, t, 2, 8, 5, NULL, 0, NULL);
        ref_ctx r = {.dim = 2, .scalar = scalar};
        r.f = net_of(&d, MODEL_NET_SDE_DRIFT);
        r.g = net_of(&d, MODEL_NET_SDE_DIFFUSION);
        ck_assert_int_eq(mlp_ws_new(&r.fws, r.f, 1, NULL), ERR_OK);
        ck_assert_int_eq(mlp_ws_new(&r.gws, r.g, 1, NULL), ERR_OK);
        sde_problem p = {.dim = 2, .m = scalar ? 1 : 2,
                         .noise = scalar ? SDE_NOISE_SCALAR : SDE_NOISE_DIAGONAL,
                         .calculus = SDE_ITO, .drift = ref_f, .diffusion = ref_g,
                         .diffusion_d = ref_gq, .ctx = &r};
        sde_ws *w;
        ck_assert_int_eq(sde_ws_new(&w, 2, p.m, NULL), ERR_OK);
        double ref[4];
        double dmax = 0, drift_only = 0;
        for (uint32_t k = 0; k < 8; k++) {
            ck_assert_int_eq(sde_solve(&p, sde_method_find("milstein"), d.solver.step, 5, k, 0, y0,
                                       t, 2, NULL, ref, w, NULL, NULL, NULL, NULL),
                             ERR_OK);
            for (int i = 0; i < 4; i++) {
                dmax = fmax(dmax, fabs(ref[i] - y[k * 4 + i]));
                drift_only = fmax(drift_only, fabs(ref[i]));
            }
        }
        ck_assert_msg(dmax <= 1e-12 * fmax(1, drift_only), "%s: max difference %g",
                      scalar ? "scalar" : "diagonal", dmax);
        /* and the term matters: Euler-Maruyama on the same paths differs */
        snprintf(d.solver.method, sizeof d.solver.method, "euler_maruyama");
        sde_model *em;
        ck_assert_int_eq(sde_model_new(&em, &d, NULL), ERR_OK);
        double *ye = solve(em, y0, 1, t, 2, 8, 5, NULL, 0, NULL);
        double diff = 0;
        for (int i = 0; i < 32; i++)
            diff = fmax(diff, fabs(ye[i] - y[i]));
        ck_assert_double_gt(diff, 1e-6);
        free(ye);
        sde_model_free(em);
        sde_ws_free(w);
        mlp_ws_free(r.fws);
        mlp_ws_free(r.gws);
        mlp_free(r.f);
        mlp_free(r.g);
        free(y);
        sde_model_free(m);
        model_def_free(&d);
    }
}
END_TEST

/* ---- summaries ---- */

START_TEST(test_summarize)
{
    /* 5 samples, one state, one time, one component: 3 1 5 2 4 */
    const double paths[] = {3, 1, 5, 2, 4}, qs[] = {0.1, 0.25, 0.5, 0.99};
    double mean, sd, q[4], scratch[5];
    sde_model_summarize(paths, 1, 5, 1, 1, qs, 4, &mean, &sd, q, scratch);
    ck_assert_double_eq(mean, 3);
    ck_assert_double_eq_tol(sd, sqrt(2.5), 1e-15);
    /* numpy.quantile([1, 2, 3, 4, 5], [0.1, 0.25, 0.5, 0.99]) */
    ck_assert_double_eq_tol(q[0], 1.4, 1e-15);
    ck_assert_double_eq(q[1], 2);
    ck_assert_double_eq(q[2], 3);
    ck_assert_double_eq_tol(q[3], 4.96, 1e-14);
    /* one sample: std 0, every quantile the value */
    sde_model_summarize(paths, 1, 1, 1, 1, qs, 4, &mean, &sd, q, scratch);
    ck_assert(mean == 3 && sd == 0 && q[0] == 3 && q[3] == 3);
    /* finite samples whose plain sums overflow (a GBM from 1e200 spreads
     * by 1e199: its squared deviations do; values near DBL_MAX: their
     * sum does): the summary is still the closed form, never inf (a JSON
     * null). 1e200 x {3 1 5 2 4}: mean 3e200, std sqrt(2.5) 1e200; 1.5e308 +
     * 1e306 x {3 1 5 2 4} - 3e306: mean 1.5e308, std sqrt(2.5) 1e306. */
    for (int big = 0; big < 2; big++) {
        double p2[5];
        for (int k = 0; k < 5; k++)
            p2[k] = big ? 1.5e308 + 1e306 * (paths[k] - 3) : 1e200 * paths[k];
        sde_model_summarize(p2, 1, 5, 1, 1, qs, 4, &mean, &sd, q, scratch);
        const double m = big ? 1.5e308 : 3e200, s = sqrt(2.5) * (big ? 1e306 : 1e200);
        ck_assert_msg(fabs(mean - m) <= 1e-15 * m, "mean %.17g, want %.17g", mean, m);
        ck_assert_msg(fabs(sd - s) <= 1e-14 * s, "std %.17g, want %.17g", sd, s);
        ck_assert_msg(isfinite(q[0]) && isfinite(q[3]), "quantiles %g %g", q[0], q[3]);
    }
    /* the median of two values at -+1.5e308 by interpolation: 0, not inf - inf */
    const double pm[2] = {1.5e308, -1.5e308}, half = 0.5;
    sde_model_summarize(pm, 1, 2, 1, 1, &half, 1, &mean, &sd, q, scratch);
    ck_assert_msg(mean == 0 && q[0] == 0, "mean %g median %g", mean, q[0]);
}
END_TEST

/* ---- the document ---- */

START_TEST(test_document_roundtrip)
{
    model_def d, back;
    load_demo(&d);
    jbuf b;
    jbuf_init(&b);
    codec_model_encode(&d, &b);
    size_t len;
    char *text = jbuf_take(&b, &len);
    err e;
    err_clear(&e);
    ck_assert_msg(decode_text(text, &back, &e) == ERR_OK, "%s", e.message);
    ck_assert_int_eq(back.kind, MODEL_KIND_SDE);
    ck_assert_int_eq(back.sde_calculus, d.sde_calculus);
    ck_assert_int_eq(back.sde_noise, d.sde_noise);
    ck_assert_uint_eq(back.n_params, d.n_params);
    ck_assert(memcmp(back.params, d.params, d.n_params * sizeof(double)) == 0);
    ck_assert_str_eq(back.solver.method, "euler_maruyama");
    free(text);
    model_def_free(&back);
    model_def_free(&d);
    /* general noise and additive noise, each round trip */
    const char *docs[] = {
        "{\"kind\":\"sde\",\"state_dim\":2,\"calculus\":\"stratonovich\",\"noise\":\"general\","
        "\"brownian_dim\":3,\"drift\":{\"layers\":[{\"weight\":[[1,0],[0,1]],\"bias\":[0,0]}]},"
        "\"diffusion\":{\"time_input\":true,\"layers\":[{\"weight\":[[1,0,0],[0,1,0],[0,0,1],"
        "[1,1,1],[0,1,1],[1,0,1]],\"bias\":[0,0,0,0,0,0]}]},"
        "\"solver\":{\"method\":\"reversible_heun\",\"step\":0.1}}",
        "{\"kind\":\"sde\",\"state_dim\":2,\"calculus\":\"ito\",\"noise\":\"additive\","
        "\"drift\":{\"layers\":[{\"weight\":[[1,0],[0,1]],\"bias\":[0,0]}]},"
        "\"diffusion\":{\"layers\":[{\"weight\":[[0.5],[0.2]],\"bias\":[0.1,0.1]}]},"
        "\"solver\":{\"method\":\"sra1\",\"step\":0.1}}"};
    for (int i = 0; i < 2; i++) {
        err_clear(&e);
        ck_assert_msg(decode_text(docs[i], &d, &e) == ERR_OK, "doc %d: %s: %s", i, e.field,
                      e.message);
        jbuf_init(&b);
        codec_model_encode(&d, &b);
        text = jbuf_take(&b, &len);
        err_clear(&e);
        ck_assert_msg(decode_text(text, &back, &e) == ERR_OK, "doc %d again: %s", i, e.message);
        ck_assert_uint_eq(back.brownian_dim, d.brownian_dim);
        ck_assert_int_eq(back.sde_noise, d.sde_noise);
        ck_assert(back.nets[1].time_input == d.nets[1].time_input);
        sde_model *m;
        ck_assert_int_eq(sde_model_new(&m, &back, NULL), ERR_OK);
        const double y0[] = {1, 2}, t[] = {1};
        free(solve(m, y0, 1, t, 1, 3, 1, NULL, 0, NULL));
        sde_model_free(m);
        free(text);
        model_def_free(&back);
        model_def_free(&d);
    }
}
END_TEST

/* ---- errors ---- */

START_TEST(test_errors)
{
    model_def d;
    load_demo(&d);
    sde_model *m;
    ck_assert_int_eq(sde_model_new(&m, &d, NULL), ERR_OK);
    const double y0[] = {1, 0}, t[] = {1, -1};
    double y[4];
    struct sde_model_query q = {.batch = 1, .y0 = y0, .t = t, .n_t = 2, .samples = 1, .seed = 1};
    err e;
    err_clear(&e);
    ck_assert_int_eq(sde_model_solve(m, &q, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "t[1]");
    q.n_t = 1;
    snprintf(q.solver.method, sizeof q.solver.method, "euler_heun");
    err_clear(&e);
    ck_assert_int_eq(sde_model_solve(m, &q, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    snprintf(q.solver.method, sizeof q.solver.method, "rk4");
    err_clear(&e);
    ck_assert_int_eq(sde_model_solve(m, &q, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    q.solver.method[0] = 0;
    q.solver.step = 1e-9;
    err_clear(&e);
    ck_assert_int_eq(sde_model_solve(m, &q, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.step");
    sde_model_free(m);
    /* no step anywhere */
    d.solver.step = 0;
    ck_assert_int_eq(sde_model_new(&m, &d, NULL), ERR_OK);
    q.solver.step = 0;
    err_clear(&e);
    ck_assert_int_eq(sde_model_solve(m, &q, y, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.step");
    sde_model_free(m);
    /* model_def rules */
    d.solver.step = 0.01;
    d.brownian_dim = 2;
    err_clear(&e);
    ck_assert_int_eq(model_def_validate(&d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "brownian_dim");
    d.brownian_dim = 0;
    d.sde_noise = SDE_NOISE_GENERAL;
    err_clear(&e);
    ck_assert_int_eq(model_def_validate(&d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "brownian_dim");
    d.sde_noise = SDE_NOISE_DIAGONAL;
    d.sde_calculus = 7;
    err_clear(&e);
    ck_assert_int_eq(model_def_validate(&d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "calculus");
    d.sde_calculus = SDE_ITO;
    snprintf(d.solver.method, sizeof d.solver.method, "dopri5");
    err_clear(&e);
    ck_assert_int_eq(model_def_validate(&d, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "solver.method");
    model_def_free(&d);
}
END_TEST

/* A net in_dim -> 64 -> 64 -> out (tanh, tanh, identity) at params + off,
 * weights as torch.nn.Linear draws them; returns the next offset. */
static size_t wide_net(model_def *d, int which, size_t in, size_t out, bool time_input, size_t off,
                       rng *r)
{
    model_net *n = &d->nets[which];
    const size_t w[] = {in + time_input, 64, 64, out};
    n->in_dim = in;
    n->time_input = time_input;
    n->n_layers = 3;
    for (int l = 0; l < 3; l++) {
        n->layers[l] = (mlp_layer){MLP_LINEAR, w[l], w[l + 1], l < 2 ? ACT_TANH : ACT_IDENTITY};
        double k = 1 / sqrt((double)w[l]);
        for (size_t i = 0; i < w[l] * w[l + 1] + w[l + 1]; i++)
            d->params[off++] = rng_uniform_range(r, -k, k);
    }
    return off;
}

/* Chunks of 4 samples go through the solver in lockstep, the networks'
 * 64-wide layers four states at a time (sde_solve_block, nn's
 * panel_matvec_n); a request's last, shorter chunk one sample at a time.
 * Sample k of a request for k + 1 samples ((k + 1) % 4 != 0) is therefore
 * solved alone, and must equal, bit for bit, sample k of a request for 9
 * (chunks 4, 4, 1): for every method and noise type the lockstep takes,
 * with an output time between grid points and a time-dependent drift. */
START_TEST(test_lockstep_same_bits)
{
    static const struct {
        const char *method;
        sde_calculus calculus;
        sde_noise noise;
    } cases[] = {
        {"euler_maruyama", SDE_ITO, SDE_NOISE_DIAGONAL},
        {"euler_heun", SDE_STRATONOVICH, SDE_NOISE_DIAGONAL},
        {"reversible_heun", SDE_STRATONOVICH, SDE_NOISE_DIAGONAL},
        {"euler_maruyama", SDE_ITO, SDE_NOISE_ADDITIVE},
        {"milstein", SDE_ITO, SDE_NOISE_DIAGONAL}, /* not in lockstep: the same either way */
    };
    const double y0[] = {0.5, -0.3, 0.1, 0.2}, t[] = {0.5, 0.105, 0.25};
    const size_t S = 9, nt = 3, dim = 2, cell = nt * dim;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        model_def d;
        model_def_init(&d);
        d.kind = MODEL_KIND_SDE;
        d.state_dim = dim;
        d.sde_calculus = cases[ci].calculus;
        d.sde_noise = cases[ci].noise;
        d.n_nets = 2;
        const size_t gin = cases[ci].noise == SDE_NOISE_ADDITIVE ? 1 : dim;
        const size_t per = 64 * 64 + 64 + 64 * dim + dim;
        d.n_params = (dim + 1) * 64 + 64 + per + gin * 64 + 64 + per;
        d.params = malloc(d.n_params * sizeof *d.params);
        rng r;
        rng_seed(&r, 2025 + ci);
        size_t off = wide_net(&d, MODEL_NET_SDE_DRIFT, dim, dim, true, 0, &r);
        off = wide_net(&d, MODEL_NET_SDE_DIFFUSION, gin, dim, false, off, &r);
        ck_assert_uint_eq(off, d.n_params);
        snprintf(d.solver.method, sizeof d.solver.method, "%s", cases[ci].method);
        d.solver.step = 0.01;
        err e;
        err_clear(&e);
        ck_assert_msg(model_def_validate(&d, &e) == ERR_OK, "%s: %s", e.field, e.message);
        sde_model *m;
        ck_assert_int_eq(sde_model_new(&m, &d, NULL), ERR_OK);
        double *all = solve(m, y0, 2, t, nt, S, 5, NULL, 0, NULL);
        for (size_t k = 0; k < S; k++) {
            if ((k + 1) % 4 == 0) continue;
            double *part = solve(m, y0, 2, t, nt, k + 1, 5, NULL, 0, NULL);
            for (size_t b = 0; b < 2; b++)
                ck_assert_msg(memcmp(part + (b * (k + 1) + k) * cell, all + (b * S + k) * cell,
                                     cell * sizeof *all) == 0,
                              "%s, noise %d: sample %zu of state %zu differs", cases[ci].method,
                              (int)cases[ci].noise, k, b);
            free(part);
        }
        for (size_t i = 0; i < 2 * S * cell; i++)
            ck_assert(isfinite(all[i]));
        free(all);
        sde_model_free(m);
        model_def_free(&d);
    }
}
END_TEST

START_TEST(test_blowup_same_on_any_thread_count)
{
    /* drift (3y)^3: large initial states blow up, small ones may not; the
     * failure reported is the lowest (sample, state) whatever the threads */
    const char *doc =
        "{\"kind\":\"sde\",\"state_dim\":1,\"calculus\":\"ito\",\"noise\":\"diagonal\","
        "\"drift\":{\"layers\":[{\"weight\":[[3]],\"bias\":[0],\"activation\":\"cube\"}]},"
        "\"diffusion\":{\"layers\":[{\"weight\":[[0]],\"bias\":[2]}]},"
        "\"solver\":{\"method\":\"euler_maruyama\",\"step\":0.01}}";
    model_def d;
    err e;
    err_clear(&e);
    ck_assert_msg(decode_text(doc, &d, &e) == ERR_OK, "%s", e.message);
    sde_model *m;
    ck_assert_int_eq(sde_model_new(&m, &d, NULL), ERR_OK);
    const double y0[] = {0.0, 0.05}, t[] = {20};
    const size_t S = 200;
    double *y = malloc(2 * S * sizeof *y);
    workq *pool;
    ck_assert_int_eq(workq_new(&pool, 3, 64, NULL), ERR_OK);
    struct sde_model_stats st[2];
    err es[2];
    for (int i = 0; i < 2; i++) {
        struct sde_model_query q = {.batch = 2, .y0 = y0, .t = t, .n_t = 1, .samples = S,
                                    .seed = 4, .pool = i ? pool : NULL, .max_helpers = i ? 3 : 0};
        err_clear(&es[i]);
        ck_assert_int_eq(sde_model_solve(m, &q, y, &st[i], &es[i]), ERR_SOLVER);
    }
    ck_assert_uint_eq(st[0].fail_sample, st[1].fail_sample);
    ck_assert_uint_eq(st[0].fail_b, st[1].fail_b);
    ck_assert(st[0].t_fail == st[1].t_fail && isfinite(st[0].t_fail));
    ck_assert_str_eq(es[0].message, es[1].message);
    ck_assert_ptr_nonnull(strstr(es[0].message, "sample"));
    free(y);
    workq_free(pool);
    sde_model_free(m);
    model_def_free(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sde_model");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 300);
    tcase_add_test(c, test_independent_of_threads_and_subsets);
    tcase_add_test(c, test_lockstep_same_bits);
    tcase_add_test(c, test_milstein_jacobian);
    tcase_add_test(c, test_summarize);
    tcase_add_test(c, test_document_roundtrip);
    suite_add_tcase(s, c);
    TCase *er = tcase_create("errors");
    tcase_set_timeout(er, 300);
    tcase_add_test(er, test_errors);
    tcase_add_test(er, test_blowup_same_on_any_thread_count);
    suite_add_tcase(s, er);
    return s;
}

int main(void)
{
    return tu_suite_run(suite());
}
