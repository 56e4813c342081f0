/* model/cde_model.c: see cde_model.h.
 *
 * DESIGN. The model owns three mlps with copied weights. A solve call
 * first prepares the whole batch (every path built and every query time
 * mapped to s, so a bad series fails the call before any solving), then
 * solves each series with one ode_solve (one solver and workspace set
 * reused across the batch), then applies the readout row by row. The
 * right-hand side is interp_deriv + one mlp_forward + a hidden x channels
 * matrix-vector product; the implicit methods also get its Jacobian
 * (cde_model_field_jacobian), from scratch sized once per solve.
 *
 * Why not one shared-step system for the batch (as ode_model offers)? The
 * series have their own knots; they coincide only on an index grid (knot k
 * at s = k), and there the step must suit the hardest of the series in
 * every segment: W3 (bench/bench_cde) then took 204-232 steps per series
 * instead of 106, which ate the GEMM's gain (docs/cde.md has the figures). */
#include "model/cde_model.h"

#include "model/cde_field.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cde_model {
    struct cde_path_channels ch;
    size_t channels; /* input_channels */
    size_t hidden;
    size_t readout_dim;
    model_interp scheme;
    model_solver solver; /* the model's defaults */
    mlp *net[3];         /* initial, vector_field, readout */
};

/* ---- construction ---------------------------------------------------------- */

static err_code make_net(const model_def *d, size_t i, mlp **out, err *e)
{
    const model_net *n = &d->nets[i];
    const mlp_spec spec = {.state_dim = n->in_dim,
                           .time_input = n->time_input,
                           .n_layers = n->n_layers,
                           .layers = n->layers};
    err_code rc = mlp_new(out, &spec, e);
    if (rc) {
        err_prefix_field(e, model_net_name(d->kind, i));
        return rc;
    }
    memcpy(mlp_params(*out), d->params + model_def_net_offset(d, i),
           mlp_n_params(*out) * sizeof(double));
    err pe; /* final parameters: pack; out of memory only serves it unpacked (same results) */
    err_clear(&pe);
    (void)mlp_pack(*out, &pe);
    return ERR_OK;
}

err_code cde_model_new(cde_model **out, const model_def *d, err *e)
{
    *out = NULL;
    if (d->kind != MODEL_KIND_CDE)
        return err_set(e, ERR_INVALID, "kind", "is \"%s\", not \"cde\"", model_kind_name(d->kind));
    err_code rc = model_def_validate(d, e);
    if (rc) return rc;
    if (d->interp == MODEL_INTERP_RECTILINEAR && !d->channel_time)
        return err_set(e, ERR_INVALID, "channels.time",
                       "rectilinear interpolation needs the time channel (channels.time)");
    cde_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, NULL, "out of memory for a cde model");
    m->ch = cde_path_channels_of(d);
    m->channels = d->input_channels;
    m->hidden = d->hidden_dim;
    m->scheme = d->interp;
    m->solver = d->solver;
    for (size_t i = 0; i < 3; i++)
        if ((rc = make_net(d, i, &m->net[i], e))) goto fail;
    m->readout_dim = mlp_output_dim(m->net[MODEL_NET_CDE_READOUT]);
    *out = m;
    return ERR_OK;
fail:
    cde_model_free(m);
    return rc;
}

void cde_model_free(cde_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < 3; i++)
        mlp_free(m->net[i]);
    free(m);
}

size_t cde_model_input_channels(const cde_model *m)
{
    return m->channels;
}

size_t cde_model_data_channels(const cde_model *m)
{
    return m->ch.n_data;
}

size_t cde_model_hidden_dim(const cde_model *m)
{
    return m->hidden;
}

size_t cde_model_readout_dim(const cde_model *m)
{
    return m->readout_dim;
}

model_interp cde_model_interp(const cde_model *m)
{
    return m->scheme;
}

struct cde_path_channels cde_model_channels(const cde_model *m)
{
    return m->ch;
}

