/* model/interp.c: see interp.h; formulas in docs/cde.md.
 *
 * DESIGN. Every scheme ends as one representation: knots s_0 < ... < s_m-1
 * and, per segment and channel, the four coefficients of a cubic in
 * f = s - s_k (torchcde stores a, b, 2c, 3d; we store a, b, c, d). The
 * builders work one channel at a time on a column copy, because missing
 * values differ per channel (torchcde unbinds the channels for the same
 * reason). Evaluation is a binary search and a Horner step per channel. */
#include "model/interp.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct interp {
    model_interp scheme;
    size_t n;     /* observations */
    size_t c;     /* channels */
    size_t m;     /* knots in s */
    size_t nseg;  /* segments: max(m - 1, 1) */
    double *t;    /* n observation times */
    double *s;    /* m knots */
    double *coef; /* nseg x c x 4: a, b, c, d */
};

/* ---- one channel ----------------------------------------------------------- */

/* Copy channel j of x (n x c) into v; count its observed values and find the
 * first and last. */
static size_t column(const double *x, size_t n, size_t c, size_t j, double *v, size_t *first,
                     size_t *last)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = x[i * c + j];
        if (isnan(v[i])) continue;
        if (cnt++ == 0) *first = i;
        *last = i;
    }
    return cnt;
}

/* torchcde's imputation at the ends: a value equal to the first (last)
 * observation at the first (last) knot. */
static void impute_ends(double *v, size_t n, size_t first, size_t last)
{
    if (isnan(v[0])) v[0] = v[first];
    if (isnan(v[n - 1])) v[n - 1] = v[last];
}

/* Fill every gap of v over times tt by linear interpolation between its
 * neighbouring observations (ends imputed first). */
static void fill_linear(const double *tt, double *v, size_t n, size_t first, size_t last)
{
    impute_ends(v, n, first, last);
    size_t prev = 0;
    for (size_t i = 1; i < n; i++) {
        if (isnan(v[i])) continue;
        for (size_t g = prev + 1; g < i; g++) { /* the gap (prev, i) */
            double ratio = (tt[g] - tt[prev]) / (tt[i] - tt[prev]);
            v[g] = v[prev] + ratio * (v[i] - v[prev]);
        }
        prev = i;
    }
}

static double *seg_coef(interp *p, size_t k, size_t j)
{
    return p->coef + (k * p->c + j) * 4;
}

/* Linear pieces of a filled column over the knots p->s. */
static void build_linear(interp *p, size_t j, const double *v)
{
    for (size_t k = 0; k + 1 < p->m; k++) {
        double *cf = seg_coef(p, k, j);
        cf[0] = v[k];
        cf[1] = (v[k + 1] - v[k]) / (p->s[k + 1] - p->s[k]);
        cf[2] = cf[3] = 0;
    }
}

/* Cubic Hermite with backward differences over the knots p->s. */
static void build_hermite(interp *p, size_t j, const double *v)
{
    double d_prev = 0;
    for (size_t k = 0; k + 1 < p->m; k++) {
        double h = p->s[k + 1] - p->s[k];
        double d = (v[k + 1] - v[k]) / h; /* chord slope d_k */
        if (k == 0) d_prev = d;           /* d_-1 = d_0 */
        double *cf = seg_coef(p, k, j);
        cf[0] = v[k];
        cf[1] = d_prev;
        cf[2] = 2 * (d - d_prev) / h;
        cf[3] = -(d - d_prev) / (h * h);
        d_prev = d;
    }
}

/* Knot slopes K (p values) of the natural cubic spline through (T, V):
 * the tridiagonal system of docs/cde.md, by the Thomas algorithm (the
 * matrix is symmetric and strictly diagonally dominant). w: 2p scratch. */
