/* num/step.c: the generic explicit Runge-Kutta kernel. See step.h.
 *
 * Stage i: Y_i = y + h sum_{j<i} a_ij k_j (an axpy per nonzero a_ij, so the
 * zeros of sparse tables like DOP853's cost nothing), k_i = f(t + c_i h, Y_i).
 * For FSAL tables the last stage's argument is y_{n+1} itself, written
 * straight into y1. Hairer-Norsett-Wanner I, II.1. */
#include "num/step.h"

#include "num/num_simd.h"

#include <string.h>

/* inf and NaN are the doubles whose exponent bits are all ones. Sixteen at a time (num_simd.h): masks ORed as integers
 * (a one-cycle dependency, where a sum of v * 0 waited on each add). */
#define EXP_BITS 0x7ff0000000000000LL
NUM_CLONES int rk_nonfinite(const double *v, size_t n)
{
    const num_i8 e = {EXP_BITS, EXP_BITS, EXP_BITS, EXP_BITS,
                      EXP_BITS, EXP_BITS, EXP_BITS, EXP_BITS};
    num_i8 m0 = {0}, m1 = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        num_i8 x0, x1;
        memcpy(&x0, v + i, sizeof x0);
        memcpy(&x1, v + i + 8, sizeof x1);
        m0 |= (x0 & e) == e;
        m1 |= (x1 & e) == e;
    }
    if (i + 8 <= n) {
        num_i8 x0;
        memcpy(&x0, v + i, sizeof x0);
        m0 |= (x0 & e) == e;
        i += 8;
    }
    m0 |= m1;
    long long m = 0;
    for (int q = 0; q < 8; q++)
        m |= m0[q];
    for (; i < n; i++) {
        long long x;
        memcpy(&x, v + i, sizeof x);
        m |= (x & EXP_BITS) == EXP_BITS;
    }
    return m != 0;
}

int rk_eval(ode_rhs_fn f, void *ctx, size_t dim, double t, const double *y, double *k, long *nfe)
{
    if (nfe) (*nfe)++;
    int rc = f(t, y, k, ctx);
    if (rc) return rc;
    return rk_nonfinite(k, dim) ? ODE_RC_NONFINITE : 0;
}

/* Rows a stage argument may combine in one pass (more: one pass per row). */
#define STAGE_ARG_ROWS 16

/* Each element summed in the order j = 0, 1, ... (the zeros of a skipped)
 * and in one pass over the rows with a nonzero weight, eight or four
 * elements at a time (num_simd.h). */
NUM_CLONES void rk_stage_arg(size_t n_first, size_t dim, const double *a, int i, double h,
                             const double *y, const double *k, double *out)
{
    double ha[STAGE_ARG_ROWS];
    const double *kr[STAGE_ARG_ROWS];
    int m = 0;
    if (i > STAGE_ARG_ROWS) {
        for (size_t n = 0; n < n_first; n++)
            out[n] = y[n];
        for (int j = 0; j < i; j++) {
            if (a[j] == 0.0) continue;
            const double c = h * a[j];
            const double *kj = k + (size_t)j * dim;
            for (size_t n = 0; n < n_first; n++)
                out[n] += c * kj[n];
        }
        return;
    }
    for (int j = 0; j < i; j++)
        if (a[j] != 0.0) {
            ha[m] = h * a[j];
            kr[m++] = k + (size_t)j * dim;
        }
    size_t n = 0;
    for (; n + 8 <= n_first; n += 8) {
        num_v8 v;
        memcpy(&v, y + n, sizeof v);
        for (int q = 0; q < m; q++) {
            num_v8 kq;
            memcpy(&kq, kr[q] + n, sizeof kq);
            v += ha[q] * kq;
        }
        memcpy(out + n, &v, sizeof v);
    }
    for (; n + 4 <= n_first; n += 4) {
        num_v4 v;
        memcpy(&v, y + n, sizeof v);
        for (int q = 0; q < m; q++) {
            num_v4 kq;
            memcpy(&kq, kr[q] + n, sizeof kq);
            v += ha[q] * kq;
        }
        memcpy(out + n, &v, sizeof v);
    }
    for (; n < n_first; n++) {
        double v = y[n];
        for (int q = 0; q < m; q++)
            v += ha[q] * kr[q][n];
        out[n] = v;
    }
}

