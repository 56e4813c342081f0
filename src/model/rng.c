/* model/rng.c: xoshiro256**, splitmix64 seeding, derived draws. See rng.h.
 * Reference: https://prng.di.unimi.it/ (Blackman & Vigna). */
#include "model/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < RNG_STATE_WORDS; i++)
        r->s[i] = splitmix64(&x);
    /* splitmix64 is a bijection of its counter: four zero outputs in a row
     * cannot happen, so the state is never all zero. */
}

uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

double rng_uniform_range(rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_uniform(r);
}

uint64_t rng_below(rng *r, uint64_t n)
{
    if (n == 0) return 0;
    /* Lemire, "Fast random integer generation in an interval", ACM TOMACS 2019 */
    unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        const uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rng_normal(rng *r)
{
    const double u1 = 1.0 - rng_uniform(r); /* (0, 1]: log is finite */
    const double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

err_code rng_sample(rng *r, size_t n, size_t k, size_t *out, err *e)
{
    if (k > n)
        return err_set(e, ERR_INVALID, "k", "cannot draw %zu distinct values from %zu", k, n);
    /* Floyd: for j = n-k .. n-1, draw v in [0, j]; take v unless taken, else j */
    size_t m = 0;
    for (size_t j = n - k; j < n; j++) {
        size_t v = (size_t)rng_below(r, (uint64_t)j + 1);
        for (size_t i = 0; i < m; i++)
            if (out[i] == v) {
                v = j;
                break;
            }
        out[m++] = v;
    }
    for (size_t i = k; i > 1; i--) { /* Floyd's set is ordered by construction: shuffle */
        size_t j = (size_t)rng_below(r, i);
        size_t tmp = out[i - 1];
        out[i - 1] = out[j];
        out[j] = tmp;
    }
    return ERR_OK;
}

void rng_state_get(const rng *r, uint64_t out[RNG_STATE_WORDS])
{
    for (int i = 0; i < RNG_STATE_WORDS; i++)
        out[i] = r->s[i];
}

err_code rng_state_set(rng *r, const uint64_t in[RNG_STATE_WORDS], err *e)
{
    uint64_t any = 0;
    for (int i = 0; i < RNG_STATE_WORDS; i++)
        any |= in[i];
    if (!any) return err_set(e, ERR_INVALID, "rng", "the generator state must not be all zero");
    for (int i = 0; i < RNG_STATE_WORDS; i++)
        r->s[i] = in[i];
    return ERR_OK;
}