const mlp *cde_model_net(const cde_model *m, size_t which)
{
    return which < 3 ? m->net[which] : NULL;
}

err_code cde_model_path(const cde_model *m, const struct cde_path_obs *obs, interp **out, err *e)
{
    return cde_path_new(out, m->scheme, &m->ch, obs, e);
}

/* ---- the vector field ------------------------------------------------------ */

void cde_field_apply(const mlp *field, mlp_ws *ws, size_t hidden, size_t channels, const double *z,
                     const double *v, double *dz, double *F)
{
    mlp_forward(field, ws, z, 0, F);
    cde_field_product(hidden, channels, F, v, dz);
}

void cde_field_vjp(const mlp *field, mlp_ws *ws, size_t hidden, size_t channels, const double *F,
                   const double *v, const double *a, double *gz, double *gv, double *gtheta,
                   double *scratch)
{
    for (size_t i = 0; i < hidden; i++) /* cotangent of F: a v^T */
        for (size_t j = 0; j < channels; j++)
            scratch[i * channels + j] = a[i] * v[j];
    if (gv)
        for (size_t i = 0; i < hidden; i++)
            for (size_t j = 0; j < channels; j++)
                gv[j] += F[i * channels + j] * a[i];
    if (gz || gtheta) mlp_vjp(field, ws, scratch, gz, NULL, gtheta);
}

/* ---- the right-hand sides --------------------------------------------------
 * F(z) is cached by z: at a stop the driver evaluates the last stage of a
 * step and the first of the next one at the same state, on either side of
 * the knot; only dX/ds differs there, so the network runs once (W3: one
 * network evaluation in seven saved). */

struct rhs_ctx {
    const cde_model *m;
    const interp *path;
    mlp_ws *ws;          /* the field's */
    size_t seg;          /* interp_deriv's hint */
    double *v;           /* channels: dX/ds */
    double *F;           /* hidden x channels: F(zc) */
    double *zc;          /* hidden: the state F was computed at */
    bool cached;         /* F holds F(zc) */
    long evals;          /* network evaluations */
    double *jac_scratch; /* cde_model_jac_scratch(m) doubles: for cde_jac */
};

static int cde_rhs(double s, const double *z, double *dz, void *ctx)
{
    struct rhs_ctx *c = ctx;
    const size_t H = c->m->hidden, C = c->m->channels;
    interp_deriv(c->path, s, &c->seg, c->v);
    if (!c->cached || memcmp(z, c->zc, H * sizeof *z) != 0) {
        mlp_forward(c->m->net[MODEL_NET_CDE_FIELD], c->ws, z, 0, c->F);
        c->evals++;
        memcpy(c->zc, z, H * sizeof *z);
        c->cached = true;
    }
    cde_field_product(H, C, c->F, c->v, dz);
    return 0;
}

/* The implicit methods' Jacobian. The field network does not see s (no
 * time_input for cde nets), so s enters through the path alone:
 *   df/dz = sum_c dX_c/ds dF_{:,c}/dz,   df/ds = F(z) d2X/ds2.
 * One mlp_jacobian gives dF/dz for every channel at once; contracting it
 * with dX/ds costs hidden^2 x channels multiply-adds more, far below the
 * network's own Jacobian. The driver asks for J at the start of a step; at
 * a knot that step lies after the knot, so the path is read on the segment
 * that follows s (nextafter), not on the one interp_segment gives s itself
 * (the one before it): the one-sided values of the step being taken. */
size_t cde_model_jac_scratch(const cde_model *m)
{
    const size_t H = m->hidden, C = m->channels;
    return H * C * H + H * C + 2 * C;
}

