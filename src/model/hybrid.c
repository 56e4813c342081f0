/* model/hybrid.c: see hybrid.h. The equations are hybrid_expr's bytecode;
 * this file lays out the variable slots, chains the equations' partials
 * through the network (nn/mlp.h) and drives num/driver.h. */
#include "model/hybrid.h"

#include "model/batch_solve.h"
#include "model/hybrid_expr.h"
#include "nn/mlp.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default steps per direction for a fixed-step method without solver.step. */
#define HYBRID_DEFAULT_N_STEPS 1000

struct hybrid_model {
    size_t n, n_par, k, n_vars, n_net; /* states, parameters, nn outputs, slots, weights */
    hybrid_sys *sys;
    mlp *net; /* NULL: a pure mechanistic model */
    double *values; /* n_par */
    const double *bound; /* n_par values read at every evaluation (training), or NULL */
    model_solver solver;
    char **names; /* state names, for messages */
    int autonomous;
};

struct hybrid_ws {
    const hybrid_model *m;
    mlp_ws *nw;
    double *vars, *scratch, *D, *Jn, *jt, *v, *g;
    err *e;
    double t_bad; /* where an equation was not finite */
    size_t eq_bad;
};

void hybrid_model_free(hybrid_model *m)
{
    if (!m) return;
    hybrid_sys_free(m->sys);
    mlp_free(m->net);
    free(m->values);
    if (m->names)
        for (size_t i = 0; i < m->n; i++)
            free(m->names[i]);
    free(m->names);
    free(m);
}

err_code hybrid_model_new(hybrid_model **out, const model_def *d, err *e)
{
    *out = NULL;
    if (!d || d->kind != MODEL_KIND_HYBRID)
        return err_set(e, ERR_INVALID, "kind", "expected a \"hybrid\" model");
    err_code rc = model_def_validate(d, e);
    if (rc) return rc;
    hybrid_model *m = calloc(1, sizeof *m);
    char **names = NULL, *store = NULL;
    if (!m) return err_set(e, ERR_NOMEM, NULL, "out of memory for a model");
    const model_hybrid *h = d->hybrid;
    m->n = d->state_dim;
    m->n_par = h->n_par;
    m->k = model_def_hybrid_nn_out(d);
    m->solver = d->solver;
    if (d->n_nets) {
        const model_net *n = &d->nets[MODEL_NET_HYBRID];
        const mlp_spec spec = {.state_dim = n->in_dim, .time_input = n->time_input,
                               .n_layers = n->n_layers, .layers = n->layers};
        if ((rc = mlp_new(&m->net, &spec, e))) {
            err_prefix_field(e, "network");
            goto fail;
        }
        m->n_net = mlp_n_params(m->net);
        memcpy(mlp_params(m->net), d->params, m->n_net * sizeof(double));
        err pe; /* final weights: pack; out of memory only serves them unpacked */
        err_clear(&pe);
        (void)mlp_pack(m->net, &pe);
    }
    m->values = malloc((m->n_par + 1) * sizeof *m->values);
    m->names = calloc(m->n, sizeof *m->names);
    if (!m->values || !m->names) goto nomem;
    memcpy(m->values, model_def_hybrid_values(d), m->n_par * sizeof *m->values);
    for (size_t i = 0; i < m->n; i++)
        if (!(m->names[i] = strdup(h->state_names[i]))) goto nomem;
    if (model_hybrid_vars(h, m->k, &names, &store, &m->n_vars)) goto nomem;
    struct hybrid_sys_spec sp = {m->n, (const char *const *)h->equations, m->n_vars,
                                 (const char *const *)names, m->k, "equations"};
    if ((rc = hybrid_sys_new(&m->sys, &sp, e))) goto fail;
    m->autonomous = !hybrid_sys_uses(m->sys, m->n_vars - 1) && !(m->net && mlp_time_input(m->net));
    free(names);
    free(store);
    *out = m;
    return ERR_OK;
nomem:
    rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a model");
fail:
    free(names);
    free(store);
    hybrid_model_free(m);
    return rc;
}

size_t hybrid_model_state_dim(const hybrid_model *m)
{
    return m->n;
}

