/* num/control.c: error norm and step-size control. See control.h. */
#include "num/control.h"

#include <math.h>

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

/* The scaled estimates of components n0 .. n0+3 of group g (component m0
 * of it): est = sum_j e_j k_j summed in the order j = 0, 1, ... from 0,
 * then divided by the scale; the four are independent, so their
 * multiplications and divisions overlap. */
static void err_block4(const struct ode_control *c, const double *e, int s, size_t dim, size_t g,
                       size_t m0, size_t n0, const double *y0, const double *y1, const double *k,
                       double r[4])
{
    double v0 = 0, v1 = 0, v2 = 0, v3 = 0;
    for (int j = 0; j < s; j++) {
        const double ej = e[j], *kj = k + (size_t)j * dim + n0;
        v0 += ej * kj[0];
        v1 += ej * kj[1];
        v2 += ej * kj[2];
        v3 += ej * kj[3];
    }
    r[0] = v0, r[1] = v1, r[2] = v2, r[3] = v3;
    for (int q = 0; q < 4; q++) {
        const double a0 = fabs(y0[n0 + q]), a1 = fabs(y1[n0 + q]);
        r[q] /= scale_of(c, g, m0 + q, a0 > a1 ? a0 : a1);
    }
}

double ode_control_err(const struct ode_control *c, const struct rk_tableau *tab, double h,
                       const double *y0, const double *y1, const double *k)
{
    const int s = tab->stages;
    const size_t dim = c->groups * c->gdim;
    const double *e = tab->e, *e3 = tab->e3;
    double worst = 0;
    for (size_t g = 0; g < c->groups; g++) {
        double s5 = 0, s3 = 0;
        size_t m = 0;
        /* four components at a time, their squares added in index order:
         * the same sums as one component at a time */
        for (; m + 4 <= c->gdim; m += 4) {
            const size_t n0 = g * c->gdim + m;
            double r[4], r3[4];
            err_block4(c, e, s, dim, g, m, n0, y0, y1, k, r);
            if (e3) err_block4(c, e3, s, dim, g, m, n0, y0, y1, k, r3);
            for (int q = 0; q < 4; q++)
                s5 += r[q] * r[q];
            if (e3)
                for (int q = 0; q < 4; q++)
                    s3 += r3[q] * r3[q];
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
            s5 += est * est;
            if (e3) {
                est3 /= sc;
                s3 += est3 * est3;
            }
        }
        double errg;
        if (e3) { /* DOP853 */
            const double den = s5 + 0.01 * s3;
            errg = den > 0 ? fabs(h) * s5 / sqrt(den * (double)c->gdim) : 0;
        } else {
            errg = fabs(h) * sqrt(s5 / (double)c->gdim);
        }
        if (!(errg <= worst)) worst = errg; /* NaN propagates */
    }
    return worst;
}

double ode_control_norm(const struct ode_control *c, const double *v, const double *y)
{
    double worst = 0;
    for (size_t g = 0; g < c->groups; g++) {
        double ss = 0;
        size_t m = 0;
        for (; m + 4 <= c->gdim; m += 4) { /* the quotients overlap, the sum keeps its order */
            const size_t n = g * c->gdim + m;
            const double r0 = v[n] / scale_of(c, g, m, fabs(y[n]));
            const double r1 = v[n + 1] / scale_of(c, g, m + 1, fabs(y[n + 1]));
            const double r2 = v[n + 2] / scale_of(c, g, m + 2, fabs(y[n + 2]));
            const double r3 = v[n + 3] / scale_of(c, g, m + 3, fabs(y[n + 3]));
            ss += r0 * r0;
            ss += r1 * r1;
            ss += r2 * r2;
            ss += r3 * r3;
        }
        for (; m < c->gdim; m++) {
            const size_t n = g * c->gdim + m;
            const double r = v[n] / scale_of(c, g, m, fabs(y[n]));
            ss += r * r;
        }
        const double ng = sqrt(ss / (double)c->gdim);
        if (!(ng <= worst)) worst = ng;
    }
    return worst;
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
