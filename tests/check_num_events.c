/* check_num_events.c: TCase "events" of the num suite: events (driver.h,
 * struct ode_event) against analytic crossings: the linear oscillator
 * y1 = cos t (or sin t), whose zeros are at pi/2 + k pi exactly, in both
 * directions of time and with each direction filter; a zero at t0; a
 * quadratic solution that one step integrates exactly, so that one step
 * holds several roots of one event and of two events; terminal stops.
 * The SciPy comparison (a nonlinear problem) is in TCase "events_scipy". */
#include "num_check.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HITS 64

struct hits {
    size_t n, dim;
    size_t which[MAX_HITS];
    double t[MAX_HITS];
    double y[MAX_HITS][4];
};

static int record(size_t which, double t, const double *y, void *ctx)
{
    struct hits *h = ctx;
    if (h->n == MAX_HITS) return ERR_NOMEM;
    h->which[h->n] = which;
    h->t[h->n] = t;
    memcpy(h->y[h->n], y, h->dim * sizeof *y);
    h->n++;
    return 0;
}

/* y1' = y2, y2' = -y1 */
static int osc(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    (void)ctx;
    dy[0] = y[1];
    dy[1] = -y[0];
    return 0;
}

/* y' = 2t - 3.9: from y(0) = 3.38, y = (t - 1.3)(t - 2.6) */
static int quad(double t, const double *y, double *dy, void *ctx)
{
    (void)y;
    (void)ctx;
    dy[0] = 2 * t - 3.9;
    return 0;
}

static err_code solve(const char *method, ode_rhs_fn f, size_t dim, double t0, const double *y0,
                      const double *t, size_t n, const struct ode_event *ev, size_t n_ev,
                      const struct ode_options *o, double *y, struct hits *h,
                      struct ode_stats *st)
{
    err e;
    err_clear(&e);
    ode_solver *s = ode_solver_new(rk_tableau_find(method), dim, &e);
    ck_assert_ptr_nonnull(s);
    h->n = 0;
    h->dim = dim;
    const struct ode_problem p = {.f = f,
                                  .dim = dim,
                                  .t0 = t0,
                                  .y0 = y0,
                                  .t_out = t,
                                  .n_out = n,
                                  .events = ev,
                                  .n_events = n_ev,
                                  .on_event = record,
                                  .event_ctx = h};
    err_code rc = ode_solve(s, &p, o, y, st, &e);
    ode_solver_free(s);
    return rc;
}

static void tight(struct ode_options *o)
{
    ode_options_init(o);
    o->rtol = 1e-12;
    o->atol = 1e-12;
}

/* Crossings of cos t on (0, 10]: pi/2 (falling), 3pi/2 (rising), 5pi/2
 * (falling); each filter keeps its own, to the accuracy of the solve. */
static const char *const event_methods[] = {"dopri5", "tsit5", "dop853", "rodas4", "esdirk4"};

START_TEST(oscillator_crossings)
{
    const char *method = event_methods[_i];
    const int implicit = _i >= 3;
    const double w[2] = {1, 0}, y0[2] = {1, 0}, t_out[1] = {10};
    const double tol = implicit ? 1e-7 : 1e-9; /* the solve's accuracy at rtol 1e-12 */
    struct ode_options o;
    tight(&o);
    if (implicit) o.rtol = o.atol = 1e-10; /* order 4: fewer steps at the same accuracy */
    double y[2];
    struct hits h;
    struct ode_stats st;
    for (int dirn = -1; dirn <= 1; dirn++) {
        const struct ode_event ev = {.w = w, .value = 0, .direction = dirn};
        ck_assert_int_eq(solve(method, osc, 2, 0, y0, t_out, 1, &ev, 1, &o, y, &h, &st), ERR_OK);
        double want[3];
        size_t nw = 0;
        for (int k = 0; k < 3; k++) {
            const int rising = k % 2 == 1;
            if (dirn == 0 || (dirn == 1) == rising) want[nw++] = M_PI / 2 + k * M_PI;
        }
        ck_assert_uint_eq(h.n, nw);
        for (size_t k = 0; k < nw; k++) {
            ck_assert_msg(fabs(h.t[k] - want[k]) <= tol, "%s dir %d: event %zu at %.17g, want %.17g",
                          method, dirn, k, h.t[k], want[k]);
            ck_assert_double_le(fabs(h.y[k][0]), tol);
            ck_assert_double_le(fabs(fabs(h.y[k][1]) - 1), tol);
        }
        ck_assert(isnan(st.t_stop_fwd) && isnan(st.t_stop_bwd));
    }
}
END_TEST

