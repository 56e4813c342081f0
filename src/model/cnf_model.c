/* model/cnf_model.c: see cnf_model.h; the maths is docs/cnf.md. */
#include "model/cnf_model.h"

#include "nn/mlp.h"
#include "nn/mlp_jac_batch.h"
#include "nn/mlp_trace2.h"
#include "num/brownian.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many points AUTO solves each point alone (ode_model.h's rule). */
#define CNF_SHARED_MIN 16
/* A shared-step batch is solved in systems of at most this many points, and
 * of at most CNF_CHUNK_VALUES probe values: the workspaces (the network's
 * tape, the probes) stay bounded whatever the request's size, and a chunk's
 * GEMMs are already as fast per row as a larger one's. */
#define CNF_CHUNK_POINTS 256
#define CNF_CHUNK_VALUES (1u << 20)
/* Philox node labels that keep base draws and probes apart from each other
 * and from the SDE Brownian paths of the same seed. */
#define CNF_NODE_BASE 0x434e46424153ull  /* "CNFBAS" */
#define CNF_NODE_PROBE 0x434e4650524full /* "CNFPRO" */

struct cnf_model {
    size_t dim;
    mlp *f;
    double *mean, *scale; /* NULL: standard normal */
    double log_norm;      /* -sum log scale - dim/2 log 2 pi */
    model_solver solver;
};

/* ---- construction ---- */

err_code cnf_model_new(cnf_model **out, const model_def *d, err *e)
{
    *out = NULL;
    if (d->kind != MODEL_KIND_CNF)
        return err_set(e, ERR_INVALID, "kind", "is %s, not cnf", model_kind_name(d->kind));
    if (model_def_validate(d, e)) return ERR_INVALID;
    cnf_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, NULL, "out of memory building a cnf model");
    m->dim = d->state_dim;
    m->solver = d->solver;
    const model_net *n = &d->nets[MODEL_NET_CNF_FIELD];
    const mlp_spec spec = {.state_dim = n->in_dim,
                           .time_input = n->time_input,
                           .n_layers = n->n_layers,
                           .layers = n->layers};
    if (mlp_new(&m->f, &spec, e)) {
        err_prefix_field(e, "vector_field");
        goto fail;
    }
    memcpy(mlp_params(m->f), d->params, mlp_n_params(m->f) * sizeof(double));
    err pe; /* out of memory only serves it unpacked (same results) */
    err_clear(&pe);
    (void)mlp_pack(m->f, &pe);
    m->log_norm = -0.5 * (double)m->dim * log(2.0 * M_PI);
    if (d->base_mean) {
        m->mean = malloc(m->dim * sizeof(double));
        m->scale = malloc(m->dim * sizeof(double));
        if (!m->mean || !m->scale) {
            err_set(e, ERR_NOMEM, NULL, "out of memory building a cnf model");
            goto fail;
        }
        memcpy(m->mean, d->base_mean, m->dim * sizeof(double));
        memcpy(m->scale, d->base_scale, m->dim * sizeof(double));
        for (size_t i = 0; i < m->dim; i++)
            m->log_norm -= log(m->scale[i]);
    }
    *out = m;
    return ERR_OK;
fail:
    cnf_model_free(m);
    return e->code;
}

void cnf_model_free(cnf_model *m)
{
    if (!m) return;
    mlp_free(m->f);
    free(m->mean);
    free(m->scale);
    free(m);
}

size_t cnf_model_dim(const cnf_model *m)
{
    return m->dim;
}

double cnf_model_base_log_density(const cnf_model *m, const double *z)
{
    double s = 0;
    for (size_t i = 0; i < m->dim; i++) {
        double u = m->mean ? (z[i] - m->mean[i]) / m->scale[i] : z[i];
        s += u * u;
    }
    return m->log_norm - 0.5 * s;
}

void cnf_model_base_draw(const cnf_model *m, uint64_t seed, size_t k, double *z)
{
    double g[2];
    for (size_t i = 0; i < m->dim; i++) {
        if (i % 2 == 0) brownian_normal2(seed, (uint32_t)k, CNF_NODE_BASE, (uint32_t)(i / 2), g);
        z[i] = g[i % 2];
        if (m->mean) z[i] = m->mean[i] + m->scale[i] * z[i];
    }
}

