/* check_num_order.c: TCase "order" of check_num (see check_num.c).
 *
 * - Every table satisfies the order conditions (Butcher's rooted trees, HNW I,
 *   II.2) of its stated order and fails one of the next order; the same for
 *   its embedded solution and, at several theta, for its dense output.
 * - Observed convergence: fixed-step solves of every method on every problem
 *   of the table, error at a fixture time against the fixture, a least-squares
 *   fit of log(error) against log(h) over the asymptotic range.
 * - The local error, the error estimate and the dense output of one step
 *   shrink like h^(p+1), h^(q+1) and h^(d+1) (harmonic oscillator, exact). */
#include "num_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rooted trees and elementary weights ---------------------------------- */

#define MAX_TREE_ORDER 9
#define MAX_TREES 486 /* 1 + 1 + 2 + 4 + 9 + 20 + 48 + 115 + 286 */
#define MAX_ST 16

struct tree {
    int order;
    double gamma; /* density */
    int nkids, kid[MAX_TREE_ORDER];
    double phi[MAX_ST]; /* Phi_i = prod over children u of (A Phi(u))_i */
};

static struct tree trees[MAX_TREES];
static int ntrees;

/* Children as a nondecreasing list of tree indices whose orders sum to rest. */
static void gen_kids(int order, int rest, int min_idx, int *kids, int nk, int limit)
{
    if (rest == 0) {
        struct tree *t = &trees[ntrees++];
        t->order = order;
        t->nkids = nk;
        t->gamma = order;
        for (int k = 0; k < nk; k++) {
            t->kid[k] = kids[k];
            t->gamma *= trees[kids[k]].gamma;
        }
        return;
    }
    for (int i = min_idx; i < limit; i++) {
        if (trees[i].order > rest) continue;
        kids[nk] = i;
        gen_kids(order, rest - trees[i].order, i, kids, nk + 1, limit);
    }
}

static void make_trees(void)
{
    if (ntrees) return;
    int kids[MAX_TREE_ORDER];
    for (int n = 1; n <= MAX_TREE_ORDER; n++)
        gen_kids(n, n - 1, 0, kids, 0, ntrees);
}

/* Elementary weights of every tree for table tab (all rows, dense ones too). */
static void weights_for(const struct rk_tableau *tab)
{
    const int s = tab->stages + tab->dense_stages;
    for (int t = 0; t < ntrees; t++) {
        for (int i = 0; i < s; i++) {
            double v = 1;
            for (int k = 0; k < trees[t].nkids; k++) {
                const double *phi = trees[trees[t].kid[k]].phi;
                double acc = 0;
                for (int j = 0; j < i; j++)
                    acc += tab->a[i * s + j] * phi[j];
                v *= acc;
            }
            trees[t].phi[i] = v;
        }
    }
}

/* Largest order p such that all trees up to p satisfy sum w_i Phi_i = scale^|t| / gamma. */
static int order_of(const double *w, int n, double scale)
{
    for (int t = 0; t < ntrees; t++) {
        double acc = 0, mag = 0;
        for (int i = 0; i < n; i++) {
            acc += w[i] * trees[t].phi[i];
            mag += fabs(w[i] * trees[t].phi[i]);
        }
        double want = pow(scale, trees[t].order) / trees[t].gamma;
        if (fabs(acc - want) > 1e-12 * (1 + mag)) return trees[t].order - 1;
    }
    return MAX_TREE_ORDER;
}