static void natural_slopes(const double *T, const double *V, size_t p, double *K, double *w)
{
    double *diag = w, *rhs = w + p;
    for (size_t i = 0; i < p; i++)
        diag[i] = rhs[i] = 0;
    for (size_t i = 0; i + 1 < p; i++) {
        double r = 1 / (T[i + 1] - T[i]), dd = (V[i + 1] - V[i]) * r;
        diag[i] += 2 * r;
        diag[i + 1] += 2 * r;
        rhs[i] += 3 * dd * r;
        rhs[i + 1] += 3 * dd * r;
    }
    for (size_t i = 1; i < p; i++) { /* eliminate the sub-diagonal r_(i-1) */
        double r = 1 / (T[i] - T[i - 1]), wgt = r / diag[i - 1];
        diag[i] -= wgt * r;
        rhs[i] -= wgt * rhs[i - 1];
    }
    K[p - 1] = rhs[p - 1] / diag[p - 1];
    for (size_t i = p - 1; i-- > 0;)
        K[i] = (rhs[i] - K[i + 1] / (T[i + 1] - T[i])) / diag[i];
}

/* Natural cubic spline over the channel's own observed knots (ends imputed),
 * re-centred onto every segment of p->s. w: 5n scratch. */
static void build_natural(interp *p, size_t j, double *v, size_t first, size_t last, double *w)
{
    const size_t n = p->m;
    double *T = w, *V = w + n, *K = w + 2 * n, *scratch = w + 3 * n;
    impute_ends(v, n, first, last);
    size_t q = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) {
            T[q] = p->s[i];
            V[q++] = v[i];
        }
    natural_slopes(T, V, q, K, scratch);
    size_t piece = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        while (piece + 2 < q && T[piece + 1] <= p->s[k])
            piece++;
        double h = T[piece + 1] - T[piece], dd = (V[piece + 1] - V[piece]) / h;
        double A = V[piece], B = K[piece];
        double C = (3 * dd - 2 * K[piece] - K[piece + 1]) / h;
        double D = (K[piece] + K[piece + 1] - 2 * dd) / (h * h);
        double dl = p->s[k] - T[piece]; /* >= 0: re-centre from T[piece] to s_k */
        double *cf = seg_coef(p, k, j);
        cf[0] = A + dl * (B + dl * (C + dl * D));
        cf[1] = B + dl * (2 * C + 3 * D * dl);
        cf[2] = C + 3 * D * dl;
        cf[3] = D;
    }
}

/* ---- rectilinear ----------------------------------------------------------- */

/* Channel j of the doubled path (2n-1 values over s = 0..2n-2): torchcde's
 * forward fill, repeat_interleave(2) and lag of the time channel. */
static void rectilinear_column(const double *x, size_t n, size_t c, size_t j, size_t tc, double *v)
{
    double held = NAN;
    for (size_t k = 0; k < n; k++) {
        double xk = x[k * c + j];
        if (!isnan(xk)) held = xk; /* forward fill; leading NaN stays NaN */
        v[2 * k] = held;
        if (k + 1 < n) v[2 * k + 1] = j == tc ? x[(k + 1) * c + j] : held;
    }
}

/* ---- construction ---------------------------------------------------------- */

static err_code check_inputs(model_interp scheme, const double *t, size_t n, const double *x,
                             size_t c, size_t tc, err *e)
{
    if ((int)scheme < 0 || scheme >= MODEL_INTERP__COUNT)
        return err_set(e, ERR_INVALID, "scheme", "unknown interpolation scheme");
    if (n == 0 || c == 0)
        return err_set(e, ERR_INVALID, "t", "needs at least one time and channel");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(t[i]) || (i > 0 && !(t[i] > t[i - 1]))) {
            char f[48];
            snprintf(f, sizeof f, "t[%zu]", i);
            if (!isfinite(t[i])) return err_set(e, ERR_INVALID, f, "is not a finite number");
            return err_set(e, ERR_INVALID, f, "is not after t[%zu] (times must increase)", i - 1);
        }
    for (size_t i = 0; i < n * c; i++)
        if (isinf(x[i])) {
            char f[64];
            snprintf(f, sizeof f, "x[%zu][%zu]", i / c, i % c);
            return err_set(e, ERR_INVALID, f, "is not a finite number");
        }
    if (scheme == MODEL_INTERP_RECTILINEAR) {
        if (tc >= c) return err_set(e, ERR_INVALID, "time_channel", "rectilinear needs one");
        for (size_t i = 0; i < n; i++)
            if (isnan(x[i * c + tc]))
                return err_set(e, ERR_INVALID, "time_channel", "has a missing value at %zu", i);
    }
    return ERR_OK;
}

