/* check_cde_events: events on neural CDE models (model/cde_model.h,
 * EVENTS): roots of state . z - value located on the hidden state and
 * reported in t.
 *
 * The reference is analytic and independent of the solver: a "rotation"
 * CDE, hidden 2, channels (t, x), whose field is linear with
 *   dz = J z (alpha dt + beta dx),   J = [[0, -1], [1, 0]],
 * so that, the two generators commuting, z(t) = R(theta(t)) z(t_0) with
 *   theta(t) = alpha (t - t_0) + beta (x(t) - x(t_0))
 * for any path, whatever the interpolation. With a linear path theta is
 * piecewise linear in t, and the crossings of z_0 = r cos(theta + phi) =
 * value are solved for in closed form, segment by segment; with a
 * rectilinear one theta moves with t on the time stretches (events there
 * at a closed-form t) and with x on the data stretches, where t is held at
 * the next observation time (events there reported at exactly that time).
 * Solves at rtol 1e-12 must find every crossing of the requested
 * direction, no other, within TOL_T of the closed form (1e-10 relative to
 * the rtol: a global error of a few hundred local tolerances) and with
 * g(z_event) within TOL_G of 0 (the root is located on the interpolant to
 * a few ulps).
 *
 * A second reference is SciPy (tests/fixtures/cde_events_reference.json,
 * gen_reference.py --cde-events): neural CDEs with tanh/softplus fields on
 * linear, natural_cubic and rectilinear paths, written again in NumPy, the
 * equivalent ODE integrated knot to knot by solve_ivp(DOP853, rtol = atol =
 * 1e-12, events=...); our dop853 at rtol 1e-12 must find the same events in
 * the same order within TOL_SCIPY (the reference's own error is below
 * ~4e-10, its ref_err_est). */
#include "cde_testlib.h"
#include "model/cde_model.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_T 1e-9        /* event times against the closed form, explicit methods at 1e-12 */
#define TOL_T_IMPL 1e-6   /* the implicit methods and auto at rtol 1e-10 */
#define TOL_G 1e-12       /* |state . z - value| at a reported event */
#define TOL_SCIPY 1e-8 /* event times against SciPy, relative to 1 + |t| */
#define MAX_HITS 64

/* ---- the rotation model ------------------------------------------------------- */

/* z(t_0) = (z0a, z0b) whatever the first observation (initial: W = 0, bias
 * z0), field as above, readout 2 z_0 - z_1 + 0.5 (affine), or tanh of it. */
static void rotation_model(model_def *d, model_interp sc, double alpha, double beta, double z0a,
                           double z0b, bool tanh_readout)
{
    enum { H = 2, C = 2 };
    model_def_init(d);
    d->kind = MODEL_KIND_CDE;
    d->input_channels = C;
    d->hidden_dim = H;
    d->channel_time = true;
    d->interp = sc;
    d->n_nets = 3;
    const size_t sizes[3][2] = {{C, H}, {H, H * C}, {H, 1}};
    for (size_t i = 0; i < 3; i++) {
        d->nets[i].in_dim = sizes[i][0];
        d->nets[i].n_layers = 1;
        d->nets[i].layers[0] = (mlp_layer){MLP_LINEAR, sizes[i][0], sizes[i][1],
                                           i == 2 && tanh_readout ? ACT_TANH : ACT_IDENTITY};
        d->n_params += sizes[i][0] * sizes[i][1] + sizes[i][1];
    }
    d->params = calloc(d->n_params, sizeof *d->params);
    double *p = d->params;
    p += H * C; /* initial W = 0 */
    p[0] = z0a;
    p[1] = z0b;
    p += H;
    /* field out[i*C + c] = F[i][c]: F[:,0] = alpha J z, F[:,1] = beta J z */
    const double W[4][2] = {{0, -alpha}, {0, -beta}, {alpha, 0}, {beta, 0}};
    memcpy(p, W, sizeof W);
    p += H * H * C + H * C;
    p[0] = 2;
    p[1] = -1;
    p[2] = 0.5;
}

