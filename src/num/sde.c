/* num/sde.c: see sde.h.
 *
 * DESIGN. One step function per kernel, all of the form "from the committed
 * state at t, step h with Brownian increment dW": a grid step commits its
 * result, an output step between grid points writes it aside. The
 * additive-noise stochastic Runge-Kutta methods are tables run by one
 * kernel, as the Runge-Kutta methods of num/step.c are. */
#include "num/sde.h"

#include "num/brownian.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Roessler (2010), SRA1: c0 = (0, 3/4), c1 = (1, 0), A0_21 = 3/4,
 * B0_21 = 3/2, alpha = (1/3, 2/3), beta1 = (1, 0), beta2 = (-1, 1); the
 * table torchsde's sra1 uses. */
static const struct sde_sra_tableau sra1 = {
    .stages = 2,
    .c0 = {0, 0.75},
    .c1 = {1, 0},
    .A0 = {{0, 0}, {0.75, 0}},
    .B0 = {{0, 0}, {1.5, 0}},
    .alpha = {1.0 / 3, 2.0 / 3},
    .beta1 = {1, 0},
    .beta2 = {-1, 1},
};

#define ITO (1u << SDE_ITO)
#define STRAT (1u << SDE_STRATONOVICH)
#define ALL_NOISE ((1u << SDE_NOISE__COUNT) - 1)
#define N_DIAG (1u << SDE_NOISE_DIAGONAL)
#define N_SCALAR (1u << SDE_NOISE_SCALAR)
#define N_ADD (1u << SDE_NOISE_ADDITIVE)

const struct sde_method sde_methods[] = {
    {"euler_maruyama", SDE_KERNEL_EULER, ITO, ALL_NOISE, 0.5, 1.0, NULL},
    {"milstein", SDE_KERNEL_MILSTEIN, ITO | STRAT, N_DIAG | N_SCALAR | N_ADD, 1.0, 1.0, NULL},
    {"euler_heun", SDE_KERNEL_HEUN, STRAT, ALL_NOISE, 0.5, 1.0, NULL},
    {"reversible_heun", SDE_KERNEL_REVERSIBLE, STRAT, ALL_NOISE, 0.5, 1.0, NULL},
    {"sra1", SDE_KERNEL_SRA, ITO | STRAT, N_ADD, 1.0, 2.0, &sra1},
};
const size_t sde_n_methods = sizeof sde_methods / sizeof sde_methods[0];

static const char *const noise_names[SDE_NOISE__COUNT] = {"diagonal", "scalar", "additive",
                                                          "general"};
static const char *const calculus_names[SDE_CALCULUS__COUNT] = {"ito", "stratonovich"};

const char *sde_noise_name(sde_noise n)
{
    return (int)n >= 0 && n < SDE_NOISE__COUNT ? noise_names[n] : "?";
}

const char *sde_calculus_name(sde_calculus c)
{
    return (int)c >= 0 && c < SDE_CALCULUS__COUNT ? calculus_names[c] : "?";
}

int sde_noise_from_name(const char *s)
{
    for (int i = 0; s && i < SDE_NOISE__COUNT; i++)
        if (strcmp(s, noise_names[i]) == 0) return i;
    return -1;
}

int sde_calculus_from_name(const char *s)
{
    for (int i = 0; s && i < SDE_CALCULUS__COUNT; i++)
        if (strcmp(s, calculus_names[i]) == 0) return i;
    return -1;
}

const struct sde_method *sde_method_find(const char *name)
{
    for (size_t i = 0; name && i < sde_n_methods; i++)
        if (strcmp(name, sde_methods[i].name) == 0) return &sde_methods[i];
    return NULL;
}

err_code sde_method_check(const struct sde_method *me, sde_calculus c, sde_noise n, err *e)
{
    if (!(me->noise_mask & (1u << n)))
        return err_set(e, ERR_INVALID, "solver.method", "%s does not support %s noise", me->name,
                       sde_noise_name(n));
    if (n != SDE_NOISE_ADDITIVE && !(me->calculus_mask & (1u << c)))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s solves %s SDEs only; this model is %s (use %s)", me->name,
                       me->calculus_mask & ITO ? "Ito" : "Stratonovich", sde_calculus_name(c),
                       c == SDE_ITO ? "euler_maruyama or milstein"
                                    : "euler_heun, reversible_heun or milstein");
    return ERR_OK;
}