size_t hybrid_model_n_params(const hybrid_model *m)
{
    return m->n_net + m->n_par;
}

/* ---- workspaces and evaluation ---- */

void hybrid_ws_free(hybrid_ws *w)
{
    if (!w) return;
    mlp_ws_free(w->nw);
    free(w->vars);
    free(w->scratch);
    free(w->D);
    free(w->Jn);
    free(w->jt);
    free(w->v);
    free(w->g);
    free(w);
}

err_code hybrid_ws_new(hybrid_ws **out, const hybrid_model *m, err *e)
{
    *out = NULL;
    hybrid_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "out of memory for a hybrid solve");
    w->m = m;
    const size_t k = m->k ? m->k : 1;
    w->vars = calloc(m->n_vars, sizeof *w->vars);
    w->scratch = malloc(hybrid_sys_scratch(m->sys) * sizeof *w->scratch);
    w->D = malloc(m->n * m->n_vars * sizeof *w->D);
    w->Jn = malloc(k * m->n * sizeof *w->Jn);
    w->jt = malloc(k * sizeof *w->jt);
    w->v = malloc(k * sizeof *w->v);
    w->g = malloc((m->n_net + 1) * sizeof *w->g);
    if (!w->vars || !w->scratch || !w->D || !w->Jn || !w->jt || !w->v || !w->g ||
        (m->net && mlp_ws_new(&w->nw, m->net, 1, e))) {
        hybrid_ws_free(w);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for a hybrid solve");
    }
    memcpy(w->vars + m->n, m->values, m->n_par * sizeof *w->vars);
    *out = w;
    return ERR_OK;
}

/* The slots at (t, y), the network run forward (its tape recorded). */
static void load(hybrid_ws *w, double t, const double *y)
{
    const hybrid_model *m = w->m;
    memcpy(w->vars, y, m->n * sizeof *y);
    if (m->bound) memcpy(w->vars + m->n, m->bound, m->n_par * sizeof *w->vars);
    if (m->net) mlp_forward(m->net, w->nw, y, t, w->vars + m->n + m->n_par);
    w->vars[m->n_vars - 1] = t;
}

int hybrid_model_field(hybrid_ws *w, double t, const double *y, double *f)
{
    load(w, t, y);
    hybrid_sys_eval(w->m->sys, w->vars, f, w->scratch);
    for (size_t i = 0; i < w->m->n; i++)
        if (!isfinite(f[i])) return (int)i + 1;
    return 0;
}

void hybrid_model_jacobian(hybrid_ws *w, double t, const double *y, double *J, double *dfdt)
{
    const hybrid_model *m = w->m;
    const size_t n = m->n, nv = m->n_vars, nn0 = n + m->n_par;
    memcpy(w->vars, y, n * sizeof *y);
    if (m->bound) memcpy(w->vars + n, m->bound, m->n_par * sizeof *w->vars);
    w->vars[nv - 1] = t;
    if (m->net) mlp_jacobian(m->net, w->nw, y, t, w->vars + nn0, w->Jn, w->jt);
    hybrid_sys_partials(m->sys, w->vars, w->D, w->scratch);
    for (size_t i = 0; i < n; i++) {
        const double *Di = w->D + i * nv;
        for (size_t j = 0; j < n; j++) {
            double s = Di[j];
            for (size_t q = 0; q < m->k; q++)
                s += Di[nn0 + q] * w->Jn[q * n + j];
            J[i * n + j] = s;
        }
        if (dfdt) {
            double s = Di[nv - 1];
            for (size_t q = 0; q < m->k; q++)
                s += Di[nn0 + q] * w->jt[q];
            dfdt[i] = s;
        }
    }
}