/* Backward from t0 = 0 to -10: cos t crosses zero rising at -pi/2 and
 * -5pi/2, falling at -3pi/2 (direction is that of g in t, whatever the
 * sweep's); reported in the sweep's order, nearest t0 first. */
START_TEST(oscillator_backward)
{
    const double w[2] = {1, 0}, y0[2] = {1, 0}, t_out[2] = {-10, -1};
    struct ode_options o;
    tight(&o);
    double y[4];
    struct hits h;
    struct ode_stats st;
    const struct ode_event rising = {.w = w, .direction = ODE_EVENT_RISING};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 2, &rising, 1, &o, y, &h, &st), ERR_OK);
    ck_assert_uint_eq(h.n, 2);
    ck_assert_double_le(fabs(h.t[0] + M_PI / 2), 1e-9);
    ck_assert_double_le(fabs(h.t[1] + 5 * M_PI / 2), 1e-9);
    const struct ode_event falling = {.w = w, .direction = ODE_EVENT_FALLING};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 2, &falling, 1, &o, y, &h, &st), ERR_OK);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_double_le(fabs(h.t[0] + 3 * M_PI / 2), 1e-9);
}
END_TEST

/* y1 = sin t starts at a zero: not an event. The first crossing is judged
 * from the sign after t0: forward, falling at pi, rising at 2pi; backward
 * (sin < 0 on (-pi, 0)), falling in t at -pi. */
START_TEST(zero_at_t0)
{
    const double w[2] = {1, 0}, y0[2] = {0, 1}, t_out[2] = {-4, 7};
    struct ode_options o;
    tight(&o);
    double y[4];
    struct hits h;
    struct ode_stats st;
    const struct ode_event both = {.w = w};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 2, &both, 1, &o, y, &h, &st), ERR_OK);
    /* forward sweep first (pi, 2pi), then backward (-pi) */
    ck_assert_uint_eq(h.n, 3);
    ck_assert_double_le(fabs(h.t[0] - M_PI), 1e-9);
    ck_assert_double_le(fabs(h.t[1] - 2 * M_PI), 1e-9);
    ck_assert_double_le(fabs(h.t[2] + M_PI), 1e-9);
    const struct ode_event falling = {.w = w, .direction = ODE_EVENT_FALLING};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out + 1, 1, &falling, 1, &o, y, &h, &st),
                     ERR_OK);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_double_le(fabs(h.t[0] - M_PI), 1e-9);
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 1, &falling, 1, &o, y, &h, &st),
                     ERR_OK);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_double_le(fabs(h.t[0] + M_PI), 1e-9);
    const struct ode_event rising = {.w = w, .direction = ODE_EVENT_RISING};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 1, &rising, 1, &o, y, &h, &st), ERR_OK);
    ck_assert_uint_eq(h.n, 0);
}
END_TEST

/* One step of size 5 integrates the quadratic exactly (its error estimate
 * is 0): g = y has roots 1.3 and 2.6 inside that step, g = y - 1 has roots
 * (3.9 -+ sqrt(5.69)) / 2. Both events' four roots come out in time order,
 * each to a few ulps of the exact root. */
