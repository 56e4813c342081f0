/* model/sde_lik.c: the Euler-Maruyama transition likelihood and its
 * reverse. See sde_lik.h; docs/sde.md ("Training") has the maths. */
#include "model/sde_lik.h"

#include "model/sde_lik_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sde_lik {
    struct sde_lik_model m;
    size_t mb, gout; /* Brownian components, diffusion outputs */
    sde_lik_net *f, *g;
    size_t cap;      /* sub-steps the tape holds */
    double *ms, *Ps; /* (cap + 1) x d, (cap + 1) x d x d: the recursion's tape */
    double *fv, *J, *gv, *M, *A, *B, *S, *Lc, *Si, *al, *mb_, *Pb, *Jb, *gb, *fb;
};

void sde_lik_free(sde_lik *l)
{
    if (!l) return;
    sde_lik_net_free(l->f), sde_lik_net_free(l->g);
    free(l->ms), free(l->Ps), free(l->fv), free(l->J), free(l->gv), free(l->M), free(l->A);
    free(l->B), free(l->S), free(l->Lc), free(l->Si), free(l->al), free(l->mb_), free(l->Pb);
    free(l->Jb), free(l->gb), free(l->fb);
    free(l);
}

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

err_code sde_lik_new(sde_lik **out, const struct sde_lik_model *m, err *e)
{
    *out = NULL;
    sde_lik *l = calloc(1, sizeof *l);
    if (!l) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    l->m = *m;
    const size_t d = m->dim, dd = d * d;
    l->mb = sde_problem_m(m->noise, d, m->brownian_dim);
    l->gout = m->noise == SDE_NOISE_GENERAL ? d * l->mb : d;
    if (sde_lik_net_new(&l->f, m->drift, true, e) ||
        sde_lik_net_new(&l->g, m->diffusion, false, e)) {
        sde_lik_free(l);
        return e->code;
    }
    l->fv = dalloc(d), l->J = dalloc(dd), l->gv = dalloc(l->gout), l->M = dalloc(dd);
    l->A = dalloc(dd), l->B = dalloc(dd), l->S = dalloc(dd), l->Lc = dalloc(dd);
    l->Si = dalloc(dd), l->al = dalloc(d), l->mb_ = dalloc(d), l->Pb = dalloc(dd);
    l->Jb = dalloc(dd), l->gb = dalloc(l->gout), l->fb = dalloc(d);
    if (!l->fv || !l->J || !l->gv || !l->M || !l->A || !l->B || !l->S || !l->Lc || !l->Si ||
        !l->al || !l->mb_ || !l->Pb || !l->Jb || !l->gb || !l->fb) {
        sde_lik_free(l);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    *out = l;
    return ERR_OK;
}

size_t sde_lik_count(size_t n, size_t dim, const double *y)
{
    size_t c = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        int ok = 1;
        for (size_t j = 0; j < 2 * dim; j++)
            ok &= !isnan(y[i * dim + j]);
        c += ok;
    }
    return c;
}

static err_code reserve(sde_lik *l, size_t n, err *e)
{
    if (n <= l->cap) return ERR_OK;
    const size_t d = l->m.dim;
    double *ms = realloc(l->ms, (n + 1) * d * sizeof(double));
    if (ms) l->ms = ms;
    double *Ps = ms ? realloc(l->Ps, (n + 1) * d * d * sizeof(double)) : NULL;
    if (!ms || !Ps) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    l->Ps = Ps;
    l->cap = n;
    return ERR_OK;
}

/* c = a b (d x d), or a^T b with ta. */
static void mm(size_t d, const double *a, int ta, const double *b, double *c)
{
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++)
                s += (ta ? a[k * d + i] : a[i * d + k]) * b[k * d + j];
            c[i * d + j] = s;
        }
}

/* f, J and g at (y, t). */
static void eval(sde_lik *l, const double *y, double t)
{
    sde_lik_net_forward(l->f, y, t, l->fv, l->J);
    if (l->m.noise == SDE_NOISE_ADDITIVE)
        sde_lik_net_forward(l->g, &t, 0, l->gv, NULL); /* the time is its one input */
    else
        sde_lik_net_forward(l->g, y, t, l->gv, NULL);
}