size_t sde_problem_m(sde_noise n, size_t dim, size_t general_m)
{
    return n == SDE_NOISE_SCALAR ? 1 : n == SDE_NOISE_GENERAL ? general_m : dim;
}

/* ---- workspace ---- */

struct sde_ws {
    size_t dim, m;
    brownian_cursor *bm;
    double *y, *z, *fz, *gz;         /* committed state: y; reversible Heun's z, f(z), g(z) */
    double *f, *g, *g2, *q, *yt, *yo; /* scratch */
    double *wa, *wb, *dw, *i10;      /* W(t_k), W(t_k+1), the increment, SRA's I_(1,0)/h */
    double *sf;                      /* SRA: stages x dim drift values */
    double *hs;                      /* SRA: stage state */
    brownian_cursor **bk;            /* sde_ws_new_block: one cursor per sample of a block */
    size_t nk, mk;                   /* their number and components */
};

/* gsz: values of g (the diffusion's output) to hold. */
static err_code ws_new(sde_ws **out, size_t dim, size_t m, size_t gsz, err *e)
{
    *out = NULL;
    sde_ws *w = calloc(1, sizeof *w);
    if (!w) goto nomem;
    w->dim = dim;
    w->m = m;
    if (brownian_cursor_new(&w->bm, m, e) != ERR_OK) goto fail;
    double **vd[] = {&w->y, &w->z, &w->fz, &w->f, &w->q, &w->yt, &w->yo, &w->hs};
    double **vg[] = {&w->gz, &w->g, &w->g2};
    double **vm[] = {&w->wa, &w->wb, &w->dw, &w->i10};
    for (size_t i = 0; i < sizeof vd / sizeof vd[0]; i++)
        if (!(*vd[i] = calloc(dim, sizeof(double)))) goto nomem;
    for (size_t i = 0; i < sizeof vg / sizeof vg[0]; i++)
        if (!(*vg[i] = calloc(gsz, sizeof(double)))) goto nomem;
    for (size_t i = 0; i < sizeof vm / sizeof vm[0]; i++)
        if (!(*vm[i] = calloc(m, sizeof(double)))) goto nomem;
    if (!(w->sf = calloc(SDE_SRA_MAX_STAGES * dim, sizeof(double)))) goto nomem;
    *out = w;
    return ERR_OK;
nomem:
    err_set(e, ERR_NOMEM, NULL, "out of memory for an SDE workspace");
fail:
    sde_ws_free(w);
    return e ? e->code : ERR_NOMEM;
}

err_code sde_ws_new(sde_ws **out, size_t dim, size_t m, err *e)
{
    return ws_new(out, dim, m, dim * m, e);
}

err_code sde_ws_new_block(sde_ws **out, size_t dim, size_t m, size_t k, err *e)
{
    /* element by element only (sde_block_fits): g has k * dim values */
    err_code rc = ws_new(out, k * dim, k * m, k * dim, e);
    if (rc) return rc;
    sde_ws *w = *out;
    if (!(w->bk = calloc(k, sizeof *w->bk))) {
        err_set(e, ERR_NOMEM, NULL, "out of memory for an SDE workspace");
        goto fail;
    }
    w->nk = k;
    w->mk = m;
    for (size_t s = 0; s < k; s++)
        if (brownian_cursor_new(&w->bk[s], m, e) != ERR_OK) goto fail;
    return ERR_OK;
fail:
    sde_ws_free(w);
    *out = NULL;
    return e && e->code ? e->code : ERR_NOMEM;
}

void sde_ws_free(sde_ws *w)
{
    if (!w) return;
    for (size_t s = 0; s < w->nk; s++)
        brownian_cursor_free(w->bk[s]);
    free(w->bk);
    brownian_cursor_free(w->bm);
    double *all[] = {w->y,  w->z,  w->fz, w->gz, w->f,  w->g,   w->g2,
                     w->q,  w->yt, w->yo, w->wa, w->wb, w->dw, w->i10, w->sf, w->hs};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    free(w);
}