static err_code alloc_interp(interp **out, model_interp scheme, const double *t, size_t n, size_t c,
                             err *e)
{
    interp *p = calloc(1, sizeof *p);
    if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory for an interpolation");
    p->scheme = scheme;
    p->n = n;
    p->c = c;
    p->m = scheme == MODEL_INTERP_RECTILINEAR ? 2 * n - 1 : n;
    p->nseg = p->m > 1 ? p->m - 1 : 1;
    p->t = malloc(n * sizeof *p->t);
    p->s = malloc(p->m * sizeof *p->s);
    p->coef = calloc(p->nseg * c * 4, sizeof *p->coef);
    if (!p->t || !p->s || !p->coef) {
        interp_free(p);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for an interpolation");
    }
    memcpy(p->t, t, n * sizeof *t);
    for (size_t i = 0; i < p->m; i++)
        p->s[i] = scheme == MODEL_INTERP_RECTILINEAR ? (double)i : t[i];
    *out = p;
    return ERR_OK;
}

/* One channel: column, fill, coefficients. w: 6m scratch. */
static err_code build_channel(interp *p, const double *x, size_t j, size_t tc, double *w, err *e)
{
    const size_t m = p->m;
    double *v = w;
    size_t first = 0, last = 0, cnt;
    if (p->scheme == MODEL_INTERP_RECTILINEAR) {
        rectilinear_column(x, p->n, p->c, j, tc, v);
        cnt = 0;
        for (size_t i = 0; i < m; i++)
            if (!isnan(v[i]) && cnt++ == 0) first = i;
        last = m - 1;
    } else {
        cnt = column(x, p->n, p->c, j, v, &first, &last);
    }
    if (cnt == 0) {
        char f[48];
        snprintf(f, sizeof f, "x[*][%zu]", j);
        return err_set(e, ERR_INVALID, f, "channel %zu has no observed value", j);
    }
    if (m == 1) {
        seg_coef(p, 0, j)[0] = v[0];
        return ERR_OK;
    }
    switch (p->scheme) {
    case MODEL_INTERP_NATURAL_CUBIC:
        build_natural(p, j, v, first, last, w + m);
        break;
    case MODEL_INTERP_HERMITE_BDIFF:
        fill_linear(p->s, v, m, first, last);
        build_hermite(p, j, v);
        break;
    default: /* linear, rectilinear */
        fill_linear(p->s, v, m, first, last);
        build_linear(p, j, v);
        break;
    }
    return ERR_OK;
}

err_code interp_new(interp **out, model_interp scheme, const double *t, size_t n, const double *x,
                    size_t c, size_t time_channel, err *e)
{
    *out = NULL;
    interp *p = NULL;
    double *w = NULL;
    err_code rc = check_inputs(scheme, t, n, x, c, time_channel, e);
    if (rc || (rc = alloc_interp(&p, scheme, t, n, c, e))) return rc;
    if (!(w = malloc(6 * p->m * sizeof *w))) {
        rc = err_set(e, ERR_NOMEM, NULL, "out of memory for an interpolation");
        goto fail;
    }
    for (size_t j = 0; j < c; j++)
        if ((rc = build_channel(p, x, j, time_channel, w, e))) goto fail;
    free(w);
    *out = p;
    return ERR_OK;
fail:
    free(w);
    interp_free(p);
    return rc;
}

void interp_free(interp *p)
{
    if (!p) return;
    free(p->t);
    free(p->s);
    free(p->coef);
    free(p);
}

/* ---- queries --------------------------------------------------------------- */

model_interp interp_scheme(const interp *p)
{
    return p->scheme;
}

size_t interp_channels(const interp *p)
{
    return p->c;
}

size_t interp_n_obs(const interp *p)
{
    return p->n;
}

size_t interp_n_knots(const interp *p)
{
    return p->m;
}

const double *interp_knots(const interp *p)
{
    return p->s;
}

