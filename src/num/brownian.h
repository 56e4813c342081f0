/* num/brownian.h: Brownian motion that can be asked anywhere, in any order:
 * W(u) of sample k of seed s is a function of (s, k, u) alone.
 *
 * Construction (docs/sde.md, "Brownian motion"): Levy's construction by
 * Brownian bridges on a dyadic tree, every normal drawn from a counter-based
 * generator (Philox4x32-10, Salmon, Moraes, Dror, Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC 2011) keyed by the seed and counted by
 * (sample, node, component), so no state is carried from one draw to the
 * next:
 *   - u = t - t0 >= 0; W(0) = 0. The points u = 2^j (j >= 0) form a chain:
 *     W(1) = Z, W(2^(j+1)) = W(2^j) + 2^(j/2) Z;
 *   - every dyadic interval [a, b] (inside [0, 1] or [2^(j-1), 2^j]) is split at
 *     its midpoint m by the bridge W(m) = (W(a) + W(b)) / 2 + sqrt(b - a) / 2 Z,
 *     the normal keyed by m itself, down to leaves of width 2^-BROWNIAN_LEAF_BITS;
 *   - inside a leaf, W(u) = W(a) + (u - a)/(b - a) (W(b) - W(a))
 *     + sqrt((u - a)(b - u)/(b - a)) Z, the normal keyed by u's bits.
 * The values at dyadic points are exact Brownian motion whatever else is
 * asked; two query points inside one leaf (closer than 2^-24) are each
 * exact in law but not jointly (docs/sde.md says what that means).
 *
 * With a step grid (a solver's fixed step h on u = k h): the tree stops at
 * cells of width 2^floor(log2 h) (in [2^-24, 1]); a grid point k h inside a
 * cell is the bridge from the cell's grid point before it (or its left end)
 * to its right end, with a normal keyed by k; any other u is a sub-tree on
 * [its left neighbour, its right neighbour] (grid points or cell ends) down
 * to 2^-24, then the leaf. So one grid step costs O(1) normals, the path is
 * a function of (seed, sample, h, u) alone, and the tree's dyadic values
 * are the same for every h (refining h converges pathwise; docs/sde.md).
 * h = 0 is the construction without a grid (brownian_w).
 *
 * Normals: the standard normal quantile (Wichura's AS 241) of two 52-bit
 * uniforms made of one Philox block (components 2i and 2i+1 share a block).
 * Deterministic given libm's log and sqrt (same machine and libm => same
 * numbers).
 *
 * Ownership and threads: brownian_w is pure. A brownian_cursor caches the
 * descent of its last query (results are bit-identical to brownian_w's);
 * it owns its scratch and is used by one thread at a time. */
#ifndef ODESERVE_NUM_BROWNIAN_H
#define ODESERVE_NUM_BROWNIAN_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

/* Leaves of the tree are 2^-BROWNIAN_LEAF_BITS time units wide. */
#define BROWNIAN_LEAF_BITS 24
/* Times beyond t0 + 2^BROWNIAN_MAX_EXP are refused by the callers (sde.h). */
#define BROWNIAN_MAX_EXP 30

/* Philox4x32-10: the 128-bit block of counter ctr under key key. */
void brownian_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The standard normal quantile of p in (0, 1) (AS 241, ~1e-16 relative). */
double brownian_ndtri(double p);

/* Two independent standard normals of (seed, sample, node, pair), node any
 * 64-bit label, pair the component pair (components 2 pair, 2 pair + 1). */
void brownian_normal2(uint64_t seed, uint32_t sample, uint64_t node, uint32_t pair, double z[2]);

/* W(u) of (seed, sample), dim components, u in [0, 2^BROWNIAN_MAX_EXP].
 * scratch: 2 dim doubles. */
void brownian_w(uint64_t seed, uint32_t sample, size_t dim, double u, double *w, double *scratch);

/* W(u) of (seed, sample) on the step grid of h (h = 0: brownian_w).
 * scratch: 4 dim doubles. */
void brownian_w_grid(uint64_t seed, uint32_t sample, size_t dim, double h, double u, double *w,
                     double *scratch);

typedef struct brownian_cursor brownian_cursor;

/* A cursor for dim components (NULL and ERR_NOMEM on failure). */
err_code brownian_cursor_new(brownian_cursor **out, size_t dim, err *e);
void brownian_cursor_free(brownian_cursor *c); /* NULL is a no-op */

/* Point the cursor at (seed, sample): forgets the cached descent (the
 * grid stays). */
void brownian_cursor_reset(brownian_cursor *c, uint64_t seed, uint32_t sample);

/* Set the step grid (as brownian_w_grid's h; 0 after reset is none):
 * forgets the cached descent. */
void brownian_cursor_grid(brownian_cursor *c, double h);

/* W(u), as brownian_w_grid with the cursor's grid. */
void brownian_cursor_w(brownian_cursor *c, double u, double *w);

#endif