static cde_model *new_model(const model_def *d)
{
    cde_model *m = NULL;
    err e = {0};
    ck_assert_msg(cde_model_new(&m, d, &e) == ERR_OK, "cde_model_new: %s: %s", e.field, e.message);
    return m;
}

/* ---- the closed form --------------------------------------------------------------- */

struct hit {
    double t;
    int dir;  /* +1 rising, -1 falling (in t) */
    double u; /* where along the segment: the order they happen in */
};

static int cmp_u(const void *x, const void *y)
{
    const struct hit *a = x, *b = y;
    return a->u < b->u ? -1 : a->u > b->u;
}

/* The crossings of r cos(theta + phi) = v while theta runs linearly from th0
 * to th1 as u runs from u0 to u1 > u0 (reported at time t_fixed when not
 * NAN, else at u), appended to h in the order they happen. theta at a
 * crossing: +-acos(v / r) - phi + 2 pi m. The end th1 is included, th0 not
 * (a crossing exactly at a knot belongs to the segment before it). */
static void crossings(double th0, double th1, double u0, double u1, double t_fixed, double r,
                      double phi, double v, struct hit *h, size_t *n)
{
    if (th0 == th1) return;
    const double a = acos(v / r), lo = fmin(th0, th1), hi = fmax(th0, th1);
    const size_t first = *n;
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        const double base = sgn * a - phi;
        for (double m = floor((lo - base) / (2 * M_PI)) - 1; m <= ceil((hi - base) / (2 * M_PI)) + 1;
             m++) {
            const double th = base + 2 * M_PI * m;
            const bool inside = th1 > th0 ? (th > th0 && th <= th1) : (th < th0 && th >= th1);
            if (!inside) continue;
            ck_assert_uint_lt(*n, MAX_HITS);
            const double u = u0 + (th - th0) / (th1 - th0) * (u1 - u0);
            /* dg/du = -r sin(theta + phi) dtheta/du */
            const int dir = -sin(th + phi) * (th1 - th0) > 0 ? 1 : -1;
            h[(*n)++] = (struct hit){isnan(t_fixed) ? u : t_fixed, dir, u};
        }
    }
    qsort(h + first, *n - first, sizeof *h, cmp_u);
}

/* The closed-form crossings of z_0 = v for the series (t, x: n
 * observations), up to t_end, direction dir (0 both). */
