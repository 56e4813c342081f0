/* model/grad_ode.c: neural ODE loss and gradient. See grad_ode.h.
 *
 * The field handed to the engine is the MLP itself: eval =
 * mlp_forward_batch (the tape stays in the workspace), vjp = mlp_vjp_batch
 * (input and parameter cotangents, no time cotangent), jac = mlp_jacobian
 * per item (for the implicit methods), keep = the workspace's tape bound
 * to the engine's slots (mlp_ws_tape_bind: backprop keeps the stages'
 * activations instead of evaluating them again). The loss gradient
 * dL/dh(t_i) seeds the engine's backward pass; its dL/dy0 and dL/dtheta
 * are the results. */
#include "model/grad_ode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct grad_ode {
    const mlp *f;
    mlp_ws *ws;
    size_t ws_batch;
    grad_solver *solver;
    struct grad_field field;
    double *pred, *ybar; /* n x n_t x state_dim for the current solve */
    size_t buf_cap;      /* doubles in pred and ybar */
    size_t bytes;        /* held by pred, ybar (not by the mlp_ws) */
    struct grad_stats st;
};

void grad_ode_options_init(struct grad_ode_options *o)
{
    memset(o, 0, sizeof *o);
    grad_solve_options_init(&o->solve);
    o->batch_mode = GRAD_BATCH_SHARED;
    o->loss = LOSS_MSE;
}

static int field_eval(void *ctx, double t, size_t item0, size_t n, const double *y, double *dydt)
{
    grad_ode *g = ctx;
    (void)item0;
    mlp_forward_batch(g->f, g->ws, n, y, t, dydt);
    return 0;
}

static void field_vjp(void *ctx, size_t item0, size_t n, const double *v, double *dy,
                      double *dtheta)
{
    grad_ode *g = ctx;
    (void)item0;
    mlp_vjp_batch(g->f, g->ws, n, v, dy, NULL, dtheta);
}

static size_t field_keep_doubles(void *ctx, size_t n)
{
    grad_ode *g = ctx;
    return mlp_tape_doubles(g->f, n);
}

static void field_keep(void *ctx, size_t n, double *mem)
{
    grad_ode *g = ctx;
    mlp_ws_tape_bind(g->ws, g->f, mem, n);
}

static int field_jac(void *ctx, double t, size_t item0, size_t n, const double *y, double *J,
                     double *dfdt)
{
    grad_ode *g = ctx;
    (void)item0;
    const size_t d = g->field.dim;
    for (size_t b = 0; b < n; b++)
        mlp_jacobian(g->f, g->ws, y + b * d, t, NULL, J + b * d * d, dfdt ? dfdt + b * d : NULL);
    return 0;
}

