/* num/control.c: error norm and step-size control. See control.h. */
#include "num/control.h"

#include "num/num_simd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define PI_ERR_MIN 1e-4 /* Hairer's floor for the remembered error */

static void tol_index(const double *v, size_t len, size_t dim, size_t gdim, const double **p,
                      double *scalar, size_t *sg, size_t *sm)
{
    if (!v) { /* scalar: *p already points at *scalar */
        *p = scalar;
        *sg = *sm = 0;
    } else {
        *p = v;
        *sm = 1;
        *sg = len == dim ? gdim : 0; /* a gdim-long vector repeats over the groups */
    }
}

void ode_control_init(struct ode_control *c, const struct ode_options *o,
                      const struct rk_tableau *tab, size_t dim)
{
    const double q = tab->err_order > 0 ? tab->err_order : tab->order;
    c->kind = o->controller;
    c->safety = o->safety;
    c->min_factor = o->min_factor;
    c->max_factor = o->max_factor;
    if (c->kind == ODE_CONTROL_PI) {
        c->beta = o->pi_beta;
        c->alpha = 1.0 / (q + 1) - 0.75 * c->beta;
    } else {
        c->beta = 0;
        c->alpha = 1.0 / (q + 1);
    }
    c->alpha_reject = c->alpha;
    c->groups = o->groups ? o->groups : 1;
    c->gdim = dim / c->groups;
    c->rtol_scalar = o->rtol < 100 * 2.220446049250313e-16 ? 100 * 2.220446049250313e-16 : o->rtol;
    c->atol_scalar = o->atol;
    tol_index(o->rtol_v, o->rtol_len, dim, c->gdim, &c->rtol, &c->rtol_scalar, &c->rtol_sg,
              &c->rtol_sm);
    tol_index(o->atol_v, o->atol_len, dim, c->gdim, &c->atol, &c->atol_scalar, &c->atol_sg,
              &c->atol_sm);
    ode_control_reset(c);
}

void ode_control_reset(struct ode_control *c)
{
    c->err_prev = PI_ERR_MIN;
}

static inline double scale_of(const struct ode_control *c, size_t g, size_t m, double ymax)
{
    return c->atol[g * c->atol_sg + m * c->atol_sm] +
           c->rtol[g * c->rtol_sg + m * c->rtol_sm] * ymax;
}

double ode_control_scale(const struct ode_control *c, size_t n, double ymax)
{
    return scale_of(c, n / c->gdim, n % c->gdim, ymax);
}

/* The scales of components m .. m+3 of group g, ymax their max(|y|)s:
 * atol + rtol ymax per component (scalar or per-component tolerances). Built
 * from vectors (a broadcast or a load), not lane by lane: four scalar
 * stores read back as one vector would stall the load. */
static inline void scale4(const struct ode_control *c, size_t g, size_t m, const num_v4 *ymax,
                          num_v4 *sc)
{
    num_v4 at, rt;
    if (c->atol_sm) {
        memcpy(&at, c->atol + g * c->atol_sg + m, sizeof at);
    } else {
        const double a = c->atol[g * c->atol_sg];
        at = (num_v4){a, a, a, a};
    }
    if (c->rtol_sm) {
        memcpy(&rt, c->rtol + g * c->rtol_sg + m, sizeof rt);
    } else {
        const double r = c->rtol[g * c->rtol_sg];
        rt = (num_v4){r, r, r, r};
    }
    *sc = at + rt * *ymax;
}

/* |v|, and a > b ? a : b, lane by lane (as fabs and the scalar ternary:
 * a NaN compares false). Macros: a vector argument would change the ABI of
 * the baseline variant. */
#define V4_SIGN ((num_i4){INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN})
#define V4_ABS(v) ((num_v4)((num_i4)(v) & ~V4_SIGN))
#define V4_MAX(a, b) ((num_v4)(((num_i4)(a) & ((a) > (b))) | ((num_i4)(b) & ~((a) > (b)))))

/* The sums of squares of group g's scaled estimates: *s5 of e's (est =
 * sum_j e_j k_j, summed in the order j = 0, 1, ... from 0, over the
 * scale), *s3 of e3's when e3 is not NULL. Four components at a time as one
 * vector (num_simd.h), their squares added in index order: the same sums as
 * one component at a time. */