void cnf_model_probe(size_t dim, uint64_t seed, cnf_noise noise, size_t b, size_t j, double *eps)
{
    if (noise == CNF_NOISE_GAUSSIAN) {
        double g[2];
        for (size_t i = 0; i < dim; i++) {
            if (i % 2 == 0)
                brownian_normal2(seed, (uint32_t)b, CNF_NODE_PROBE + j, (uint32_t)(i / 2), g);
            eps[i] = g[i % 2];
        }
        return;
    }
    /* Rademacher: one Philox block gives 128 signs. */
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t bits[4] = {0};
    for (size_t i = 0; i < dim; i++) {
        if (i % 128 == 0) {
            const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)j, (uint32_t)(i / 128), 0x52414445u};
            brownian_philox(ctr, key, bits);
        }
        eps[i] = (bits[(i % 128) / 32] >> (i % 32)) & 1u ? 1.0 : -1.0;
    }
}

/* ---- the augmented vector field ---- */

/* One solve's rows: nb points, each [z (dim), a (k)]; k = 0 without the
 * log-density, 1 with the exact trace, the probe count with Hutchinson. */
struct cnf_rhs {
    const cnf_model *m;
    mlp_ws *ws;
    mlp_trace2_ws *t2;    /* exact trace of a shared-step batch, two hidden layers */
    mlp_jac_batch_ws *jb; /* other shapes; both NULL: point by point */
    size_t nb, k;
    cnf_trace trace;
    const double *eps; /* nb x k x dim (Hutchinson) */
    double *z, *f, *v, *dx, *jac;
};

static int cnf_rhs_eval(double t, const double *y, double *dydt, void *ctx)
{
    struct cnf_rhs *c = ctx;
    const size_t d = c->m->dim, g = d + c->k, nb = c->nb;
    if (c->k && c->trace == CNF_TRACE_EXACT && c->t2) {
        mlp_trace2_eval(c->m->f, c->t2, nb, y, g, t);
        const double *f = mlp_trace2_y(c->t2), *tr = mlp_trace2_tr(c->t2);
        for (size_t r = 0; r < nb; r++) {
            memcpy(dydt + r * g, f + r * d, d * sizeof(double));
            dydt[r * g + d] = -tr[r];
        }
        return 0;
    }
    if (c->k && c->trace == CNF_TRACE_EXACT && c->jb) {
        mlp_jac_batch_eval(c->m->f, c->jb, nb, y, g, t);
        const double *f = mlp_jac_batch_y(c->jb);
        for (size_t r = 0; r < nb; r++)
            memcpy(dydt + r * g, f + r * d, d * sizeof(double));
        for (size_t r = 0; r < nb; r++)
            dydt[r * g + d] = 0;
        for (size_t i = 0; i < d; i++) {
            const double *col = mlp_jac_batch_col(c->jb, i);
            for (size_t r = 0; r < nb; r++)
                dydt[r * g + d] -= col[r * d + i];
        }
        return 0;
    }
    if (c->k && c->trace == CNF_TRACE_EXACT) {
        for (size_t r = 0; r < nb; r++) {
            mlp_jacobian(c->m->f, c->ws, y + r * g, t, dydt + r * g, c->jac, NULL);
            double tr = 0;
            for (size_t i = 0; i < d; i++)
                tr += c->jac[i * d + i];
            dydt[r * g + d] = -tr;
        }
        return 0;
    }
    for (size_t r = 0; r < nb; r++)
        memcpy(c->z + r * d, y + r * g, d * sizeof(double));
    mlp_forward_batch(c->m->f, c->ws, nb, c->z, t, c->f);
    for (size_t r = 0; r < nb; r++)
        memcpy(dydt + r * g, c->f + r * d, d * sizeof(double));
    for (size_t j = 0; j < c->k; j++) {
        for (size_t r = 0; r < nb; r++)
            memcpy(c->v + r * d, c->eps + (r * c->k + j) * d, d * sizeof(double));
        memset(c->dx, 0, nb * d * sizeof(double));
        mlp_vjp_batch(c->m->f, c->ws, nb, c->v, c->dx, NULL, NULL);
        for (size_t r = 0; r < nb; r++) {
            double tr = 0;
            for (size_t i = 0; i < d; i++)
                tr += c->dx[r * d + i] * c->v[r * d + i];
            dydt[r * g + d + j] = -tr;
        }
    }
    return 0;
}

