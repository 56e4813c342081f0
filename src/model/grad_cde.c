/* model/grad_cde.c: neural CDE loss and gradient. See grad_cde.h.
 *
 * The engine's field is g(t, z) = F(z) dX/dt(t), per item:
 *   eval: F = vector_field(z) (one batched forward), dX_b/dt from the
 *         path, dz_b[i] = sum_c F_b[i*C + c] dX_b[c];
 *   vjp:  v^T dg/dz = u^T dF/dz and v^T dg/dtheta = u^T dF/dtheta with
 *         u_b[i*C + c] = v_b[i] dX_b[c] (g is linear in F), one batched
 *         VJP of the network; dX/dt is kept from the eval it follows;
 *   keep:  backprop's kept evaluations (grad.h): the network's tape bound to
 *         the engine's slot (mlp_ws_tape_bind) followed by the items'
 *         dX/dt, the two things the VJP reads, so the sweep differentiates
 *         each stage without evaluating F again (dX/dt is a function of
 *         the item and t, the tape of z and theta: the same bits).
 * The readout runs once, batched over every (item, time) pair; its VJP
 * turns dL/dy(t_i) into dL/dz(t_i) and dL/dtheta_rho. The initial
 * network's tape (from z0 = zeta(X(t0))) waits in its own workspace until
 * the engine returns dL/dz0. */
#include "model/grad_cde.h"

#include "model/cde_field.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct grad_cde {
    struct grad_cde_nets nets;
    size_t C, H, O;                    /* channels, hidden, readout width */
    size_t np_init, np_field, np_read; /* parameter counts */
    mlp_ws *ws_init, *ws_field, *ws_read;
    size_t cap_init, cap_field, cap_read; /* the workspaces' batch sizes */
    grad_solver *solver;
    struct grad_field field;
    const struct grad_path *path; /* of the current call */
    size_t cap_buf;               /* rows of the buffers below */
    double *x0, *z0, *z0bar;      /* items x C, items x H */
    double *fm, *u, *dx;          /* items x H*C, items x H*C, items x C */
    double *dxk;                  /* where eval puts dX/dt and vjp reads it: dx or a kept slot */
    double *z, *zbar, *r, *rbar;  /* rows x H, rows x H, rows x O, rows x O */
    double *jscratch;             /* field_jac: H*C*H + H*C + 2C */
    size_t bytes;
    struct grad_stats st;
};

void grad_cde_options_init(struct grad_cde_options *o)
{
    memset(o, 0, sizeof *o);
    grad_solve_options_init(&o->solve);
    o->batch_mode = GRAD_BATCH_SHARED;
    o->loss = LOSS_MSE;
}

/* ---- the field ---------------------------------------------------------------- */

static int field_eval(void *ctx, double t, size_t item0, size_t n, const double *z, double *dz)
{
    grad_cde *g = ctx;
    const size_t C = g->C, H = g->H;
    mlp_forward_batch(g->nets.vector_field, g->ws_field, n, z, 0.0, g->fm);
    for (size_t b = 0; b < n; b++) {
        double *dx = g->dxk + b * C;
        if (g->path->dxdt(g->path->ctx, item0 + b, t, dx)) return -1;
        cde_field_product(H, C, g->fm + b * H * C, dx, dz + b * H);
    }
    return 0;
}

static void field_vjp(void *ctx, size_t item0, size_t n, const double *v, double *dz,
                      double *dtheta)
{
    grad_cde *g = ctx;
    const size_t C = g->C, H = g->H;
    (void)item0;
    for (size_t b = 0; b < n; b++) {
        const double *dx = g->dxk + b * C;
        double *u = g->u + b * H * C;
        for (size_t i = 0; i < H; i++)
            for (size_t c = 0; c < C; c++)
                u[i * C + c] = v[b * H + i] * dx[c];
    }
    mlp_vjp_batch(g->nets.vector_field, g->ws_field, n, g->u, dz, NULL, dtheta);
}

static size_t round8(size_t n)
{
    return (n + 7) / 8 * 8;
}

