/* num/step.c: the generic explicit Runge-Kutta kernel. See step.h.
 *
 * Stage i: Y_i = y + h sum_{j<i} a_ij k_j (an axpy per nonzero a_ij, so the
 * zeros of sparse tables like DOP853's cost nothing), k_i = f(t + c_i h, Y_i).
 * For FSAL tables the last stage's argument is y_{n+1} itself, written
 * straight into y1. Hairer-Norsett-Wanner I, II.1. */
#include "num/step.h"

/* 0 when all of v is finite: inf * 0 and NaN * 0 are NaN, finite * 0 is 0. */
static int nonfinite(const double *v, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += v[i] * 0.0;
    return acc != 0.0; /* also true for NaN */
}

int rk_eval(ode_rhs_fn f, void *ctx, size_t dim, double t, const double *y, double *k, long *nfe)
{
    if (nfe) (*nfe)++;
    int rc = f(t, y, k, ctx);
    if (rc) return rc;
    return nonfinite(k, dim) ? ODE_RC_NONFINITE : 0;
}

/* out = y + h sum_{j<i} a[j] k_j */
static void stage_arg(size_t dim, const double *a, int i, double h, const double *y,
                      const double *k, double *out)
{
    for (size_t n = 0; n < dim; n++)
        out[n] = y[n];
    for (int j = 0; j < i; j++) {
        if (a[j] == 0.0) continue;
        const double ha = h * a[j];
        const double *kj = k + (size_t)j * dim;
        for (size_t n = 0; n < dim; n++)
            out[n] += ha * kj[n];
    }
}

int rk_step_trial(const struct rk_tableau *tab, size_t dim, ode_rhs_fn f, void *ctx, double t,
                  double h, double t_end, const double *y, double *k, double *y1, double *ytmp,
                  long *nfe)
{
    const int s = tab->stages, lda = tab->stages + tab->dense_stages;
    for (int i = 1; i < s; i++) {
        const int last = tab->fsal && i == s - 1;
        double *arg = last ? y1 : ytmp;
        stage_arg(dim, tab->a + (size_t)i * lda, i, h, y, k, arg);
        if (last && nonfinite(y1, dim)) return ODE_RC_NONFINITE;
        const double ti = tab->c[i] == 1.0 ? t_end : t + tab->c[i] * h;
        int rc = rk_eval(f, ctx, dim, ti, arg, k + (size_t)i * dim, nfe);
        if (rc) return rc;
    }
    if (!tab->fsal) {
        stage_arg(dim, tab->b, s, h, y, k, y1);
        if (nonfinite(y1, dim)) return ODE_RC_NONFINITE;
    }
    return 0;
}

int rk_step_dense_stages(const struct rk_tableau *tab, size_t dim, ode_rhs_fn f, void *ctx,
                         double t, double h, const double *y, double *k, double *ytmp, long *nfe)
{
    const int s = tab->stages, lda = tab->stages + tab->dense_stages;
    for (int i = s; i < lda; i++) {
        stage_arg(dim, tab->a + (size_t)i * lda, i, h, y, k, ytmp);
        int rc = rk_eval(f, ctx, dim, t + tab->c[i] * h, ytmp, k + (size_t)i * dim, nfe);
        if (rc) return rc;
    }
    return 0;
}
