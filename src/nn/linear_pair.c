/* nn/linear_pair.c: the fused reverse pass through two small linear
 * layers. See linear_pair.h.
 *
 * Loop order: the hidden units in chunks of eight (one vector, GCC vector
 * extensions: the same IEEE operations per lane in every clone), and
 * within a chunk the states in order, so that the chunk's accumulators
 * (layer b's dW rows, layer a's transposed dW and db) and weights stay in
 * registers while the states stream by; the input cotangent's eight
 * partial sums per state and input live on the stack between chunks.
 * Every accumulator still adds the states in their order, and every
 * partial sum the hidden units in theirs, so each value is the one
 * nn/linear.c and nn/act.c compute layer by layer ("as ..." below names
 * the code whose operations a line repeats): the same bits.
 *
 * The last, partial chunk (cnt < 8 units) loads the eight values that end
 * where its units end (every load in bounds, none through a stack copy: a
 * store forwarded into a wider load stalls) and rotates them so that its
 * units sit in lanes 0 .. cnt - 1, as a chunk of its own would hold them;
 * a state's hidden values come in one plain load where the next state's
 * row follows. Its lanes past cnt hold other units' values: layer a's
 * weights there are cleared, the hidden cotangent too (as bits, not by a
 * product: inf * 0) before it reaches a sum, where +0 changes nothing (the
 * partial sums start at +0, so are never -0), and the accumulators' lanes
 * past cnt are never stored. tanh, the activation of the fields trained,
 * is a constant in the expansions for in, out <= 3, and so are the
 * outputs wanted in the common case (all of them). */
#include "nn/linear_pair.h"

#include "nn/hsum8.h"
#include "nn/linear.h"
#include "nn/simd.h"
#include "nn/vmath_elem.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

enum {
    PAIR_MAX_OUT = 3,
    PAIR_MAX_IN = 7,
    PAIR_ROWS = 32, /* states per block: their partial sums stay on the stack */
};

bool linear_pair_fits(size_t n, size_t in, size_t hid, size_t out, act_kind act)
{
    return n >= LINEAR_GEMM_MIN_BATCH && n <= LINEAR_SMALL_MAX_BATCH && in >= 1 &&
           in <= PAIR_MAX_IN && hid >= 8 && out >= 1 && out <= PAIR_MAX_OUT &&
           in * hid <= LINEAR_SMALL_WEIGHTS && out * hid <= LINEAR_SMALL_WEIGHTS &&
           (act == ACT_TANH || act == ACT_SIGMOID || act == ACT_IDENTITY);
}

typedef double v8d __attribute__((vector_size(64)));
typedef int64_t v8l __attribute__((vector_size(64)));

/* Lane shuffles: GCC's __builtin_shuffle, or Clang's __builtin_shufflevector
 * (the fuzzers are built with Clang), which takes constant indices only;
 * the one shuffle by a run-time mask, PERM8, goes lane by lane there. Each
 * moves the same values: the same bits. */
#if defined(__clang__)
#define SHUF2(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)
#define PERM8(dst, v, m)                                                                           \
    do {                                                                                           \
        v8d p_;                                                                                    \
        for (int l_ = 0; l_ < 8; l_++)                                                             \
            p_[l_] = (v)[(m)[l_] & 7];                                                             \
        (dst) = p_;                                                                                \
    } while (0)
#else
#define SHUF2(a, b, ...) __builtin_shuffle((a), (b), (v8l){__VA_ARGS__})
#define PERM8(dst, v, m) ((dst) = __builtin_shuffle((v), (m)))
#endif

/* Loads and stores of a chunk: macros, not functions returning v8d, which
 * change the ABI (-Wpsabi) in the clones without AVX-512. LOAD8 of a
 * partial chunk (FULL false: cnt < 8 units at p, p - 8 + cnt >= the row's
 * start) loads the eight values ending at p + cnt and rotates them by rot
 * (lane l from lane l + 8 - cnt, mod 8): p[l] in lane l < cnt. STORE8 of
 * a partial chunk stores lanes 0 .. cnt - 1. */