/* P += h G G^T. */
static void add_ggt(const sde_lik *l, double h, double *P)
{
    const size_t d = l->m.dim, mb = l->mb;
    const double *g = l->gv;
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            switch (l->m.noise) {
            case SDE_NOISE_SCALAR:
                s = g[i] * g[j];
                break;
            case SDE_NOISE_GENERAL:
                for (size_t k = 0; k < mb; k++)
                    s += g[i * mb + k] * g[j * mb + k];
                break;
            default:
                s = i == j ? g[i] * g[i] : 0;
            }
            P[i * d + j] += h * s;
        }
}

/* M = I + h J. */
static void step_matrix(sde_lik *l, double h)
{
    const size_t d = l->m.dim;
    for (size_t i = 0; i < d * d; i++)
        l->M[i] = h * l->J[i];
    for (size_t i = 0; i < d; i++)
        l->M[i * d + i] += 1;
}

/* The tape of one transition from y0 at t0 over n sub-steps of h. */
static void propagate(sde_lik *l, const double *y0, double t0, double h, size_t n)
{
    const size_t d = l->m.dim, dd = d * d;
    memcpy(l->ms, y0, d * sizeof(double));
    memset(l->Ps, 0, dd * sizeof(double));
    for (size_t k = 0; k < n; k++) {
        const double *m = l->ms + k * d, *P = l->Ps + k * dd;
        double *m1 = l->ms + (k + 1) * d, *P1 = l->Ps + (k + 1) * dd;
        eval(l, m, t0 + (double)k * h);
        step_matrix(l, h);
        for (size_t i = 0; i < d; i++)
            m1[i] = m[i] + h * l->fv[i];
        mm(d, l->M, 0, P, l->A); /* M P */
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) {
                double s = 0;
                for (size_t k2 = 0; k2 < d; k2++)
                    s += l->A[i * d + k2] * l->M[j * d + k2];
                P1[i * d + j] = s; /* M P M^T */
            }
        add_ggt(l, h, P1);
    }
}

/* Cholesky of S into Lc (lower); 0 when not positive definite. */
static int cholesky(size_t d, const double *S, double *Lc)
{
    memset(Lc, 0, d * d * sizeof(double));
    for (size_t j = 0; j < d; j++) {
        double s = S[j * d + j];
        for (size_t k = 0; k < j; k++)
            s -= Lc[j * d + k] * Lc[j * d + k];
        if (!(s > 0) || !isfinite(s)) return 0;
        Lc[j * d + j] = sqrt(s);
        for (size_t i = j + 1; i < d; i++) {
            double v = 0.5 * (S[i * d + j] + S[j * d + i]);
            for (size_t k = 0; k < j; k++)
                v -= Lc[i * d + k] * Lc[j * d + k];
            Lc[i * d + j] = v / Lc[j * d + j];
        }
    }
    return 1;
}

/* x = S^-1 b through the Cholesky factor. */
static void chol_solve(size_t d, const double *Lc, const double *b, double *x)
{
    for (size_t i = 0; i < d; i++) {
        double s = b[i];
        for (size_t k = 0; k < i; k++)
            s -= Lc[i * d + k] * x[k];
        x[i] = s / Lc[i * d + i];
    }
    for (size_t i = d; i-- > 0;) {
        double s = x[i];
        for (size_t k = i + 1; k < d; k++)
            s -= Lc[k * d + i] * x[k];
        x[i] = s / Lc[i * d + i];
    }
}

/* The reverse of propagate, from the adjoints of m_n (l->mb_) and P_n
 * (l->Pb); parameter gradients added into df, dg. */
