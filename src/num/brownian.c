/* num/brownian.c: see brownian.h.
 *
 * DESIGN. Every normal is named by what it is for (a chain point, a
 * midpoint, a leaf query), never by when it was drawn, so the order of the
 * queries cannot change a value: that is what makes a subset of times, a
 * subset of samples, or any thread count give the same numbers. The cursor
 * only saves the descent it already did. */
#include "num/brownian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The kind of node a normal belongs to, in the top byte of counter word 2
 * (the component pair in the low 24 bits). */
/* 4 is num/sde.c's (SRA's Levy area). */
enum { TAG_CHAIN = 1, TAG_MID = 2, TAG_LEAF = 3, TAG_GRID = 5, TAG_SUB = 6 };
#define MAX_PAIRS (1u << 24)
/* Levels of a descent: the chain interval, then halvings down to a leaf. */
#define MAX_LEVELS (BROWNIAN_MAX_EXP + BROWNIAN_LEAF_BITS + 2)

void brownian_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    /* Salmon et al. 2011, Philox4x32 with the paper's multipliers and Weyl
     * key increments; ten rounds, the recommended count. */
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Wichura's AS 241 (Applied Statistics 37 (1988) 477-484, PPND16): the
 * standard normal quantile of p in (0, 1) to about 1e-16 relative. The
 * central 85% of p costs one rational function of degree 7 and no libm
 * call; only the tails take a log and a square root. */
double brownian_ndtri(double p)
{
    const double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        const double r = 0.180625 - q * q;
        return q *
               (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r +
                     6.7265770927008700853e+4) * r + 4.5921953931549871457e+4) * r +
                   1.3731693765509461125e+4) * r + 1.9715909503065514427e+3) * r +
                 1.3314166789178437745e+2) * r + 3.3871328727963666080e+0) /
               (((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r +
                     3.9307895800092710610e+4) * r + 2.1213794301586595867e+4) * r +
                   5.3941960214247511077e+3) * r + 6.8718700749205790830e+2) * r +
                 4.2313330701600911252e+1) * r + 1.0);
    }
    double r = sqrt(-log(q < 0 ? p : 1.0 - p)), z;
    if (r <= 5.0) {
        r -= 1.6;
        z = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r +
                  2.41780725177450611770e-1) * r + 1.27045825245236838258e+0) * r +
                3.64784832476320460504e+0) * r + 5.76949722146069140550e+0) * r +
              4.63033784615654529590e+0) * r + 1.42343711074968357734e+0) /
            (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r +
                  1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r +
                6.89767334985100004550e-1) * r + 1.67638483018380384940e+0) * r +
              2.05319162663775882187e+0) * r + 1.0);
    } else {
        r -= 5.0;
        z = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
                  1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r +
                2.96560571828504891230e-1) * r + 1.78482653991729133580e+0) * r +
              5.46378491116411436990e+0) * r + 6.65790464350110377720e+0) /
            (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r +
                  1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r +
                1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r +
              5.99832206555887937690e-1) * r + 1.0);
    }
    return q < 0 ? -z : z;
}

void brownian_normal2(uint64_t seed, uint32_t sample, uint64_t node, uint32_t pair, double z[2])
{
    const uint32_t ctr[4] = {(uint32_t)node, (uint32_t)(node >> 32), pair, sample};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t o[4];
    brownian_philox(ctr, key, o);
    uint64_t x = ((uint64_t)o[0] << 32) | o[1], y = ((uint64_t)o[2] << 32) | o[3];
    /* the midpoints of 2^52 equal cells, exact: in (0, 1), symmetric about
     * 1/2, and 1 - p is exact too (|z| stays below 8.3) */
    z[0] = brownian_ndtri(((double)(x >> 12) + 0.5) * 0x1p-52);
    z[1] = brownian_ndtri(((double)(y >> 12) + 0.5) * 0x1p-52);
}

/* w[i] += scale * Z_i for the dim components of one node. */
static void add_normals(uint64_t seed, uint32_t sample, uint64_t node, unsigned tag, size_t dim,
                        double scale, double *w)
{
    for (size_t p = 0; 2 * p < dim; p++) {
        double z[2];
        brownian_normal2(seed, sample, node, (uint32_t)p | ((uint32_t)tag << 24), z);
        w[2 * p] += scale * z[0];
        if (2 * p + 1 < dim) w[2 * p + 1] += scale * z[1];
    }
}