void hybrid_model_param_jacobian(hybrid_ws *w, double t, const double *y, double *G)
{
    const hybrid_model *m = w->m;
    const size_t n = m->n, nv = m->n_vars, nn0 = n + m->n_par, np = m->n_net + m->n_par;
    load(w, t, y);
    hybrid_sys_partials(m->sys, w->vars, w->D, w->scratch);
    for (size_t i = 0; i < n; i++) {
        const double *Di = w->D + i * nv;
        double *Gi = G + i * np;
        if (m->net) { /* row i of dnn/dtheta weighted by dE_i/dnn: one reverse pass */
            double dt = 0, *dx = w->Jn; /* n values of scratch */
            memset(w->g, 0, m->n_net * sizeof *w->g);
            memset(dx, 0, n * sizeof *dx);
            for (size_t q = 0; q < m->k; q++)
                w->v[q] = Di[nn0 + q];
            mlp_vjp(m->net, w->nw, w->v, dx, &dt, w->g);
            memcpy(Gi, w->g, m->n_net * sizeof *Gi);
        }
        for (size_t p = 0; p < m->n_par; p++)
            Gi[m->n_net + p] = Di[n + p];
    }
}

void hybrid_model_vjp(hybrid_ws *w, double t, const double *y, const double *v, double *dy,
                      double *dtheta)
{
    const hybrid_model *m = w->m;
    const size_t n = m->n, nv = m->n_vars, nn0 = n + m->n_par;
    load(w, t, y);
    hybrid_sys_partials(m->sys, w->vars, w->D, w->scratch);
    for (size_t q = 0; q < m->k; q++)
        w->v[q] = 0;
    for (size_t i = 0; i < n; i++) {
        const double *Di = w->D + i * nv;
        for (size_t j = 0; j < n; j++)
            dy[j] += v[i] * Di[j];
        for (size_t p = 0; p < m->n_par; p++)
            dtheta[m->n_net + p] += v[i] * Di[n + p];
        for (size_t q = 0; q < m->k; q++)
            w->v[q] += v[i] * Di[nn0 + q];
    }
    if (m->net) { /* the outputs' cotangent through the network: one reverse pass */
        double dt = 0;
        mlp_vjp(m->net, w->nw, w->v, dy, &dt, dtheta);
    }
}

void hybrid_model_bind(hybrid_model *m, double *theta)
{
    if (m->net) mlp_params_bind(m->net, theta);
    m->bound = theta + m->n_net;
}

/* ---- solving ---- */

static int rhs(double t, const double *y, double *dydt, void *ctx)
{
    hybrid_ws *w = ctx;
    int bad = hybrid_model_field(w, t, y, dydt);
    if (!bad) return 0;
    /* a NaN's sign bit says nothing about the equation: printf would show
     * "-nan" for some; infinities keep theirs */
    double v = dydt[bad - 1];
    err_set(w->e, ERR_SOLVER, NULL, "equations[%d] (d %s/dt) is not finite (%s) at t=%.17g",
            bad - 1, w->m->names[bad - 1], isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", t);
    return -1;
}

static int jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    hybrid_ws *w = ctx;
    hybrid_model_jacobian(w, t, y, J, dfdt);
    return 0;
}

err_code hybrid_model_solve(const hybrid_model *m, const struct model_traj_query *q, double *y_out,
                            struct model_traj_stats *st, err *e)
{
    struct model_traj_stats local;
    if (!st) st = &local;
    model_traj_stats_clear(st);
    if (q->batch == 0 || q->n_t == 0) return err_set(e, ERR_INVALID, q->batch ? "t" : "y0", "is empty");
    const struct rk_tableau *tab;
    struct ode_options o;
    if (model_solver_options(&m->solver, &q->solver, HYBRID_DEFAULT_N_STEPS, &tab, &o, e))
        return ERR_INVALID;
    o.abort = q->abort;
    o.abort_ctx = q->abort_ctx;
    hybrid_ws *w;
    if (hybrid_ws_new(&w, m, e)) return e->code;
    w->e = e;
    ode_solver *s = ode_solver_new(tab, m->n, e);
    if (!s) {
        hybrid_ws_free(w);
        return e->code;
    }
    struct ode_problem p = {.f = rhs, .ctx = w, .dim = m->n, .t0 = q->t0, .jac = jac,
                            .autonomous = m->autonomous};
    const struct model_batch mb = model_traj_batch(q);
    struct ode_stats os;
    err_code rc = model_batch_solve(s, &p, &o, &mb, y_out, &os, e);
    model_traj_stats_add(st, &os);
    ode_solver_free(s);
    hybrid_ws_free(w);
    return rc;
}
