/* nn/vmath.c: branch-free elementary functions the compiler vectorises.
 * See vmath.h for the method and the accuracy. The element functions are
 * static inline, written with selects instead of branches and with bit casts
 * through memcpy; each array loop is an `omp simd` loop. */
#include "nn/vmath.h"

#include "nn/simd.h"
#include "nn/vmath_elem.h"

#include <math.h> /* fabs, copysign: inline builtins */
#include <stdint.h>
#include <string.h>

/* q(r) with expm1(r) = r + r^2 q(r) for |r| <= ~0.35: the Taylor series
 * 1/2! + r/3! + ... + r^11/13! (truncation below 0.1 ulp). */
static inline double expm1_q(double r)
{
    /* Estrin's scheme: the 12 coefficients in pairs, then pairs of pairs;
     * a dependency chain of about 8 operations instead of Horner's 24 (the
     * kernels are latency-bound on the short arrays of a single state). */
    double r2 = r * r, r4 = r2 * r2;
    double p0 = 0.5 + r * 0x1.5555555555555p-3;                    /* 1/2!, 1/3! */
    double p1 = 0x1.5555555555555p-5 + r * 0x1.1111111111111p-7;   /* 1/4!, 1/5! */
    double p2 = 0x1.6c16c16c16c17p-10 + r * 0x1.a01a01a01a01ap-13; /* 1/6!, 1/7! */
    double p3 = 0x1.a01a01a01a01ap-16 + r * 0x1.71de3a556c734p-19; /* 1/8!, 1/9! */
    double p4 = 0x1.27e4fb7789f5cp-22 + r * 0x1.ae64567f544e4p-26; /* 1/10!, 1/11! */
    double p5 = 0x1.1eed8eff8d898p-29 + r * 0x1.6124613a86d09p-33; /* 1/12!, 1/13! */
    double q0 = p0 + r2 * p1, q1 = p2 + r2 * p3, q2 = p4 + r2 * p5;
    return q0 + r4 * (q1 + r4 * q2);
}

/* Argument reduction x = k ln2 + r, r = hi + lo: hi = x - k LN2_HI is
 * exact (k has at most 11 bits, LN2_HI 32), lo = -k LN2_LO is tiny. k comes
 * back both as a double and as the low bits of an unsigned integer (two's
 * complement, so no signed overflow even for a NaN's garbage). */
typedef struct red {
    double hi, lo, r; /* r = hi + lo rounded */
    double kd;
    uint64_t k;
} red;

static inline red reduce(double x)
{
    red d;
    double t = x * INV_LN2 + SHIFT;
    d.k = bits(t) - bits(SHIFT);
    d.kd = t - SHIFT;
    d.hi = x - d.kd * LN2_HI;
    d.lo = -(d.kd * LN2_LO);
    d.r = d.hi + d.lo;
    return d;
}

/* exp(x) = m * s2 for x in [-1400, 710]; NaN propagates. 2^k is applied as
 * two halves (m carries 2^k1, s2 = 2^(k-k1)) so that subnormal and
 * near-overflow results are right, and callers can scale m before the last
 * (possibly subnormal) multiply. exp(r) = 1 + hi + (lo + r^2 q): 1 + hi is
 * summed exactly (Fast2Sum, |hi| < 1) so one rounding dominates. */
static inline double exp_m(double x, double *s2)
{
    red d = reduce(x);
    double t = 1.0 + d.hi;
    double e = (1.0 - t) + d.hi;
    double er = t + (e + (d.lo + (d.r * d.r) * expm1_q(d.r)));
    uint64_t k1 = bits(d.kd * 0.5 + SHIFT) - bits(SHIFT); /* about k / 2 */
    *s2 = pow2(d.k - k1);
    return er * pow2(k1);
}

static inline double exp_elem(double x)
{
    double s2;
    double m = exp_m(x, &s2);
    return m * s2;
}

/* expm1(x) for x in [-40, 40]: (2^k - 1) + 2^k hi + 2^k (lo + r^2 q). The
 * first two are exact and summed with Fast2Sum (|2^k - 1| >= |2^k hi| when
 * k != 0; k = 0 gives a = 0 and t = b exactly). */