static size_t field_keep_doubles(void *ctx, size_t n)
{
    grad_cde *g = ctx;
    return mlp_tape_doubles(g->nets.vector_field, n) + round8(n * g->C);
}

static void field_keep(void *ctx, size_t n, double *mem)
{
    grad_cde *g = ctx;
    mlp_ws_tape_bind(g->ws_field, g->nets.vector_field, mem, n);
    g->dxk = mem ? mem + mlp_tape_doubles(g->nets.vector_field, n) : g->dx;
}

/* The implicit methods' Jacobian, as cde_model serves it
 * (cde_model_field_jacobian): dg/dz = sum_c dX_c/dt dF_{:,c}/dz from one
 * mlp_jacobian per item, dg/dt = F(z) d2X/dt2. At a knot the engine asks
 * one ulp inside the step (grad.h), so dX/dt is the step's own segment's. */
static int field_jac(void *ctx, double t, size_t item0, size_t n, const double *z, double *J,
                     double *dfdt)
{
    grad_cde *g = ctx;
    const size_t C = g->C, H = g->H;
    double *JF = g->jscratch, *F = JF + H * C * H, *dx = F + H * C, *d2 = dx + C;
    for (size_t b = 0; b < n; b++) {
        if (g->path->dxdt(g->path->ctx, item0 + b, t, dx)) return -1;
        mlp_jacobian(g->nets.vector_field, g->ws_field, z + b * H, 0, F, JF, NULL);
        double *Jb = J + b * H * H;
        for (size_t i = 0; i < H; i++) {
            double *Ji = Jb + i * H;
            for (size_t j = 0; j < H; j++)
                Ji[j] = 0;
            for (size_t c = 0; c < C; c++) {
                const double vc = dx[c];
                const double *row = JF + (i * C + c) * H;
                for (size_t j = 0; j < H; j++)
                    Ji[j] += vc * row[j];
            }
        }
        if (dfdt) {
            if (g->path->d2xdt2(g->path->ctx, item0 + b, t, d2)) return -1;
            cde_field_product(H, C, F, d2, dfdt + b * H);
        }
    }
    return 0;
}

/* ---- construction --------------------------------------------------------------- */

static err_code check_nets(const struct grad_cde_nets *n, err *e)
{
    if (!n || !n->initial || !n->vector_field || !n->readout)
        return err_set(e, ERR_INVALID, "nets", "initial, vector_field and readout are required");
    if (mlp_time_input(n->initial) || mlp_time_input(n->vector_field) || mlp_time_input(n->readout))
        return err_set(e, ERR_INVALID, "time_input",
                       "a cde's networks take no time input (use a time channel)");
    const size_t C = mlp_state_dim(n->initial), H = mlp_output_dim(n->initial);
    if (mlp_state_dim(n->vector_field) != H || mlp_output_dim(n->vector_field) != H * C)
        return err_set(e, ERR_INVALID, "vector_field", "must map %zu values to %zu x %zu", H, H, C);
    if (mlp_state_dim(n->readout) != H)
        return err_set(e, ERR_INVALID, "readout", "must take the %zu hidden values", H);
    return ERR_OK;
}

