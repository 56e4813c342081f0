/* model/hamiltonian.c: see hamiltonian.h. The networks are evaluated by
 * nn/mlp_grad.h; this file assembles H, its gradient and Hessian per form,
 * turns them into the symplectic field and its Jacobian, and drives
 * num/driver.h or num/symplectic.h. */
#include "model/hamiltonian.h"

#include "model/batch_solve.h"
#include "nn/mlp_grad.h"
#include "num/symplectic.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hamiltonian_model {
    size_t n; /* dof */
    int form; /* model_ham_form */
    mlp *net[2]; /* general: [0] H; separable: [0] V, [1] T (kinetic form) */
    double *inv_mass; /* mass form: 1 / m_i */
    model_solver solver;
};

/* One thread's scratch: a gradient workspace per network and the buffers
 * of the field and its Jacobian, for up to `cap` states at once. */
typedef struct ham_ws {
    const hamiltonian_model *m;
    mlp_grad_ws *gw[2];
    size_t groups, cap;
    double *g, *hess, *vals; /* 2n; (2n)^2; cap */
    double *gb;              /* cap x 2n: a general H's gradients of a batch */
    err *e;
} ham_ws;

static void ws_free(ham_ws *w)
{
    mlp_grad_ws_free(w->gw[0]);
    mlp_grad_ws_free(w->gw[1]);
    free(w->g);
    free(w->hess);
    free(w->vals);
    free(w->gb);
    memset(w, 0, sizeof *w);
}

static err_code ws_init(ham_ws *w, const hamiltonian_model *m, size_t cap, err *e)
{
    memset(w, 0, sizeof *w);
    w->m = m;
    w->cap = cap;
    w->e = e;
    const size_t d = 2 * m->n;
    for (int i = 0; i < 2; i++)
        if (m->net[i] && mlp_grad_ws_new(&w->gw[i], m->net[i], cap, e)) goto fail;
    w->g = malloc(d * sizeof *w->g);
    w->hess = malloc(d * d * sizeof *w->hess);
    w->vals = malloc(cap * sizeof *w->vals);
    w->gb = cap > 1 && m->form == MODEL_HAM_GENERAL ? malloc(cap * d * sizeof *w->gb) : NULL;
    if (!w->g || !w->hess || !w->vals || (cap > 1 && m->form == MODEL_HAM_GENERAL && !w->gb)) {
        err_set(e, ERR_NOMEM, NULL, "out of memory for a hamiltonian solve");
        goto fail;
    }
    return ERR_OK;
fail:
    ws_free(w);
    return e->code;
}

/* ---- construction ---- */

void hamiltonian_model_free(hamiltonian_model *m)
{
    if (!m) return;
    mlp_free(m->net[0]);
    mlp_free(m->net[1]);
    free(m->inv_mass);
    free(m);
}

static err_code net_build(const model_def *d, size_t i, mlp **out, err *e)
{
    const model_net *n = &d->nets[i];
    const mlp_spec spec = {.state_dim = n->in_dim, .n_layers = n->n_layers, .layers = n->layers};
    err_code rc = mlp_new(out, &spec, e);
    if (rc == ERR_OK) rc = mlp_grad_check(*out, e);
    if (rc) {
        err_prefix_field(e, model_def_net_name(d, i));
        return rc;
    }
    memcpy(mlp_params(*out), d->params + model_def_net_offset(d, i),
           mlp_n_params(*out) * sizeof(double));
    err pe; /* final parameters: pack; out of memory only serves it unpacked (same results) */
    err_clear(&pe);
    (void)mlp_pack(*out, &pe);
    return ERR_OK;
}

err_code hamiltonian_model_new(hamiltonian_model **out, const model_def *d, err *e)
{
    *out = NULL;
    if (!d) return err_set(e, ERR_INVALID, NULL, "no model given");
    if (d->kind != MODEL_KIND_HAMILTONIAN)
        return err_set(e, ERR_INVALID, "kind", "is \"%s\", expected \"hamiltonian\"",
                       model_kind_name(d->kind));
    err_code rc = model_def_validate(d, e);
    if (rc) return rc;
    hamiltonian_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, NULL, "out of memory for a model");
    m->n = d->state_dim / 2;
    m->form = d->ham_form;
    m->solver = d->solver;
    for (size_t i = 0; i < d->n_nets; i++)
        if ((rc = net_build(d, i, &m->net[i], e))) goto fail;
    const double *mass = model_def_ham_mass(d);
    if (mass) {
        if (!(m->inv_mass = malloc(m->n * sizeof *m->inv_mass))) {
            rc = err_set(e, ERR_NOMEM, NULL, "out of memory for a model");
            goto fail;
        }
        for (size_t i = 0; i < m->n; i++)
            m->inv_mass[i] = 1.0 / mass[i];
    }
    *out = m;
    return ERR_OK;