START_TEST(several_roots_in_one_step)
{
    const double w[1] = {1}, y0[1] = {3.38}, t_out[1] = {5};
    const double r1 = (3.9 - sqrt(5.69)) / 2, r2 = (3.9 + sqrt(5.69)) / 2;
    struct ode_options o;
    ode_options_init(&o);
    o.first_step = 5;
    double y[1];
    struct hits h;
    struct ode_stats st;
    const struct ode_event ev[2] = {{.w = w, .value = 0}, {.w = w, .value = 1}};
    ck_assert_int_eq(solve("dopri5", quad, 1, 0, y0, t_out, 1, ev, 2, &o, y, &h, &st), ERR_OK);
    ck_assert_int_eq(st.n_accepted, 1);
    const double want[4] = {r1, 1.3, 2.6, r2};
    const size_t which[4] = {1, 0, 0, 1};
    ck_assert_uint_eq(h.n, 4);
    for (int k = 0; k < 4; k++) {
        ck_assert_uint_eq(h.which[k], which[k]);
        ck_assert_msg(fabs(h.t[k] - want[k]) <= 1e-14 * want[k], "event %d at %.17g, want %.17g",
                      k, h.t[k], want[k]);
        ck_assert_double_le(fabs(h.y[k][0] - ev[which[k]].value), 1e-13);
    }
    /* rising only: 2.6 and r2 */
    const struct ode_event up[2] = {{.w = w, .value = 0, .direction = 1},
                                    {.w = w, .value = 1, .direction = 1}};
    ck_assert_int_eq(solve("dopri5", quad, 1, 0, y0, t_out, 1, up, 2, &o, y, &h, &st), ERR_OK);
    ck_assert_uint_eq(h.n, 2);
    ck_assert_double_le(fabs(h.t[0] - 2.6), 1e-14);
    ck_assert_double_le(fabs(h.t[1] - r2), 1e-14);
}
END_TEST

/* A terminal event ends the sweep: later outputs stay NAN, later events are
 * not reported (also those of other events in the same step), and
 * t_stop_fwd says where; an output exactly at the stop is answered. */
START_TEST(terminal_stop)
{
    const double w[1] = {1}, y0[1] = {3.38}, r1 = (3.9 - sqrt(5.69)) / 2;
    const double t_out[4] = {0.5, 5, 1, r1};
    struct ode_options o;
    ode_options_init(&o);
    o.first_step = 5;
    double y[4];
    struct hits h;
    struct ode_stats st;
    const struct ode_event ev[2] = {{.w = w, .value = 0}, {.w = w, .value = 1, .terminal = 1}};
    ck_assert_int_eq(solve("dopri5", quad, 1, 0, y0, t_out, 4, ev, 2, &o, y, &h, &st), ERR_OK);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_uint_eq(h.which[0], 1);
    ck_assert_double_eq(st.t_stop_fwd, h.t[0]);
    ck_assert(isnan(st.t_stop_bwd));
    ck_assert_double_le(fabs(y[0] - (0.5 - 1.3) * (0.5 - 2.6)), 1e-13);
    ck_assert(isnan(y[1]) && isnan(y[2]));
    /* t_out[3] is the exact root; the event's time is within ulps of it */
    ck_assert_double_le(fabs(h.t[0] - r1), 1e-15);
    if (t_out[3] <= h.t[0])
        ck_assert_double_le(fabs(y[3] - 1), 1e-13);
    else
        ck_assert(isnan(y[3]));

    /* the oscillator: stop at the first falling crossing, pi/2 */
    const double wo[2] = {1, 0}, yo[2] = {1, 0}, to[3] = {1, 2, 3};
    struct ode_options ot;
    tight(&ot);
    double yy[6];
    const struct ode_event fall = {.w = wo, .direction = -1, .terminal = 1};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, yo, to, 3, &fall, 1, &ot, yy, &h, &st), ERR_OK);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_double_le(fabs(st.t_stop_fwd - M_PI / 2), 1e-9);
    ck_assert_double_le(fabs(yy[0] - cos(1)), 1e-9);
    for (int k = 2; k < 6; k++)
        ck_assert(isnan(yy[k]));
    /* a terminal event on one side leaves the other sweep alone */
    const double tb[2] = {-5, 3};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, yo, tb, 2, &fall, 1, &ot, yy, &h, &st), ERR_OK);
    ck_assert_double_le(fabs(st.t_stop_fwd - M_PI / 2), 1e-9);
    ck_assert_double_le(fabs(st.t_stop_bwd + 3 * M_PI / 2), 1e-9);
    ck_assert(isnan(yy[2]) && isnan(yy[0]));
    const double tb2[2] = {-1, 3};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, yo, tb2, 2, &fall, 1, &ot, yy, &h, &st), ERR_OK);
    ck_assert(isnan(st.t_stop_bwd));
    ck_assert_double_le(fabs(yy[0] - cos(-1)), 1e-9);
}
END_TEST