void cde_model_field_jacobian(const cde_model *m, mlp_ws *ws, const interp *path, double s,
                              const double *z, double *J, double *dfds, double *scratch)
{
    const size_t H = m->hidden, C = m->channels;
    double *JF = scratch, *F = JF + H * C * H, *v = F + H * C, *d2 = v + C;
    interp_eval(path, nextafter(s, INFINITY), NULL, v, d2);
    mlp_jacobian(m->net[MODEL_NET_CDE_FIELD], ws, z, 0, F, JF, NULL);
    for (size_t i = 0; i < H; i++) {
        double *Ji = J + i * H;
        for (size_t j = 0; j < H; j++)
            Ji[j] = 0;
        for (size_t c = 0; c < C; c++) {
            const double vc = v[c];
            const double *row = JF + (i * C + c) * H;
            for (size_t j = 0; j < H; j++)
                Ji[j] += vc * row[j];
        }
    }
    if (dfds) cde_field_product(H, C, F, d2, dfds);
}

static int cde_jac(double s, const double *z, double *J, double *dfds, void *ctx)
{
    struct rhs_ctx *c = ctx;
    cde_model_field_jacobian(c->m, c->ws, c->path, s, z, J, dfds, c->jac_scratch);
    return 0;
}

/* ---- preparing a query ------------------------------------------------------ */

static size_t series_rows(const struct cde_series *sr)
{
    return sr->t ? sr->n_t : sr->obs.n;
}

size_t cde_model_query_rows(const struct cde_model_query *q)
{
    size_t rows = 0;
    for (size_t b = 0; b < q->batch; b++)
        rows += series_rows(&q->series[b]);
    return rows;
}

/* The batch, ready to solve. */
struct prep {
    size_t batch, rows;
    interp **paths; /* batch */
    size_t *row0;   /* batch + 1: first output row of each series */
    double *s;      /* rows: query parameters */
    double *hid;    /* rows x hidden: the caller's buffer or ours */
    bool own_hid;
};

static void prep_free(struct prep *p)
{
    for (size_t b = 0; p->paths && b < p->batch; b++)
        interp_free(p->paths[b]);
    free(p->paths);
    free(p->row0);
    free(p->s);
    if (p->own_hid) free(p->hid);
}

/* Check the query times against the observation span; map them to s. */
static err_code query_params(const interp *path, const struct cde_series *sr, double *s_out, err *e)
{
    const double lo = sr->obs.t[0], hi = sr->obs.t[sr->obs.n - 1];
    const double *t = sr->t ? sr->t : sr->obs.t;
    const size_t n = series_rows(sr);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i] >= lo && t[i] <= hi)) { /* NaN fails too */
            char f[48];
            snprintf(f, sizeof f, "t[%zu]", i);
            if (!isfinite(t[i])) return err_set(e, ERR_INVALID, f, "is not a finite number");
            return err_set(e, ERR_INVALID, f,
                           "= %.17g is outside the observations' span [%.17g, %.17g]", t[i], lo,
                           hi);
        }
        s_out[i] = interp_param(path, t[i]);
    }
    return ERR_OK;
}

static err_code prepare(const cde_model *m, const struct cde_model_query *q, double *hidden_out,
                        struct prep *p, err *e)
{
    const size_t B = q->batch;
    p->batch = B;
    p->rows = cde_model_query_rows(q);
    p->paths = calloc(B, sizeof *p->paths);
    p->row0 = malloc((B + 1) * sizeof *p->row0);
    p->s = malloc((p->rows ? p->rows : 1) * sizeof *p->s);
    p->own_hid = !hidden_out;
    p->hid = hidden_out ? hidden_out : malloc((p->rows ? p->rows : 1) * m->hidden * sizeof *p->hid);
    if (!p->paths || !p->row0 || !p->s || !p->hid)
        return err_set(e, ERR_NOMEM, NULL, "out of memory for a cde query");
    p->row0[0] = 0;
    for (size_t b = 0; b < B; b++) {
        const struct cde_series *sr = &q->series[b];
        p->row0[b + 1] = p->row0[b] + series_rows(sr);
        err_code rc = cde_path_new(&p->paths[b], m->scheme, &m->ch, &sr->obs, e);
        if (!rc) rc = query_params(p->paths[b], sr, p->s + p->row0[b], e);
        if (rc) {
            if (q->series_fields) {
                char pre[40];
                snprintf(pre, sizeof pre, "series[%zu]", b);
                err_prefix_field(e, pre);
            }
            return rc;
        }
    }
    return ERR_OK;
}

