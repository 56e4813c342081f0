/* num/gauss.c: the implicit symplectic steps (gauss.h). */
#include "num/gauss.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (OpenBLAS exports the Fortran symbols). */
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);
void dgetrs_(const char *trans, const int *n, const int *nrhs, const double *a, const int *lda,
             const int *ipiv, double *b, const int *ldb, int *info);

#define GAUSS_MAX_STAGES 2
#define SQRT3 1.7320508075688772935

/* Collocation tables: A, b, c (Hairer, Norsett and Wanner I, Table II.7.3
 * for Gauss s = 2; the implicit midpoint rule is Gauss s = 1). A method
 * keeps quadratic invariants exactly when b_i a_ij + b_j a_ji = b_i b_j
 * (Cooper 1987); with rounded coefficients that holds only if it holds for
 * the doubles themselves, else the energy of an oscillator drifts by about
 * an ulp per step. So a12 is rounded to a multiple of 2^-53 (off the exact
 * 1/4 - sqrt(3)/6 by 2e-18, far below what the order could see) and a21 =
 * 1/2 - a12 is then exact; a11 = a22 = 1/4 and b = 1/2 are exact. */
struct gauss_table {
    int s;
    double a[GAUSS_MAX_STAGES][GAUSS_MAX_STAGES];
    double b[GAUSS_MAX_STAGES];
    double c[GAUSS_MAX_STAGES];
};

static const struct gauss_table gauss_midpoint = {.s = 1, .a = {{0.5}}, .b = {1.0}, .c = {0.5}};

static const struct gauss_table gauss_two = {
    .s = 2,
    .a = {{0.25, -0x1.3cd3a2c8198e0p-5}, {0x1.13cd3a2c8198ep-1, 0.25}},
    .b = {0.5, 0.5},
    .c = {0.5 - SQRT3 / 6, 0.5 + SQRT3 / 6},
};

struct gauss_ws {
    const struct gauss_table *tab;
    size_t groups, n2, m; /* systems, 2n, s * 2n (one system's Newton unknowns) */
    double *J;            /* groups blocks of n2 x n2 */
    double *lu;           /* groups blocks of m x m */
    int *ipiv;            /* groups x m */
    double *z, *f;        /* s x groups x n2: stage increments Z_i and f(Y_i) */
    double *y;            /* groups x n2: a stage value */
    double *r;            /* m: one system's Newton right-hand side */
};

gauss_ws *gauss_ws_new(const struct symp_method *m, size_t groups, size_t n)
{
    gauss_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->tab = m->kind == SYMP_GAUSS ? &gauss_two : &gauss_midpoint;
    w->groups = groups;
    w->n2 = 2 * n;
    w->m = (size_t)w->tab->s * w->n2;
    size_t s = (size_t)w->tab->s, dim = groups * w->n2;
    w->J = malloc(groups * w->n2 * w->n2 * sizeof *w->J);
    w->lu = malloc(groups * w->m * w->m * sizeof *w->lu);
    w->ipiv = malloc(groups * w->m * sizeof *w->ipiv);
    w->z = malloc(s * dim * sizeof *w->z);
    w->f = malloc(s * dim * sizeof *w->f);
    w->y = malloc(dim * sizeof *w->y);
    w->r = malloc(w->m * sizeof *w->r);
    if (!w->J || !w->lu || !w->ipiv || !w->z || !w->f || !w->y || !w->r) goto fail;
    return w;
fail:
    gauss_ws_free(w);
    return NULL;
}

void gauss_ws_free(gauss_ws *w)
{
    if (!w) return;
    free(w->J);
    free(w->lu);
    free(w->ipiv);
    free(w->z);
    free(w->f);
    free(w->y);
    free(w->r);
    free(w);
}

static err_code fail(err *e, struct ode_stats *st, double t, const char *what)
{
    if (st) st->t_fail = t;
    if (e && e->code) return e->code; /* the callback's own error wins */
    return err_set(e, ERR_SOLVER, NULL, "%s at t=%.17g", what, t);
}

/* I - h A (x) J_g for each system, factored. 0, or -1 when one is singular. */
static int factor(gauss_ws *w, double h)
{
    const struct gauss_table *tb = w->tab;
    const size_t n2 = w->n2, m = w->m;
    const int mi = (int)m;
    for (size_t g = 0; g < w->groups; g++) {
        const double *J = w->J + g * n2 * n2;
        double *lu = w->lu + g * m * m;
        for (int i = 0; i < tb->s; i++)
            for (int j = 0; j < tb->s; j++) {
                double ha = h * tb->a[i][j];
                for (size_t a = 0; a < n2; a++) {
                    double *row = lu + ((size_t)i * n2 + a) * m + (size_t)j * n2;
                    for (size_t b = 0; b < n2; b++)
                        row[b] = (i == j && a == b ? 1.0 : 0.0) - ha * J[a * n2 + b];
                }
            }
        int info = 0;
        /* row-major M is column-major M^T: factor that, solve with 'T' */
        dgetrf_(&mi, &mi, lu, &mi, w->ipiv + g * m, &info);
        if (info != 0) return -1;
    }
    return 0;
}