fail:
    hamiltonian_model_free(m);
    return rc;
}

size_t hamiltonian_model_dof(const hamiltonian_model *m)
{
    return m->n;
}

int hamiltonian_model_separable(const hamiltonian_model *m)
{
    return m->form != MODEL_HAM_GENERAL;
}

/* ---- H, its gradient and Hessian at one state ---- */

/* H(y); g = dH/dy (2n); hess = d2H/dy2 (2n x 2n) when not NULL. hess
 * must not be w->hess: that is the separable forms' n x n block scratch. */
static double ham_eval(ham_ws *w, const double *y, double *g, double *hess)
{
    const hamiltonian_model *m = w->m;
    const size_t n = m->n, d = 2 * n;
    if (m->form == MODEL_HAM_GENERAL)
        return hess ? mlp_grad_hessian(m->net[0], w->gw[0], y, g, hess)
                    : mlp_grad_eval(m->net[0], w->gw[0], y, g);
    double h;
    if (hess) {
        memset(hess, 0, d * d * sizeof *hess);
        h = mlp_grad_hessian(m->net[0], w->gw[0], y, g, w->hess);
        for (size_t i = 0; i < n; i++)
            memcpy(hess + i * d, w->hess + i * n, n * sizeof *hess);
    } else {
        h = mlp_grad_eval(m->net[0], w->gw[0], y, g);
    }
    if (m->form == MODEL_HAM_MASS) {
        for (size_t i = 0; i < n; i++) {
            const double p = y[n + i];
            g[n + i] = p * m->inv_mass[i];
            h += 0.5 * p * p * m->inv_mass[i];
            if (hess) hess[(n + i) * d + n + i] = m->inv_mass[i];
        }
    } else if (hess) {
        h += mlp_grad_hessian(m->net[1], w->gw[1], y + n, g + n, w->hess);
        for (size_t i = 0; i < n; i++)
            memcpy(hess + (n + i) * d + n, w->hess + i * n, n * sizeof *hess);
    } else {
        h += mlp_grad_eval(m->net[1], w->gw[1], y + n, g + n);
    }
    return h;
}

/* f = [dH/dp; -dH/dq] from g = dH/dy. */
static void field_of(size_t n, const double *g, double *f)
{
    for (size_t i = 0; i < n; i++) {
        f[i] = g[n + i];
        f[n + i] = -g[i];
    }
}

/* J Hess H in place over the Hessian: the rows of dq'/dy are its rows
 * n..2n-1, those of dp'/dy minus its rows 0..n-1. */
static void jac_in_place(size_t n, double *J)
{
    const size_t d = 2 * n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            const double hq = J[i * d + j], hp = J[(n + i) * d + j];
            J[i * d + j] = hp;
            J[(n + i) * d + j] = -hq;
        }
}

/* ---- callbacks of the solvers (ctx: ham_ws; groups states per call) ---- */

static int rhs(double t, const double *y, double *dydt, void *ctx)
{
    (void)t;
    ham_ws *w = ctx;
    const size_t n = w->m->n, d = 2 * n;
    if (w->gb && w->groups > 1) {
        /* a batch's gradients in one pass: the GEMM path reads each weight
         * once for all its states (bench/bench_hamiltonian, batch 256) */
        mlp_grad_eval_batch(w->m->net[0], w->gw[0], w->groups, y, w->vals, w->gb);
        for (size_t k = 0; k < w->groups; k++)
            field_of(n, w->gb + k * d, dydt + k * d);
        return 0;
    }
    for (size_t k = 0; k < w->groups; k++) {
        (void)ham_eval(w, y + k * d, w->g, NULL);
        field_of(n, w->g, dydt + k * d);
    }
    return 0;
}

static int jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    (void)t;
    ham_ws *w = ctx;
    const size_t n = w->m->n, d = 2 * n;
    for (size_t k = 0; k < w->groups; k++) {
        (void)ham_eval(w, y + k * d, w->g, J + k * d * d);
        jac_in_place(n, J + k * d * d);
    }
    if (dfdt) memset(dfdt, 0, w->groups * d * sizeof *dfdt);
    return 0;
}