#define LOAD8(dst, p, cnt, rot)                                                                    \
    do {                                                                                           \
        if (FULL) {                                                                                \
            memcpy(&(dst), (p), sizeof(v8d));                                                      \
        } else {                                                                                   \
            v8d t_;                                                                                \
            memcpy(&t_, (p) + (cnt)-8, sizeof t_);                                                 \
            PERM8(dst, t_, rot);                                                                   \
        }                                                                                          \
    } while (0)
#define STORE8(p, v, cnt)                                                                          \
    do {                                                                                           \
        if (FULL) {                                                                                \
            memcpy((p), &(v), sizeof(v8d));                                                        \
        } else {                                                                                   \
            double t_[8];                                                                          \
            memcpy(t_, &(v), sizeof(v8d));                                                         \
            for (size_t l_ = 0; l_ < (cnt); l_++)                                                  \
                (p)[l_] = t_[l_];                                                                  \
        }                                                                                          \
    } while (0)

/* What a block of states does with layer a's dW and db accumulators: they
 * start from +0 in the first block (else from accT, where the previous
 * block left them) and go into dWa in the last (else to accT). */
typedef struct pair_acc {
    bool from_acc, to_out;
} pair_acc;

/* Chunk i0 (cnt hidden units; FULL: cnt = 8) for states k0 .. k0 + rows -
 * 1. FIRST: the first chunk (i0 = 0), where the input cotangent's partial
 * sums start; DW, GU: whether dWa (and dWb) and gu are wanted. */