NUM_CLONES static void err_group(const struct ode_control *c, const double *e, const double *e3,
                                 int s, size_t g, const double *y0, const double *y1,
                                 const double *k, double *s5, double *s3)
{
    const size_t dim = c->groups * c->gdim;
    double q5 = 0, q3 = 0;
    size_t m = 0;
    for (; m + 4 <= c->gdim; m += 4) {
        const size_t n0 = g * c->gdim + m;
        num_v4 v = {0, 0, 0, 0}, v3 = {0, 0, 0, 0}, sc;
        for (int j = 0; j < s; j++) {
            num_v4 kj;
            memcpy(&kj, k + (size_t)j * dim + n0, sizeof kj);
            v += e[j] * kj;
            if (e3) v3 += e3[j] * kj;
        }
        num_v4 a0, a1;
        memcpy(&a0, y0 + n0, sizeof a0);
        memcpy(&a1, y1 + n0, sizeof a1);
        a0 = V4_ABS(a0);
        a1 = V4_ABS(a1);
        const num_v4 ymax = V4_MAX(a0, a1);
        scale4(c, g, m, &ymax, &sc);
        v /= sc;
        for (int q = 0; q < 4; q++)
            q5 += v[q] * v[q];
        if (e3) {
            v3 /= sc;
            for (int q = 0; q < 4; q++)
                q3 += v3[q] * v3[q];
        }
    }
    for (; m < c->gdim; m++) {
        const size_t n = g * c->gdim + m;
        double est = 0, est3 = 0;
        for (int j = 0; j < s; j++) {
            const double kj = k[(size_t)j * dim + n];
            est += e[j] * kj;
            if (e3) est3 += e3[j] * kj;
        }
        const double a0 = fabs(y0[n]), a1 = fabs(y1[n]);
        const double sc = scale_of(c, g, m, a0 > a1 ? a0 : a1);
        est /= sc;
        q5 += est * est;
        if (e3) {
            est3 /= sc;
            q3 += est3 * est3;
        }
    }
    *s5 = q5;
    *s3 = q3;
}

/* err_group when its sums of squares overflowed: the estimates sum_j e_j k_j
 * are scaled before h multiplies them, so a state of 1e170 whose component
 * at 0 has scale atol squares terms of 1e176 even for an error far below 1.
 * Over the largest term B first: *s5 and *s3 come back divided by B^2. Only
 * called on an overflow. */
static void err_group_scaled(const struct ode_control *c, const double *e, const double *e3,
                             int s, size_t g, const double *y0, const double *y1,
                             const double *k, double *s5, double *s3, double *big)
{
    const size_t dim = c->groups * c->gdim;
    double b = 0;
    for (int pass = 0; pass < 2; pass++) {
        double q5 = 0, q3 = 0;
        for (size_t m = 0; m < c->gdim; m++) {
            const size_t n = g * c->gdim + m;
            double est = 0, est3 = 0;
            for (int j = 0; j < s; j++) {
                const double kj = k[(size_t)j * dim + n];
                est += e[j] * kj;
                if (e3) est3 += e3[j] * kj;
            }
            const double a0 = fabs(y0[n]), a1 = fabs(y1[n]);
            const double sc = scale_of(c, g, m, a0 > a1 ? a0 : a1);
            if (pass == 0) {
                b = fmax(b, fabs(est / sc));
                if (e3) b = fmax(b, fabs(est3 / sc));
                continue;
            }
            const double r = est / sc / b, r3 = e3 ? est3 / sc / b : 0;
            q5 += r * r;
            q3 += r3 * r3;
        }
        if (pass == 0 && (!(b < INFINITY) || b == 0)) { /* not finite, or all zero */
            *s5 = *s3 = b == 0 ? 0 : b;
            *big = 1;
            return;
        }
        *s5 = q5;
        *s3 = q3;
    }
    *big = b;
}

double ode_control_err(const struct ode_control *c, const struct rk_tableau *tab, double h,
                       const double *y0, const double *y1, const double *k)
{
    double worst = 0;
    for (size_t g = 0; g < c->groups; g++) {
        double s5, s3;
        err_group(c, tab->e, tab->e3, tab->stages, g, y0, y1, k, &s5, &s3);
        double errg, big = 1;
        if (isinf(s5) || isinf(s3)) /* finite estimates whose squares overflowed */
            err_group_scaled(c, tab->e, tab->e3, tab->stages, g, y0, y1, k, &s5, &s3, &big);
        if (tab->e3) { /* DOP853 */
            const double den = s5 + 0.01 * s3;
            errg = den > 0 ? fabs(h) * s5 / sqrt(den * (double)c->gdim) : 0;
        } else {
            errg = fabs(h) * sqrt(s5 / (double)c->gdim);
        }
        if (big != 1) errg *= big; /* (fabs(h) * B) would lose the bits of the plain path */
        if (!(errg <= worst)) worst = errg; /* NaN propagates */
    }
    return worst;
}