/* y' = 1 from y(0) = -1 and y' = 2(t - 1) from y(0) = 1, in one step of
 * size 5 whose first interior sample is t = 1. The event's value is the
 * interpolant's own y(1) (read first as an output time: the same
 * evaluation), so g is exactly 0 at that sample: the crossing of the first
 * is reported at the sample itself, the touch of the second not at all. */
static int one(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    (void)y;
    (void)ctx;
    dy[0] = 1;
    return 0;
}

static int touch(double t, const double *y, double *dy, void *ctx)
{
    (void)y;
    (void)ctx;
    dy[0] = 2 * (t - 1);
    return 0;
}

START_TEST(zero_at_a_sample)
{
    const double w[1] = {1}, t_out[1] = {5};
    struct ode_options o;
    ode_options_init(&o);
    o.first_step = 5;
    double y[1];
    struct hits h;
    struct ode_stats st;
    const double ym[1] = {-1}, yp[1] = {1}, t2[2] = {1, 5};
    double y1[2];
    ck_assert_int_eq(solve("dopri5", one, 1, 0, ym, t2, 2, NULL, 0, &o, y1, &h, &st), ERR_OK);
    const struct ode_event ev = {.w = w, .value = y1[0], .direction = ODE_EVENT_RISING};
    ck_assert_int_eq(solve("dopri5", one, 1, 0, ym, t_out, 1, &ev, 1, &o, y, &h, &st), ERR_OK);
    ck_assert_int_eq(st.n_accepted, 1);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_double_eq(h.t[0], 1.0);
    ck_assert_double_eq(h.y[0][0], y1[0]);
    ck_assert_int_eq(solve("dopri5", touch, 1, 0, yp, t2, 2, NULL, 0, &o, y1, &h, &st), ERR_OK);
    const struct ode_event both = {.w = w, .value = y1[0]};
    ck_assert_int_eq(solve("dopri5", touch, 1, 0, yp, t_out, 1, &both, 1, &o, y, &h, &st), ERR_OK);
    ck_assert_int_eq(st.n_accepted, 1);
    ck_assert_uint_eq(h.n, 0);
}
END_TEST

START_TEST(event_errors)
{
    const double w[2] = {1, 0}, bad[2] = {1, NAN}, y0[2] = {1, 0}, t_out[1] = {1};
    double y[4];
    struct hits h;
    struct ode_stats st;
    struct ode_options o;
    ode_options_init(&o);
    const struct ode_event nan_w = {.w = bad};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 1, &nan_w, 1, &o, y, &h, &st),
                     ERR_INVALID);
    const struct ode_event nan_v = {.w = w, .value = NAN};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 1, &nan_v, 1, &o, y, &h, &st),
                     ERR_INVALID);
    const struct ode_event dirn = {.w = w, .direction = 2};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 1, &dirn, 1, &o, y, &h, &st),
                     ERR_INVALID);
    o.groups = 2;
    const struct ode_event ok = {.w = w};
    ck_assert_int_eq(solve("dopri5", osc, 2, 0, y0, t_out, 1, &ok, 1, &o, y, &h, &st),
                     ERR_INVALID);
}
END_TEST

TCase *num_tcase_events(void)
{
    TCase *tc = tcase_create("events");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, oscillator_crossings, 0,
                        (int)(sizeof event_methods / sizeof event_methods[0]));
    tcase_add_test(tc, oscillator_backward);
    tcase_add_test(tc, zero_at_t0);
    tcase_add_test(tc, several_roots_in_one_step);
    tcase_add_test(tc, terminal_stop);
    tcase_add_test(tc, zero_at_a_sample);
    tcase_add_test(tc, event_errors);
    return tc;
}

/* ---- against SciPy ------------------------------------------------------- */

/* The right-hand sides of tests/fixtures/gen_reference.py, with its
 * parameters. */
