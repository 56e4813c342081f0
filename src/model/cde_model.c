/* model/cde_model.c: see cde_model.h.
 *
 * DESIGN. The model owns three mlps with copied weights. A solve call sizes
 * one work set for the largest series of the batch (an ode_solver of dim
 * hidden, one mlp_ws per network, the query parameters and the hidden rows)
 * and then, per series: build the path, map the query times to s, z_0 =
 * initial(X(s_0)), ode_solve with the path's kinks as jump times, readout.
 * The right-hand side is interp_deriv + one mlp_forward + a hidden x
 * channels matrix-vector product. */
#include "model/cde_model.h"

#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cde_model {
    struct cde_channels ch;
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
    m->ch = cde_channels_of(d);
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

struct cde_channels cde_model_channels(const cde_model *m)
{
    return m->ch;
}

const mlp *cde_model_net(const cde_model *m, size_t which)
{
    return which < 3 ? m->net[which] : NULL;
}

err_code cde_model_path(const cde_model *m, const struct cde_obs *obs, interp **out, err *e)
{
    return cde_path_new(out, m->scheme, &m->ch, obs, e);
}

/* ---- the vector field ------------------------------------------------------ */

void cde_field_apply(const mlp *field, mlp_ws *ws, size_t hidden, size_t channels, const double *z,
                     const double *v, double *dz, double *F)
{
    mlp_forward(field, ws, z, 0, F);
    for (size_t i = 0; i < hidden; i++) {
        const double *row = F + i * channels;
        double acc = 0;
        for (size_t j = 0; j < channels; j++)
            acc += row[j] * v[j];
        dz[i] = acc;
    }
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

/* The solve's right-hand side. F(z) is cached by z: at a stop the driver
 * evaluates the last stage of a step and the first of the next one at the
 * same state, on either side of the knot; only dX/ds differs there, so the
 * network runs once (W3: one network evaluation in seven saved). */
struct rhs_ctx {
    const interp *path;
    const mlp *field;
    mlp_ws *ws;
    size_t hidden, channels;
    size_t seg;  /* interp_deriv's hint */
    double *v;   /* channels: dX/ds */
    double *F;   /* hidden x channels: F(zc) */
    double *zc;  /* hidden: the state F was computed at */
    bool cached; /* F holds F(zc) */
    long evals;  /* network evaluations */
};

static int cde_rhs(double s, const double *z, double *dz, void *ctx)
{
    struct rhs_ctx *c = ctx;
    const size_t H = c->hidden, C = c->channels;
    interp_deriv(c->path, s, &c->seg, c->v);
    if (!c->cached || memcmp(z, c->zc, H * sizeof *z) != 0) {
        mlp_forward(c->field, c->ws, z, 0, c->F);
        c->evals++;
        memcpy(c->zc, z, H * sizeof *z);
        c->cached = true;
    }
    for (size_t i = 0; i < H; i++) {
        const double *row = c->F + i * C;
        double acc = 0;
        for (size_t j = 0; j < C; j++)
            acc += row[j] * c->v[j];
        dz[i] = acc;
    }
    return 0;
}

/* ---- solving --------------------------------------------------------------- */

/* Solver options and tableau from merged settings (fields "solver.*"). */
static err_code solver_setup(const model_solver *ms, const struct rk_tableau **tab,
                             struct ode_options *o, err *e)
{
    err_code rc = model_solver_validate(ms, e);
    if (rc) return rc;
    *tab = rk_tableau_find(ms->method[0] ? ms->method : "dopri5");
    if (!*tab) return err_set(e, ERR_INVALID, "solver.method", "unknown method");
    ode_options_init(o);
    if (ms->rtol > 0) o->rtol = ms->rtol;
    if (ms->atol > 0) o->atol = ms->atol;
    if (ms->max_steps > 0) o->max_steps = ms->max_steps;
    if (ms->first_step > 0) o->first_step = ms->first_step;
    if (ms->min_step > 0) o->min_step = ms->min_step;
    if (ms->max_step > 0) o->max_step = ms->max_step;
    if (ms->step > 0) o->fixed_step = ms->step;
    if (!rk_tableau_adaptive(*tab) && o->fixed_step == 0)
        return err_set(e, ERR_INVALID, "solver.step",
                       "method %s has no error estimate: give solver.step", (*tab)->name);
    return ERR_OK;
}

/* Everything one solve call needs, sized for the largest series. */
struct work {
    ode_solver *solver;
    mlp_ws *ws[3];
    struct ode_options opt;
    double *s_out; /* query parameters */
    double *rows;  /* query rows x hidden (when the caller wants no hidden output) */
    double *x0, *z0;
    double *v, *F, *zc; /* rhs scratch */
};

static void work_free(struct work *w)
{
    ode_solver_free(w->solver);
    for (size_t i = 0; i < 3; i++)
        mlp_ws_free(w->ws[i]);
    free(w->s_out);
    free(w->rows);
    free(w->x0);
    free(w->z0);
    free(w->v);
    free(w->F);
    free(w->zc);
}

static size_t series_rows(const struct cde_series *sr)
{
    return sr->t ? sr->n_t : sr->obs.n;
}

static err_code work_init(struct work *w, const cde_model *m, const struct cde_model_query *q,
                          err *e)
{
    const struct rk_tableau *tab;
    model_solver ms;
    err_code rc = model_solver_validate(&q->solver, e); /* merging drops bad overrides */
    if (rc) return rc;
    model_solver_merge(&m->solver, &q->solver, &ms);
    rc = solver_setup(&ms, &tab, &w->opt, e);
    if (rc) return rc;
    w->opt.abort = q->abort;
    w->opt.abort_ctx = q->abort_ctx;
    size_t max_rows = 1;
    for (size_t b = 0; b < q->batch; b++)
        if (series_rows(&q->series[b]) > max_rows) max_rows = series_rows(&q->series[b]);
    if (!(w->solver = ode_solver_new(tab, m->hidden, e))) return e ? e->code : ERR_NOMEM;
    for (size_t i = 0; i < 3; i++)
        if ((rc = mlp_ws_new(&w->ws[i], m->net[i], 1, e))) return rc;
    w->s_out = malloc(max_rows * sizeof *w->s_out);
    w->rows = malloc(max_rows * m->hidden * sizeof *w->rows);
    w->x0 = malloc(m->channels * sizeof *w->x0);
    w->z0 = malloc(m->hidden * sizeof *w->z0);
    w->v = malloc(m->channels * sizeof *w->v);
    w->F = malloc(m->hidden * m->channels * sizeof *w->F);
    w->zc = malloc(m->hidden * sizeof *w->zc);
    if (!w->s_out || !w->rows || !w->x0 || !w->z0 || !w->v || !w->F || !w->zc)
        return err_set(e, ERR_NOMEM, NULL, "out of memory for a cde solve");
    return ERR_OK;
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

static void add_stats(struct cde_model_stats *st, const struct ode_stats *os)
{
    st->nfe += os->nfe;
    st->steps += os->n_accepted;
    st->rejected += os->n_rejected;
}

/* Hidden states of one series at its query parameters into `hid`. */
static err_code solve_hidden(const cde_model *m, struct work *w, const interp *path, size_t n,
                             double *hid, struct cde_model_stats *st, err *e)
{
    const double *knots = interp_knots(path);
    interp_eval(path, knots[0], w->x0, NULL, NULL);
    mlp_forward(m->net[MODEL_NET_CDE_INITIAL], w->ws[0], w->x0, 0, w->z0);
    struct rhs_ctx ctx = {.path = path,
                          .field = m->net[MODEL_NET_CDE_FIELD],
                          .ws = w->ws[MODEL_NET_CDE_FIELD],
                          .hidden = m->hidden,
                          .channels = m->channels,
                          .v = w->v,
                          .F = w->F,
                          .zc = w->zc};
    const struct ode_problem p = {.f = cde_rhs,
                                  .ctx = &ctx,
                                  .dim = m->hidden,
                                  .t0 = knots[0],
                                  .y0 = w->z0,
                                  .t_out = w->s_out,
                                  .n_out = n,
                                  .jump_times = interp_stops(path),
                                  .n_jumps = interp_n_stops(path)};
    struct ode_stats os;
    err_code rc = ode_solve(w->solver, &p, &w->opt, hid, &os, e);
    add_stats(st, &os);
    st->field_evals += ctx.evals;
    if (rc) st->t_fail = os.t_fail;
    return rc;
}

static err_code solve_series(const cde_model *m, struct work *w, const struct cde_series *sr,
                             cde_output out, double *ro, double *hid, struct cde_model_stats *st,
                             err *e)
{
    interp *path = NULL;
    err_code rc = cde_path_new(&path, m->scheme, &m->ch, &sr->obs, e);
    if (rc) return rc;
    const size_t n = series_rows(sr);
    double *rows = (out & CDE_OUTPUT_HIDDEN) ? hid : w->rows;
    if ((rc = query_params(path, sr, w->s_out, e))) goto out;
    if (n && (rc = solve_hidden(m, w, path, n, rows, st, e))) goto out;
    if (out & CDE_OUTPUT_READOUT)
        for (size_t i = 0; i < n; i++)
            mlp_forward(m->net[MODEL_NET_CDE_READOUT], w->ws[MODEL_NET_CDE_READOUT],
                        rows + i * m->hidden, 0, ro + i * m->readout_dim);
out:
    interp_free(path);
    return rc;
}

size_t cde_model_query_rows(const struct cde_model_query *q)
{
    size_t rows = 0;
    for (size_t b = 0; b < q->batch; b++)
        rows += series_rows(&q->series[b]);
    return rows;
}

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
    struct work w = {0};
    if ((rc = work_init(&w, m, q, e))) goto out;
    size_t row = 0;
    for (size_t b = 0; b < q->batch; b++) {
        const struct cde_series *sr = &q->series[b];
        double *ro = readout_out ? readout_out + row * m->readout_dim : NULL;
        double *hid = hidden_out ? hidden_out + row * m->hidden : NULL;
        if ((rc = solve_series(m, &w, sr, out, ro, hid, stats, e))) {
            if (!isnan(stats->t_fail)) stats->series_fail = b;
            if (q->series_fields) {
                char pre[40];
                snprintf(pre, sizeof pre, "series[%zu]", b);
                err_prefix_field(e, pre);
            }
            goto out;
        }
        row += series_rows(sr);
    }
out:
    work_free(&w);
    return rc;
}
