/* model/rng.h: the seeded pseudo-random generator of training
 * (initialisation, mini-batch sampling), with a state that can be saved in
 * a checkpoint and restored.
 *
 * Generator: xoshiro256** (D. Blackman, S. Vigna, "Scrambled linear
 * pseudorandom number generators", ACM TOMS 47 (2021)); the 256-bit state
 * is filled from a 64-bit seed by splitmix64, as the authors recommend.
 * Derived draws:
 *   uniform   the top 53 bits of a draw times 2^-53: [0, 1), every value a
 *             multiple of 2^-53;
 *   below(n)  D. Lemire's multiply-and-reject (unbiased), n >= 1;
 *   normal    Box-Muller, cosine branch only: two uniforms per normal, no
 *             cached second value, so the state stays the four words;
 *             deterministic given libm's log/cos/sqrt (same machine and
 *             libm => same numbers).
 *
 * The struct is plain data on purpose: copy it, compare it, store its four
 * words. Not thread-safe: one generator per job. */
#ifndef ODESERVE_MODEL_RNG_H
#define ODESERVE_MODEL_RNG_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define RNG_STATE_WORDS 4

typedef struct rng {
    uint64_t s[RNG_STATE_WORDS]; /* never all zero */
} rng;

/* State from a seed (any value, 0 included). */
void rng_seed(rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t rng_next(rng *r);

/* Uniform on [0, 1). */
double rng_uniform(rng *r);

/* Uniform on [lo, hi): lo + (hi - lo) u, as torch's uniform_(lo, hi). */
double rng_uniform_range(rng *r, double lo, double hi);

/* Uniform integer in [0, n), n >= 1 (n == 0 returns 0). */
uint64_t rng_below(rng *r, uint64_t n);

/* Standard normal N(0, 1). */
double rng_normal(rng *r);

/* k distinct integers from [0, n), k <= n, in random order (Floyd's
 * algorithm then a Fisher-Yates shuffle of the k: O(k^2) time, no memory
 * beyond out). The mini-batch start points of the spiral demo
 * (numpy.random.choice(n, k, replace=False)). ERR_INVALID when k > n. */
err_code rng_sample(rng *r, size_t n, size_t k, size_t *out, err *e);

/* Save / restore the state (RNG_STATE_WORDS words). rng_state_set rejects
 * an all-zero state (ERR_INVALID, field "rng"). */
void rng_state_get(const rng *r, uint64_t out[RNG_STATE_WORDS]);
err_code rng_state_set(rng *r, const uint64_t in[RNG_STATE_WORDS], err *e);

#endif