err_code grad_ode_new(grad_ode **out, const mlp *f, size_t max_batch, err *e)
{
    *out = NULL;
    if (!f || mlp_output_dim(f) != mlp_state_dim(f))
        return err_set(e, ERR_INVALID, "vector_field",
                       "a neural ODE's network maps the state to a vector of the same size");
    grad_ode *g = calloc(1, sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
    g->f = f;
    g->ws_batch = max_batch ? max_batch : 1;
    err_code rc = mlp_ws_new(&g->ws, f, g->ws_batch, e);
    if (!rc) rc = grad_solver_new(&g->solver, e);
    if (rc) {
        grad_ode_free(g);
        return rc;
    }
    g->field = (struct grad_field){
        .dim = mlp_state_dim(f),
        .n_params = mlp_n_params(f),
        .eval = field_eval,
        .vjp = field_vjp,
        .jac = field_jac,
        .keep_doubles = field_keep_doubles,
        .keep = field_keep,
        .ctx = g,
    };
    *out = g;
    return ERR_OK;
}

err_code grad_ode_new_field(grad_ode **out, const struct grad_field *f, err *e)
{
    *out = NULL;
    grad_ode *g = calloc(1, sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
    if (grad_solver_new(&g->solver, e) != ERR_OK) {
        grad_ode_free(g);
        return e->code;
    }
    g->field = *f;
    *out = g;
    return ERR_OK;
}

void grad_ode_free(grad_ode *g)
{
    if (!g) return;
    mlp_ws_free(g->ws);
    grad_solver_free(g->solver);
    free(g->pred);
    free(g->ybar);
    free(g);
}

void grad_ode_stats(const grad_ode *g, struct grad_stats *st)
{
    *st = g->st;
}

void grad_ode_mem(const grad_ode *g, size_t *now, size_t *peak)
{
    size_t n = 0, p = 0;
    grad_solver_mem(g->solver, &n, &p);
    if (now) *now = n + g->bytes;
    if (peak) *peak = p + g->bytes;
}

static err_code reserve(grad_ode *g, size_t n, size_t n_t, err *e)
{
    if (g->f && n > g->ws_batch) {
        mlp_ws *ws = NULL;
        err_code rc = mlp_ws_new(&ws, g->f, n, e);
        if (rc) return rc;
        mlp_ws_free(g->ws);
        g->ws = ws;
        g->ws_batch = n;
    }
    const size_t need = n * n_t * g->field.dim;
    if (need <= g->buf_cap) return ERR_OK;
    double *p = realloc(g->pred, need * sizeof *p);
    if (p) g->pred = p;
    double *q = p ? realloc(g->ybar, need * sizeof *q) : NULL;
    if (q) g->ybar = q;
    if (!p || !q) return err_set(e, ERR_NOMEM, NULL, "out of memory for the predictions");
    g->buf_cap = need;
    g->bytes = 2 * need * sizeof(double);
    return ERR_OK;
}

static err_code check_batch(const grad_ode *g, const struct grad_ode_batch *b,
                            const struct grad_ode_options *o, err *e)
{
    if (!b || b->batch == 0) return err_set(e, ERR_INVALID, "batch", "must be >= 1");
    if (!b->y0 || !b->t0 || !b->t || !b->target)
        return err_set(e, ERR_INVALID, "batch", "y0, t0, t and target are required");
    if (b->n_t == 0) return err_set(e, ERR_INVALID, "t", "at least one observation time");
    if (b->obs_dim > g->field.dim)
        return err_set(e, ERR_INVALID, "obs_dim", "%zu observed components, state has %zu",
                       b->obs_dim, g->field.dim);
    if (o->loss != LOSS_MSE && o->loss != LOSS_L1)
        return err_set(e, ERR_INVALID, "loss", "a neural ODE is fitted with mse or l1");
    if (b->per_item_times && o->batch_mode != GRAD_BATCH_PER_ITEM)
        return err_set(e, ERR_INVALID, "batch_mode", "per-item times need the per-item mode");
    return ERR_OK;
}

/* Loss of items [0, n) of the current solve (pred, target rows from b0),
 * and its gradient into ybar when wanted. */
static double seed_loss(grad_ode *g, const struct grad_ode_batch *b, loss_kind k, size_t b0,
                        size_t n, double scale, int want_grad)
{
    const size_t dim = g->field.dim, od = b->obs_dim ? b->obs_dim : dim, nt = b->n_t;
    if (want_grad) memset(g->ybar, 0, n * nt * dim * sizeof *g->ybar);
    return loss_regression_rows(k, n * nt, od, g->pred, dim, b->target + b0 * nt * od, scale,
                                want_grad ? g->ybar : NULL);
}

/* One grad_ode_compute: its arguments, for the solves of its batch. */
struct call {
    grad_ode *g;
    const struct grad_ode_batch *b;
    const struct grad_ode_options *o;
    double scale;
    double *loss, *dtheta, *dy0, *y_pred;
};

/* Solve items [b0, b0 + n) as one system, add their loss and gradient. */
static err_code solve_items(void *ctx, size_t b0, size_t n, err *e)
{
    const struct call *c = ctx;
    grad_ode *g = c->g;
    const struct grad_ode_batch *b = c->b;
    const struct grad_ode_options *o = c->o;
    double *dtheta = c->dtheta, *dy0 = c->dy0, *y_pred = c->y_pred;
    const size_t dim = g->field.dim, nt = b->n_t;
    const int want_grad = dtheta || dy0;
    struct grad_solve_options so = o->solve;
    /* the loss alone: a forward that keeps no tape (the reversible one is
     * its own discretisation and keeps none anyway) */
    if (!want_grad && so.method != GRAD_REVERSIBLE) so.method = GRAD_ADJOINT;
    const double t0 = b->per_item_times ? b->t0[b0] : b->t0[0];
    const double *t = b->per_item_times ? b->t + b0 * nt : b->t;
    err_code rc = grad_solver_forward(g->solver, &g->field, &so, b0, n, t0, b->y0 + b0 * dim, t, nt,
                                      g->pred, e);
    grad_batch_stats_add_forward(&g->st, g->solver);
    if (rc) return rc;
    if (y_pred) memcpy(y_pred + b0 * nt * dim, g->pred, n * nt * dim * sizeof *y_pred);
    *c->loss += seed_loss(g, b, o->loss, b0, n, c->scale, want_grad);
    if (!want_grad) return ERR_OK;
    rc = grad_solver_backward(g->solver, g->ybar, dy0 ? dy0 + b0 * dim : NULL, dtheta, e);
    grad_batch_stats_add_backward(&g->st, g->solver);
    return rc;
}

err_code grad_ode_compute(grad_ode *g, const struct grad_ode_batch *b,
                          const struct grad_ode_options *o, double *loss, double *dtheta,
                          double *dy0, double *y_pred, err *e)
{
    memset(&g->st, 0, sizeof g->st);
    err_code rc = check_batch(g, b, o, e);
    if (rc) return rc;
    const size_t B = b->batch, od = b->obs_dim ? b->obs_dim : g->field.dim;
    double scale = o->loss_scale;
    if (scale == 0) {
        const size_t c = loss_observed_count(B * b->n_t * od, b->target);
        scale = c ? 1.0 / (double)c : 0.0;
    }
    if (dtheta) memset(dtheta, 0, g->field.n_params * sizeof *dtheta);
    *loss = 0;
    if ((rc = reserve(g, grad_batch_items(B, o->batch_mode), b->n_t, e))) return rc;
    struct call args = {g, b, o, scale, loss, dtheta, dy0, y_pred};
    return grad_batch_run(B, o->batch_mode, solve_items, &args, e);
}