static size_t reference(model_interp sc, double alpha, double beta, double z0a, double z0b,
                        const double *t, const double *x, size_t n, double t_end, double v,
                        int dir, struct hit *out)
{
    const double r = hypot(z0a, z0b), phi = atan2(z0b, z0a);
    struct hit all[MAX_HITS];
    size_t na = 0;
    double th = 0;
    for (size_t k = 0; k + 1 < n && t[k] < t_end; k++) {
        const double t1 = fmin(t[k + 1], t_end), f = (t1 - t[k]) / (t[k + 1] - t[k]);
        if (sc == MODEL_INTERP_LINEAR) {
            const double th1 = th + alpha * (t1 - t[k]) + beta * f * (x[k + 1] - x[k]);
            crossings(th, th1, t[k], t1, NAN, r, phi, v, all, &na);
            th = th1;
        } else { /* rectilinear: the time stretch, then the data one at t[k+1] */
            const double th1 = th + alpha * (t1 - t[k]);
            crossings(th, th1, t[k], t1, NAN, r, phi, v, all, &na);
            th = th1;
            if (t1 < t[k + 1]) break;
            const double th2 = th + beta * (x[k + 1] - x[k]);
            crossings(th, th2, 0, 1, t[k + 1], r, phi, v, all, &na);
            th = th2;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < na; i++)
        if (dir == 0 || all[i].dir == dir) out[m++] = all[i];
    return m;
}

/* ---- helpers ------------------------------------------------------------------------ */

struct series {
    size_t n;
    double t[8], x[8];
};

/* A path with rising and falling stretches of theta (beta x against alpha t). */
static const struct series S1 = {6, {0.0, 0.7, 1.5, 2.2, 3.1, 4.0}, {0.0, 2.0, -1.0, 0.5, 0.5, -2.5}};
static const struct series S2 = {3, {0.5, 1.0, 1.4}, {1.0, -0.5, 2.0}};

static struct cde_event hidden_event(const double *w, double v, int dir, int terminal)
{
    return (struct cde_event){.g = {.w = w, .value = v, .direction = dir, .terminal = terminal},
                              .on = CDE_EVENT_HIDDEN};
}

static void check_against(const struct cde_model_events *ev, size_t b, size_t which,
                          const struct hit *ref, size_t n_ref, double tol, const char *what)
{
    size_t k = 0;
    for (size_t i = 0; i < ev->n; i++) {
        if (ev->b[i] != b || ev->which[i] != which) continue;
        ck_assert_msg(k < n_ref, "%s: more events than the %zu crossings (extra at t=%.17g)", what,
                      n_ref, ev->t[i]);
        ck_assert_msg(fabs(ev->t[i] - ref[k].t) <= tol * (1 + fabs(ref[k].t)),
                      "%s: event %zu at t=%.17g, closed form %.17g", what, k, ev->t[i], ref[k].t);
        k++;
    }
    ck_assert_msg(k == n_ref, "%s: %zu events, closed form %zu", what, k, n_ref);
}

static void check_g(const struct cde_model_events *ev, const double *w, double v, size_t which)
{
    for (size_t i = 0; i < ev->n; i++) {
        if (ev->which[i] != which) continue;
        const double g = w[0] * ev->hidden[2 * i] + w[1] * ev->hidden[2 * i + 1] - v;
        ck_assert_msg(fabs(g) <= TOL_G * (1 + fabs(v)), "g at event %zu = %.3g", i, g);
    }
}

/* ---- every direction, every scheme, every method -------------------------------- */

static const char *const methods[] = {"dopri5", "tsit5", "dop853", "rodas4", "esdirk4", "auto"};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* _i = method x scheme x direction */
START_TEST(test_directions_closed_form)
{
    const char *method = methods[(size_t)_i / 6];
    const model_interp sc = (_i / 3) % 2 ? MODEL_INTERP_RECTILINEAR : MODEL_INTERP_LINEAR;
    const int dir = _i % 3 - 1;
    const bool impl = strcmp(method, "rodas4") == 0 || strcmp(method, "esdirk4") == 0 ||
                      strcmp(method, "auto") == 0;
    const double alpha = 1.7, beta = 1.3, z0a = 0.6, z0b = 0.8, v = 0.25;
    model_def d;
    rotation_model(&d, sc, alpha, beta, z0a, z0b, false);
    cde_model *m = new_model(&d);
    const double w[2] = {1, 0}, w2[2] = {0, 1};
    const struct cde_event evs[2] = {hidden_event(w, v, dir, 0), hidden_event(w2, -0.1, dir, 0)};
    const double tq[3] = {S1.t[5], 1.0, S1.t[0]};
    const struct cde_series ser = {.obs = {.n = S1.n, .t = S1.t, .x = S1.x}, .t = tq, .n_t = 3};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 1, .series = &ser, .output = CDE_OUTPUT_BOTH,
                                .events = evs, .n_events = 2, .events_out = &out};
    snprintf(q.solver.method, sizeof q.solver.method, "%s", method);
    q.solver.rtol = impl ? 1e-10 : 1e-12;
    q.solver.atol = impl ? 1e-12 : 1e-14;
    double hid[3 * 2], ro[3];
    err e = {0};
    err_code rc = cde_model_solve(m, &q, ro, hid, NULL, &e);
    ck_assert_msg(rc == ERR_OK, "%s: %s: %s", method, e.field, e.message);
    struct hit ref[MAX_HITS];
    size_t nr = reference(sc, alpha, beta, z0a, z0b, S1.t, S1.x, S1.n, S1.t[5], v, dir, ref);
    ck_assert_uint_ge(nr, dir ? 1 : 3); /* the case is worth testing */
    char what[96];
    snprintf(what, sizeof what, "%s %s dir %d", method, model_interp_name(sc), dir);
    check_against(&out, 0, 0, ref, nr, impl ? TOL_T_IMPL : TOL_T, what);
    /* z_1 = -0.1: z_1 = r sin(theta + phi) = r cos(theta + phi - pi/2) */
    struct hit ref2[MAX_HITS];
    {
        const double r = 1.0, phi = atan2(z0b, z0a) - M_PI / 2;
        size_t n2 = reference(sc, alpha, beta, r * cos(phi), r * sin(phi), S1.t, S1.x, S1.n,
                              S1.t[5], -0.1, dir, ref2);
        check_against(&out, 0, 1, ref2, n2, impl ? TOL_T_IMPL : TOL_T, what);
    }
    check_g(&out, w, v, 0);
    check_g(&out, w2, -0.1, 1);
    /* in time order, the readout of each event's state; no stop */
    for (size_t i = 0; i + 1 < out.n; i++)
        ck_assert(out.t[i] <= out.t[i + 1] && out.s[i] <= out.s[i + 1]);
    for (size_t i = 0; i < out.n; i++)
        ck_assert_double_eq_tol(out.readout[i],
                                2 * out.hidden[2 * i] - out.hidden[2 * i + 1] + 0.5, 1e-14);
    ck_assert(isnan(out.stopped_at[0]));
    ck_assert(isfinite(hid[0]) && isfinite(ro[0]));
    cde_model_events_clear(&out);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

/* rk4 with one step per segment (the linear path stops at every knot):
 * two events of one step, listed in time order whatever their index
 * order, and located on rk4's interpolant (g there ~ 0). */
START_TEST(test_several_in_one_step)
{
    model_def d;
    rotation_model(&d, MODEL_INTERP_LINEAR, 1.0, 0.0, 1.0, 0.0, false);
    cde_model *m = new_model(&d);
    const double t[2] = {0, 1}, x[2] = {0, 0}, w[2] = {1, 0};
    /* cos theta = 0.8 at 0.6435, = 0.9 at 0.4510: both inside the one step */
    const struct cde_event evs[2] = {hidden_event(w, 0.8, 0, 0), hidden_event(w, 0.9, 0, 0)};
    const struct cde_series ser = {.obs = {.n = 2, .t = t, .x = x}, .t = t + 1, .n_t = 1};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 1, .series = &ser, .output = CDE_OUTPUT_HIDDEN,
                                .events = evs, .n_events = 2, .events_out = &out};
    snprintf(q.solver.method, sizeof q.solver.method, "rk4");
    q.solver.step = 1.0;
    double hid[2];
    struct cde_model_stats st;
    err e = {0};
    ck_assert_int_eq(cde_model_solve(m, &q, NULL, hid, &st, &e), ERR_OK);
    ck_assert_int_eq(st.steps, 1);
    ck_assert_uint_eq(out.n, 2);
    ck_assert_uint_eq(out.which[0], 1);
    ck_assert_uint_eq(out.which[1], 0);
    /* rk4's interpolant over a step of one radian is ~1e-2 off the rotation */
    ck_assert_double_eq_tol(out.t[0], acos(0.9), 1e-2);
    ck_assert_double_eq_tol(out.t[1], acos(0.8), 1e-2);
    ck_assert_double_eq_tol(out.hidden[0], 0.9, 1e-13);
    ck_assert_double_eq_tol(out.hidden[2], 0.8, 1e-13);
    cde_model_events_clear(&out);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

/* g(z(t_0)) = 0 exactly: no event there; the direction of the first
 * crossing is judged from the first non-zero sign after t_0. z = R(t)(0, 1):
 * z_0 = -sin t, falling only at t = 2 pi (not at 0, not at pi, rising). */
START_TEST(test_starts_at_zero)
{
    model_def d;
    rotation_model(&d, MODEL_INTERP_LINEAR, 1.0, 0.0, 0.0, 1.0, false);
    cde_model *m = new_model(&d);
    const double t[2] = {0, 7}, x[2] = {0, 0}, w[2] = {1, 0};
    const struct cde_event evs[2] = {hidden_event(w, 0, ODE_EVENT_FALLING, 0),
                                     hidden_event(w, 0, ODE_EVENT_RISING, 0)};
    const struct cde_series ser = {.obs = {.n = 2, .t = t, .x = x}};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 1, .series = &ser, .output = CDE_OUTPUT_HIDDEN,
                                .events = evs, .n_events = 2, .events_out = &out};
    q.solver.rtol = 1e-12;
    q.solver.atol = 1e-14;
    double hid[2 * 2];
    err e = {0};
    ck_assert_int_eq(cde_model_solve(m, &q, NULL, hid, NULL, &e), ERR_OK);
    ck_assert_uint_eq(out.n, 2);
    ck_assert_uint_eq(out.which[0], 1);
    ck_assert_double_eq_tol(out.t[0], M_PI, TOL_T * 4);
    ck_assert_uint_eq(out.which[1], 0);
    ck_assert_double_eq_tol(out.t[1], 2 * M_PI, TOL_T * 8);
    cde_model_events_clear(&out);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

/* A terminal event stops its series: rows past it (in s) are NAN, earlier
 * ones are answered, stopped_at is the event's time; per series of a batch
 * (the other series runs to its end). Rectilinear too, where a stop on a
 * data stretch is reported at the next observation time and leaves that
 * very query time unanswered. */
START_TEST(test_terminal_batch)
{
    const model_interp sc = _i ? MODEL_INTERP_RECTILINEAR : MODEL_INTERP_LINEAR;
    const double alpha = 1.7, beta = 1.3, z0a = 0.6, z0b = 0.8;
    model_def d;
    rotation_model(&d, sc, alpha, beta, z0a, z0b, false);
    cde_model *m = new_model(&d);
    const double w[2] = {1, 0};
    /* series 0 crosses z_0 = -0.9 (falling), series 1 (theta + phi <= 2.46 <
     * acos(-0.9)) never does */
    const struct cde_event evs[2] = {hidden_event(w, -0.9, ODE_EVENT_FALLING, 1),
                                     hidden_event(w, 0.25, 0, 0)};
    const double x1[3] = {0, 0, 0};
    const double tq0[4] = {0.1, 4.0, 2.0, 0.0}, tq1[2] = {1.4, 0.5};
    const struct cde_series ser[2] = {
        {.obs = {.n = S1.n, .t = S1.t, .x = S1.x}, .t = tq0, .n_t = 4},
        {.obs = {.n = S2.n, .t = S2.t, .x = x1}, .t = tq1, .n_t = 2}};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 2, .series = ser, .output = CDE_OUTPUT_BOTH,
                                .events = evs, .n_events = 2, .events_out = &out};
    q.solver.rtol = 1e-12;
    q.solver.atol = 1e-14;
    double hid[6 * 2], ro[6];
    err e = {0};
    err_code rc = cde_model_solve(m, &q, ro, hid, NULL, &e);
    ck_assert_msg(rc == ERR_OK, "%s: %s", e.field, e.message);
    struct hit ref[MAX_HITS];
    size_t nr =
        reference(sc, alpha, beta, z0a, z0b, S1.t, S1.x, S1.n, 4.0, -0.9, ODE_EVENT_FALLING, ref);
    ck_assert_uint_ge(nr, 1);
    const double t_stop = ref[0].t;
    ck_assert_double_eq_tol(out.stopped_at[0], t_stop, TOL_T * (1 + t_stop));
    ck_assert(isnan(out.stopped_at[1]));
    /* the last event of series 0 is the terminal one, at the stop */
    size_t last0 = 0, n1 = 0;
    for (size_t i = 0; i < out.n; i++) {
        if (out.b[i] == 0) last0 = i;
        n1 += out.b[i] == 1;
    }
    ck_assert_uint_eq(out.which[last0], 0);
    ck_assert_double_eq(out.t[last0], out.stopped_at[0]);
    for (size_t i = 0; i < out.n; i++)
        if (out.b[i] == 0) ck_assert(out.t[i] <= out.stopped_at[0]);
    /* series 1: its own crossings of z_0 = 0.25 up to its last query (1.4) */
    struct hit r1[MAX_HITS];
    size_t n_r1 = reference(sc, alpha, beta, z0a, z0b, S2.t, x1, S2.n, 1.4, 0.25, 0, r1);
    ck_assert_uint_ge(n_r1, 1);
    ck_assert_uint_eq(n1, n_r1);
    check_against(&out, 1, 1, r1, n_r1, TOL_T, "series 1");
    /* rows of series 0: t = 0.1 and 0 before the stop, 4.0 after; 2.0 per the stop */
    for (size_t r = 0; r < 4; r++) {
        const bool past = tq0[r] > t_stop || (sc == MODEL_INTERP_RECTILINEAR && tq0[r] == t_stop);
        ck_assert_msg(isnan(hid[2 * r]) == past && isnan(ro[r]) == past, "row %zu (t=%g)", r,
                      tq0[r]);
    }
    ck_assert(isnan(hid[2 * 1]));
    ck_assert(isfinite(hid[2 * 4]) && isfinite(hid[2 * 5]));
    cde_model_events_clear(&out);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

/* On the rectilinear path's data stretches t is held: an event there is
 * reported at exactly the next observation time. Here theta moves with x
 * only (alpha = 0): every crossing is on a data stretch. */
START_TEST(test_rectilinear_data_stretch)
{
    model_def d;
    rotation_model(&d, MODEL_INTERP_RECTILINEAR, 0.0, 2.0, 1.0, 0.0, false);
    cde_model *m = new_model(&d);
    const double t[3] = {0.25, 1.0, 1.75}, x[3] = {0, 1, 3.5}, w[2] = {1, 0};
    const struct cde_event ev = hidden_event(w, 0, 0, 0);
    const struct cde_series ser = {.obs = {.n = 3, .t = t, .x = x}};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 1, .series = &ser, .output = CDE_OUTPUT_HIDDEN,
                                .events = &ev, .n_events = 1, .events_out = &out};
    q.solver.rtol = 1e-12;
    q.solver.atol = 1e-14;
    double hid[3 * 2];
    err e = {0};
    ck_assert_int_eq(cde_model_solve(m, &q, NULL, hid, NULL, &e), ERR_OK);
    /* theta = 2 x: 0 -> 2 (crossing at pi/2, at t = 1.0), 2 -> 6 (3 pi/2, at 1.75) */
    ck_assert_uint_eq(out.n, 2);
    ck_assert_double_eq(out.t[0], 1.0);
    ck_assert_double_eq(out.t[1], 1.75);
    ck_assert(out.s[0] > 1 && out.s[0] < 2 && out.s[1] > 3 && out.s[1] < 4);
    ck_assert_double_eq_tol(out.s[0], 1 + (M_PI / 2) / 2, TOL_T);
    ck_assert_double_eq_tol(out.s[1], 3 + (3 * M_PI / 2 - 2) / 5, TOL_T);
    ck_assert_double_eq_tol(out.hidden[2 * 1 + 1], -1, TOL_T);
    check_g(&out, w, 0, 0);
    cde_model_events_clear(&out);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

/* "on": readout with an affine readout (2 z_0 - z_1 + 0.5) is the hidden
 * event (2, -1) . z - (value - 0.5): the same times; a tanh readout is
 * refused. */
START_TEST(test_readout_events)
{
    model_def d;
    rotation_model(&d, MODEL_INTERP_LINEAR, 1.7, 1.3, 0.6, 0.8, false);
    cde_model *m = new_model(&d);
    const double wr[1] = {1}, wh[2] = {2, -1};
    const struct cde_event evs[2] = {
        {.g = {.w = wr, .value = 0.9, .direction = 0}, .on = CDE_EVENT_READOUT},
        hidden_event(wh, 0.4, 0, 0)};
    const struct cde_series ser = {.obs = {.n = S1.n, .t = S1.t, .x = S1.x}};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 1, .series = &ser, .output = CDE_OUTPUT_READOUT,
                                .events = evs, .n_events = 2, .events_out = &out};
    q.solver.rtol = 1e-12;
    q.solver.atol = 1e-14;
    double ro[6];
    err e = {0};
    ck_assert_int_eq(cde_model_solve(m, &q, ro, NULL, NULL, &e), ERR_OK);
    ck_assert_uint_ge(out.n, 4);
    ck_assert_uint_eq(out.n % 2, 0);
    for (size_t i = 0; i < out.n; i += 2) { /* pairs at one time, readout index first */
        ck_assert_double_eq_tol(out.t[i], out.t[i + 1], 1e-14 * (1 + out.t[i]));
        ck_assert_double_eq_tol(out.readout[i], 0.9, 1e-12);
    }
    cde_model_events_clear(&out);
    cde_model_free(m);
    model_def_free(&d);
    rotation_model(&d, MODEL_INTERP_LINEAR, 1.7, 1.3, 0.6, 0.8, true);
    m = new_model(&d);
    err_clear(&e);
    ck_assert_int_eq(cde_model_solve(m, &q, ro, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "events[0].on");
    ck_assert_uint_eq(out.n, 0);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

START_TEST(test_event_errors)
{
    model_def d;
    rotation_model(&d, MODEL_INTERP_LINEAR, 1, 1, 1, 0, false);
    cde_model *m = new_model(&d);
    const double w[2] = {1, 0}, wn[2] = {1, NAN};
    struct cde_event ev = hidden_event(w, 0, 0, 0);
    const struct cde_series ser = {.obs = {.n = S1.n, .t = S1.t, .x = S1.x}};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 1, .series = &ser, .output = CDE_OUTPUT_READOUT,
                                .events = &ev, .n_events = 1, .events_out = NULL};
    double ro[6];
    err e = {0};
    ck_assert_int_eq(cde_model_solve(m, &q, ro, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "events");
    q.events_out = &out;
    ev.g.direction = 2;
    err_clear(&e);
    ck_assert_int_eq(cde_model_solve(m, &q, ro, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "events[0].direction");
    ev.g.direction = 0;
    ev.g.w = wn;
    err_clear(&e);
    ck_assert_int_eq(cde_model_solve(m, &q, ro, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "events[0].state");
    ev.g.w = w;
    ev.g.value = INFINITY;
    err_clear(&e);
    ck_assert_int_eq(cde_model_solve(m, &q, ro, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "events[0].value");
    ev.g.value = 0;
    ev.on = 7;
    err_clear(&e);
    ck_assert_int_eq(cde_model_solve(m, &q, ro, NULL, NULL, &e), ERR_INVALID);
    ck_assert_str_eq(e.field, "events[0].on");
    cde_model_events_clear(&out);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

/* interp_time inverts interp_param and is monotone. */
START_TEST(test_interp_time)
{
    const double t[3] = {-1.0, 0.5, 4.0}, x[6] = {-1.0, 2, 0.5, 3, 4.0, 1};
    interp *p = NULL;
    ck_assert_int_eq(interp_new(&p, MODEL_INTERP_RECTILINEAR, t, 3, x, 2, 0, NULL), ERR_OK);
    for (double u = -1.0; u <= 4.0; u += 0.0625)
        ck_assert_double_eq_tol(interp_time(p, interp_param(p, u)), u, 1e-15 * 5);
    ck_assert_double_eq(interp_time(p, 1.0), 0.5);
    ck_assert_double_eq(interp_time(p, 1.5), 0.5);
    ck_assert_double_eq(interp_time(p, 2.0), 0.5);
    ck_assert_double_eq(interp_time(p, 2.5), 2.25);
    ck_assert_double_eq(interp_time(p, 3.5), 4.0);
    double prev = -INFINITY;
    for (double s = 0; s <= 4; s += 1.0 / 64) {
        ck_assert(interp_time(p, s) >= prev);
        prev = interp_time(p, s);
    }
    interp_free(p);
    ck_assert_int_eq(interp_new(&p, MODEL_INTERP_LINEAR, t, 3, x, 2, INTERP_NO_TIME_CHANNEL, NULL),
                     ERR_OK);
    ck_assert_double_eq(interp_time(p, 0.3), 0.3);
    interp_free(p);
}
END_TEST

/* ---- SciPy ------------------------------------------------------------------------ */

static json_t *scipy_fx;

static const json_t *scipy_cases(void)
{
    if (!scipy_fx) scipy_fx = ct_json_load("tests/fixtures/cde_events_reference.json");
    return json_object_get(scipy_fx, "cases");
}

START_TEST(test_scipy)
{
    const json_t *cs = json_array_get(scipy_cases(), (size_t)_i);
    model_def d;
    ct_load_cde_def(cs, &d);
    cde_model *m = new_model(&d);
    size_t n, nx, dx;
    double *t = ct_vec(json_object_get(cs, "t"), &n), *x = ct_mat(json_object_get(cs, "x"), &nx, &dx);
    const json_t *jev = json_object_get(cs, "events"), *hits = json_object_get(cs, "hits");
    const size_t ne = json_array_size(jev), H = d.hidden_dim;
    struct cde_event ev[4];
    double w[4 * 8];
    ck_assert_uint_le(ne, 4);
    ck_assert_uint_le(H, 8);
    for (size_t k = 0; k < ne; k++) {
        const json_t *e = json_array_get(jev, k);
        size_t nw;
        double *wk = ct_vec(json_object_get(e, "w"), &nw);
        ck_assert_uint_eq(nw, H);
        memcpy(w + k * H, wk, H * sizeof *wk);
        free(wk);
        ev[k] = hidden_event(w + k * H, json_real_value(json_object_get(e, "value")),
                             (int)json_integer_value(json_object_get(e, "direction")), 0);
    }
    const struct cde_series ser = {.obs = {.n = n, .t = t, .x = x}, .t = t + n - 1, .n_t = 1};
    struct cde_model_events out = {0};
    struct cde_model_query q = {.batch = 1, .series = &ser, .output = CDE_OUTPUT_HIDDEN,
                                .events = ev, .n_events = ne, .events_out = &out};
    snprintf(q.solver.method, sizeof q.solver.method, "dop853");
    q.solver.rtol = 1e-12;
    q.solver.atol = 1e-14;
    double hid[8];
    err e = {0};
    err_code rc = cde_model_solve(m, &q, NULL, hid, NULL, &e);
    ck_assert_msg(rc == ERR_OK, "%s: %s", e.field, e.message);
    const char *sc = model_interp_name(d.interp);
    ck_assert_msg(out.n == json_array_size(hits), "%s: %zu events, SciPy %zu", sc, out.n,
                  json_array_size(hits));
    for (size_t i = 0; i < out.n; i++) {
        const json_t *h = json_array_get(hits, i);
        const double tr = json_real_value(json_object_get(h, "t"));
        ck_assert_msg(out.which[i] == (size_t)json_integer_value(json_object_get(h, "event")),
                      "%s: event %zu is %zu", sc, i, out.which[i]);
        ck_assert_msg(fabs(out.t[i] - tr) <= TOL_SCIPY * (1 + fabs(tr)),
                      "%s: event %zu at %.17g, SciPy %.17g", sc, i, out.t[i], tr);
    }
    cde_model_events_clear(&out);
    free(t);
    free(x);
    cde_model_free(m);
    model_def_free(&d);
}
END_TEST

static Suite *cde_events_suite(void)
{
    Suite *s = suite_create("cde_events");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_directions_closed_form, 0, (int)(6 * N_METHODS));
    tcase_add_test(tc, test_several_in_one_step);
    tcase_add_test(tc, test_starts_at_zero);
    tcase_add_loop_test(tc, test_terminal_batch, 0, 2);
    tcase_add_test(tc, test_rectilinear_data_stretch);
    tcase_add_test(tc, test_readout_events);
    tcase_add_test(tc, test_event_errors);
    tcase_add_test(tc, test_interp_time);
    suite_add_tcase(s, tc);
    TCase *sp = tcase_create("scipy");
    tcase_add_loop_test(sp, test_scipy, 0, (int)json_array_size(scipy_cases()));
    suite_add_tcase(s, sp);
    return s;
}

int main(void)
{
    int rc = tu_suite_run(cde_events_suite());
    json_decref(scipy_fx);
    return rc;
}