static int vdp1(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    (void)ctx;
    dy[0] = y[1];
    dy[1] = (1 - y[0] * y[0]) * y[1] - y[0];
    return 0;
}

static int lotka(double t, const double *y, double *dy, void *ctx)
{
    (void)t;
    (void)ctx;
    dy[0] = 1.5 * y[0] - y[0] * y[1];
    dy[1] = -3.0 * y[1] + y[0] * y[1];
    return 0;
}

/* Every case of tests/fixtures/events_reference.json (solve_ivp DOP853 at
 * rtol = atol = 1e-12, gen_reference.py --events): the same events in the
 * same order, each time within EV_TOL of SciPy's and the state within
 * EV_TOL (1 + |y|), a terminal stop where SciPy's solve ended. EV_TOL: both
 * solves err by about 1e-11 in t (ref_err_est, the fixture's rtol 1e-12 vs
 * 1e-11 spread), so 1e-9 leaves two digits of margin and still fails on a
 * wrong bracket, a missed root or an event of the wrong direction. */
#define EV_TOL 1e-9

START_TEST(against_scipy)
{
    char path[1024];
    tu_source_path(path, sizeof path, "tests/fixtures/events_reference.json");
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    ck_assert_msg(root != NULL, "%s: %s", path, je.text);
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t ci;
    ck_assert_uint_ge(json_array_size(cases), 4);
    json_array_foreach(cases, ci, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        ode_rhs_fn f = strcmp(name, "van_der_pol") == 0 ? vdp1 : lotka;
        const double t0 = json_number_value(json_object_get(c, "t0"));
        const double t1 = json_number_value(json_object_get(c, "t1"));
        const double t_end = json_number_value(json_object_get(c, "t_end"));
        double y0[2], w[8][2];
        struct ode_event ev[8];
        json_t *evs = json_object_get(c, "events"), *e;
        size_t k;
        for (int j = 0; j < 2; j++)
            y0[j] = json_number_value(json_array_get(json_object_get(c, "y0"), (size_t)j));
        json_array_foreach(evs, k, e)
        {
            for (int j = 0; j < 2; j++)
                w[k][j] = json_number_value(json_array_get(json_object_get(e, "w"), (size_t)j));
            ev[k] = (struct ode_event){
                .w = w[k],
                .value = json_number_value(json_object_get(e, "value")),
                .direction = (int)json_integer_value(json_object_get(e, "direction")),
                .terminal = json_is_true(json_object_get(e, "terminal"))};
        }
        struct ode_options o;
        tight(&o);
        double y[2];
        struct hits h;
        struct ode_stats st;
        ck_assert_int_eq(solve("dop853", f, 2, t0, y0, &t1, 1, ev, json_array_size(evs), &o, y, &h,
                               &st),
                         ERR_OK);
        json_t *hits = json_object_get(c, "hits"), *r;
        ck_assert_msg(h.n == json_array_size(hits), "case %zu: %zu events, SciPy %zu", ci, h.n,
                      json_array_size(hits));
        size_t i;
        json_array_foreach(hits, i, r)
        {
            const double tr = json_number_value(json_object_get(r, "t"));
            ck_assert_uint_eq(h.which[i], (size_t)json_integer_value(json_object_get(r, "event")));
            ck_assert_msg(fabs(h.t[i] - tr) <= EV_TOL, "case %zu event %zu: t %.17g, SciPy %.17g",
                          ci, i, h.t[i], tr);
            for (int j = 0; j < 2; j++) {
                const double yr =
                    json_number_value(json_array_get(json_object_get(r, "y"), (size_t)j));
                ck_assert_double_le(fabs(h.y[i][j] - yr), EV_TOL * (1 + fabs(yr)));
            }
        }
        const double stop = t1 > t0 ? st.t_stop_fwd : st.t_stop_bwd;
        if (t_end != t1)
            ck_assert_double_le(fabs(stop - t_end), EV_TOL);
        else
            ck_assert(isnan(stop));
    }
    json_decref(root);
}
END_TEST

TCase *num_tcase_events_scipy(void)
{
    TCase *tc = tcase_create("events_scipy");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, against_scipy);
    return tc;
}