err_code grad_cde_new(grad_cde **out, const struct grad_cde_nets *nets, size_t max_batch, err *e)
{
    *out = NULL;
    err_code rc = check_nets(nets, e);
    if (rc) return rc;
    grad_cde *g = calloc(1, sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
    g->nets = *nets;
    g->C = mlp_state_dim(nets->initial);
    g->H = mlp_output_dim(nets->initial);
    g->O = mlp_output_dim(nets->readout);
    g->np_init = mlp_n_params(nets->initial);
    g->np_field = mlp_n_params(nets->vector_field);
    g->np_read = mlp_n_params(nets->readout);
    g->field = (struct grad_field){.dim = g->H,
                                   .n_params = g->np_field,
                                   .eval = field_eval,
                                   .vjp = field_vjp,
                                   .keep_doubles = field_keep_doubles,
                                   .keep = field_keep,
                                   .ctx = g};
    (void)max_batch; /* workspaces are made on first use, sized by the batch */
    const size_t js = g->H * g->C * g->H + g->H * g->C + 2 * g->C;
    g->jscratch = malloc(js * sizeof *g->jscratch);
    if (!g->jscratch) {
        grad_cde_free(g);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
    }
    rc = grad_solver_new(&g->solver, e);
    if (rc) {
        grad_cde_free(g);
        return rc;
    }
    *out = g;
    return ERR_OK;
}

static void free_bufs(grad_cde *g)
{
    double **all[] = {&g->x0, &g->z0, &g->z0bar, &g->fm, &g->u,
                      &g->dx, &g->z,  &g->zbar,  &g->r,  &g->rbar};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
    g->bytes = 0;
    g->cap_buf = 0;
}

void grad_cde_free(grad_cde *g)
{
    if (!g) return;
    mlp_ws_free(g->ws_init);
    mlp_ws_free(g->ws_field);
    mlp_ws_free(g->ws_read);
    grad_solver_free(g->solver);
    free_bufs(g);
    free(g->jscratch);
    free(g);
}

size_t grad_cde_n_params(const grad_cde *g)
{
    return g->np_init + g->np_field + g->np_read;
}

void grad_cde_stats(const grad_cde *g, struct grad_stats *st)
{
    *st = g->st;
}

void grad_cde_mem(const grad_cde *g, size_t *now, size_t *peak)
{
    size_t n = 0, p = 0;
    grad_solver_mem(g->solver, &n, &p);
    if (now) *now = n + g->bytes;
    if (peak) *peak = p + g->bytes;
}

static err_code grow_ws(mlp_ws **ws, size_t *cap, const mlp *m, size_t n, err *e)
{
    if (*ws && n <= *cap) return ERR_OK;
    mlp_ws *w = NULL;
    err_code rc = mlp_ws_new(&w, m, n, e);
    if (rc) return rc;
    mlp_ws_free(*ws);
    *ws = w;
    *cap = n;
    return ERR_OK;
}

/* Workspaces and buffers for `items` items of n_t times. */
static err_code reserve(grad_cde *g, size_t items, size_t n_t, err *e)
{
    const size_t rows = items * n_t;
    err_code rc;
    if ((rc = grow_ws(&g->ws_init, &g->cap_init, g->nets.initial, items, e)) ||
        (rc = grow_ws(&g->ws_field, &g->cap_field, g->nets.vector_field, items, e)) ||
        (rc = grow_ws(&g->ws_read, &g->cap_read, g->nets.readout, rows, e)))
        return rc;
    if (rows <= g->cap_buf && items <= g->cap_buf) return ERR_OK;
    free_bufs(g);
    const size_t R = rows > items ? rows : items, C = g->C, H = g->H, O = g->O;
    const size_t sizes[] = {R * C, R * H, R * H, R * H * C, R * H * C,
                            R * C, R * H, R * H, R * O,     R * O};
    double **all[] = {&g->x0, &g->z0, &g->z0bar, &g->fm, &g->u,
                      &g->dx, &g->z,  &g->zbar,  &g->r,  &g->rbar};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        *all[i] = malloc(sizes[i] * sizeof(double));
        if (!*all[i]) {
            free_bufs(g);
            return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient");
        }
        g->bytes += sizes[i] * sizeof(double);
    }
    g->dxk = g->dx; /* the engine ends every keeping forward and sweep with keep(NULL) */
    g->cap_buf = R;
    return ERR_OK;
}

/* ---- the loss --------------------------------------------------------------------- */