START_TEST(order_conditions)
{
    make_trees();
    ck_assert_int_eq(ntrees, MAX_TREES);
    for (int m = 0; rk_tableau_names[m]; m++) {
        const struct rk_tableau *tab = rk_tableau_find(rk_tableau_names[m]);
        const int s = tab->stages, sd = s + tab->dense_stages;
        ck_assert_ptr_nonnull(tab);
        ck_assert_str_eq(tab->name, rk_tableau_names[m]);
        ck_assert_int_le(sd, MAX_ST);
        ck_assert_int_le(tab->dense_degree, RK_MAX_DEGREE);
        for (int i = 0; i < sd; i++) { /* c_i = sum_j a_ij, A strictly lower */
            double acc = 0;
            for (int j = 0; j < sd; j++) {
                if (j >= i) ck_assert(tab->a[i * sd + j] == 0);
                acc += tab->a[i * sd + j];
            }
            ck_assert_double_eq_tol(acc, tab->c[i], 1e-14);
        }
        if (tab->fsal) { /* the last stage is f(t + h, y_{n+1}) */
            ck_assert(tab->c[s - 1] == 1.0 && tab->b[s - 1] == 0.0);
            for (int j = 0; j < s; j++)
                ck_assert(tab->a[(s - 1) * sd + j] == tab->b[j]);
        }
        weights_for(tab);
        const int p = order_of(tab->b, s, 1);
        ck_assert_msg(p == tab->order, "%s: order %d, stated %d", tab->name, p, tab->order);
        int q = -1, q3 = -1;
        if (tab->e) {
            double bh[MAX_ST];
            for (int i = 0; i < s; i++)
                bh[i] = tab->b[i] - tab->e[i];
            q = order_of(bh, s, 1);
            /* DOP853: b - e5 is its 5th-order companion; the combined estimate
             * behaves like order 7 (one_step_orders checks err_order there) */
            const int want = tab->e3 ? 5 : tab->err_order;
            ck_assert_msg(q == want, "%s: embedded order %d, want %d", tab->name, q, want);
        }
        if (tab->e3) { /* DOP853's third-order companion */
            double bh[MAX_ST];
            for (int i = 0; i < s; i++)
                bh[i] = tab->b[i] - tab->e3[i];
            q3 = order_of(bh, s, 1);
            ck_assert_int_eq(q3, 3);
        }
        for (double th = 0.125; th < 1; th += 0.25) {
            double w[MAX_ST];
            rk_tableau_dense_weights(tab, th, w);
            const int d = order_of(w, sd, th);
            ck_assert_msg(d >= tab->dense_order, "%s: dense order %d at %g, stated %d", tab->name,
                          d, th, tab->dense_order);
        }
        double w1[MAX_ST]; /* the interpolant ends at y_{n+1} */
        rk_tableau_dense_weights(tab, 1.0, w1);
        for (int i = 0; i < sd; i++)
            ck_assert_double_eq_tol(w1[i], i < s ? tab->b[i] : 0.0, 1e-14);
        printf("tableau %-8s stages %2d(+%d) order %d embedded %d dense %d: conditions hold\n",
               tab->name, s, tab->dense_stages, p, q, tab->dense_order);
    }
}
END_TEST

/* ---- observed convergence of fixed-step solutions ------------------------------
 * Solve with n = 1, 2, 3, 4, 5, 6, 8, ... (x1.25) fixed steps to a time t_c;
 * keep the errors between a floor (rounding, and 3x the reference's
 * estimated error) and 1e-3 times the solution's size (at most CONV_MAXPTS
 * of them, n <= CONV_NMAX); fit log(error) against log(h) over the last
 * (most refined) CONV_PTS. For adaptive pairs this is the propagated solution.
 *
 * Strict check, every method: the Kepler problem (HNW I, II.0) with
 * eccentricity 0.3 to t = 2, exact by Kepler's equation, nonlinear and
 * generic: |slope - p| <= ORDER_TOL.
 *
 * Every method on every problem of the table (the fixture as reference, t_c
 * a fixture time near t0 + horizon): p - ORDER_TOL <= slope <= p + 1.7. The
 * upper allowance is real: high-order pairs are built with small principal
 * error coefficients (Dormand-Prince, Tsitouras), so their next-order term
 * still dominates at the smallest errors the double-precision reference can
 * resolve, and linear problems only probe the stability function, which may
 * match e^z beyond p. */
#define ORDER_TOL 0.3
#define CONV_PTS 6
#define CONV_MAXPTS 12 /* for orders <= 4 */
#define CONV_NMAX 1e6

struct conv_run {
    const char *method;
    const char *name;
    ode_rhs_fn f;
    void *ctx;
    size_t dim;
    double t0, tc;
    const double *y0, *ref;
    double ref_err;
};

