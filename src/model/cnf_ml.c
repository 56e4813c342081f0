/* model/cnf_ml.c: see cnf_ml.h; the maths is docs/cnf.md. */
#include "model/cnf_ml.h"

#include "nn/mlp_tangent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cnf_ml {
    const mlp *f;
    const double *mean, *scale;
    double log_norm; /* -d/2 log 2 pi - sum log scale */
    size_t d, k, max_batch;
    cnf_trace trace;
    cnf_noise noise;
    mlp_tangent_ws *tw;
    grad_solver *gs;
    double *eps;  /* max_batch x k x d: the current solve's probes */
    double *z;    /* max_batch x d */
    double *fy;   /* max_batch x d: f; then its cotangent */
    double *yd;   /* max_batch x kt x d: J u; then its cotangent (kt = d exact, k Hutchinson) */
    double *dz;   /* max_batch x d */
    double *y0, *y1, *ybar; /* max_batch x (d + k) */
};

void cnf_ml_free(cnf_ml *c)
{
    if (!c) return;
    mlp_tangent_ws_free(c->tw);
    grad_solver_free(c->gs);
    free(c->eps), free(c->z), free(c->fy), free(c->yd), free(c->dz);
    free(c->y0), free(c->y1), free(c->ybar);
    free(c);
}