/* The sums of squares of group g's v / scale into *sv and, when w is not
 * NULL, of w / scale into *sw, four components at a time (num_simd.h),
 * each added in index order: two independent chains of adds in one pass. */
NUM_CLONES static void norm_group(const struct ode_control *c, size_t g, const double *v,
                                  const double *w, const double *y, double *sv, double *sw)
{
    double ss = 0, sw_ = 0;
    size_t m = 0;
    for (; m + 4 <= c->gdim; m += 4) {
        const size_t n0 = g * c->gdim + m;
        num_v4 x, ya, sc;
        memcpy(&ya, y + n0, sizeof ya);
        memcpy(&x, v + n0, sizeof x);
        ya = V4_ABS(ya);
        scale4(c, g, m, &ya, &sc);
        x /= sc;
        if (w) {
            num_v4 x2;
            memcpy(&x2, w + n0, sizeof x2);
            x2 /= sc;
            for (int q = 0; q < 4; q++) {
                ss += x[q] * x[q];
                sw_ += x2[q] * x2[q];
            }
        } else {
            for (int q = 0; q < 4; q++)
                ss += x[q] * x[q];
        }
    }
    for (; m < c->gdim; m++) {
        const size_t n = g * c->gdim + m;
        const double sc = scale_of(c, g, m, fabs(y[n]));
        const double r = v[n] / sc;
        ss += r * r;
        if (w) {
            const double r2 = w[n] / sc;
            sw_ += r2 * r2;
        }
    }
    *sv = ss;
    *sw = sw_;
}

/* The RMS of group g's v / scale when the plain sum of squares overflowed
 * although every term is finite: over the largest term first (LAPACK's
 * dnrm2 idea). A linear oscillator from (1e170, 0) has f ~ 2e170 on the
 * component at 0, whose scale is atol: (f / 1e-6)^2 is past DBL_MAX, the
 * initial step's ||f0|| came out inf, its h0 = 0.01 ||y0|| / inf = 0, and
 * dopri5 failed "step size underflow at t=0" on a problem that it solves
 * from (1e150, 0) in 326 steps. Only called on an overflow: every other
 * norm keeps its bits. */
static double norm_group_scaled(const struct ode_control *c, size_t g, const double *v,
                                const double *y)
{
    double big = 0;
    for (size_t m = 0; m < c->gdim; m++) {
        const size_t n = g * c->gdim + m;
        big = fmax(big, fabs(v[n] / scale_of(c, g, m, fabs(y[n]))));
    }
    if (!(big < INFINITY)) return big; /* a term itself not finite */
    double ss = 0;
    for (size_t m = 0; m < c->gdim; m++) {
        const size_t n = g * c->gdim + m;
        const double r = v[n] / scale_of(c, g, m, fabs(y[n])) / big;
        ss += r * r;
    }
    return big * sqrt(ss / (double)c->gdim);
}

double ode_control_norm(const struct ode_control *c, const double *v, const double *y)
{
    double nv;
    ode_control_norm2(c, v, NULL, y, &nv, NULL);
    return nv;
}

void ode_control_norm2(const struct ode_control *c, const double *v, const double *w,
                       const double *y, double *nv, double *nw)
{
    double worst = 0, worst_w = 0;
    for (size_t g = 0; g < c->groups; g++) {
        double sv, sw;
        norm_group(c, g, v, w, y, &sv, &sw);
        double ng = sqrt(sv / (double)c->gdim);
        if (isinf(ng)) ng = norm_group_scaled(c, g, v, y);
        if (!(ng <= worst)) worst = ng;
        if (w) {
            double ngw = sqrt(sw / (double)c->gdim);
            if (isinf(ngw)) ngw = norm_group_scaled(c, g, w, y);
            if (!(ngw <= worst_w)) worst_w = ngw;
        }
    }
    *nv = worst;
    if (nw) *nw = worst_w;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

double ode_control_accept(struct ode_control *c, double en, int rejected)
{
    double fac;
    if (en == 0) {
        fac = c->max_factor;
    } else {
        fac = c->safety * pow(en, -c->alpha);
        if (c->beta != 0) fac *= pow(c->err_prev, c->beta);
        fac = clamp(fac, c->min_factor, c->max_factor);
    }
    if (rejected && fac > 1) fac = 1;
    c->err_prev = en > PI_ERR_MIN ? en : PI_ERR_MIN;
    return fac;
}

double ode_control_reject(const struct ode_control *c, double en)
{
    double fac = c->safety * pow(en, -c->alpha_reject);
    return fac < c->min_factor ? c->min_factor : fac > 1 ? 1 : fac;
}