/* ---- steps ---- */

/* out += scale * (g dW) for the problem's noise type. */
static void gdw_add(const sde_problem *p, const double *g, const double *dw, double scale,
                    double *out)
{
    const size_t d = p->dim, m = p->m;
    switch (p->noise) {
    case SDE_NOISE_SCALAR:
        for (size_t i = 0; i < d; i++)
            out[i] += scale * g[i] * dw[0];
        break;
    case SDE_NOISE_GENERAL:
        for (size_t i = 0; i < d; i++) {
            double s = 0;
            for (size_t j = 0; j < m; j++)
                s += g[i * m + j] * dw[j];
            out[i] += scale * s;
        }
        break;
    default:
        for (size_t i = 0; i < d; i++)
            out[i] += scale * g[i] * dw[i];
    }
}

/* The space-time Levy area's share of SRA's I_(1,0) over [t, t + h]:
 * I_(1,0)/h = dW/2 + H, H ~ N(0, h/12) independent of dW, drawn from the
 * counter-based generator keyed by the step's two end times. */
static void sra_i10(uint64_t seed, uint32_t sample, double t, double h, const double *dw, size_t m,
                    double *i10)
{
    double t1 = t + h;
    uint64_t a, b;
    memcpy(&a, &t, sizeof a);
    memcpy(&b, &t1, sizeof b);
    uint64_t node = a ^ ((b << 29) | (b >> 35));
    double s = sqrt(h / 12.0);
    for (size_t p = 0; 2 * p < m; p++) {
        double z[2];
        brownian_normal2(seed, sample, node, (uint32_t)p | (4u << 24), z);
        i10[2 * p] = 0.5 * dw[2 * p] + s * z[0];
        if (2 * p + 1 < m) i10[2 * p + 1] = 0.5 * dw[2 * p + 1] + s * z[1];
    }
}

typedef struct step_ctx {
    const sde_problem *p;
    const struct sde_method *me;
    sde_ws *w;
    uint64_t seed;
    uint32_t sample;
    long nfe;
} step_ctx;

/* One step from the committed state at t: the new y into out (may be
 * w->y itself for a grid step: then `commit` also moves reversible Heun's
 * z, f(z), g(z) on). dW over [t, t+h] in w->dw. 0, or the callback's code. */