static inline __attribute__((always_inline)) void
pair_chunk(const size_t IN, const size_t OUT, const bool FULL, const bool FIRST, const bool DW,
           const bool GU, size_t i0, size_t cnt, size_t k0, size_t rows, size_t n_all, size_t hid,
           size_t hid8, act_kind act, pair_acc pa, const double *Wa, const double *Wb,
           const double *u, const double *h, const double *v, double *dWa, double *dWb,
           double *accT, v8d gl[][PAIR_MAX_IN], double *bb)
{
    v8d wb[PAIR_MAX_OUT], wa[PAIR_MAX_IN], db[PAIR_MAX_OUT], da[PAIR_MAX_IN + 1];
    v8l keep = {0}, rot = {0};
    for (size_t l = 0; l < 8; l++) {
        keep[l] = l < cnt ? -1 : 0;
        rot[l] = (int64_t)((l + 8 - cnt) & 7);
    }
    for (size_t o = 0; o < OUT; o++) {
        LOAD8(wb[o], Wb + o * hid + i0, cnt, rot);
        if (DW) LOAD8(db[o], dWb + o * hid + i0, cnt, rot);
    }
    if (GU) { /* layer a's weights, as small_input_grad's transpose */
        if (FULL && IN == 2) {
            v8d w0, w1;
            memcpy(&w0, Wa + 2 * i0, sizeof w0);
            memcpy(&w1, Wa + 2 * i0 + 8, sizeof w1);
            wa[0] = SHUF2(w0, w1, 0, 2, 4, 6, 8, 10, 12, 14);
            wa[1] = SHUF2(w0, w1, 1, 3, 5, 7, 9, 11, 13, 15);
        } else {
            for (size_t j = 0; j < IN; j++) {
                double t[8] = {0};
                for (size_t l = 0; l < cnt; l++)
                    t[l] = Wa[(i0 + l) * IN + j];
                memcpy(&wa[j], t, sizeof t);
            }
        }
    }
    if (DW)
        for (size_t j = 0; j <= IN; j++) {
            if (pa.from_acc)
                memcpy(&da[j], accT + j * hid8 + i0, sizeof(v8d));
            else
                da[j] = (v8d){0};
        }
    for (size_t r = 0; r < rows; r++) {
        const size_t k = k0 + r;
        const double *gk = v + k * OUT, *uk = u + k * IN;
        v8d hv;
        if (FULL || k + 1 < n_all) /* the next state's row follows: in bounds */
            memcpy(&hv, h + k * hid + i0, sizeof hv);
        else
            LOAD8(hv, h + k * hid + i0, cnt, rot);
        if (DW)
            for (size_t o = 0; o < OUT; o++) {
                db[o] += gk[o] * hv; /* as outer_acc */
                if (FIRST) bb[o] += gk[o];
            }
        /* as matvec_t: gp = 0, += per row of W_b; the first sum, 0 + x,
         * is x but for x = -0, which the sums below do not tell from +0 */
        v8d s = gk[0] * wb[0];
        for (size_t o = 1; o < OUT; o++)
            s += gk[o] * wb[o];
        if (act == ACT_TANH)
            s *= 1.0 - hv * hv; /* as act_grad's tanh */
        else if (act == ACT_SIGMOID)
            s *= hv * (1.0 - hv); /* as act_deriv's sigmoid, then act_grad */
        if (!FULL) s = (v8d)((v8l)s & keep);
        if (DW) {
            for (size_t j = 0; j < IN; j++)
                da[j] += uk[j] * s; /* as small_param_grad */
            da[IN] += s;
        }
        if (GU)
            for (size_t j = 0; j < IN; j++) {
                if (FIRST)
                    gl[r][j] = (v8d){0} + s * wa[j]; /* as linear_dot_lanes */
                else
                    gl[r][j] += s * wa[j];
            }
    }
    if (!DW) return;
    for (size_t o = 0; o < OUT; o++)
        STORE8(dWb + o * hid + i0, db[o], cnt);
    if (!pa.to_out) {
        for (size_t j = 0; j <= IN; j++)
            memcpy(accT + j * hid8 + i0, &da[j], sizeof(v8d));
        return;
    }
    /* as small_param_grad's last loop: dW += acc transposed, db += dbs */
    if (FULL && IN == 2) {
        v8d lo, hi, d0, d1;
        lo = SHUF2(da[0], da[1], 0, 8, 1, 9, 2, 10, 3, 11);
        hi = SHUF2(da[0], da[1], 4, 12, 5, 13, 6, 14, 7, 15);
        memcpy(&d0, dWa + 2 * i0, sizeof d0);
        memcpy(&d1, dWa + 2 * i0 + 8, sizeof d1);
        d0 += lo;
        d1 += hi;
        memcpy(dWa + 2 * i0, &d0, sizeof d0);
        memcpy(dWa + 2 * i0 + 8, &d1, sizeof d1);
    } else {
        double t[PAIR_MAX_IN][8];
        memcpy(t, da, IN * sizeof(v8d));
        for (size_t l = 0; l < cnt; l++)
            for (size_t j = 0; j < IN; j++)
                dWa[(i0 + l) * IN + j] += t[j][l];
    }
    double *dba = dWa + hid * IN + i0;
    if (FULL) {
        v8d d;
        memcpy(&d, dba, sizeof d);
        d += da[IN];
        memcpy(dba, &d, sizeof d);
    } else {
        double t[8];
        memcpy(t, &da[IN], sizeof t);
        for (size_t l = 0; l < cnt; l++)
            dba[l] += t[l];
    }
}

/* gu for states k0 .. k0 + rows - 1 from their partial sums, each as
 * linear_dot_lanes reduces its eight: lanes 0-3 + lanes 4-7, then 0-1 +
 * 2-3, then 0 + 1. Eight sums at a time, through shuffles: the q-th of
 * the rows x IN partial sums is gu[k0 IN + q]. */