/* ---- solving ---------------------------------------------------------------- */

/* Solver options and tableau from the model's settings and the query's
 * overrides (fields "solver.*"). */
static err_code solver_setup(const cde_model *m, const struct cde_model_query *q,
                             const struct rk_tableau **tab, struct ode_options *o, err *e)
{
    /* no default step count: the path's parameter span says nothing of a sensible h */
    err_code rc = model_solver_options(&m->solver, &q->solver, 0, tab, o, e);
    if (rc) return rc;
    o->abort = q->abort;
    o->abort_ctx = q->abort_ctx;
    return ERR_OK;
}

/* The solver and the scratch of the right-hand side, reused across series. */
struct work {
    ode_solver *solver;
    mlp_ws *ws_init, *ws_field;
    double *v, *F, *zc, *x0, *z0;
    double *jac_scratch; /* implicit methods only */
};

static void work_free(struct work *w)
{
    ode_solver_free(w->solver);
    mlp_ws_free(w->ws_init);
    mlp_ws_free(w->ws_field);
    free(w->v);
    free(w->F);
    free(w->zc);
    free(w->x0);
    free(w->z0);
    free(w->jac_scratch);
}

static err_code work_init(struct work *w, const cde_model *m, const struct rk_tableau *tab, err *e)
{
    const size_t H = m->hidden, C = m->channels;
    err_code rc;
    if (!(w->solver = ode_solver_new(tab, H, e))) return e ? e->code : ERR_NOMEM;
    if ((rc = mlp_ws_new(&w->ws_init, m->net[MODEL_NET_CDE_INITIAL], 1, e)) ||
        (rc = mlp_ws_new(&w->ws_field, m->net[MODEL_NET_CDE_FIELD], 1, e)))
        return rc;
    w->v = malloc(C * sizeof *w->v);
    w->F = malloc(H * C * sizeof *w->F);
    w->zc = malloc(H * sizeof *w->zc);
    w->x0 = malloc(C * sizeof *w->x0);
    w->z0 = malloc(H * sizeof *w->z0);
    if (rk_tableau_implicit(tab))
        w->jac_scratch = malloc(cde_model_jac_scratch(m) * sizeof *w->jac_scratch);
    if (!w->v || !w->F || !w->zc || !w->x0 || !w->z0 ||
        (rk_tableau_implicit(tab) && !w->jac_scratch))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for a cde solve");
    return ERR_OK;
}

/* Hidden states of one path at the parameters s_out (n) into y. */
static err_code solve_path(const cde_model *m, struct work *w, const struct ode_options *opt,
                           const interp *path, const double *s_out, size_t n, double *y,
                           struct cde_model_stats *st, err *e)
{
    const double s0 = interp_knots(path)[0];
    interp_eval(path, s0, w->x0, NULL, NULL);
    mlp_forward(m->net[MODEL_NET_CDE_INITIAL], w->ws_init, w->x0, 0, w->z0);
    for (size_t i = 0; i < m->hidden; i++)
        if (!isfinite(w->z0[i]))
            return err_set(e, ERR_INVALID, "observations.x[0]",
                           "the initial network gives a non-finite hidden state z0[%zu] from "
                           "the first observation (values too large for the model?)",
                           i);
    struct rhs_ctx ctx = {.m = m,
                          .path = path,
                          .ws = w->ws_field,
                          .v = w->v,
                          .F = w->F,
                          .zc = w->zc,
                          .jac_scratch = w->jac_scratch};
    const struct ode_problem p = {.f = cde_rhs,
                                  .ctx = &ctx,
                                  .dim = m->hidden,
                                  .t0 = s0,
                                  .y0 = w->z0,
                                  .t_out = s_out,
                                  .n_out = n,
                                  .jump_times = interp_stops(path),
                                  .n_jumps = interp_n_stops(path),
                                  .stop_times = interp_smooth_stops(path),
                                  .n_stops = interp_n_smooth_stops(path),
                                  .jac = w->jac_scratch ? cde_jac : NULL};
    struct ode_stats os;
    err_code rc = ode_solve(w->solver, &p, opt, y, &os, e);
    st->nfe += os.nfe;
    st->steps += os.n_accepted;
    st->rejected += os.n_rejected;
    st->field_evals += ctx.evals;
    st->n_jac += os.n_jac;
    st->n_lu += os.n_lu;
    st->auto_steps[0] += os.auto_steps[0];
    st->auto_steps[1] += os.auto_steps[1];
    st->n_switches += os.n_switches;
    if (rc) st->t_fail = os.t_fail;
    return rc;
}