static int step(step_ctx *c, double t, double h, double *out, int commit)
{
    const sde_problem *p = c->p;
    sde_ws *w = c->w;
    const size_t d = p->dim;
    const double *dw = w->dw;
    int rc;
    switch (c->me->kernel) {
    case SDE_KERNEL_EULER:
        if ((rc = p->drift(p->ctx, t, w->y, w->f)) || (rc = p->diffusion(p->ctx, t, w->y, w->g)))
            return rc;
        c->nfe++;
        for (size_t i = 0; i < d; i++)
            w->yt[i] = w->y[i] + h * w->f[i];
        gdw_add(p, w->g, dw, 1.0, w->yt);
        break;
    case SDE_KERNEL_MILSTEIN: {
        if ((rc = p->drift(p->ctx, t, w->y, w->f))) return rc;
        c->nfe++;
        if (p->noise == SDE_NOISE_ADDITIVE) {
            if ((rc = p->diffusion(p->ctx, t, w->y, w->g))) return rc;
            memset(w->q, 0, d * sizeof *w->q);
        } else if ((rc = p->diffusion_d(p->ctx, t, w->y, w->g, w->q))) {
            return rc;
        }
        const double ito = p->calculus == SDE_ITO ? h : 0.0;
        for (size_t i = 0; i < d; i++) {
            double dwi = p->noise == SDE_NOISE_SCALAR ? dw[0] : dw[i];
            w->yt[i] = w->y[i] + h * w->f[i] + 0.5 * w->q[i] * (dwi * dwi - ito);
        }
        gdw_add(p, w->g, dw, 1.0, w->yt);
        break;
    }
    case SDE_KERNEL_HEUN:
        if ((rc = p->drift(p->ctx, t, w->y, w->f)) || (rc = p->diffusion(p->ctx, t, w->y, w->g)))
            return rc;
        c->nfe++;
        memcpy(w->q, w->y, d * sizeof *w->q); /* y' = y + g dW */
        gdw_add(p, w->g, dw, 1.0, w->q);
        if ((rc = p->diffusion(p->ctx, t + h, w->q, w->g2))) return rc;
        for (size_t i = 0; i < d; i++)
            w->yt[i] = w->y[i] + h * w->f[i];
        gdw_add(p, w->g, dw, 0.5, w->yt);
        gdw_add(p, w->g2, dw, 0.5, w->yt);
        break;
    case SDE_KERNEL_REVERSIBLE: {
        /* z' = 2y - z + f(z) h + g(z) dW; y' = y + (f(z) + f(z')) h/2 +
         * (g(z) + g(z')) dW / 2 (Kidger et al. 2021, Algorithm 1) */
        double *zn = w->q;
        for (size_t i = 0; i < d; i++)
            zn[i] = 2 * w->y[i] - w->z[i] + h * w->fz[i];
        gdw_add(p, w->gz, dw, 1.0, zn);
        if ((rc = p->drift(p->ctx, t + h, zn, w->f)) || (rc = p->diffusion(p->ctx, t + h, zn, w->g)))
            return rc;
        c->nfe++;
        for (size_t i = 0; i < d; i++)
            w->yt[i] = w->y[i] + 0.5 * h * (w->fz[i] + w->f[i]);
        gdw_add(p, w->gz, dw, 0.5, w->yt);
        gdw_add(p, w->g, dw, 0.5, w->yt);
        if (commit) {
            memcpy(w->z, zn, d * sizeof *zn);
            memcpy(w->fz, w->f, d * sizeof *w->f);
            memcpy(w->gz, w->g, (p->noise == SDE_NOISE_GENERAL ? d * p->m : d) * sizeof *w->g);
        }
        break;
    }
    case SDE_KERNEL_SRA: {
        const struct sde_sra_tableau *tb = c->me->sra;
        sra_i10(c->seed, c->sample, t, h, dw, p->m, w->i10);
        memcpy(w->yt, w->y, d * sizeof *w->yt);
        for (int s = 0; s < tb->stages; s++) {
            memcpy(w->hs, w->y, d * sizeof *w->hs);
            for (int j = 0; j < s; j++) {
                for (size_t i = 0; i < d; i++)
                    w->hs[i] += tb->A0[s][j] * h * w->sf[j * d + i];
                if (tb->B0[s][j] != 0) {
                    if ((rc = p->diffusion(p->ctx, t + tb->c1[j] * h, w->y, w->g))) return rc;
                    gdw_add(p, w->g, w->i10, tb->B0[s][j], w->hs);
                }
            }
            if ((rc = p->drift(p->ctx, t + tb->c0[s] * h, w->hs, w->sf + s * d))) return rc;
            c->nfe++;
            for (size_t i = 0; i < d; i++)
                w->yt[i] += tb->alpha[s] * h * w->sf[s * d + i];
            if ((rc = p->diffusion(p->ctx, t + tb->c1[s] * h, w->y, w->g))) return rc;
            gdw_add(p, w->g, dw, tb->beta1[s], w->yt);
            gdw_add(p, w->g, w->i10, tb->beta2[s], w->yt);
        }
        break;
    }
    }
    memcpy(out, w->yt, d * sizeof *out);
    return 0;
}

static int all_finite(const double *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i])) return 0;
    return 1;
}

/* Output times this close to a grid point are that grid point: the
 * rounding of t0 + k h and of the caller's own arithmetic (0.1 * 3 is not
 * 30 * 0.01), never a step (at most 2^-20 h). */
static double grid_tol(double t0, double tn, double h)
{
    return fmin(16 * DBL_EPSILON * (fabs(t0) + fabs(tn)), 0x1p-20 * h);
}

/* How often the abort hook is polled, in steps. */
#define SDE_POLL_STEPS 32