err_code cnf_ml_new(cnf_ml **out, const mlp *field, const double *mean, const double *scale,
                    size_t max_batch, const struct cnf_ml_opts *o, err *e)
{
    *out = NULL;
    const size_t d = mlp_state_dim(field);
    if (mlp_output_dim(field) != d)
        return err_set(e, ERR_INVALID, "vector_field", "a cnf's field has as many outputs as inputs");
    if (max_batch == 0) return err_set(e, ERR_INVALID, "objective.batch_size", "must be >= 1");
    const bool hutch = o->trace == CNF_TRACE_HUTCHINSON;
    if (hutch && o->probes < 1)
        return err_set(e, ERR_INVALID, "objective.probes", "must be at least 1");
    cnf_ml *c = calloc(1, sizeof *c);
    if (!c) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    c->f = field;
    c->mean = mean;
    c->scale = scale;
    c->d = d;
    c->k = hutch ? o->probes : 1;
    c->trace = o->trace;
    c->noise = o->noise;
    c->max_batch = max_batch;
    c->log_norm = -0.5 * (double)d * log(2.0 * M_PI);
    for (size_t i = 0; scale && i < d; i++)
        c->log_norm -= log(scale[i]);
    const size_t kt = hutch ? c->k : d, g = d + c->k, nb = max_batch;
    if (mlp_tangent_ws_new(&c->tw, field, nb, kt, e) || grad_solver_new(&c->gs, e)) goto fail;
    c->eps = hutch ? malloc(nb * c->k * d * sizeof *c->eps) : NULL;
    c->z = malloc(nb * d * sizeof *c->z);
    c->fy = malloc(nb * d * sizeof *c->fy);
    c->yd = malloc(nb * kt * d * sizeof *c->yd);
    c->dz = malloc(nb * d * sizeof *c->dz);
    c->y0 = malloc(nb * g * sizeof *c->y0);
    c->y1 = malloc(nb * g * sizeof *c->y1);
    c->ybar = malloc(nb * g * sizeof *c->ybar);
    if ((hutch && !c->eps) || !c->z || !c->fy || !c->yd || !c->dz || !c->y0 || !c->y1 ||
        !c->ybar) {
        err_set(e, ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    *out = c;
    return ERR_OK;
fail:
    cnf_ml_free(c);
    return e ? e->code : ERR_NOMEM;
}

/* The augmented field in s = 1 - t: [-f(z, 1 - s), tr_1 .. tr_k]. */
static int ml_eval(void *ctx, double s, size_t item0, size_t n, const double *y, double *dydt)
{
    cnf_ml *c = ctx;
    const size_t d = c->d, k = c->k, g = d + k;
    const bool hutch = c->trace == CNF_TRACE_HUTCHINSON;
    const size_t kt = hutch ? k : d;
    for (size_t b = 0; b < n; b++)
        memcpy(c->z + b * d, y + b * g, d * sizeof *y);
    mlp_tangent_forward(c->f, c->tw, n, c->z, 1.0 - s, kt,
                        hutch ? c->eps + item0 * k * d : NULL, c->fy, c->yd);
    for (size_t b = 0; b < n; b++) {
        double *r = dydt + b * g;
        for (size_t i = 0; i < d; i++)
            r[i] = -c->fy[b * d + i];
        if (hutch) {
            for (size_t j = 0; j < k; j++) {
                const double *ju = c->yd + (b * k + j) * d, *u = c->eps + ((item0 + b) * k + j) * d;
                double tr = 0;
                for (size_t i = 0; i < d; i++)
                    tr += u[i] * ju[i];
                r[d + j] = tr;
            }
        } else {
            double tr = 0;
            for (size_t i = 0; i < d; i++) /* tangent i is e_i: (J e_i)_i */
                tr += c->yd[(b * d + i) * d + i];
            r[d] = tr;
        }
        for (size_t i = 0; i < g; i++)
            if (!isfinite(r[i])) return 1; /* the solver shrinks the step */
    }
    return 0;
}

static void ml_vjp(void *ctx, size_t item0, size_t n, const double *v, double *dy, double *dtheta)
{
    cnf_ml *c = ctx;
    const size_t d = c->d, k = c->k, g = d + k;
    const bool hutch = c->trace == CNF_TRACE_HUTCHINSON;
    const size_t kt = hutch ? k : d;
    memset(c->yd, 0, n * kt * d * sizeof *c->yd);
    for (size_t b = 0; b < n; b++) {
        const double *r = v + b * g;
        for (size_t i = 0; i < d; i++)
            c->fy[b * d + i] = -r[i];
        if (hutch) {
            for (size_t j = 0; j < k; j++) {
                const double *u = c->eps + ((item0 + b) * k + j) * d;
                double *vb = c->yd + (b * k + j) * d;
                for (size_t i = 0; i < d; i++)
                    vb[i] = r[d + j] * u[i];
            }
        } else {
            for (size_t i = 0; i < d; i++)
                c->yd[(b * d + i) * d + i] = r[d];
        }
    }
    memset(c->dz, 0, n * d * sizeof *c->dz);
    mlp_tangent_vjp(c->f, c->tw, c->fy, c->yd, dy ? c->dz : NULL, dtheta);
    for (size_t b = 0; dy && b < n; b++)
        for (size_t i = 0; i < d; i++)
            dy[b * g + i] += c->dz[b * d + i];
}

err_code cnf_ml_loss(cnf_ml *c, const struct grad_solve_options *so, size_t n, const double *x,
                     uint64_t probe_seed, double *loss, double *dtheta, struct grad_stats *st,
                     err *e)
{
    const size_t d = c->d, k = c->k, g = d + k;
    if (n < 1 || n > c->max_batch)
        return err_set(e, ERR_INVALID, "objective.batch_size", "must be 1 .. %zu", c->max_batch);
    for (size_t b = 0; b < n; b++) {
        memcpy(c->y0 + b * g, x + b * d, d * sizeof *x);
        memset(c->y0 + b * g + d, 0, k * sizeof *c->y0);
        for (size_t j = 0; c->trace == CNF_TRACE_HUTCHINSON && j < k; j++)
            cnf_model_probe(d, probe_seed, c->noise, b, j, c->eps + (b * k + j) * d);
    }
    const struct grad_field gf = {.dim = g, .n_params = mlp_n_params(c->f), .eval = ml_eval,
                                  .vjp = ml_vjp, .ctx = c};
    const double s_end = 1.0;
    if (grad_solver_forward(c->gs, &gf, so, 0, n, 0.0, c->y0, &s_end, 1, c->y1, e) != ERR_OK)
        return e->code;
    const double inv_n = 1.0 / (double)n;
    double total = 0;
    for (size_t b = 0; b < n; b++) {
        const double *r = c->y1 + b * g;
        double *rb = c->ybar + b * g, q = 0, a = 0;
        for (size_t i = 0; i < d; i++) {
            const double sc = c->scale ? c->scale[i] : 1.0;
            const double u = (r[i] - (c->mean ? c->mean[i] : 0.0)) / sc;
            q += u * u;
            rb[i] = inv_n * u / sc; /* d(-log N)/dz */
        }
        for (size_t j = 0; j < k; j++) {
            a += r[d + j];
            rb[d + j] = inv_n / (double)k;
        }
        total += -c->log_norm + 0.5 * q + a / (double)k;
    }
    *loss = total * inv_n;
    err_code rc = ERR_OK;
    if (dtheta) {
        memset(dtheta, 0, mlp_n_params(c->f) * sizeof *dtheta);
        rc = grad_solver_backward(c->gs, c->ybar, NULL, dtheta, e);
    }
    if (st) grad_solver_stats(c->gs, st);
    return rc;
}