static double conv_slope(const struct conv_run *c)
{
    const struct rk_tableau *tab = rk_tableau_find(c->method);
    double big = 1;
    for (size_t j = 0; j < c->dim; j++)
        big = fmax(big, fabs(c->ref[j]));
    const double floor = fmax(1e-12 * big, 3 * c->ref_err), ceil = 1e-3 * big;
    double hs[64], es[64];
    int n_pts = 0;
    err e;
    err_clear(&e);
    ode_solver *s = ode_solver_new(tab, c->dim, &e);
    struct ode_problem pr = {.f = c->f,
                             .ctx = c->ctx,
                             .dim = c->dim,
                             .t0 = c->t0,
                             .y0 = c->y0,
                             .t_out = &c->tc,
                             .n_out = 1};
    long last_n = 0;
    /* low orders are crisp from the start; high orders need the finest points */
    const int max_pts = tab->order <= 4 ? CONV_MAXPTS : 64;
    for (double nf = 1; nf <= CONV_NMAX && n_pts < max_pts; nf *= 1.25) {
        struct ode_options o;
        ode_options_init(&o);
        o.n_steps = lround(nf);
        if (o.n_steps == last_n) continue;
        last_n = o.n_steps;
        o.max_steps = 2 * o.n_steps + 10;
        double y[TP_MAXDIM];
        const err_code rc = ode_solve(s, &pr, &o, y, NULL, &e);
        err_clear(&e);
        const double er = rc ? INFINITY : tp_max_abs_err(y, c->ref, 1, c->dim);
        if (er < floor) break;
        if (er <= ceil) {
            hs[n_pts] = fabs(c->tc - c->t0) / (double)o.n_steps;
            es[n_pts] = er;
            n_pts++;
        }
    }
    ode_solver_free(s);
    ck_assert_msg(n_pts >= CONV_PTS, "%s %s: only %d points in range", c->method, c->name, n_pts);
    const double *h = hs + n_pts - CONV_PTS, *er = es + n_pts - CONV_PTS;
    const double slope = tp_slope(h, er, CONV_PTS);
    printf("convergence %-8s %-15s t=%-6.4g n=%ld..%ld err %.2g..%.2g slope %.2f (order %d)\n",
           c->method, c->name, c->tc, lround(fabs(c->tc - c->t0) / h[0]),
           lround(fabs(c->tc - c->t0) / h[CONV_PTS - 1]), er[0], er[CONV_PTS - 1], slope,
           tab->order);
    return slope;
}

/* Kepler: q'' = -q / |q|^3, q(0) = (1 - e, 0), q'(0) = (0, sqrt((1 + e)/(1 - e))). */
#define KEPLER_E 0.3

static int f_kepler(double t, const double *y, double *d, void *ctx)
{
    (void)t;
    (void)ctx;
    const double r2 = y[0] * y[0] + y[1] * y[1], r3 = r2 * sqrt(r2);
    d[0] = y[2];
    d[1] = y[3];
    d[2] = -y[0] / r3;
    d[3] = -y[1] / r3;
    return 0;
}

static void kepler_exact(double t, double *y)
{
    const double e = KEPLER_E;
    double E = t; /* Kepler's equation E - e sin E = t, by Newton */
    for (int i = 0; i < 50; i++)
        E -= (E - e * sin(E) - t) / (1 - e * cos(E));
    const double c = cos(E), s = sin(E), w = sqrt(1 - e * e), den = 1 - e * c;
    y[0] = c - e;
    y[1] = w * s;
    y[2] = -s / den;
    y[3] = w * c / den;
}

START_TEST(convergence_kepler)
{
    const char *method = rk_tableau_names[_i];
    const int p = rk_tableau_find(method)->order;
    double y0[4], ref[4];
    kepler_exact(0, y0);
    kepler_exact(2.0, ref);
    const struct conv_run c = {.method = method,
                               .name = "kepler",
                               .f = f_kepler,
                               .dim = 4,
                               .t0 = 0,
                               .tc = 2.0,
                               .y0 = y0,
                               .ref = ref};
    const double slope = conv_slope(&c);
    ck_assert_msg(fabs(slope - p) <= ORDER_TOL, "%s on Kepler: slope %.3f, order %d", method, slope,
                  p);
}
END_TEST

static const struct {
    const char *problem;
    double horizon; /* t_c = the fixture time closest to t0 + horizon */
} conv_cases[] = {
    {"exp_decay", 6.0},   {"harmonic", 1.0},   {"lotka_volterra", 0.5},
    {"van_der_pol", 1.0}, {"arenstorf", 0.25}, {"brusselator", 1.0},
    {"mlp", 1.0},
};

static size_t closest_index(const struct tp_problem *p, double target)
{
    size_t best = 0;
    for (size_t i = 1; i < p->n; i++)
        if (fabs(p->t[i] - target) < fabs(p->t[best] - target)) best = i;
    return best;
}

START_TEST(convergence_table)
{
    const char *method = rk_tableau_names[_i];
    const int p_order = rk_tableau_find(method)->order;
    for (size_t k = 0; k < sizeof conv_cases / sizeof conv_cases[0]; k++) {
        const struct tp_problem *p = tp_find(conv_cases[k].problem);
        const size_t idx = closest_index(p, p->t0 + conv_cases[k].horizon);
        const struct conv_run c = {.method = method,
                                   .name = p->name,
                                   .f = p->f,
                                   .ctx = p->ctx,
                                   .dim = p->dim,
                                   .t0 = p->t0,
                                   .tc = p->t[idx],
                                   .y0 = p->y0,
                                   .ref = tp_ref(p, idx),
                                   .ref_err = p->ref_errs[idx]};
        const double slope = conv_slope(&c);
        ck_assert_msg(slope >= p_order - ORDER_TOL && slope <= p_order + 1.7,
                      "%s on %s: slope %.3f, order %d", method, p->name, slope, p_order);
    }
}
END_TEST