err_code sde_solve(const sde_problem *p, const struct sde_method *me, double h, uint64_t seed,
                   uint32_t sample, double t0, const double *y0, const double *t, size_t n_t,
                   const size_t *order, double *y_out, sde_ws *w, ode_abort_fn abort,
                   void *abort_ctx, struct sde_stats *st, err *e)
{
    const size_t d = p->dim, m = p->m;
    step_ctx c = {p, me, w, seed, sample, 0};
    long k = 0, steps = 0;
    int rc = 0;
    double tk = t0;
    if (st) st->t_fail = NAN;
    const double tmax = ldexp(1.0, BROWNIAN_MAX_EXP);
    if (!(h > 0) || !isfinite(h)) return err_set(e, ERR_INVALID, "solver.step", "must be > 0");
    for (size_t i = 0; i < n_t; i++)
        if (!(t[i] >= t0) || !(t[i] - t0 <= tmax)) {
            char f[32];
            snprintf(f, sizeof f, "t[%zu]", i);
            return err_set(e, ERR_INVALID, f, "must be in [t0, t0 + %g] (t0 = %.17g)", tmax, t0);
        }
    brownian_cursor_reset(w->bm, seed, sample);
    brownian_cursor_grid(w->bm, h);
    memcpy(w->y, y0, d * sizeof *w->y);
    memset(w->wa, 0, m * sizeof *w->wa);
    if (me->kernel == SDE_KERNEL_REVERSIBLE) {
        memcpy(w->z, y0, d * sizeof *w->z);
        if ((rc = p->drift(p->ctx, t0, w->z, w->fz)) || (rc = p->diffusion(p->ctx, t0, w->z, w->gz)))
            goto cb_fail;
        c.nfe++;
    }
    for (size_t oi = 0; oi < n_t; oi++) {
        size_t i = order ? order[oi] : oi;
        double tau = t[i];
        for (;;) { /* grid steps while the next grid point is <= tau */
            const double un = (double)(k + 1) * h, tn = t0 + un;
            if (tn > tau && tn - tau > grid_tol(t0, tn, h)) break;
            if (abort && steps % SDE_POLL_STEPS == 0 && (rc = abort(abort_ctx)) != 0) {
                if (st) st->t_fail = tk;
                err_set(e, (err_code)rc, NULL, "stopped at t=%.17g", tk);
                goto out;
            }
            brownian_cursor_w(w->bm, un, w->wb);
            for (size_t j = 0; j < m; j++)
                w->dw[j] = w->wb[j] - w->wa[j];
            if ((rc = step(&c, tk, tn - tk, w->y, 1))) goto cb_fail;
            steps++;
            k++;
            tk = tn;
            memcpy(w->wa, w->wb, m * sizeof *w->wa);
            if (!all_finite(w->y, d)) goto blown;
        }
        double *yo = y_out + i * d;
        if (fabs(tau - tk) <= grid_tol(t0, tk, h)) {
            memcpy(yo, w->y, d * sizeof *yo);
            continue;
        }
        brownian_cursor_w(w->bm, tau - t0, w->wb);
        for (size_t j = 0; j < m; j++)
            w->dw[j] = w->wb[j] - w->wa[j];
        if ((rc = step(&c, tk, tau - tk, yo, 0))) goto cb_fail;
        steps++;
        if (!all_finite(yo, d)) {
            tk = tau;
            goto blown;
        }
    }
    rc = 0;
    goto out;
blown:
    if (st) st->t_fail = tk;
    err_set(e, ERR_SOLVER, NULL, "the state is not finite at t=%.17g", tk);
    rc = ERR_SOLVER;
    goto out;
cb_fail:
    if (st) st->t_fail = tk;
    err_set(e, rc > 0 && rc < ERR__COUNT ? (err_code)rc : ERR_SOLVER, NULL,
            "the model could not be evaluated at t=%.17g", tk);
out:
    if (st) {
        st->steps += steps;
        st->nfe += c.nfe;
    }
    return rc ? (e && e->code ? e->code : (err_code)rc) : ERR_OK;
}

bool sde_block_fits(const struct sde_method *me, sde_noise noise)
{
    return (noise == SDE_NOISE_DIAGONAL || noise == SDE_NOISE_ADDITIVE) &&
           (me->kernel == SDE_KERNEL_EULER || me->kernel == SDE_KERNEL_HEUN ||
            me->kernel == SDE_KERNEL_REVERSIBLE);
}