/* Every element of every row gets one add, so the rows' order does not
 * matter; one pass over ybar_i for all of them, eight or four elements at a
 * time. */
NUM_CLONES void rk_stage_arg_vjp(size_t dim, const double *a, int i, double h,
                                 const double *ybar_i, double *ybar, double *kbar)
{
    double ha[STAGE_ARG_ROWS];
    double *kr[STAGE_ARG_ROWS];
    int m = 0;
    for (int j = 0; j < i; j++) {
        if (a[j] == 0.0) continue;
        if (m == STAGE_ARG_ROWS) { /* a long row: the rest one pass each */
            const double c = h * a[j];
            double *kj = kbar + (size_t)j * dim;
            for (size_t n = 0; n < dim; n++)
                kj[n] += c * ybar_i[n];
            continue;
        }
        ha[m] = h * a[j];
        kr[m++] = kbar + (size_t)j * dim;
    }
    size_t n = 0;
    for (; n + 8 <= dim; n += 8) {
        num_v8 v, u;
        memcpy(&v, ybar_i + n, sizeof v);
        memcpy(&u, ybar + n, sizeof u);
        u += v;
        memcpy(ybar + n, &u, sizeof u);
        for (int q = 0; q < m; q++) {
            num_v8 kq;
            memcpy(&kq, kr[q] + n, sizeof kq);
            kq += ha[q] * v;
            memcpy(kr[q] + n, &kq, sizeof kq);
        }
    }
    for (; n + 4 <= dim; n += 4) {
        num_v4 v, u;
        memcpy(&v, ybar_i + n, sizeof v);
        memcpy(&u, ybar + n, sizeof u);
        u += v;
        memcpy(ybar + n, &u, sizeof u);
        for (int q = 0; q < m; q++) {
            num_v4 kq;
            memcpy(&kq, kr[q] + n, sizeof kq);
            kq += ha[q] * v;
            memcpy(kr[q] + n, &kq, sizeof kq);
        }
    }
    for (; n < dim; n++) {
        const double v = ybar_i[n];
        ybar[n] += v;
        for (int q = 0; q < m; q++)
            kr[q][n] += ha[q] * v;
    }
}

int rk_step_trial(const struct rk_tableau *tab, size_t dim, size_t n_read, ode_rhs_fn f, void *ctx,
                  double t, double h, double t_end, const double *y, double *k, double *y1,
                  double *ytmp, long *nfe)
{
    const int s = tab->stages, lda = tab->stages + tab->dense_stages;
    for (int i = 1; i < s; i++) {
        const int last = tab->fsal && i == s - 1;
        double *arg = last ? y1 : ytmp;
        rk_stage_arg(last ? dim : n_read, dim, tab->a + (size_t)i * lda, i, h, y, k, arg);
        if (last && rk_nonfinite(y1, dim)) return ODE_RC_NONFINITE;
        const double ti = tab->c[i] == 1.0 ? t_end : t + tab->c[i] * h;
        int rc = rk_eval(f, ctx, dim, ti, arg, k + (size_t)i * dim, nfe);
        if (rc) return rc;
    }
    if (!tab->fsal) {
        rk_stage_arg(dim, dim, tab->b, s, h, y, k, y1);
        if (rk_nonfinite(y1, dim)) return ODE_RC_NONFINITE;
    }
    return 0;
}

int rk_step_dense_stages(const struct rk_tableau *tab, size_t dim, ode_rhs_fn f, void *ctx,
                         double t, double h, const double *y, double *k, double *ytmp, long *nfe)
{
    const int s = tab->stages, lda = tab->stages + tab->dense_stages;
    for (int i = s; i < lda; i++) {
        rk_stage_arg(dim, dim, tab->a + (size_t)i * lda, i, h, y, k, ytmp);
        int rc = rk_eval(f, ctx, dim, t + tab->c[i] * h, ytmp, k + (size_t)i * dim, nfe);
        if (rc) return rc;
    }
    return 0;
}