static inline double expm1_elem(double x)
{
    red d = reduce(x);
    double s = pow2(d.k);
    double a = s - 1.0, b = s * d.hi;
    double t = a + b;
    double e = (a - t) + b;
    double y = t + (e + s * (d.lo + (d.r * d.r) * expm1_q(d.r)));
    return x == 0 ? x : y; /* expm1(-0) = -0 */
}

/* log1p(u) for u in [0, 1]; NaN propagates. w = 1 + u rounded, and
 * c = (u - (w - 1)) / w restores what the rounding lost (Goldberg 1991).
 * w = 2^m f with f in [sqrt(2)/2, sqrt(2)], g = f - 1 exact, and
 * log f = g - (g^2/2 - s (g^2/2 + R)), s = g / (2 + g), R = 2s^3/3 + ...,
 * from 2 atanh(s) = 2s + R s and 2s = g - g s: the leading g is exact. */
static inline double log1p_elem(double u)
{
    double w = 1.0 + u;
    double c = (u - (w - 1.0)) / w;
    int big = w > SQRT2;
    double f = big ? 0.5 * w : w;
    double m = big ? 1.0 : 0.0;
    double g = f - 1.0;
    double s = g / (2.0 + g);
    double z = s * s;
    /* R / z = 2 (1/3 + z/5 + ... + z^9/21), |z| < 0.0295 */
    double q = 2.0 / 21;
    q = q * z + 2.0 / 19;
    q = q * z + 2.0 / 17;
    q = q * z + 2.0 / 15;
    q = q * z + 2.0 / 13;
    q = q * z + 2.0 / 11;
    q = q * z + 2.0 / 9;
    q = q * z + 2.0 / 7;
    q = q * z + 2.0 / 5;
    q = q * z + 2.0 / 3;
    double hfsq = 0.5 * g * g;
    double lo = (m * LN2_LO + c) - (hfsq - s * (hfsq + z * q));
    return (m * LN2_HI + g) + lo;
}

/* sigmoid and silu share exp(-|x|) = m s2; x e^x is formed as (x m) s2 so
 * that a subnormal result is rounded once. */
static inline double sigmoid_elem(double x)
{
    double s2;
    double m = exp_m(clamp(-fabs(x), -1400.0, 0.0), &s2);
    double e = m * s2;
    return (x >= 0 ? 1.0 : e) / (1.0 + e);
}

static inline double silu_elem(double x)
{
    double s2;
    double m = exp_m(clamp(-fabs(x), -1400.0, 0.0), &s2);
    double e = m * s2;
    double y = (x >= 0 ? x : (x * m) * s2) / (1.0 + e);
    return x < -800.0 ? -0.0 : y; /* the limit, not -inf * 0 */
}

static inline double softplus_elem(double x)
{
    double e = exp_elem(clamp(-fabs(x), -746.0, 0.0));
    return (x > 0 ? x : 0.0) + log1p_elem(e);
}

#define VMATH_LOOP(name, expr)                                                                     \
    SIMD_CLONES void name(size_t n, const double *x, double *y)                                    \
    {                                                                                              \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++)                                         \
        {                                                                                          \
            double xi = x[i];                                                                      \
            y[i] = (expr);                                                                         \
        }                                                                                          \
    }

VMATH_LOOP(vmath_exp, exp_elem(clamp(xi, -746.0, 710.0)))
VMATH_LOOP(vmath_expm1,
           xi > 40.0 ? exp_elem(clamp(xi, 40.0, 710.0)) : expm1_elem(clamp(xi, -40.0, 40.0)))
VMATH_LOOP(vmath_log1p, log1p_elem(xi))
/* tanh uses fma(): clones for the x86-64 levels that have the instruction */
#if defined(SIMD_HAVE_CLONES)
#define VMATH_FMA_CLONES                                                                           \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VMATH_FMA_CLONES
#endif
VMATH_FMA_CLONES void vmath_tanh(size_t n, const double *x, double *y)
{
    tanh_block(n, x, y);
}
VMATH_LOOP(vmath_sigmoid, sigmoid_elem(xi))
VMATH_LOOP(vmath_softplus, softplus_elem(xi))
VMATH_LOOP(vmath_silu, silu_elem(xi))
VMATH_LOOP(vmath_elu, xi > 0 ? xi : expm1_elem(clamp(xi, -40.0, 0.0)))
