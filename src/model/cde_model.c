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
 * instead of 106, which ate the GEMM's gain (docs/cde.md has the figures).
 *
 * Events are num's (num/events.c), found in s on the solve's own dense
 * output; the event sink maps each to t with interp_time when it is
 * reported. Why not locate them in t? The dense output is a function of s,
 * so no search in t can resolve the state more finely than an ulp of s;
 * mapping afterwards costs nothing and keeps one root finder. Events on an
 * affine readout become hidden-state functionals once per solve
 * (event_weights), so num sees linear functionals only. */
#include "model/cde_model.h"

#include "core/grow.h"
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

const model_solver *cde_model_solver(const cde_model *m)
{
    return &m->solver;
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

/* ---- events ----------------------------------------------------------------- */

void cde_model_events_clear(struct cde_model_events *ev)
{
    if (!ev) return;
    free(ev->b);
    free(ev->which);
    free(ev->t);
    free(ev->s);
    free(ev->hidden);
    free(ev->readout);
    free(ev->stopped_at);
    memset(ev, 0, sizeof *ev);
}

/* Where num's events of one series go. */
struct event_sink {
    struct cde_model_events *out;
    const interp *path;
    size_t b, hidden;
};

static int sink_event(size_t which, double s, const double *z, void *ctx)
{
    struct event_sink *k = ctx;
    struct cde_model_events *o = k->out;
    void *const arrays[] = {&o->b, &o->which, &o->t, &o->s, &o->hidden};
    const size_t row[] = {sizeof *o->b, sizeof *o->which, sizeof *o->t, sizeof *o->s,
                          k->hidden * sizeof *o->hidden};
    if (grow_rows(&o->cap, o->n + 1, 5, arrays, row)) return ERR_NOMEM;
    o->b[o->n] = k->b;
    o->which[o->n] = which;
    o->s[o->n] = s;
    o->t[o->n] = interp_time(k->path, s);
    memcpy(o->hidden + o->n * k->hidden, z, k->hidden * sizeof *z);
    o->n++;
    return 0;
}

/* Is the readout affine (no activation but the identity)? */
static bool readout_affine(const cde_model *m)
{
    const mlp *r = m->net[MODEL_NET_CDE_READOUT];
    for (size_t i = 0; i < mlp_n_layers(r); i++)
        if (mlp_layer_at(r, i).act != ACT_IDENTITY) return false;
    return true;
}

static err_code event_field(err *e, err_code code, size_t k, const char *key, const char *msg)
{
    char f[64];
    snprintf(f, sizeof f, "events[%zu].%s", k, key);
    return err_set(e, code, f, "%s", msg);
}

/* The query's events as num's: hidden-state functionals (n x hidden weights
 * into w, the events into ev). An event on the readout, readout(z) = A z + c
 * (affine), becomes (A^T w) . z - (value - w . c). */
static err_code event_weights(const cde_model *m, const struct cde_model_query *q,
                              struct ode_event *ev, double *w, err *e)
{
    const size_t H = m->hidden, R = m->readout_dim;
    double *A = NULL, *c = NULL, *z0 = NULL;
    mlp_ws *ws = NULL;
    err_code rc = ERR_OK;
    for (size_t k = 0; k < q->n_events; k++) {
        const struct cde_event *qe = &q->events[k];
        double *wk = w + k * H;
        ev[k] = qe->g;
        ev[k].w = wk;
        if (qe->on == CDE_EVENT_HIDDEN) {
            memcpy(wk, qe->g.w, H * sizeof *wk);
            continue;
        }
        if (!A) { /* the readout's affine map, once: A = d readout / dz, c = readout(0) */
            A = malloc(R * H * sizeof *A);
            c = malloc(R * sizeof *c);
            z0 = calloc(H, sizeof *z0);
            if (!A || !c || !z0) {
                rc = err_set(e, ERR_NOMEM, NULL, "out of memory for the events");
                goto out;
            }
            if ((rc = mlp_ws_new(&ws, m->net[MODEL_NET_CDE_READOUT], 1, e))) goto out;
            mlp_jacobian(m->net[MODEL_NET_CDE_READOUT], ws, z0, 0, c, A, NULL);
        }
        double v = qe->g.value;
        for (size_t j = 0; j < H; j++)
            wk[j] = 0;
        for (size_t r = 0; r < R; r++) {
            v -= qe->g.w[r] * c[r];
            for (size_t j = 0; j < H; j++)
                wk[j] += qe->g.w[r] * A[r * H + j];
        }
        ev[k].value = v;
        bool finite = isfinite(v);
        for (size_t j = 0; j < H; j++)
            finite &= isfinite(wk[j]) != 0;
        if (!finite) {
            rc = event_field(e, ERR_INVALID, k, "state",
                             "through the readout these weights give a non-finite functional "
                             "of the hidden state");
            goto out;
        }
    }
out:
    mlp_ws_free(ws);
    free(A);
    free(c);
    free(z0);
    return rc;
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
                           const struct ode_event *ev, size_t n_ev, struct event_sink *sink,
                           double *s_stop, struct cde_model_stats *st, err *e)
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
                                  .jac = w->jac_scratch ? cde_jac : NULL,
                                  .events = ev,
                                  .n_events = n_ev,
                                  .on_event = n_ev ? sink_event : NULL,
                                  .event_ctx = sink};
    struct ode_stats os;
    err_code rc = ode_solve(w->solver, &p, opt, y, &os, e);
    *s_stop = os.t_stop_fwd;
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
    struct cde_model_events *eo = q->n_events ? q->events_out : NULL;
    struct ode_event *ev = NULL;
    double *ew = NULL;
    err_code rc = work_init(&w, m, tab, e);
    if (!rc && eo) {
        ev = calloc(q->n_events, sizeof *ev);
        ew = malloc(q->n_events * m->hidden * sizeof *ew);
        eo->stopped_at = malloc(p->batch * sizeof *eo->stopped_at);
        if (!ev || !ew || !eo->stopped_at)
            rc = err_set(e, ERR_NOMEM, NULL, "out of memory for the events");
        else
            rc = event_weights(m, q, ev, ew, e);
    }
    for (size_t b = 0; !rc && b < p->batch; b++) {
        const size_t n = p->row0[b + 1] - p->row0[b];
        double s_stop = NAN;
        struct event_sink sink = {.out = eo, .path = p->paths[b], .b = b, .hidden = m->hidden};
        if (n)
            rc = solve_path(m, &w, opt, p->paths[b], p->s + p->row0[b], n,
                            p->hid + p->row0[b] * m->hidden, ev, eo ? q->n_events : 0, &sink,
                            &s_stop, st, e);
        if (eo) eo->stopped_at[b] = isnan(s_stop) ? NAN : interp_time(p->paths[b], s_stop);
        if (rc && !isnan(st->t_fail)) st->series_fail = b;
        if (rc && q->series_fields) {
            char pre[40];
            snprintf(pre, sizeof pre, "series[%zu]", b);
            err_prefix_field(e, pre);
        } else if (rc == ERR_SOLVER && e && !e->field[0]) {
            /* one series: its solve failed, as an ode's names "y0" */
            snprintf(e->field, sizeof e->field, "observations");
        }
    }
    work_free(&w);
    free(ev);
    free(ew);
    return rc;
}