static void reverse(sde_lik *l, double t0, double h, size_t n, double *df, double *dg)
{
    const size_t d = l->m.dim, dd = d * d, mb = l->mb;
    for (size_t k = n; k-- > 0;) {
        const double *m = l->ms + k * d, *P = l->Ps + k * dd;
        eval(l, m, t0 + (double)k * h);
        step_matrix(l, h);
        mm(d, l->Pb, 0, l->M, l->A); /* Pb M */
        mm(d, l->A, 0, P, l->B);     /* Pb M P */
        for (size_t i = 0; i < dd; i++)
            l->Jb[i] = 2 * h * l->B[i];
        for (size_t i = 0; i < d; i++) {
            switch (l->m.noise) {
            case SDE_NOISE_SCALAR: {
                double s = 0;
                for (size_t j = 0; j < d; j++)
                    s += l->Pb[i * d + j] * l->gv[j];
                l->gb[i] = 2 * h * s;
                break;
            }
            case SDE_NOISE_GENERAL:
                for (size_t c = 0; c < mb; c++) {
                    double s = 0;
                    for (size_t j = 0; j < d; j++)
                        s += l->Pb[i * d + j] * l->gv[j * mb + c];
                    l->gb[i * mb + c] = 2 * h * s;
                }
                break;
            default:
                l->gb[i] = 2 * h * l->Pb[i * d + i] * l->gv[i];
            }
            l->fb[i] = h * l->mb_[i];
        }
        mm(d, l->M, 1, l->A, l->B); /* M^T Pb M: the adjoint of P_k */
        memcpy(l->Pb, l->B, dd * sizeof(double));
        sde_lik_net_reverse(l->f, l->fb, l->Jb, l->mb_, df);
        sde_lik_net_reverse(l->g, l->gb, NULL, l->m.noise == SDE_NOISE_ADDITIVE ? NULL : l->mb_,
                            dg);
    }
}

err_code sde_lik_series(sde_lik *l, size_t n, const double *t, const double *y, double scale,
                        double *loss, double *dtheta_f, double *dtheta_g, err *e)
{
    const size_t d = l->m.dim, dd = d * d;
    const int grad = dtheta_f || dtheta_g;
    *loss = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const double *y0 = y + i * d, *y1 = y0 + d;
        int ok = 1;
        for (size_t j = 0; j < 2 * d; j++)
            ok &= !isnan(y0[j]);
        if (!ok) continue;
        const double gap = t[i + 1] - t[i];
        const double ns = ceil(gap / l->m.step * (1 - 1e-12));
        if (!(ns <= SDE_LIK_MAX_SUBSTEPS))
            return err_set(e, ERR_INVALID, "solver.step",
                           "the gap %g between observations %zu and %zu takes more than %d "
                           "sub-steps of %g",
                           gap, i, i + 1, SDE_LIK_MAX_SUBSTEPS, l->m.step);
        const size_t ns_ = ns < 1 ? 1 : (size_t)ns;
        const double h = gap / (double)ns_;
        if (reserve(l, ns_, e) != ERR_OK) return e->code;
        propagate(l, y0, t[i], h, ns_);
        const double *mn = l->ms + ns_ * d, *S = l->Ps + ns_ * dd;
        if (!cholesky(d, S, l->Lc))
            return err_set(e, ERR_SOLVER, NULL,
                           "the transition covariance over [%g, %g] is not positive definite "
                           "(a diffusion of zero, or a non-finite state)",
                           t[i], t[i + 1]);
        double logdet = 0, quad = 0;
        for (size_t j = 0; j < d; j++) {
            logdet += 2 * log(l->Lc[j * d + j]);
            l->fb[j] = y1[j] - mn[j]; /* r */
        }
        chol_solve(d, l->Lc, l->fb, l->al);
        for (size_t j = 0; j < d; j++)
            quad += l->fb[j] * l->al[j];
        const double nll = 0.5 * (quad + logdet + (double)d * log(2 * M_PI));
        if (!isfinite(nll))
            return err_set(e, ERR_SOLVER, NULL, "the likelihood over [%g, %g] is not finite", t[i],
                           t[i + 1]);
        *loss += scale * nll;
        if (!grad) continue;
        /* d nll / d m_n = -S^-1 r; d nll / d S = (S^-1 - S^-1 r r^T S^-1) / 2 */
        for (size_t c = 0; c < d; c++) {
            for (size_t j = 0; j < d; j++)
                l->B[j] = j == c;
            chol_solve(d, l->Lc, l->B, l->Si + c * d);
        }
        for (size_t a = 0; a < d; a++) {
            l->mb_[a] = -scale * l->al[a];
            for (size_t b = 0; b < d; b++)
                l->Pb[a * d + b] = 0.5 * scale * (l->Si[a * d + b] - l->al[a] * l->al[b]);
        }
        reverse(l, t[i], h, ns_, dtheta_f, dtheta_g);
    }
    return ERR_OK;
}