/* ---- one call: validation, workspaces, the solves ---- */

struct cnf_run {
    const cnf_model *m;
    size_t n, k;                /* points, trace components */
    double t0;
    const double *t_out;        /* n_out times */
    size_t n_out;
    const double *start;        /* n x dim */
    struct cnf_trace_opts tr;
    const model_solver *over;
    cnf_batch_mode mode;
    ode_abort_fn abort;
    void *abort_ctx;
    double *y;                  /* n_out x n x g: row i, point b at (i * n + b) * g */
};

static err_code check_finite(const double *v, size_t n, size_t d, const char *name, err *e)
{
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < d; i++)
            if (!isfinite(v[b * d + i])) {
                char f[64];
                snprintf(f, sizeof f, "%s[%zu][%zu]", name, b, i);
                return err_set(e, ERR_INVALID, f, "is not a finite number");
            }
    return ERR_OK;
}

static err_code trace_check(const struct cnf_trace_opts *tr, err *e)
{
    if (tr->trace != CNF_TRACE_EXACT && tr->trace != CNF_TRACE_HUTCHINSON)
        return err_set(e, ERR_INVALID, "trace", "must be \"exact\" or \"hutchinson\"");
    if (tr->trace == CNF_TRACE_HUTCHINSON) {
        if (tr->probes < 1) return err_set(e, ERR_INVALID, "probes", "must be at least 1");
        if (tr->noise != CNF_NOISE_RADEMACHER && tr->noise != CNF_NOISE_GAUSSIAN)
            return err_set(e, ERR_INVALID, "noise", "must be \"rademacher\" or \"gaussian\"");
    }
    return ERR_OK;
}