static err_code check_batch(const grad_cde *g, const struct grad_cde_batch *b,
                            const struct grad_cde_options *o, err *e)
{
    if (!b || b->batch == 0) return err_set(e, ERR_INVALID, "batch", "must be >= 1");
    if (!b->path || !b->path->x || !b->path->dxdt || b->path->channels != g->C)
        return err_set(e, ERR_INVALID, "path", "a path of %zu channels with X and dX/dt", g->C);
    if (!b->t0 || !b->t || b->n_t == 0)
        return err_set(e, ERR_INVALID, "t", "t0 and at least one observation time");
    if ((int)o->loss < 0 || o->loss >= LOSS__COUNT)
        return err_set(e, ERR_INVALID, "loss", "unknown loss");
    if (o->loss == LOSS_CROSS_ENTROPY ? !b->label : !b->target)
        return err_set(e, ERR_INVALID, o->loss == LOSS_CROSS_ENTROPY ? "label" : "target",
                       "missing");
    if (o->on_hidden && o->loss == LOSS_CROSS_ENTROPY)
        return err_set(e, ERR_INVALID, "loss", "cross_entropy is on the readout's logits");
    if (b->per_item_times && o->batch_mode != GRAD_BATCH_PER_ITEM)
        return err_set(e, ERR_INVALID, "batch_mode", "per-item times need the per-item mode");
    for (size_t i = 0; o->loss == LOSS_CROSS_ENTROPY && i < b->batch; i++)
        if (b->label[i] < 0 || (size_t)b->label[i] >= g->O) {
            char f[40];
            snprintf(f, sizeof f, "label[%zu]", i);
            return err_set(e, ERR_INVALID, f, "class %ld is not in [0, %zu)", b->label[i], g->O);
        }
    return ERR_OK;
}

/* Loss of items [b0, b0 + n) from the readouts r (or, on_hidden, the
 * hidden states z); its gradient into rbar (zbar) when want_grad. */
static err_code seed_loss(grad_cde *g, const struct grad_cde_batch *b,
                          const struct grad_cde_options *o, size_t b0, size_t n, double scale,
                          int want_grad, double *loss, err *e)
{
    const loss_kind k = o->loss;
    const size_t nt = b->n_t, O = o->on_hidden ? g->H : g->O;
    const double *r = o->on_hidden ? g->z : g->r;
    double *rbar = o->on_hidden ? g->zbar : g->rbar;
    if (want_grad) memset(rbar, 0, n * nt * O * sizeof *rbar);
    if (k != LOSS_CROSS_ENTROPY) {
        for (size_t i = 0; i < n * nt; i++)
            *loss += loss_regression(k, O, r + i * O, b->target + (b0 * nt + i) * O, scale,
                                     want_grad ? rbar + i * O : NULL);
        return ERR_OK;
    }
    for (size_t i = 0; i < n; i++) {
        const size_t row = i * nt + nt - 1;
        double v;
        err_code rc = loss_cross_entropy(1, O, r + row * O, b->label + b0 + i, scale, &v,
                                         want_grad ? rbar + row * O : NULL, e);
        if (rc) return rc; /* labels were checked: not reached */
        *loss += v;
    }
    return ERR_OK;
}

/* z0 = zeta(X(t0)) for items [b0, b0 + n). */
static err_code initial_state(grad_cde *g, const struct grad_path *p, size_t b0, size_t n,
                              double t0, err *e)
{
    for (size_t i = 0; i < n; i++)
        if (p->x(p->ctx, b0 + i, t0, g->x0 + i * g->C))
            return err_set(e, ERR_SOLVER, "path", "X(t0) failed for item %zu", b0 + i);
    mlp_forward_batch(g->nets.initial, g->ws_init, n, g->x0, 0.0, g->z0);
    return ERR_OK;
}

/* One grad_cde_compute: its arguments, for the solves of its batch. */
struct call {
    grad_cde *g;
    const struct grad_cde_batch *b;
    const struct grad_cde_options *o;
    double scale;
    double *loss, *dtheta, *y_pred;
};