static inline __attribute__((always_inline)) void
pair_reduce(const size_t IN, size_t k0, size_t rows, v8d gl[][PAIR_MAX_IN], double *gu)
{
    const size_t nq = rows * IN;
    double *out = gu + k0 * IN;
#define GL(q) gl[(q) / IN][(q) % IN]
    size_t q = 0;
    for (; q + 8 <= nq; q += 8) {
        v8d z[4], w[2], res;
        for (size_t p = 0; p < 4; p++)
            z[p] = SHUF2(GL(q + 2 * p), GL(q + 2 * p + 1), 0, 1, 2, 3, 8, 9, 10, 11) +
                   SHUF2(GL(q + 2 * p), GL(q + 2 * p + 1), 4, 5, 6, 7, 12, 13, 14, 15);
        for (size_t p = 0; p < 2; p++)
            w[p] = SHUF2(z[2 * p], z[2 * p + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
                   SHUF2(z[2 * p], z[2 * p + 1], 2, 3, 6, 7, 10, 11, 14, 15);
        res = SHUF2(w[0], w[1], 0, 2, 4, 6, 8, 10, 12, 14) +
              SHUF2(w[0], w[1], 1, 3, 5, 7, 9, 11, 13, 15);
        memcpy(out + q, &res, sizeof res);
    }
    for (; q < nq; q++) {
        double a[8];
        memcpy(a, &GL(q), sizeof a);
        out[q] = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    }
#undef GL
}

/* The body for IN inputs and OUT outputs (constants in the fast
 * expansions, so that every array below is registers), DW and GU as
 * pair_chunk's. */
static inline __attribute__((always_inline)) void
pair_body(const size_t IN, const size_t OUT, const bool DW, const bool GU, size_t n, size_t hid,
          act_kind act, const double *Wa, const double *Wb, const double *u, const double *h,
          const double *v, double *dWa, double *dWb, double *gu)
{
    /* as small_param_grad: layer a's dW transposed, then its db, between
     * blocks of states; rows of hid8 >= hid doubles */
    double accT[2 * LINEAR_SMALL_WEIGHTS + 8 * (PAIR_MAX_IN + 1)]; /* (IN + 1) hid8 */
    const size_t hid8 = (hid + 7) & ~(size_t)7, full = hid & ~(size_t)7;
    v8d gl[PAIR_ROWS][PAIR_MAX_IN]; /* as linear_dot_lanes: acc[8] */
    /* layer b's db, as outer_acc: += g, state by state (in the first
     * chunk's loop, where the adds' latency hides behind its work) */
    double bb[PAIR_MAX_OUT], *dbb = dWb + OUT * hid;
    if (DW)
        for (size_t o = 0; o < OUT; o++)
            bb[o] = dbb[o];
    for (size_t k0 = 0; k0 < n; k0 += PAIR_ROWS) {
        const size_t rows = n - k0 < PAIR_ROWS ? n - k0 : PAIR_ROWS;
        const pair_acc pa = {k0 > 0, k0 + rows == n};
        pair_chunk(IN, OUT, true, true, DW, GU, 0, 8, k0, rows, n, hid, hid8, act, pa, Wa, Wb, u, h,
                   v, dWa, dWb, accT, gl, bb);
        for (size_t i0 = 8; i0 < full; i0 += 8)
            pair_chunk(IN, OUT, true, false, DW, GU, i0, 8, k0, rows, n, hid, hid8, act, pa, Wa, Wb,
                       u, h, v, dWa, dWb, accT, gl, bb);
        if (full < hid)
            pair_chunk(IN, OUT, false, false, DW, GU, full, hid - full, k0, rows, n, hid, hid8, act,
                       pa, Wa, Wb, u, h, v, dWa, dWb, accT, gl, bb);
        if (GU) pair_reduce(IN, k0, rows, gl, gu);
    }
    if (DW)
        for (size_t o = 0; o < OUT; o++)
            dbb[o] = bb[o];
}

#define PAIR_CASE(I, O)                                                                            \
    if (in == (I) && out == (O) && act == ACT_TANH) {                                              \
        if (dWa && gu)                                                                             \
            pair_body(I, O, true, true, n, hid, ACT_TANH, Wa, Wb, u, h, v, dWa, dWb, gu);          \
        else if (dWa)                                                                              \
            pair_body(I, O, true, false, n, hid, ACT_TANH, Wa, Wb, u, h, v, dWa, dWb, gu);         \
        else                                                                                       \
            pair_body(I, O, false, true, n, hid, ACT_TANH, Wa, Wb, u, h, v, dWa, dWb, gu);         \
        return;                                                                                    \
    }

SIMD_CLONES void linear_pair_vjp(size_t n, size_t in, size_t hid, size_t out, act_kind act,
                                 const double *Wa, const double *Wb, const double *u,
                                 const double *h, const double *v, double *dWa, double *dWb,
                                 double *gu)
{
    if (!dWa && !gu) return;
    PAIR_CASE(1, 1)
    PAIR_CASE(2, 1)
    PAIR_CASE(3, 1)
    PAIR_CASE(1, 2)
    PAIR_CASE(2, 2)
    PAIR_CASE(3, 2)
    PAIR_CASE(1, 3)
    PAIR_CASE(2, 3)
    PAIR_CASE(3, 3)
    if (dWa && gu)
        pair_body(in, out, true, true, n, hid, act, Wa, Wb, u, h, v, dWa, dWb, gu);
    else if (dWa)
        pair_body(in, out, true, false, n, hid, act, Wa, Wb, u, h, v, dWa, dWb, gu);
    else
        pair_body(in, out, false, true, n, hid, act, Wa, Wb, u, h, v, dWa, dWb, gu);
}

/* ---- the forward ----------------------------------------------------------
 * Three passes over the batch in one call, each specialised for in and
 * out (constants in the expansions below): layer a as colp (nn/panel.c:
 * b, then + W^T column j times u_j, j in order; the units past the last
 * full chunk as one more chunk that ends at hid), written to h; the
 * activation over h by vmath_tanh's own code (tanh_block,
 * nn/vmath_elem.h: blocks of values, each through two loops); and
 * layer b from h as narrow_n_loops (lane l of sum o collects hidden units
 * l, l + 8, ..., 0 + the first product, reduced in hsum8's order, then the
 * units past the last full chunk one after the other, then b + the sum;
 * the AVX2 clone's dot1 is the same). h (a 20-state batch of 50 units is
 * 8 KB) stays in L1 between the passes. The per-chunk order (layer a, tanh
 * and layer b for eight units of one state while in registers) was
 * slower: every chunk's tanh ends in a division whose latency the next
 * chunk's work did not cover, where whole blocks of the batch keep the
 * divider busy (docs/training.md, "Fused forward"). The AVX-512 and AVX2
 * clones run the same IEEE operations: those of the unfused layers, bit
 * for bit. */

#if defined(SIMD_HAVE_CLONES)
#define PAIR_FMA_CLONES                                                                            \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PAIR_FMA_CLONES
#endif

bool linear_pair_forward_fits(size_t n, size_t in, size_t hid, size_t out, act_kind act)
{
    return linear_pair_fits(n, in, hid, out, act) && act != ACT_SIGMOID &&
           simd_vector_doubles() >= 4;
}

static inline __attribute__((always_inline)) void fwd_body(const size_t IN, const size_t OUT,
                                                           size_t n, size_t hid, act_kind act,
                                                           const double *Wa, const double *ba,
                                                           const double *Wb, const double *bb,
                                                           const double *u, double *h, double *y)
{
    assert(hid >= 8); /* the last chunk ends at hid (linear_pair_fits) */
    const size_t hid8 = (hid + 7) & ~(size_t)7, full = hid & ~(size_t)7;
    /* as small_forward's panel_pack: W_a transposed, rows of hid8 doubles */
    double P[LINEAR_SMALL_WEIGHTS + 8 * PAIR_MAX_IN];
    for (size_t o = 0; o < hid; o++)
        for (size_t j = 0; j < IN; j++)
            P[j * hid8 + o] = Wa[o * IN + j];
    /* as colp, chunk by chunk of eight units: the chunk's biases and
     * weights stay in registers for all n states (each value still gets
     * colp's operations in colp's order). Units past the last full chunk
     * come in one more chunk, the eight that end at hid (hid >= 8): the
     * units it shares with the chunk before get the same operations, so
     * the same values again. */
    for (size_t c = 0; c < full + (full < hid ? 8 : 0); c += 8) {
        const size_t i0 = c < full ? c : hid - 8;
        v8d b0, pw[PAIR_MAX_IN];
        memcpy(&b0, ba + i0, sizeof b0);
#pragma GCC unroll 8
        for (size_t j = 0; j < IN; j++)
            memcpy(&pw[j], P + j * hid8 + i0, sizeof pw[j]);
        for (size_t k = 0; k < n; k++) {
            const double *uk = u + k * IN;
            v8d s = b0;
#pragma GCC unroll 8
            for (size_t j = 0; j < IN; j++)
                s += pw[j] * uk[j];
            memcpy(h + k * hid + i0, &s, sizeof s);
        }
    }
    if (act == ACT_TANH) /* as vmath_tanh */
        tanh_block(n * hid, h, h);
    /* as narrow_n_loops: the (state, output) pairs eight at a time (G
     * states), their eight sums reduced by one shuffle tree. All G states
     * every time (a last group short of G repeats its first state, whose
     * extra sums are dropped), so that with OUT a constant the loops over
     * states and outputs unroll and the sums stay in registers, not in a
     * stack array indexed at run time; each sum still adds its products
     * in the order of i0, so the bits are those of one state alone. */
    const size_t G = 8 / OUT;
    for (size_t k0 = 0; k0 < n; k0 += G) {
        const size_t g = n - k0 < G ? n - k0 : G;
        const double *hr[8];
        for (size_t r = 0; r < G; r++)
            hr[r] = h + (k0 + (r < g ? r : 0)) * hid;
        v8d acc[8], pv, hv;
#pragma GCC unroll 8
        for (int q = 0; q < 8; q++)
            acc[q] = (v8d){0};
        for (size_t i0 = 0; i0 < full; i0 += 8) {
#pragma GCC unroll 8
            for (size_t r = 0; r < G; r++) {
                memcpy(&hv, hr[r] + i0, sizeof hv);
#pragma GCC unroll 8
                for (size_t o = 0; o < OUT; o++) {
                    memcpy(&pv, Wb + o * hid + i0, sizeof pv);
                    /* & 7: r * OUT + o < 8 always; it tells the
                     * compiler so in the copy where OUT is a variable */
                    acc[(r * OUT + o) & 7] += pv * hv;
                }
            }
        }
        double sums[8];
        nn_hsum8x8(acc, sums);
        for (size_t r = 0; r < g; r++) {
            const double *hk = h + (k0 + r) * hid;
            for (size_t o = 0; o < OUT; o++) {
                double sum = sums[r * OUT + o];
                for (size_t t = full; t < hid; t++)
                    sum += Wb[o * hid + t] * hk[t];
                y[(k0 + r) * OUT + o] = bb[o] + sum;
            }
        }
    }
}

#define FWD_CASE(I, O)                                                                             \
    if (in == (I) && out == (O) && act == ACT_TANH) {                                              \
        fwd_body(I, O, n, hid, ACT_TANH, Wa, ba, Wb, bb, u, h, y);                                 \
        return;                                                                                    \
    }

PAIR_FMA_CLONES void linear_pair_forward(size_t n, size_t in, size_t hid, size_t out, act_kind act,
                                         const double *Wa, const double *ba, const double *Wb,
                                         const double *bb, const double *u, double *h, double *y)
{
    FWD_CASE(1, 1)
    FWD_CASE(2, 1)
    FWD_CASE(3, 1)
    FWD_CASE(1, 2)
    FWD_CASE(2, 2)
    FWD_CASE(3, 2)
    FWD_CASE(1, 3)
    FWD_CASE(2, 3)
    FWD_CASE(3, 3)
    fwd_body(in, out, n, hid, act, Wa, ba, Wb, bb, u, h, y);
}