/* The chain interval holding u > 0: [a, b] with W(a), W(b). */
static void chain_interval(uint64_t seed, uint32_t sample, size_t dim, double u, double *a,
                           double *b, double *wa, double *wb)
{
    int ex;
    double f = frexp(u, &ex); /* u = f 2^ex, f in [0.5, 1) */
    int j = f == 0.5 ? ex - 1 : ex; /* smallest j with u <= 2^j */
    if (j < 0) j = 0;
    memset(wa, 0, dim * sizeof *wa);
    memset(wb, 0, dim * sizeof *wb);
    add_normals(seed, sample, 0, TAG_CHAIN, dim, 1.0, wb); /* W(1) */
    *a = 0;
    *b = 1;
    for (int k = 1; k <= j; k++) {
        memcpy(wa, wb, dim * sizeof *wa);
        add_normals(seed, sample, (uint64_t)k, TAG_CHAIN, dim, sqrt(ldexp(1.0, k - 1)), wb);
        *a = ldexp(1.0, k - 1);
        *b = ldexp(1.0, k);
    }
}

/* One bridge halving of [a, b] towards u, in place. */
static void halve(uint64_t seed, uint32_t sample, size_t dim, double u, double *a, double *b,
                  double *wa, double *wb)
{
    double m = 0.5 * (*a + *b), s = 0.5 * sqrt(*b - *a);
    uint64_t node = (uint64_t)ldexp(m, BROWNIAN_LEAF_BITS);
    double *w = u < m ? wb : wa;
    for (size_t i = 0; i < dim; i++)
        w[i] = 0.5 * (wa[i] + wb[i]);
    add_normals(seed, sample, node, TAG_MID, dim, s, w);
    if (u < m)
        *b = m;
    else
        *a = m;
}

static const double leaf_width = 0x1p-24;

static void finish(uint64_t seed, uint32_t sample, size_t dim, double u, double a, double b,
                   const double *wa, const double *wb, double *w);

/* The width of the dyadic cells the tree stops at for step h: the largest
 * power of two <= h, within [2^-24, 1]; 2^-24 when there is no grid. */
static double cell_width(double h)
{
    if (!(h > 0)) return leaf_width;
    int ex;
    (void)frexp(h, &ex); /* h = f 2^ex, f in [0.5, 1) */
    double d = ldexp(1.0, ex - 1);
    return d > 1 ? 1 : d < leaf_width ? leaf_width : d;
}

/* The index of the first grid point k h strictly after a >= 0. */
static double grid_first(double a, double h)
{
    double k = ceil(a / h);
    while (k * h <= a)
        k++;
    while (k >= 1 && (k - 1) * h > a)
        k--;
    return k;
}

/* W(g) of grid point g = k h from its left neighbour (p, wp) and the cell's
 * right end (b, wb): the Brownian bridge, one normal per component keyed by
 * k. */
static void grid_value(uint64_t seed, uint32_t sample, size_t dim, double k, double g, double p,
                       const double *wp, double b, const double *wb, double *wg)
{
    double th = (g - p) / (b - p), s = sqrt((g - p) * (b - g) / (b - p));
    for (size_t i = 0; i < dim; i++)
        wg[i] = wp[i] + th * (wb[i] - wp[i]);
    add_normals(seed, sample, (uint64_t)k, TAG_GRID, dim, s, wg);
}

/* Walk the grid points of the cell (p, b), from the left neighbour p (a
 * cell end or a grid point, W in wp, kn the index of the next grid point)
 * towards u: on return (p, kn, wp) is u's left neighbour, and either u is
 * a grid point (1, W(u) in w) or (q, wq) its right neighbour (0). */
