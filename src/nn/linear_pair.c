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
 * the code whose operations a line repeats): the same bits. The last,
 * partial chunk reads the weights from zero-padded copies, and a state's
 * hidden values with a full vector load where the next state's row
 * follows (a padded copy for the last state: a store forwarded into a
 * wider load stalls); its lanes past the layer are cleared (as bits, not
 * by a product: inf * 0) before they reach a sum, where +0 changes
 * nothing (the partial sums start at +0, so are never -0). tanh, the
 * activation of the fields trained, is a constant in the expansions for
 * in, out <= 3. */
#include "nn/linear_pair.h"

#include "nn/linear.h"
#include "nn/simd.h"
#include "nn/vmath_elem.h"

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

/* Loads and stores of a chunk: macros, not functions returning v8d, which
 * change the ABI (-Wpsabi) in the clones without AVX-512. A full chunk is
 * one vector load; the partial one (cnt < 8) goes through a zero-padded
 * copy, whose lanes past cnt are +0. */
#define PART8(dst, p, cnt)                                                                         \
    do {                                                                                           \
        if (FULL) {                                                                                \
            memcpy(&(dst), (p), sizeof(v8d));                                                      \
        } else {                                                                                   \
            double t_[8] = {0};                                                                    \
            for (size_t l_ = 0; l_ < (cnt); l_++)                                                  \
                t_[l_] = (p)[l_];                                                                  \
            memcpy(&(dst), t_, sizeof(v8d));                                                       \
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

/* Chunk i0 (cnt hidden units; FULL: cnt = 8) for states k0 .. k0 + rows - 1. */
static inline __attribute__((always_inline)) void
pair_chunk(const size_t IN, const size_t OUT, const bool FULL, size_t i0, size_t cnt, size_t k0,
           size_t rows, size_t n_all, size_t hid, size_t hid8, act_kind act, const double *WT,
           const double *Wb, const double *u, const double *h, const double *v, double *dWa,
           double *dWb, double *gu, double *accT, v8d gl[][PAIR_MAX_IN])
{
    v8d wb[PAIR_MAX_OUT], wa[PAIR_MAX_IN], db[PAIR_MAX_OUT] = {{0}}, da[PAIR_MAX_IN + 1] = {{0}};
    v8l keep;
    for (size_t l = 0; l < 8; l++)
        keep[l] = l < cnt ? -1 : 0;
    for (size_t o = 0; o < OUT; o++) {
        PART8(wb[o], Wb + o * hid + i0, cnt);
        if (dWa) PART8(db[o], dWb + o * hid + i0, cnt);
    }
    for (size_t j = 0; j < IN; j++)
        PART8(wa[j], WT + j * hid + i0, cnt);
    if (dWa)
        for (size_t j = 0; j <= IN; j++)
            PART8(da[j], accT + j * hid8 + i0, cnt);
    for (size_t r = 0; r < rows; r++) {
        const size_t k = k0 + r;
        const double *gk = v + k * OUT, *uk = u + k * IN;
        v8d hv;
        if (FULL || k + 1 < n_all)                    /* the next state's row follows: in bounds */
            memcpy(&hv, h + k * hid + i0, sizeof hv); /* lanes past cnt: masked below */
        else
            PART8(hv, h + k * hid + i0, cnt);
        if (dWa)
            for (size_t o = 0; o < OUT; o++)
                db[o] += gk[o] * hv; /* as outer_acc */
        v8d s = {0};                 /* as matvec_t: gp = 0, += per row of W_b */
        for (size_t o = 0; o < OUT; o++)
            s += gk[o] * wb[o];
        if (act == ACT_TANH)
            s *= 1.0 - hv * hv; /* as act_grad's tanh */
        else if (act == ACT_SIGMOID)
            s *= hv * (1.0 - hv); /* as act_deriv's sigmoid, then act_grad */
        s = (v8d)((v8l)s & keep);
        if (dWa) {
            for (size_t j = 0; j < IN; j++)
                da[j] += uk[j] * s; /* as small_param_grad */
            da[IN] += s;
        }
        if (gu)
            for (size_t j = 0; j < IN; j++) {
                if (i0 == 0) gl[r][j] = (v8d){0};
                gl[r][j] += s * wa[j]; /* as linear_dot_lanes */
            }
    }
    if (dWa) {
        for (size_t o = 0; o < OUT; o++)
            STORE8(dWb + o * hid + i0, db[o], cnt);
        for (size_t j = 0; j <= IN; j++)
            STORE8(accT + j * hid8 + i0, da[j], cnt);
    }
}

/* The body for IN inputs and OUT outputs (constants in the fast
 * expansions, so that every array below is registers). */
static inline __attribute__((always_inline)) void
pair_body(const size_t IN, const size_t OUT, size_t n, size_t hid, act_kind act, const double *Wa,
          const double *Wb, const double *u, const double *h, const double *v, double *dWa,
          double *dWb, double *gu)
{
    double WT[LINEAR_SMALL_WEIGHTS]; /* as small_input_grad: W_a transposed */
    /* as small_param_grad: layer a's dW transposed, then its db, from 0;
     * rows of hid8 >= hid doubles, (IN + 1) hid8 <= 2 IN hid + 7 (IN + 1) */
    double accT[2 * LINEAR_SMALL_WEIGHTS + 8 * (PAIR_MAX_IN + 1)];
    const size_t hid8 = (hid + 7) & ~(size_t)7;
    v8d gl[PAIR_ROWS][PAIR_MAX_IN]; /* as linear_dot_lanes: acc[8] */
    for (size_t o = 0; o < hid; o++)
        for (size_t j = 0; j < IN; j++)
            WT[j * hid + o] = Wa[o * IN + j];
    if (dWa)
        for (size_t j = 0; j <= IN; j++)
            memset(accT + j * hid8, 0, hid * sizeof(double));
    for (size_t k0 = 0; k0 < n; k0 += PAIR_ROWS) {
        const size_t rows = n - k0 < PAIR_ROWS ? n - k0 : PAIR_ROWS;
        size_t i0 = 0;
        for (; i0 + 8 <= hid; i0 += 8)
            pair_chunk(IN, OUT, true, i0, 8, k0, rows, n, hid, hid8, act, WT, Wb, u, h, v, dWa, dWb,
                       gu, accT, gl);
        if (i0 < hid)
            pair_chunk(IN, OUT, false, i0, hid - i0, k0, rows, n, hid, hid8, act, WT, Wb, u, h, v,
                       dWa, dWb, gu, accT, gl);
        if (gu)
            for (size_t r = 0; r < rows; r++)
                for (size_t j = 0; j < IN; j++) {
                    double a[8];
                    memcpy(a, &gl[r][j], sizeof a);
                    gu[(k0 + r) * IN + j] =
                        ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
                }
    }
    if (dWa) {
        for (size_t o = 0; o < hid; o++)
            for (size_t j = 0; j < IN; j++)
                dWa[o * IN + j] += accT[j * hid8 + o];
        double *dba = dWa + hid * IN, *dbb = dWb + OUT * hid;
        for (size_t o = 0; o < hid; o++)
            dba[o] += accT[IN * hid8 + o];
        for (size_t k = 0; k < n; k++) /* as outer_acc: db[o] += g, state by state */
            for (size_t o = 0; o < OUT; o++)
                dbb[o] += v[k * OUT + o];
    }
}

#define PAIR_CASE(I, O)                                                                            \
    if (in == (I) && out == (O) && act == ACT_TANH) {                                              \
        pair_body(I, O, n, hid, ACT_TANH, Wa, Wb, u, h, v, dWa, dWb, gu);                          \
        return;                                                                                    \
    }

SIMD_CLONES void linear_pair_vjp(size_t n, size_t in, size_t hid, size_t out, act_kind act,
                                 const double *Wa, const double *Wb, const double *u,
                                 const double *h, const double *v, double *dWa, double *dWb,
                                 double *gu)
{
    PAIR_CASE(1, 1)
    PAIR_CASE(2, 1)
    PAIR_CASE(3, 1)
    PAIR_CASE(1, 2)
    PAIR_CASE(2, 2)
    PAIR_CASE(3, 2)
    PAIR_CASE(1, 3)
    PAIR_CASE(2, 3)
    PAIR_CASE(3, 3)
    pair_body(in, out, n, hid, act, Wa, Wb, u, h, v, dWa, dWb, gu);
}

/* ---- the forward ----------------------------------------------------------
 * Three passes over the batch in one call, each specialised for in and
 * out (constants in the expansions below): layer a as colp (nn/panel.c:
 * b, then + W^T column j times u_j, j in order; the units past the last
 * full chunk one by one, as its tail), written to h; the activation over
 * h by vmath_tanh's element code (nn/vmath_elem.h) in one vector loop; and
 * layer b from h as narrow_n_loops (lane l of sum o collects hidden units
 * l, l + 8, ..., 0 + the first product, reduced in hsum8's order, then the
 * units past the last full chunk one after the other, then b + the sum;
 * the AVX2 clone's dot1 is the same). h (a 20-state batch of 50 units is
 * 8 KB) stays in L1 between the passes. The per-chunk order (layer a, tanh
 * and layer b for eight units of one state while in registers) was
 * slower: every chunk's tanh ends in a division whose latency the next
 * chunk's work did not cover, where the one loop over the batch keeps the
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

static inline __attribute__((always_inline)) void
fwd_body(const size_t IN, const size_t OUT, size_t n, size_t hid, act_kind act, const double *Wa,
         const double *ba, const double *Wb, const double *bb, const double *u, double *h,
         double *y)
{
    const size_t hid8 = (hid + 7) & ~(size_t)7, full = hid & ~(size_t)7;
    /* as small_forward's panel_pack: W_a transposed, rows of hid8 doubles */
    double P[LINEAR_SMALL_WEIGHTS + 8 * PAIR_MAX_IN];
    for (size_t o = 0; o < hid; o++)
        for (size_t j = 0; j < IN; j++)
            P[j * hid8 + o] = Wa[o * IN + j];
    for (size_t k = 0; k < n; k++) { /* as colp */
        const double *uk = u + k * IN;
        double *hk = h + k * hid;
        size_t i0 = 0;
        for (; i0 < full; i0 += 8) {
            v8d s, pv;
            memcpy(&s, ba + i0, sizeof s);
            for (size_t j = 0; j < IN; j++) {
                memcpy(&pv, P + j * hid8 + i0, sizeof pv);
                s += pv * uk[j];
            }
            memcpy(hk + i0, &s, sizeof s);
        }
        for (; i0 < hid; i0++) {
            double z = ba[i0];
            for (size_t j = 0; j < IN; j++)
                z += P[j * hid8 + i0] * uk[j];
            hk[i0] = z;
        }
    }
    if (act == ACT_TANH) { /* as vmath_tanh */
#pragma omp simd
        for (size_t i = 0; i < n * hid; i++)
            h[i] = tanh_elem(h[i]);
    }
    for (size_t k = 0; k < n; k++) { /* as narrow_n_loops */
        const double *hk = h + k * hid;
        v8d acc[PAIR_MAX_OUT], pv, hv;
        for (size_t o = 0; o < OUT; o++)
            acc[o] = (v8d){0};
        for (size_t i0 = 0; i0 < full; i0 += 8) {
            memcpy(&hv, hk + i0, sizeof hv);
            for (size_t o = 0; o < OUT; o++) {
                memcpy(&pv, Wb + o * hid + i0, sizeof pv);
                acc[o] += pv * hv;
            }
        }
        for (size_t o = 0; o < OUT; o++) {
            double a[8];
            memcpy(a, &acc[o], sizeof a);
            double sum = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
            for (size_t t = full; t < hid; t++)
                sum += Wb[o * hid + t] * hk[t];
            y[k * OUT + o] = bb[o] + sum;
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