static err_code solve_all(const cde_model *m, const struct cde_model_query *q,
                          const struct rk_tableau *tab, const struct ode_options *opt,
                          struct prep *p, struct cde_model_stats *st, err *e)
{
    struct work w = {0};
    err_code rc = work_init(&w, m, tab, e);
    for (size_t b = 0; !rc && b < p->batch; b++) {
        const size_t n = p->row0[b + 1] - p->row0[b];
        if (!n) continue;
        rc = solve_path(m, &w, opt, p->paths[b], p->s + p->row0[b], n,
                        p->hid + p->row0[b] * m->hidden, st, e);
        if (rc && !isnan(st->t_fail)) st->series_fail = b;
        if (rc && q->series_fields) {
            char pre[40];
            snprintf(pre, sizeof pre, "series[%zu]", b);
            err_prefix_field(e, pre);
        }
    }
    work_free(&w);
    return rc;
}

/* ---- the query ----------------------------------------------------------------- */

static err_code check_query(const struct cde_model_query *q, double *ro, double *hid,
                            cde_output out, err *e)
{
    if (q->batch == 0 || !q->series)
        return err_set(e, ERR_INVALID, "series", "needs at least one series");
    if (out < CDE_OUTPUT_READOUT || out > CDE_OUTPUT_BOTH)
        return err_set(e, ERR_INVALID, "output", "must be \"readout\", \"hidden\" or \"both\"");
    if (((out & CDE_OUTPUT_READOUT) && !ro) || ((out & CDE_OUTPUT_HIDDEN) && !hid))
        return err_set(e, ERR_INVALID, "output", "no buffer for the requested output");
    return ERR_OK;
}

err_code cde_model_solve(const cde_model *m, const struct cde_model_query *q, double *readout_out,
                         double *hidden_out, struct cde_model_stats *stats, err *e)
{
    struct cde_model_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->t_fail = NAN;
    const cde_output out = q->output ? q->output : CDE_OUTPUT_READOUT;
    err_code rc = check_query(q, readout_out, hidden_out, out, e);
    if (rc) return rc;
    const struct rk_tableau *tab;
    struct ode_options opt;
    if ((rc = solver_setup(m, q, &tab, &opt, e))) return rc;
    struct prep p = {0};
    rc = prepare(m, q, (out & CDE_OUTPUT_HIDDEN) ? hidden_out : NULL, &p, e);
    if (!rc) rc = solve_all(m, q, tab, &opt, &p, stats, e);
    if (!rc && (out & CDE_OUTPUT_READOUT)) {
        mlp_ws *ws = NULL;
        if (!(rc = mlp_ws_new(&ws, m->net[MODEL_NET_CDE_READOUT], 1, e)))
            for (size_t r = 0; r < p.rows; r++)
                mlp_forward(m->net[MODEL_NET_CDE_READOUT], ws, p.hid + r * m->hidden, 0,
                            readout_out + r * m->readout_dim);
        mlp_ws_free(ws);
    }
    prep_free(&p);
    return rc;
}