/* One Newton update of every system's Z; returns its norm
 * max |dZ| / (1 + |y0|) (NAN or inf when something is not finite), except
 * that a component's round-off floor is its stage value: an update within
 * `ulps` ulps (eps) of |y0 + Z| counts as that many, however small y0 is.
 * Without it a component that starts at 0 and reaches 3e5 within a step
 * (the momentum of an oscillator from q = 1e6, p = 0) jittered by its
 * round-off, ~1e-10 against the tolerance 1e-12 over 1 + |0|, and gauss4
 * failed "Newton iteration did not converge" on a linear system. */
static double update(gauss_ws *w, double h, const double *y0, double ulps)
{
    const struct gauss_table *tb = w->tab;
    const size_t n2 = w->n2, m = w->m, dim = w->groups * n2;
    const int mi = (int)m, one = 1;
    double norm = 0;
    for (size_t g = 0; g < w->groups; g++) {
        for (int i = 0; i < tb->s; i++)
            for (size_t a = 0; a < n2; a++) {
                size_t k = g * n2 + a;
                double acc = -w->z[(size_t)i * dim + k];
                for (int j = 0; j < tb->s; j++)
                    acc += h * tb->a[i][j] * w->f[(size_t)j * dim + k];
                w->r[(size_t)i * n2 + a] = acc;
            }
        int info = 0;
        dgetrs_("T", &mi, &one, w->lu + g * m * m, &mi, w->ipiv + g * m, w->r, &mi, &info);
        for (int i = 0; i < tb->s; i++)
            for (size_t a = 0; a < n2; a++) {
                size_t k = g * n2 + a;
                double dz = w->r[(size_t)i * n2 + a];
                const double zk = w->z[(size_t)i * dim + k] += dz;
                double sc = fabs(dz) / (1 + fabs(y0[k]));
                /* only where the stage value dwarfs 1 + |y0|: else the same bits */
                const double floor = ulps * DBL_EPSILON * fabs(y0[k] + zk);
                if (sc > ulps * DBL_EPSILON && fabs(dz) <= floor) sc = ulps * DBL_EPSILON;
                if (!(sc <= norm)) norm = sc; /* NAN propagates */
            }
    }
    return norm;
}

err_code gauss_step(gauss_ws *w, const struct symp_problem *p, const struct symp_options *o,
                    double t, double h, const double *y0, double *y1, struct ode_stats *st,
                    err *e)
{
    const struct gauss_table *tb = w->tab;
    const size_t dim = w->groups * w->n2, nn = w->groups * w->n2 * w->n2;
    /* Updates of a few ulps are round-off: Newton cannot do better. */
    const double tol = fmax(o->newton_tol, 4 * DBL_EPSILON);

    if (st) st->n_jac++;
    if (p->jac(t, y0, w->J, NULL, p->ctx) != 0) return fail(e, st, t, "the Jacobian failed");
    for (size_t i = 0; i < nn; i++)
        if (!isfinite(w->J[i])) return fail(e, st, t, "the Jacobian is not finite");
    if (factor(w, h) != 0) return fail(e, st, t, "the Newton matrix is singular");
    if (st) st->n_lu++;

    memset(w->z, 0, (size_t)tb->s * dim * sizeof *w->z);
    double prev = INFINITY;
    for (int it = 1;; it++) {
        for (int j = 0; j < tb->s; j++) {
            if (it == 1 && j > 0 && p->autonomous) { /* Z = 0: every stage is f(y0) */
                memcpy(w->f + (size_t)j * dim, w->f, dim * sizeof *w->f);
                continue;
            }
            const double *zj = w->z + (size_t)j * dim;
            for (size_t k = 0; k < dim; k++)
                w->y[k] = y0[k] + zj[k];
            if (st) st->nfe++;
            if (p->f(t + tb->c[j] * h, w->y, w->f + (size_t)j * dim, p->ctx) != 0)
                return fail(e, st, t, "the vector field failed");
        }
        double norm = update(w, h, y0, 4);
        if (st) st->n_newton++;
        if (!isfinite(norm))
            return fail(e, st, t, "Newton iteration did not converge (not finite)");
        if (norm <= tol) break;
        /* doubling updates well above round-off: diverging, more
         * iterations will not help (near round-off they may jitter) */
        if (it >= o->max_newton || (norm > 2 * prev && norm > 1e3 * tol))
            return fail(e, st, t, "Newton iteration did not converge");
        prev = norm;
    }
    for (size_t k = 0; k < dim; k++) {
        double acc = 0;
        for (int i = 0; i < tb->s; i++)
            acc += tb->b[i] * w->f[(size_t)i * dim + k];
        y1[k] = y0[k] + h * acc;
    }
    return ERR_OK;
}