static int grid_walk(uint64_t seed, uint32_t sample, size_t dim, double h, double u, double *p,
                     double *kn, double *wp, double b, const double *wb, double *q, double *wq,
                     double *w)
{
    const size_t sz = dim * sizeof *w;
    for (;; *kn += 1) {
        const double g = *kn * h;
        if (!(g < b) || g > u) { /* the next grid point, or b, is u's right neighbour */
            if (g < b) {
                grid_value(seed, sample, dim, *kn, g, *p, wp, b, wb, wq);
                *q = g;
            } else {
                memcpy(wq, wb, sz);
                *q = b;
            }
            return 0;
        }
        grid_value(seed, sample, dim, *kn, g, *p, wp, b, wb, w);
        memcpy(wp, w, sz);
        *p = g;
        if (g == u) {
            *kn += 1;
            return 1;
        }
    }
}

/* W(u) for u strictly between its neighbours p and q (W in wp, wq, both
 * overwritten): Levy's construction on [p, q], midpoints keyed by their
 * bits, down to leaves of width 2^-24, then the leaf bridge. */
static void sub_w(uint64_t seed, uint32_t sample, size_t dim, double u, double p, double q,
                  double *wp, double *wq, double *w)
{
    while (u != p && u != q && q - p > leaf_width) {
        double m = 0.5 * (p + q), s = 0.5 * sqrt(q - p);
        uint64_t node;
        memcpy(&node, &m, sizeof node);
        double *x = u < m ? wq : wp;
        for (size_t i = 0; i < dim; i++)
            x[i] = 0.5 * (wp[i] + wq[i]);
        add_normals(seed, sample, node, TAG_SUB, dim, s, x);
        if (u < m)
            q = m;
        else
            p = m;
    }
    finish(seed, sample, dim, u, p, q, wp, wq, w);
}

/* W(u) from the interval [a, b] that holds it, once it is a leaf or u an
 * end point. */
static void finish(uint64_t seed, uint32_t sample, size_t dim, double u, double a, double b,
                   const double *wa, const double *wb, double *w)
{
    if (u == a) {
        memcpy(w, wa, dim * sizeof *w);
        return;
    }
    if (u == b) {
        memcpy(w, wb, dim * sizeof *w);
        return;
    }
    double th = (u - a) / (b - a), s = sqrt((u - a) * (b - u) / (b - a));
    for (size_t i = 0; i < dim; i++)
        w[i] = wa[i] + th * (wb[i] - wa[i]);
    uint64_t bits;
    memcpy(&bits, &u, sizeof bits);
    add_normals(seed, sample, bits, TAG_LEAF, dim, s, w);
}

void brownian_w_grid(uint64_t seed, uint32_t sample, size_t dim, double h, double u, double *w,
                     double *scratch)
{
    if (!(u > 0)) {
        memset(w, 0, dim * sizeof *w);
        return;
    }
    const double cw = cell_width(h);
    double a, b, *wa = scratch, *wb = scratch + dim;
    chain_interval(seed, sample, dim, u, &a, &b, wa, wb);
    while (u != a && u != b && b - a > cw)
        halve(seed, sample, dim, u, &a, &b, wa, wb);
    if (u == a || u == b || !(h > 0)) {
        sub_w(seed, sample, dim, u, a, b, wa, wb, w); /* an end point, or the old leaf */
        return;
    }
    double p = a, q, kn = grid_first(a, h), *wq = scratch + 2 * dim, *wt = scratch + 3 * dim;
    if (grid_walk(seed, sample, dim, h, u, &p, &kn, wa, b, wb, &q, wq, wt)) {
        memcpy(w, wt, dim * sizeof *w);
        return;
    }
    sub_w(seed, sample, dim, u, p, q, wa, wq, w);
}

void brownian_w(uint64_t seed, uint32_t sample, size_t dim, double u, double *w, double *scratch)
{
    brownian_w_grid(seed, sample, dim, 0, u, w, scratch);
}

/* ---- the cursor ---- */

struct brownian_cursor {
    uint64_t seed;
    uint32_t sample;
    size_t dim;
    double h, cw;                  /* the grid's step (0: none) and cell width */
    int depth;                     /* levels held; 0 = none */
    double a[MAX_LEVELS], b[MAX_LEVELS];
    double *wa, *wb;               /* MAX_LEVELS x dim each */
    /* the last grid walk: its cell, left neighbour p with W(p), next index */
    int walk_ok;
    double walk_a, walk_b, walk_p, walk_kn;
    double *walk_w, *wq, *wt, *wsa; /* dim each */
};

