/* nn/vmath_elem.h (private to src/nn): the element functions of
 * nn/vmath.c that kernels elsewhere in src/nn fuse into their own loops
 * (tanh: nn/linear_pair.c's forward), so that a fused kernel computes each
 * value by the very code vmath_tanh runs: the same bits. The constants
 * and bit helpers come with them. The tanh uses fma(): call it from code
 * compiled for x86-64-v3 or v4 (an instruction), or at baseline (libm's
 * correctly rounded fma, slow); every version gives the same bits.
 * Stateless; thread-safe. */
#ifndef ODESERVE_NN_VMATH_ELEM_H
#define ODESERVE_NN_VMATH_ELEM_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SHIFT 0x1.8p52 /* adding it rounds to an integer held in the low bits */
#define INV_LN2 0x1.71547652b82fep0
#define LN2_HI 0x1.62e42fee00000p-1 /* 32 significant bits: k * LN2_HI is exact */
#define LN2_LO 0x1.a39ef35793c76p-33
#define LN2_F 0x1.62e42fefa39efp-1
#define SQRT2 0x1.6a09e667f3bcdp0

static inline uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double from_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline double pow2(uint64_t k) /* 2^k for -1022 <= k <= 1023 */
{
    return from_bits((k + 1023) << 52);
}

static inline double clamp(double x, double lo, double hi) /* keeps NaN */
{
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

/* expm1_q by fused multiply-adds (Estrin's pairs, as vmath.c's expm1_q): half the
 * operations. fma() is exact up to its one rounding on every CPU (an
 * instruction in the x86-64-v3 and v4 clones, libm's correctly rounded
 * function at baseline), so every clone still gets the same bits. */
static inline __attribute__((always_inline)) double expm1_q_fma(double r)
{
    double r2 = r * r, r4 = r2 * r2;
    double p0 = fma(r, 0x1.5555555555555p-3, 0.5);
    double p1 = fma(r, 0x1.1111111111111p-7, 0x1.5555555555555p-5);
    double p2 = fma(r, 0x1.a01a01a01a01ap-13, 0x1.6c16c16c16c17p-10);
    double p3 = fma(r, 0x1.71de3a556c734p-19, 0x1.a01a01a01a01ap-16);
    double p4 = fma(r, 0x1.ae64567f544e4p-26, 0x1.27e4fb7789f5cp-22);
    double p5 = fma(r, 0x1.6124613a86d09p-33, 0x1.1eed8eff8d898p-29);
    double q0 = fma(r2, p1, p0), q1 = fma(r2, p3, p2), q2 = fma(r2, p5, p4);
    return fma(r4, fma(r4, q2, q1), q0);
}

/* tanh(x) = sign(x) e/(e + 2), e = expm1(2 min(|x|, 20)) (tanh(20) rounds
 * to 1), expm1 as expm1_elem but by fused multiply-adds: e = (2^k - 1) +
 * 2^k hi summed exactly (Fast2Sum), plus 2^k (lo + r^2 q) + the error
 * term in two fmas. tanh(+-0) = +-0 from e = 0. In two parts, the
 * argument's reduction and the rest, so that tanh_block can run them as
 * two loops. */
typedef struct tanh_red {
    double r, lo, s, t, lost;
} tanh_red;

static inline __attribute__((always_inline)) tanh_red tanh_reduce(double x)
{
    double y = 2.0 * clamp(fabs(x), 0.0, 20.0);
    double kt = fma(y, INV_LN2, SHIFT); /* as reduce(y), by fmas */
    double kd = kt - SHIFT;
    double hi = fma(-kd, LN2_HI, y), lo = -(kd * LN2_LO), r = hi + lo;
    double s = pow2(bits(kt) - bits(SHIFT));
    double a = s - 1.0, b = s * hi;
    double t = a + b;
    double lost = (a - t) + b;
    return (tanh_red){.r = r, .lo = lo, .s = s, .t = t, .lost = lost};
}

static inline __attribute__((always_inline)) double tanh_finish(double x, double r, double lo,
                                                                double s, double t, double lost)
{
    double p = fma(r * r, expm1_q_fma(r), lo);
    double e = t + fma(s, p, lost);
    return copysign(e / (e + 2.0), x);
}

/* y[i] = tanh(x[i]), i < n (y may be x): tanh_reduce then tanh_finish
 * for every value. One loop doing both is a long dependent chain per
 * vector, more operations in flight than the out-of-order core holds, so
 * it waits on its own chains; blocks of TANH_BLOCK values go through
 * the reduction, then the rest, each a shorter chain with fewer live
 * registers (bench/bench_nn tanh_vm; docs/nn.md). Call it from code
 * compiled with -fopenmp-simd (the loops' pragmas) and fma. */
#define TANH_BLOCK 64
static inline __attribute__((always_inline)) void tanh_block(size_t n, const double *x, double *y)
{
    double rb[TANH_BLOCK], lob[TANH_BLOCK], sb[TANH_BLOCK], tb[TANH_BLOCK], lostb[TANH_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += TANH_BLOCK) {
        const size_t m = n - i0 < TANH_BLOCK ? n - i0 : TANH_BLOCK;
        const double *xb = x + i0;
        double *yb = y + i0;
#pragma omp simd
        for (size_t i = 0; i < m; i++) {
            tanh_red d = tanh_reduce(xb[i]);
            rb[i] = d.r;
            lob[i] = d.lo;
            sb[i] = d.s;
            tb[i] = d.t;
            lostb[i] = d.lost;
        }
#pragma omp simd
        for (size_t i = 0; i < m; i++)
            yb[i] = tanh_finish(xb[i], rb[i], lob[i], sb[i], tb[i], lostb[i]);
    }
}

#endif