static int dV_dq(const double *q, double *out, void *ctx)
{
    ham_ws *w = ctx;
    mlp_grad_eval_batch(w->m->net[0], w->gw[0], w->groups, q, w->vals, out);
    return 0;
}

static int dT_dp(const double *p, double *out, void *ctx)
{
    ham_ws *w = ctx;
    const hamiltonian_model *m = w->m;
    if (m->form == MODEL_HAM_KINETIC) {
        mlp_grad_eval_batch(m->net[1], w->gw[1], w->groups, p, w->vals, out);
        return 0;
    }
    for (size_t k = 0; k < w->groups; k++)
        for (size_t i = 0; i < m->n; i++)
            out[k * m->n + i] = p[k * m->n + i] * m->inv_mass[i];
    return 0;
}

/* ---- public evaluations ---- */

err_code hamiltonian_model_energy(const hamiltonian_model *m, size_t n, const double *y,
                                  double *h, double *grad, err *e)
{
    ham_ws w;
    if (ws_init(&w, m, 1, e)) return e->code;
    const size_t d = 2 * m->n;
    for (size_t k = 0; k < n; k++) {
        h[k] = ham_eval(&w, y + k * d, w.g, NULL);
        if (grad) memcpy(grad + k * d, w.g, d * sizeof *grad);
    }
    ws_free(&w);
    return ERR_OK;
}

err_code hamiltonian_model_field(const hamiltonian_model *m, const double *y, double *f,
                                 double *jacobian, err *e)
{
    ham_ws w;
    if (ws_init(&w, m, 1, e)) return e->code;
    w.groups = 1;
    (void)rhs(0.0, y, f, &w);
    if (jacobian) (void)jac(0.0, y, jacobian, NULL, &w);
    ws_free(&w);
    return ERR_OK;
}

err_code hamiltonian_model_method(const hamiltonian_model *m, const model_solver *over,
                                  const char **method, err *e)
{
    if (model_solver_validate(over, e)) return ERR_INVALID;
    const char *name = over->method[0]    ? over->method
                       : m->solver.method[0] ? m->solver.method
                       : m->form == MODEL_HAM_GENERAL ? "gauss4"
                                                      : "yoshida4";
    const struct rk_tableau *tab = rk_tableau_find(name);
    const struct symp_method *sm = tab ? NULL : symp_method_find(name);
    if (!tab && !sm)
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an sde method; a hamiltonian model needs an ODE solver or a "
                       "symplectic one (leapfrog, yoshida4, yoshida6, kahan_li6, "
                       "implicit_midpoint, gauss4)",
                       name);
    if (sm && symp_method_explicit(sm) && m->form == MODEL_HAM_GENERAL)
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an explicit splitting: it needs a separable H (\"potential\" with "
                       "\"mass\" or \"kinetic\"); this model's H is one network of [q; p]: use "
                       "implicit_midpoint or gauss4",
                       name);
    *method = tab ? tab->name : sm->name;
    return ERR_OK;
}

/* ---- solving ---- */

/* symp_solve names its own fields; the request spells them "solver.x". */
static void symp_field(err *e)
{
    static const char *const solver_keys[] = {"step", "n_steps", "max_steps", "newton_tol",
                                              "max_newton"};
    for (size_t i = 0; i < sizeof solver_keys / sizeof solver_keys[0]; i++)
        if (strcmp(e->field, solver_keys[i]) == 0) {
            char f[ERR_FIELD_MAX];
            snprintf(f, sizeof f, "solver.%s", solver_keys[i]);
            snprintf(e->field, sizeof e->field, "%s", f);
            return;
        }
    if (strcmp(e->field, "t_out") == 0) snprintf(e->field, sizeof e->field, "t");
}