static err_code cnf_run_solve(struct cnf_run *r, struct cnf_stats *stats, err *e)
{
    const cnf_model *m = r->m;
    const size_t d = m->dim, k = r->k, g = d + k, n = r->n;
    const struct rk_tableau *tab = NULL;
    struct ode_options o;
    ode_solver *s = NULL;
    mlp_ws *ws = NULL;
    mlp_jac_batch_ws *jb = NULL;
    mlp_trace2_ws *t2 = NULL;
    double *eps = NULL, *buf = NULL, *y0 = NULL, *yo = NULL;
    err_code rc;
    if (model_solver_options(&m->solver, r->over, 0, &tab, &o, e)) return ERR_INVALID;
    if (rk_tableau_implicit(tab) || strcmp(tab->name, "auto") == 0)
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s needs the derivative of the trace; a cnf takes an explicit method "
                       "(dopri5, tsit5, dop853, ...)",
                       tab->name);
    const bool shared = r->mode == CNF_BATCH_SHARED ||
                        (r->mode == CNF_BATCH_AUTO && n >= CNF_SHARED_MIN);
    size_t nb = 1;
    if (shared) {
        nb = n < CNF_CHUNK_POINTS ? n : CNF_CHUNK_POINTS;
        const size_t per = (k ? k : 1) * d;
        if (nb * per > CNF_CHUNK_VALUES) nb = CNF_CHUNK_VALUES / per ? CNF_CHUNK_VALUES / per : 1;
    }
    stats->mode = shared ? CNF_BATCH_SHARED : CNF_BATCH_PER_POINT;
    o.abort = r->abort;
    o.abort_ctx = r->abort_ctx;
    o.groups = nb;
    const bool hutch = k && r->tr.trace == CNF_TRACE_HUTCHINSON;
    if (hutch && !(eps = malloc(nb * k * d * sizeof(double)))) goto nomem;
    if (!(buf = malloc((4 * nb * d + d * d) * sizeof(double)))) goto nomem;
    if (!(y0 = malloc(nb * g * sizeof(double)))) goto nomem;
    if (!(yo = malloc(r->n_out * nb * g * sizeof(double)))) goto nomem;
    if ((rc = mlp_ws_new(&ws, m->f, nb, e))) goto fail;
    if (k && !hutch && nb >= MLP_GEMM_MIN_BATCH) {
        if (mlp_trace2_fits(m->f)) {
            if ((rc = mlp_trace2_ws_new(&t2, m->f, nb, e))) goto fail;
            mlp_trace2_prepare(m->f, t2);
        } else if ((rc = mlp_jac_batch_ws_new(&jb, m->f, nb, e))) {
            goto fail;
        }
    }
    if (!(s = ode_solver_new(tab, nb * g, e))) {
        rc = e->code;
        goto fail;
    }
    struct cnf_rhs c = {.m = m, .ws = ws, .t2 = t2, .jb = jb, .nb = nb, .k = k, .trace = r->tr.trace,
                        .z = buf, .f = buf + nb * d, .v = buf + 2 * nb * d,
                        .dx = buf + 3 * nb * d, .jac = buf + 4 * nb * d};
    for (size_t b0 = 0; b0 < n; b0 += nb) {
        const size_t cur = n - b0 < nb ? n - b0 : nb;
        for (size_t r0 = 0; r0 < cur; r0++) {
            memcpy(y0 + r0 * g, r->start + (b0 + r0) * d, d * sizeof(double));
            memset(y0 + r0 * g + d, 0, k * sizeof(double));
            for (size_t j = 0; hutch && j < k; j++)
                cnf_model_probe(d, r->tr.seed, r->tr.noise, b0 + r0, j, eps + (r0 * k + j) * d);
        }
        c.eps = eps;
        c.nb = cur;
        o.groups = cur;
        const struct ode_problem p = {.f = cnf_rhs_eval, .ctx = &c, .dim = cur * g, .t0 = r->t0,
                                      .y0 = y0, .t_out = r->t_out, .n_out = r->n_out};
        struct ode_stats st;
        rc = ode_solve(s, &p, &o, yo, &st, e);
        stats->nfe += st.nfe;
        stats->steps += st.n_accepted;
        stats->rejected += st.n_rejected;
        if (rc) {
            stats->t_fail = st.t_fail;
            if (!shared) {
                char f[32];
                snprintf(f, sizeof f, "point %zu", b0);
                err_prefix_field(e, f);
            }
            goto fail;
        }
        for (size_t i = 0; i < r->n_out; i++)
            memcpy(r->y + (i * n + b0) * g, yo + i * cur * g, cur * g * sizeof(double));
    }
    rc = ERR_OK;
    goto done;
nomem:
    rc = err_set(e, ERR_NOMEM, NULL, "out of memory solving a cnf");
fail:
done:
    ode_solver_free(s);
    mlp_ws_free(ws);
    mlp_jac_batch_ws_free(jb);
    mlp_trace2_ws_free(t2);
    free(eps);
    free(buf);
    free(y0);
    free(yo);
    return rc;
}

/* log p and the standard error of point b from its a_j at the base end;
 * sign -1 when the solve ran data -> base (a(0) = +int tr), +1 when
 * base -> data (a(1) = -int tr). */
static void cnf_logp_out(const cnf_model *m, const double *row, size_t k, cnf_trace trace,
                         double base_lp, double sign, double *lp, double *se)
{
    const size_t d = m->dim;
    double mean = 0;
    for (size_t j = 0; j < k; j++)
        mean += row[d + j];
    mean /= (double)k;
    *lp = base_lp + sign * mean;
    if (!se) return;
    if (trace == CNF_TRACE_EXACT) {
        *se = 0;
    } else if (k < 2) {
        *se = NAN;
    } else {
        double ss = 0;
        for (size_t j = 0; j < k; j++)
            ss += (row[d + j] - mean) * (row[d + j] - mean);
        *se = sqrt(ss / (double)(k - 1) / (double)k);
    }
}

static void stats_init(struct cnf_stats *st)
{
    memset(st, 0, sizeof *st);
    st->t_fail = NAN;
}

