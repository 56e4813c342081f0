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
enum { TAG_CHAIN = 1, TAG_MID = 2, TAG_LEAF = 3 };
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

void brownian_normal2(uint64_t seed, uint32_t sample, uint64_t node, uint32_t pair, double z[2])
{
    const uint32_t ctr[4] = {(uint32_t)node, (uint32_t)(node >> 32), pair, sample};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t o[4];
    brownian_philox(ctr, key, o);
    uint64_t x = ((uint64_t)o[0] << 32) | o[1], y = ((uint64_t)o[2] << 32) | o[3];
    double u1 = (double)((x >> 11) + 1) * 0x1p-53; /* (0, 1]: log never sees 0 */
    double u2 = (double)(y >> 11) * 0x1p-53;
    double r = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * u2;
    z[0] = r * cos(a);
    z[1] = r * sin(a);
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

void brownian_w(uint64_t seed, uint32_t sample, size_t dim, double u, double *w, double *scratch)
{
    if (!(u > 0)) {
        memset(w, 0, dim * sizeof *w);
        return;
    }
    double a, b, *wa = scratch, *wb = scratch + dim;
    chain_interval(seed, sample, dim, u, &a, &b, wa, wb);
    while (u != a && u != b && b - a > leaf_width)
        halve(seed, sample, dim, u, &a, &b, wa, wb);
    finish(seed, sample, dim, u, a, b, wa, wb, w);
}

/* ---- the cursor ---- */

struct brownian_cursor {
    uint64_t seed;
    uint32_t sample;
    size_t dim;
    int depth;                     /* levels held; 0 = none */
    double a[MAX_LEVELS], b[MAX_LEVELS];
    double *wa, *wb;               /* MAX_LEVELS x dim each */
};

err_code brownian_cursor_new(brownian_cursor **out, size_t dim, err *e)
{
    *out = NULL;
    if (dim == 0 || dim / 2 >= MAX_PAIRS)
        return err_set(e, ERR_INVALID, "brownian_dim", "must be 1..%u", 2 * MAX_PAIRS - 1);
    brownian_cursor *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->dim = dim;
    c->wa = malloc(MAX_LEVELS * dim * sizeof *c->wa);
    c->wb = malloc(MAX_LEVELS * dim * sizeof *c->wb);
    if (!c->wa || !c->wb) goto nomem;
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
    free(c);
}

void brownian_cursor_reset(brownian_cursor *c, uint64_t seed, uint32_t sample)
{
    c->seed = seed;
    c->sample = sample;
    c->depth = 0;
}

void brownian_cursor_w(brownian_cursor *c, double u, double *w)
{
    const size_t d = c->dim;
    if (!(u > 0)) {
        memset(w, 0, d * sizeof *w);
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
    while (u != a && u != b && b - a > leaf_width) {
        double *wa = c->wa + (size_t)(L + 1) * d, *wb = c->wb + (size_t)(L + 1) * d;
        memcpy(wa, c->wa + (size_t)L * d, d * sizeof *wa);
        memcpy(wb, c->wb + (size_t)L * d, d * sizeof *wb);
        halve(c->seed, c->sample, d, u, &a, &b, wa, wb);
        L++;
        c->a[L] = a;
        c->b[L] = b;
    }
    c->depth = L + 1;
    finish(c->seed, c->sample, d, u, a, b, c->wa + (size_t)L * d, c->wb + (size_t)L * d, w);
}