/* sde_solve's loop over K samples at once: the state is the K states one
 * after the other, the increment the K paths' increments, and every step
 * acts element by element (sde_block_fits), so each sample sees sde_solve's
 * operations in its order. Anything but a clean finish returns non-zero
 * without an error record; the caller then solves the samples one by one,
 * which answers the same and says what went wrong. */
err_code sde_solve_block(const sde_problem *p, const struct sde_method *me, double h,
                         uint64_t seed, uint32_t sample0, double t0, const double *y0,
                         const double *t, size_t n_t, const size_t *order, double *y_out,
                         size_t out_stride, sde_ws *w, ode_abort_fn abort, void *abort_ctx,
                         struct sde_stats *st)
{
    const size_t K = w->nk, mk = w->mk, d = p->dim / (K ? K : 1), m = p->m;
    if (K == 0 || p->dim != K * d || m != K * mk || w->dim != p->dim || w->m != m ||
        !sde_block_fits(me, p->noise) || !(h > 0) || !isfinite(h))
        return ERR_INVALID;
    const double tmax = ldexp(1.0, BROWNIAN_MAX_EXP);
    for (size_t i = 0; i < n_t; i++)
        if (!(t[i] >= t0) || !(t[i] - t0 <= tmax)) return ERR_INVALID;
    step_ctx c = {p, me, w, seed, sample0, 0};
    long k = 0, steps = 0;
    double tk = t0;
    for (size_t s = 0; s < K; s++) {
        brownian_cursor_reset(w->bk[s], seed, sample0 + (uint32_t)s);
        brownian_cursor_grid(w->bk[s], h);
        memcpy(w->y + s * d, y0, d * sizeof *w->y);
    }
    memset(w->wa, 0, m * sizeof *w->wa);
    if (me->kernel == SDE_KERNEL_REVERSIBLE) {
        memcpy(w->z, w->y, p->dim * sizeof *w->z);
        if (p->drift(p->ctx, t0, w->z, w->fz) || p->diffusion(p->ctx, t0, w->z, w->gz))
            return ERR_SOLVER;
        c.nfe++;
    }
    for (size_t oi = 0; oi < n_t; oi++) {
        size_t i = order ? order[oi] : oi;
        double tau = t[i];
        for (;;) {
            const double un = (double)(k + 1) * h, tn = t0 + un;
            if (tn > tau && tn - tau > grid_tol(t0, tn, h)) break;
            if (abort && steps % SDE_POLL_STEPS == 0 && abort(abort_ctx) != 0) return ERR_SOLVER;
            for (size_t s = 0; s < K; s++)
                brownian_cursor_w(w->bk[s], un, w->wb + s * mk);
            for (size_t j = 0; j < m; j++)
                w->dw[j] = w->wb[j] - w->wa[j];
            if (step(&c, tk, tn - tk, w->y, 1)) return ERR_SOLVER;
            steps++;
            k++;
            tk = tn;
            memcpy(w->wa, w->wb, m * sizeof *w->wa);
            if (!all_finite(w->y, p->dim)) return ERR_SOLVER;
        }
        const double *src = w->y;
        if (fabs(tau - tk) > grid_tol(t0, tk, h)) {
            for (size_t s = 0; s < K; s++)
                brownian_cursor_w(w->bk[s], tau - t0, w->wb + s * mk);
            for (size_t j = 0; j < m; j++)
                w->dw[j] = w->wb[j] - w->wa[j];
            if (step(&c, tk, tau - tk, w->yo, 0)) return ERR_SOLVER;
            steps++;
            if (!all_finite(w->yo, p->dim)) return ERR_SOLVER;
            src = w->yo;
        }
        for (size_t s = 0; s < K; s++)
            memcpy(y_out + s * out_stride + i * d, src + s * d, d * sizeof *y_out);
    }
    if (st) {
        st->t_fail = NAN;
        st->steps += steps * (long)K;
        st->nfe += c.nfe * (long)K;
    }
    return ERR_OK;
}