err_code cnf_model_log_prob(const cnf_model *m, const struct cnf_logp_query *q, double *log_prob,
                            double *stderr_out, double *z_out, struct cnf_stats *stats, err *e)
{
    struct cnf_stats st_local;
    if (!stats) stats = &st_local;
    stats_init(stats);
    if (q->n < 1) return err_set(e, ERR_INVALID, "x", "needs at least one point");
    if (trace_check(&q->tr, e) || check_finite(q->x, q->n, m->dim, "x", e)) return ERR_INVALID;
    const size_t k = q->tr.trace == CNF_TRACE_HUTCHINSON ? q->tr.probes : 1, g = m->dim + k;
    double *y = malloc(q->n * g * sizeof(double));
    if (!y) return err_set(e, ERR_NOMEM, NULL, "out of memory solving a cnf");
    const double t_end = 0.0;
    struct cnf_run r = {.m = m, .n = q->n, .k = k, .t0 = 1.0, .t_out = &t_end, .n_out = 1,
                        .start = q->x, .tr = q->tr, .over = &q->solver, .mode = q->mode,
                        .abort = q->abort, .abort_ctx = q->abort_ctx, .y = y};
    err_code rc = cnf_run_solve(&r, stats, e);
    if (rc == ERR_OK) {
        for (size_t b = 0; b < q->n; b++) {
            const double *row = y + b * g;
            cnf_logp_out(m, row, k, q->tr.trace, cnf_model_base_log_density(m, row), -1.0,
                         &log_prob[b], stderr_out ? &stderr_out[b] : NULL);
            if (z_out) memcpy(z_out + b * m->dim, row, m->dim * sizeof(double));
        }
    }
    free(y);
    return rc;
}

err_code cnf_model_sample(const cnf_model *m, const struct cnf_sample_query *q, double *x,
                          double *path, double *log_prob, double *stderr_out,
                          struct cnf_stats *stats, err *e)
{
    struct cnf_stats st_local;
    if (!stats) stats = &st_local;
    stats_init(stats);
    const size_t d = m->dim, n = q->n;
    if (n < 1) return err_set(e, ERR_INVALID, "n", "must be at least 1");
    if (q->log_prob && trace_check(&q->tr, e)) return ERR_INVALID;
    if (q->z && check_finite(q->z, n, d, "z", e)) return ERR_INVALID;
    for (size_t i = 0; i < q->n_t; i++)
        if (!(q->t[i] >= 0.0 && q->t[i] <= 1.0)) {
            char f[32];
            snprintf(f, sizeof f, "t[%zu]", i);
            return err_set(e, ERR_INVALID, f, "must be a time in [0, 1]");
        }
    const size_t k = !q->log_prob ? 0 : q->tr.trace == CNF_TRACE_HUTCHINSON ? q->tr.probes : 1;
    const size_t g = d + k, n_out = q->n_t + 1;
    err_code rc;
    double *z0 = NULL, *tout = malloc(n_out * sizeof(double));
    double *y = malloc(n_out * n * g * sizeof(double));
    if (!tout || !y) goto nomem;
    const double *start = q->z;
    if (!start) {
        if (!(z0 = malloc(n * d * sizeof(double)))) goto nomem;
        for (size_t b = 0; b < n; b++)
            cnf_model_base_draw(m, q->seed, b, z0 + b * d);
        start = z0;
    }
    if (q->n_t) memcpy(tout, q->t, q->n_t * sizeof(double));
    tout[q->n_t] = 1.0;
    struct cnf_run r = {.m = m, .n = n, .k = k, .t0 = 0.0, .t_out = tout, .n_out = n_out,
                        .start = start, .tr = q->tr, .over = &q->solver, .mode = q->mode,
                        .abort = q->abort, .abort_ctx = q->abort_ctx, .y = y};
    if ((rc = cnf_run_solve(&r, stats, e))) goto done;
    for (size_t b = 0; b < n; b++) {
        const double *row = y + (q->n_t * n + b) * g;
        memcpy(x + b * d, row, d * sizeof(double));
        if (k)
            cnf_logp_out(m, row, k, q->tr.trace, cnf_model_base_log_density(m, start + b * d), 1.0,
                         &log_prob[b], stderr_out ? &stderr_out[b] : NULL);
        for (size_t i = 0; path && i < q->n_t; i++)
            memcpy(path + (b * q->n_t + i) * d, y + (i * n + b) * g, d * sizeof(double));
    }
    goto done;
nomem:
    rc = err_set(e, ERR_NOMEM, NULL, "out of memory solving a cnf");
done:
    free(z0);
    free(tout);
    free(y);
    return rc;
}