size_t interp_n_jumps(const interp *p)
{
    bool kinks = p->scheme == MODEL_INTERP_LINEAR || p->scheme == MODEL_INTERP_RECTILINEAR;
    return kinks && p->m > 2 ? p->m - 2 : 0;
}

const double *interp_jumps(const interp *p)
{
    return interp_n_jumps(p) ? p->s + 1 : NULL;
}

size_t interp_n_stops(const interp *p)
{
    return interp_n_jumps(p);
}

const double *interp_stops(const interp *p)
{
    return interp_n_stops(p) ? p->s + 1 : NULL;
}

size_t interp_n_smooth_stops(const interp *p)
{
    const bool c1 =
        p->scheme == MODEL_INTERP_NATURAL_CUBIC || p->scheme == MODEL_INTERP_HERMITE_BDIFF;
    return c1 && p->m > 2 ? p->m - 2 : 0;
}

const double *interp_smooth_stops(const interp *p)
{
    return interp_n_smooth_stops(p) ? p->s + 1 : NULL;
}

/* Number of knots of v (len values) that are < x (torchcde's bucketize). */
static size_t count_below(const double *v, size_t len, double x)
{
    size_t lo = 0, hi = len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t interp_segment(const interp *p, double s)
{
    size_t k = count_below(p->s, p->m, s);
    k = k > 0 ? k - 1 : 0;
    return k < p->nseg ? k : p->nseg - 1;
}

double interp_param(const interp *p, double t)
{
    if (p->scheme != MODEL_INTERP_RECTILINEAR) return t;
    if (p->n == 1) return 0;
    size_t k = count_below(p->t, p->n, t); /* t_(k-1) < t <= t_k */
    if (k < p->n && p->t[k] == t) return 2.0 * (double)k;
    k = k > 0 ? k - 1 : 0;
    if (k > p->n - 2) k = p->n - 2;
    return 2.0 * (double)k + (t - p->t[k]) / (p->t[k + 1] - p->t[k]);
}

double interp_time(const interp *p, double s)
{
    if (p->scheme != MODEL_INTERP_RECTILINEAR) return s;
    if (p->n == 1) return p->t[0];
    double k = floor(0.5 * s);
    if (k < 0) k = 0;
    if (k > (double)(p->n - 2)) k = (double)(p->n - 2);
    const size_t i = (size_t)k;
    const double f = s - 2.0 * k; /* exact: s and 2k are within a factor of two */
    if (f >= 1) return p->t[i + 1];
    const double t = p->t[i] + f * (p->t[i + 1] - p->t[i]);
    return t < p->t[i + 1] ? t : p->t[i + 1];
}

void interp_eval(const interp *p, double s, double *x, double *dx, double *d2x)
{
    size_t k = interp_segment(p, s);
    double f = s - p->s[k];
    const double *cf = p->coef + k * p->c * 4;
    for (size_t j = 0; j < p->c; j++, cf += 4) {
        if (x) x[j] = cf[0] + f * (cf[1] + f * (cf[2] + f * cf[3]));
        if (dx) dx[j] = cf[1] + f * (2 * cf[2] + 3 * cf[3] * f);
        if (d2x) d2x[j] = 2 * cf[2] + 6 * cf[3] * f;
    }
}

/* Does segment k hold s under interp_segment's convention? */
static bool holds(const interp *p, size_t k, double s)
{
    return k < p->nseg && (k == 0 || s > p->s[k]) && (k + 1 == p->nseg || s <= p->s[k + 1]);
}

void interp_deriv(const interp *p, double s, size_t *hint, double *dx)
{
    size_t k = hint && holds(p, *hint, s) ? *hint : interp_segment(p, s);
    if (hint) *hint = k;
    double f = s - p->s[k];
    const double *cf = p->coef + k * p->c * 4;
    for (size_t j = 0; j < p->c; j++, cf += 4)
        dx[j] = cf[1] + f * (2 * cf[2] + 3 * cf[3] * f);
}

void interp_coeffs(const interp *p, size_t k, size_t j, double cf[4])
{
    memcpy(cf, p->coef + (k * p->c + j) * 4, 4 * sizeof *cf);
}