err_code brownian_cursor_new(brownian_cursor **out, size_t dim, err *e)
{
    *out = NULL;
    if (dim == 0 || dim / 2 >= MAX_PAIRS)
        return err_set(e, ERR_INVALID, "brownian_dim", "must be 1..%u", 2 * MAX_PAIRS - 1);
    brownian_cursor *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->dim = dim;
    c->cw = leaf_width;
    c->wa = malloc(MAX_LEVELS * dim * sizeof *c->wa);
    c->wb = malloc(MAX_LEVELS * dim * sizeof *c->wb);
    c->walk_w = malloc(4 * dim * sizeof *c->walk_w);
    if (!c->wa || !c->wb || !c->walk_w) goto nomem;
    c->wq = c->walk_w + dim;
    c->wt = c->walk_w + 2 * dim;
    c->wsa = c->walk_w + 3 * dim;
    *out = c;
    return ERR_OK;
nomem:
    brownian_cursor_free(c);
    return err_set(e, ERR_NOMEM, NULL, "out of memory for a Brownian cursor");
}

void brownian_cursor_free(brownian_cursor *c)
{
    if (!c) return;
    free(c->wa);
    free(c->wb);
    free(c->walk_w);
    free(c);
}

void brownian_cursor_reset(brownian_cursor *c, uint64_t seed, uint32_t sample)
{
    c->seed = seed;
    c->sample = sample;
    c->depth = 0;
    c->walk_ok = 0;
}

void brownian_cursor_grid(brownian_cursor *c, double h)
{
    c->h = h > 0 && isfinite(h) ? h : 0;
    c->cw = cell_width(c->h);
    c->depth = 0;
    c->walk_ok = 0;
}

void brownian_cursor_w(brownian_cursor *c, double u, double *w)
{
    const size_t d = c->dim, sz = d * sizeof *w;
    if (!(u > 0)) {
        memset(w, 0, sz);
        return;
    }
    /* the deepest cached level whose interval holds u (a value at a shared
     * end point is the same number from either side: each dyadic point has
     * one parent) */
    int L = c->depth - 1;
    while (L >= 0 && !(c->a[L] <= u && u <= c->b[L]))
        L--;
    if (L < 0) {
        chain_interval(c->seed, c->sample, d, u, &c->a[0], &c->b[0], c->wa, c->wb);
        L = 0;
    }
    double a = c->a[L], b = c->b[L];
    while (u != a && u != b && b - a > c->cw) {
        double *wa = c->wa + (size_t)(L + 1) * d, *wb = c->wb + (size_t)(L + 1) * d;
        memcpy(wa, c->wa + (size_t)L * d, sz);
        memcpy(wb, c->wb + (size_t)L * d, sz);
        halve(c->seed, c->sample, d, u, &a, &b, wa, wb);
        L++;
        c->a[L] = a;
        c->b[L] = b;
    }
    c->depth = L + 1;
    const double *wa = c->wa + (size_t)L * d, *wb = c->wb + (size_t)L * d;
    if (u == a || u == b || c->h == 0) { /* an end point, or the old leaf */
        memcpy(c->wsa, wa, sz);
        memcpy(c->wq, wb, sz);
        sub_w(c->seed, c->sample, d, u, a, b, c->wsa, c->wq, w);
        return;
    }
    /* the grid walk goes on from the last one's left neighbour when that is
     * in this cell before u: the same operations as the walk from a */
    if (!(c->walk_ok && c->walk_a == a && c->walk_b == b && c->walk_p <= u)) {
        c->walk_a = a;
        c->walk_b = b;
        c->walk_p = a;
        c->walk_kn = grid_first(a, c->h);
        memcpy(c->walk_w, wa, sz);
        c->walk_ok = 1;
    }
    double q;
    if (grid_walk(c->seed, c->sample, d, c->h, u, &c->walk_p, &c->walk_kn, c->walk_w, b, wb, &q,
                  c->wq, c->wt)) {
        memcpy(w, c->wt, sz);
        return;
    }
    memcpy(c->wsa, c->walk_w, sz);
    sub_w(c->seed, c->sample, d, u, c->walk_p, q, c->wsa, c->wq, w);
}