/* ---- one step: local error, error estimate, dense output ------------------------
 * Kepler again (a linear problem would only probe the stability function).
 * One fixed step of size h from t = 0; the observer hands over the stages,
 * from which the table's error estimate h sum e_i k_i (DOP853: its combined
 * norm) is formed. Criterion: slopes within ORDER_TOL of p+1 (local error)
 * and q+1 (estimate), and at least d+1 - ORDER_TOL (dense output, at theta
 * 0.3 and 0.7). */
struct one_step {
    double est;
};

static int grab_estimate(const struct ode_step_record *r, void *ctx)
{
    struct one_step *o = ctx;
    const struct rk_tableau *tab = r->tab;
    double s5 = 0, s3 = 0;
    for (size_t n = 0; n < r->dim; n++) {
        double e5 = 0, e3 = 0;
        for (int i = 0; i < tab->stages; i++) {
            e5 += tab->e[i] * r->k[i * r->dim + n];
            if (tab->e3) e3 += tab->e3[i] * r->k[i * r->dim + n];
        }
        s5 += e5 * e5;
        s3 += e3 * e3;
    }
    o->est = tab->e3 ? fabs(r->h) * s5 / sqrt(s5 + 0.01 * s3) : fabs(r->h) * sqrt(s5);
    return 0;
}

START_TEST(one_step_orders)
{
    const struct rk_tableau *tab = rk_tableau_find(rk_tableau_names[_i]);
    const int npts = 3;
    /* step sizes in the asymptotic range and above rounding, per order */
    const double h0 = tab->order >= 8 ? 0.2 : tab->order >= 5 ? 0.05 : 0.1;
    double hs[3], loc[3], est[3], den[3], y0[4];
    kepler_exact(0, y0);
    for (int k = 0; k < npts; k++) {
        const double h = h0 / (1 << k);
        double t[3] = {0.3 * h, 0.7 * h, h}, y[12], ex[4];
        struct one_step os = {0};
        struct ode_problem pr = {
            .f = f_kepler, .dim = 4, .t0 = 0, .y0 = y0, .t_out = t, .n_out = 3};
        struct ode_options o;
        ode_options_init(&o);
        o.fixed_step = h;
        if (tab->e) {
            o.observer = grab_estimate;
            o.observer_ctx = &os;
        }
        err e;
        err_clear(&e);
        ode_solver *s = ode_solver_new(tab, 4, &e);
        ck_assert_int_eq(ode_solve(s, &pr, &o, y, NULL, &e), ERR_OK);
        ode_solver_free(s);
        hs[k] = h;
        kepler_exact(h, ex);
        loc[k] = tp_max_abs_err(y + 8, ex, 1, 4);
        den[k] = 0;
        for (int j = 0; j < 2; j++) {
            kepler_exact(t[j], ex);
            den[k] = fmax(den[k], tp_max_abs_err(y + 4 * j, ex, 1, 4));
        }
        est[k] = os.est;
        if (getenv("NUM_VERBOSE"))
            printf("  %s h %.3g local %.3g dense %.3g est %.3g\n", tab->name, h, loc[k], den[k],
                   est[k]);
    }
    const double sl = tp_slope(hs, loc, npts), sd = tp_slope(hs, den, npts);
    printf("one step %-8s local error slope %.2f (p+1 = %d), dense slope %.2f (d+1 = %d)",
           tab->name, sl, tab->order + 1, sd, tab->dense_order + 1);
    ck_assert_double_le(fabs(sl - (tab->order + 1)), ORDER_TOL);
    ck_assert_double_ge(sd, tab->dense_order + 1 - ORDER_TOL);
    if (tab->e) {
        const double se = tp_slope(hs, est, npts);
        printf(", estimate slope %.2f (q+1 = %d)", se, tab->err_order + 1);
        ck_assert_double_le(fabs(se - (tab->err_order + 1)), ORDER_TOL);
    }
    printf("\n");
}
END_TEST

TCase *num_tcase_order(void)
{
    TCase *tc = tcase_create("order");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, order_conditions);
    int n = 0;
    while (rk_tableau_names[n])
        n++;
    tcase_add_loop_test(tc, convergence_kepler, 0, n);
    tcase_add_loop_test(tc, convergence_table, 0, n);
    tcase_add_loop_test(tc, one_step_orders, 0, n);
    return tc;
}