static err_code solve_symp(ham_ws *w, const struct symp_method *sm, const model_solver *s,
                           const struct model_traj_query *q, double *y_out,
                           struct model_traj_stats *st, err *e)
{
    const hamiltonian_model *m = w->m;
    const size_t d = 2 * m->n;
    struct symp_options o;
    symp_options_init(&o);
    if (s->step > 0)
        o.step = s->step;
    else
        o.n_steps = HAMILTONIAN_DEFAULT_N_STEPS;
    if (s->rtol > 0) o.newton_tol = s->rtol;
    if (s->max_steps > 0) o.max_steps = s->max_steps;
    o.abort = q->abort;
    o.abort_ctx = q->abort_ctx;
    struct symp_problem p = {.n = m->n, .dT_dp = dT_dp, .dV_dq = dV_dq, .f = rhs, .jac = jac,
                             .ctx = w, .t0 = q->t0};
    struct ode_stats os;
    err_code rc = ERR_OK;
    if (!q->t_len) { /* the whole batch in one call, then rows regrouped per state */
        double *tmp = q->batch > 1 ? malloc(q->n_t * q->batch * d * sizeof *tmp) : y_out;
        if (!tmp) return err_set(e, ERR_NOMEM, NULL, "out of memory for the trajectory");
        w->groups = p.groups = q->batch;
        p.y0 = q->y0;
        p.t_out = q->t;
        p.n_out = q->n_t;
        rc = symp_solve(sm, &p, &o, tmp, &os, e);
        model_traj_stats_add(st, &os);
        if (rc) model_batch_name_failure(e, 0, 1); /* one system: "y0", as a shared batch */
        if (rc == ERR_OK && tmp != y_out)
            for (size_t i = 0; i < q->n_t; i++)
                for (size_t b = 0; b < q->batch; b++)
                    memcpy(y_out + (b * q->n_t + i) * d, tmp + (i * q->batch + b) * d,
                           d * sizeof *y_out);
        if (tmp != y_out) free(tmp);
    } else {
        w->groups = p.groups = 1;
        for (size_t b = 0, off = 0; b < q->batch && rc == ERR_OK; off += q->t_len[b++]) {
            if (!q->t_len[b]) continue;
            p.y0 = q->y0 + b * d;
            p.t_out = q->t + off;
            p.n_out = q->t_len[b];
            rc = symp_solve(sm, &p, &o, y_out + off * d, &os, e);
            model_traj_stats_add(st, &os);
            if (rc) model_batch_name_failure(e, b, q->batch);
        }
    }
    if (rc == ERR_INVALID || rc == ERR_TOO_LARGE) symp_field(e);
    return rc;
}

static err_code solve_ode(ham_ws *w, const char *method, const struct model_traj_query *q,
                          double *y_out, struct model_traj_stats *st, err *e)
{
    const hamiltonian_model *m = w->m;
    const size_t d = 2 * m->n;
    model_solver over = q->solver;
    snprintf(over.method, sizeof over.method, "%s", method);
    const struct rk_tableau *tab;
    struct ode_options o;
    if (model_solver_options(&m->solver, &over, HAMILTONIAN_DEFAULT_N_STEPS, &tab, &o, e))
        return ERR_INVALID;
    o.abort = q->abort;
    o.abort_ctx = q->abort_ctx;
    ode_solver *s = ode_solver_new(tab, d, e);
    if (!s) return e->code;
    w->groups = 1;
    struct ode_problem p = {.f = rhs, .ctx = w, .dim = d, .t0 = q->t0, .jac = jac,
                            .autonomous = 1};
    const struct model_batch mb = model_traj_batch(q);
    struct ode_stats os;
    err_code rc = model_batch_solve(s, &p, &o, &mb, y_out, &os, e);
    model_traj_stats_add(st, &os);
    ode_solver_free(s);
    return rc;
}

err_code hamiltonian_model_solve(const hamiltonian_model *m, const struct model_traj_query *q,
                                 double *y_out, double *energy, struct model_traj_stats *st,
                                 err *e)
{
    struct model_traj_stats local;
    if (!st) st = &local;
    model_traj_stats_clear(st);
    const char *method;
    if (hamiltonian_model_method(m, &q->solver, &method, e)) return ERR_INVALID;
    snprintf(st->method, sizeof st->method, "%s", method);
    if (q->batch == 0 || q->n_t == 0)
        return err_set(e, ERR_INVALID, q->batch ? "t" : "y0", "is empty");
    ham_ws w;
    if (ws_init(&w, m, q->batch, e)) return e->code;
    err_code rc;
    const struct symp_method *sm = symp_method_find(method);
    if (sm) {
        model_solver s;
        model_solver_merge(&m->solver, &q->solver, &s);
        rc = solve_symp(&w, sm, &s, q, y_out, st, e);
    } else {
        rc = solve_ode(&w, method, q, y_out, st, e);
    }
    if (rc == ERR_OK && energy) {
        const size_t rows = q->t_len ? q->n_t : q->batch * q->n_t, d = 2 * m->n;
        for (size_t r = 0; r < rows; r++)
            energy[r] = ham_eval(&w, y_out + r * d, w.g, NULL);
    }
    ws_free(&w);
    return rc;
}
