/* model/grad_serve.c: see grad_serve.h. */
#include "model/grad_serve.h"

#include "model/grad_ode.h"
#include "nn/mlp.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The engine's options from the model's solver defaults and the request's
 * overrides. */
static err_code options(const ode_model *m, const struct grad_serve_query *q,
                        struct grad_ode_options *o, err *e)
{
    grad_ode_options_init(o);
    o->solve.method = q->method;
    o->solve.per_item_norm = true;
    const struct rk_tableau *tab = NULL;
    if (model_solver_options(ode_model_solver(m), &q->solver, 1000, &tab, &o->solve.ode, e))
        return ERR_INVALID;
    o->solve.tab = tab;
    o->loss = LOSS_MSE;
    if (q->method == GRAD_BACKPROP && rk_tableau_implicit(tab))
        return err_set(e, ERR_INVALID, "method",
                       "backprop runs each step's Runge-Kutta map backwards, and the implicit "
                       "method %s has none: use adjoint or adjoint_checkpointed",
                       tab->name);
    if (q->method == GRAD_REVERSIBLE) {
        model_solver s;
        model_solver_merge(ode_model_solver(m), &q->solver, &s);
        if (!(s.step > 0))
            return err_set(e, ERR_INVALID, "solver.step",
                           "the reversible method takes fixed steps: give solver.step");
        o->solve.ode.fixed_step = s.step;
        o->solve.ode.n_steps = 0;
        /* at most one step more per interval than the span needs */
        const double need = (q->t[q->n_t - 1] - q->t0) / s.step + (double)q->n_t;
        const long ms = o->solve.ode.max_steps;
        if (ms > 0 && need > (double)ms)
            return err_set(e, ERR_TOO_LARGE, "solver.max_steps",
                           "the reversible method at step %.17g needs about %.3g steps, more than "
                           "max_steps = %ld",
                           s.step, need, ms);
    }
    o->solve.ode.abort = q->abort;
    o->solve.ode.abort_ctx = q->abort_ctx;
    return ERR_OK;
}

static void stats_add(struct grad_stats *sum, const struct grad_stats *s)
{
    sum->fwd_steps += s->fwd_steps;
    sum->fwd_rejected += s->fwd_rejected;
    sum->fwd_nfe += s->fwd_nfe;
    sum->bwd_steps += s->bwd_steps;
    sum->bwd_rejected += s->bwd_rejected;
    sum->bwd_nfe += s->bwd_nfe;
    sum->bwd_resolve_nfe += s->bwd_resolve_nfe;
    sum->fwd_jac += s->fwd_jac;
    sum->fwd_lu += s->fwd_lu;
    sum->bwd_jac += s->bwd_jac;
    sum->bwd_lu += s->bwd_lu;
    if (s->tape_bytes > sum->tape_bytes) sum->tape_bytes = s->tape_bytes;
    if (s->ckpt_n > sum->ckpt_n) sum->ckpt_n = s->ckpt_n;
    if (s->ckpt_every > sum->ckpt_every) sum->ckpt_every = s->ckpt_every;
}

err_code grad_serve_ode(const ode_model *m, const struct grad_serve_query *q, double *loss,
                        double *gy0, double *gtheta, struct grad_stats *st, err *e)
{
    memset(st, 0, sizeof *st);
    *loss = 0;
    const mlp *f = ode_model_net(m);
    const size_t sd = ode_model_state_dim(m), dim = sd + ode_model_augment_dim(m),
                 P = mlp_n_params(f), nt = q->n_t;
    struct grad_ode_options o;
    err_code rc = options(m, q, &o, e);
    if (rc) return rc;
    grad_ode *g = NULL;
    double *y0 = calloc(dim, sizeof *y0), *dy0 = calloc(dim, sizeof *dy0);
    double *dth = calloc(P ? P : 1, sizeof *dth);
    if (!y0 || !dy0 || !dth) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
        goto out;
    }
    if ((rc = grad_ode_new(&g, f, 1, e))) goto out;
    memset(gtheta, 0, P * sizeof *gtheta);
    memset(gy0, 0, q->batch * sd * sizeof *gy0);
    for (size_t b = 0; b < q->batch; b++) {
        memcpy(y0, q->y0 + b * sd, sd * sizeof *y0);
        const double *tg = q->target + b * nt * sd;
        size_t seen = 0;
        for (size_t i = 0; i < nt * sd; i++)
            seen += !isnan(tg[i]);
        o.loss_scale = q->mean ? (seen ? 1.0 / (double)seen : 0.0) : 1.0;
        if (seen == 0) continue; /* no term: loss and gradient 0 */
        const struct grad_ode_batch bt = {
            .batch = 1, .y0 = y0, .t0 = &q->t0, .t = q->t, .n_t = nt, .obs_dim = sd, .target = tg};
        double l = 0;
        rc = grad_ode_compute(g, &bt, &o, &l, dth, dy0, NULL, e);
        struct grad_stats s;
        grad_ode_stats(g, &s);
        stats_add(st, &s);
        if (rc) {
            char fld[32];
            snprintf(fld, sizeof fld, "y0[%zu]", b);
            if (q->batch > 1 && e->field[0] == '\0') err_prefix_field(e, fld);
            goto out;
        }
        *loss += l;
        memcpy(gy0 + b * sd, dy0, sd * sizeof *gy0);
        for (size_t k = 0; k < P; k++)
            gtheta[k] += dth[k];
    }
out:
    grad_ode_free(g);
    free(y0);
    free(dy0);
    free(dth);
    return rc;
}