/* ---- the query ----------------------------------------------------------------- */

static err_code check_events(const cde_model *m, const struct cde_model_query *q, err *e)
{
    if (!q->n_events) return ERR_OK;
    if (!q->events || !q->events_out)
        return err_set(e, ERR_INVALID, "events", "no events or no place for what is found");
    for (size_t k = 0; k < q->n_events; k++) {
        const struct cde_event *ev = &q->events[k];
        if (ev->on != CDE_EVENT_HIDDEN && ev->on != CDE_EVENT_READOUT)
            return event_field(e, ERR_INVALID, k, "on", "must be \"hidden\" or \"readout\"");
        if (ev->on == CDE_EVENT_READOUT && !readout_affine(m))
            return event_field(e, ERR_INVALID, k, "on",
                               "events on the readout need an affine readout network (identity "
                               "activations); this model's is not, so state . readout is no "
                               "linear functional of the hidden state: use \"hidden\"");
        const size_t dim = ev->on == CDE_EVENT_READOUT ? m->readout_dim : m->hidden;
        bool finite = ev->g.w != NULL;
        for (size_t j = 0; finite && j < dim; j++)
            finite = isfinite(ev->g.w[j]) != 0;
        if (!finite) return event_field(e, ERR_INVALID, k, "state", "must be finite numbers");
        if (!isfinite(ev->g.value))
            return event_field(e, ERR_INVALID, k, "value", "must be a finite number");
        if (ev->g.direction < -1 || ev->g.direction > 1)
            return event_field(e, ERR_INVALID, k, "direction",
                               "must be \"rising\", \"falling\" or \"both\"");
    }
    return ERR_OK;
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

/* The readout of every row (NAN rows, past a terminal event, stay NAN) and
 * of every event's state. */
static err_code apply_readout(const cde_model *m, const struct cde_model_query *q,
                              const struct prep *p, double *ro, err *e)
{
    const mlp *net = m->net[MODEL_NET_CDE_READOUT];
    const size_t H = m->hidden, R = m->readout_dim;
    struct cde_model_events *eo = q->n_events ? q->events_out : NULL;
    mlp_ws *ws = NULL;
    err_code rc = mlp_ws_new(&ws, net, 1, e);
    if (rc) return rc;
    for (size_t r = 0; r < p->rows; r++) {
        if (isnan(p->hid[r * H])) {
            for (size_t j = 0; j < R; j++)
                ro[r * R + j] = NAN;
            continue;
        }
        mlp_forward(net, ws, p->hid + r * H, 0, ro + r * R);
    }
    if (eo && eo->n) {
        if (!(eo->readout = malloc(eo->n * R * sizeof *eo->readout)))
            rc = err_set(e, ERR_NOMEM, NULL, "out of memory for the events");
        for (size_t i = 0; !rc && i < eo->n; i++)
            mlp_forward(net, ws, eo->hidden + i * H, 0, eo->readout + i * R);
    }
    mlp_ws_free(ws);
    return rc;
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
    if (!rc) rc = check_events(m, q, e);
    if (rc) return rc;
    if (q->n_events) cde_model_events_clear(q->events_out);
    const struct rk_tableau *tab;
    struct ode_options opt;
    if ((rc = solver_setup(m, q, &tab, &opt, e))) return rc;
    struct prep p = {0};
    rc = prepare(m, q, (out & CDE_OUTPUT_HIDDEN) ? hidden_out : NULL, &p, e);
    if (!rc) rc = solve_all(m, q, tab, &opt, &p, stats, e);
    if (!rc && (out & CDE_OUTPUT_READOUT)) rc = apply_readout(m, q, &p, readout_out, e);
    if (rc && q->n_events) cde_model_events_clear(q->events_out);
    prep_free(&p);
    return rc;
}