/* Solve items [b0, b0 + n) as one system, add their loss and gradient. */
static err_code solve_items(void *ctx, size_t b0, size_t n, err *e)
{
    const struct call *c = ctx;
    grad_cde *g = c->g;
    const struct grad_cde_batch *b = c->b;
    const struct grad_cde_options *o = c->o;
    double *dtheta = c->dtheta, *y_pred = c->y_pred;
    const struct grad_path *p = b->path;
    const size_t nt = b->n_t, H = g->H, O = g->O;
    const int want_grad = dtheta != NULL;
    struct grad_solve_options so = o->solve;
    if (!want_grad) so.method = GRAD_ADJOINT; /* no tape */
    const double t0 = b->per_item_times ? b->t0[b0] : b->t0[0];
    const double *t = b->per_item_times ? b->t + b0 * nt : b->t;
    err_code rc = initial_state(g, p, b0, n, t0, e);
    if (rc) return rc;
    g->field.jump_times = p->jumps ? p->jumps(p->ctx, b0, n, &g->field.n_jumps) : NULL;
    if (!g->field.jump_times) g->field.n_jumps = 0;
    g->field.stop_times = p->stops ? p->stops(p->ctx, b0, n, &g->field.n_stops) : NULL;
    if (!g->field.stop_times) g->field.n_stops = 0;
    g->field.jac = p->dxdt && p->d2xdt2 ? field_jac : NULL;
    rc = grad_solver_forward(g->solver, &g->field, &so, b0, n, t0, g->z0, t, nt, g->z, e);
    grad_batch_stats_add_forward(&g->st, g->solver);
    if (rc) return rc;
    if (o->on_hidden) {
        if (y_pred) memcpy(y_pred + b0 * nt * H, g->z, n * nt * H * sizeof *y_pred);
    } else {
        mlp_forward_batch(g->nets.readout, g->ws_read, n * nt, g->z, 0.0, g->r);
        if (y_pred) memcpy(y_pred + b0 * nt * O, g->r, n * nt * O * sizeof *y_pred);
    }
    if ((rc = seed_loss(g, b, o, b0, n, c->scale, want_grad, c->loss, e))) return rc;
    if (!want_grad) return ERR_OK;
    double *d_init = dtheta, *d_field = dtheta + g->np_init, *d_read = d_field + g->np_field;
    if (!o->on_hidden) { /* zbar = the readout's VJP of rbar; on_hidden: the loss's own */
        memset(g->zbar, 0, n * nt * H * sizeof *g->zbar);
        mlp_vjp_batch(g->nets.readout, g->ws_read, n * nt, g->rbar, g->zbar, NULL, d_read);
    }
    rc = grad_solver_backward(g->solver, g->zbar, g->z0bar, d_field, e);
    grad_batch_stats_add_backward(&g->st, g->solver);
    if (rc) return rc;
    mlp_vjp_batch(g->nets.initial, g->ws_init, n, g->z0bar, NULL, NULL, d_init);
    return ERR_OK;
}

static double default_scale(const grad_cde *g, const struct grad_cde_batch *b,
                            const struct grad_cde_options *o)
{
    if (o->loss == LOSS_CROSS_ENTROPY) return 1.0 / (double)b->batch;
    const size_t c =
        loss_observed_count(b->batch * b->n_t * (o->on_hidden ? g->H : g->O), b->target);
    return c ? 1.0 / (double)c : 0.0;
}

err_code grad_cde_compute(grad_cde *g, const struct grad_cde_batch *b,
                          const struct grad_cde_options *o, double *loss, double *dtheta,
                          double *y_pred, err *e)
{
    memset(&g->st, 0, sizeof g->st);
    err_code rc = check_batch(g, b, o, e);
    if (rc) return rc;
    const double scale = o->loss_scale != 0 ? o->loss_scale : default_scale(g, b, o);
    if (dtheta) memset(dtheta, 0, grad_cde_n_params(g) * sizeof *dtheta);
    *loss = 0;
    g->path = b->path;
    if ((rc = reserve(g, grad_batch_items(b->batch, o->batch_mode), b->n_t, e))) return rc;
    struct call args = {g, b, o, scale, loss, dtheta, y_pred};
    return grad_batch_run(b->batch, o->batch_mode, solve_items, &args, e);
}
