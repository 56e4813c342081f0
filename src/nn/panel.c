/* nn/panel.c: the single-state matrix-vector kernels. See panel.h.
 *
 * A single state (and a small batch, item by item: nn/linear.c) goes
 * through these hand loops rather than cblas_dgemv: for the small layers of
 * a vector field (2 -> 64 -> 64 -> 2) they are faster than the BLAS call
 * (bench/bench_nn measures both; docs/nn.md). The dot products of W u keep
 * 8 explicit partial sums, so their summation order is fixed by the source,
 * not by the vectoriser; results differ from the GEMM path's in the last
 * bits only. With AVX-512, eight rows are reduced together by a shuffle
 * tree in the same order (a scalar reduction per row took a large share of
 * the CDE field of bench W3, 8 -> 128 -> 24), or, once mlp_pack has stored
 * them as panels (lane r = row r), by plain vector adds, again in the same
 * order: the same bits, and faster where the shuffles across the halves of
 * a 512-bit register are dear, as on Zen 4 (bench/bench_cde w3_rhs). */
#include "nn/panel.h"

#include "nn/hsum8.h"
#include "nn/simd.h"

#include <cblas.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#define PANEL_HAVE_V8D 1 /* GCC vector extensions: the eight-row kernels below */
#endif

/* For in >= 8, blocks of eight rows, each laid out [in][8], for the first
 * out/8*8 rows, when the running code has the AVX-512 or AVX2 kernels that
 * read them (dot8p, dot4p); for in < 8, W transposed, [in][out], read
 * column by column by every variant. */
size_t panel_size(size_t out, size_t in)
{
    if (in < 8) return in * out;
#if defined(PANEL_HAVE_V8D)
    if (simd_vector_doubles() >= 4) return out / 8 * 8 * in;
#endif
    return 0;
}

void panel_pack(size_t out, size_t in, const double *W, double *p)
{
    if (in < 8) {
        for (size_t i = 0; i < in; i++)
            for (size_t o = 0; o < out; o++)
                p[i * out + o] = W[o * in + i];
        return;
    }
    for (size_t o = 0; o + 8 <= out; o += 8, p += 8 * in) /* block o: [in][8] */
        for (size_t i = 0; i < in; i++)
            for (size_t r = 0; r < 8; r++)
                p[i * 8 + r] = W[(o + r) * in + i];
}

static inline __attribute__((always_inline)) double hsum8(const double *a)
{
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* W[0..3] . u: 8 explicit partial sums per row (one vector register; a
 * fixed summation order, not left to the vectoriser), each chunk of u
 * loaded once for the four rows. */
static inline __attribute__((always_inline)) void dot4(size_t in, const double *w0, const double *u,
                                                       double s[4])
{
    const double *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
    double a0[8] = {0}, a1[8] = {0}, a2[8] = {0}, a3[8] = {0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
        for (int j = 0; j < 8; j++) {
            double uj = u[i + j];
            a0[j] += w0[i + j] * uj;
            a1[j] += w1[i + j] * uj;
            a2[j] += w2[i + j] * uj;
            a3[j] += w3[i + j] * uj;
        }
    }
    s[0] = hsum8(a0), s[1] = hsum8(a1), s[2] = hsum8(a2), s[3] = hsum8(a3);
    for (; i < in; i++) {
        s[0] += w0[i] * u[i];
        s[1] += w1[i] * u[i];
        s[2] += w2[i] * u[i];
        s[3] += w3[i] * u[i];
    }
}

static inline __attribute__((always_inline)) double dot1(size_t in, const double *w,
                                                         const double *u)
{
    double a[8] = {0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8)
        for (int j = 0; j < 8; j++)
            a[j] += w[i + j] * u[i + j];
    double s = hsum8(a);
    for (; i < in; i++)
        s += w[i] * u[i];
    return s;
}

#if defined(PANEL_HAVE_V8D)
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));
#define SHUF(a, b, ...) __builtin_shuffle((a), (b), (v8i){__VA_ARGS__})

/* Unaligned load; a macro, since a function returning v8d changes the ABI
 * (-Wpsabi) in the clones without AVX-512. */
#define LOAD8(dst, p) memcpy(&(dst), (p), sizeof(v8d))

/* z[0..7] = b[0..7] (or 0) + W[0..7] . u: the same partial sums and order as
 * dot4, eight rows at a time, reduced together and stored as one vector. */
static inline __attribute__((always_inline)) void dot8(size_t in, const double *w0, const double *b,
                                                       const double *u, double *z)
{
    v8d a[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        a[r] = (v8d){0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
        v8d uv, wv;
        LOAD8(uv, u + i);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            LOAD8(wv, w0 + r * in + i);
            a[r] += wv * uv;
        }
    }
    double s[8] __attribute__((aligned(64)));
    nn_hsum8x8(a, s);
    if (i < in) {
        for (; i < in; i++)
            for (int r = 0; r < 8; r++)
                s[r] += w0[r * in + i] * u[i];
    }
    v8d sv, bv = {0};
    memcpy(&sv, s, sizeof sv);
    if (b) LOAD8(bv, b);
    sv = bv + sv;
    memcpy(z, &sv, sizeof sv);
}

/* dot8 for k = 1..3 consecutive blocks of eight rows from their panels
 * (panel_pack; block q at P + q*8*in, laid out [in][8], P[i*8 + r] = W[r][i]):
 * lane r of every vector is row r, so partial sum j of eight rows is one
 * vector, a[q][j], and the reduction is plain vector adds in hsum8's
 * order; the tail likewise. Each lane performs dot8's IEEE operations in
 * dot8's order (0 + the first product included), so the result is the
 * same bit for bit, without the shuffle tree, which cost more than the
 * products for in = 8 (AVX-512 is double-pumped on Zen 4). Each u[i] is
 * broadcast once for the k blocks: one block per broadcast was slower than
 * dot8 for wide inputs (bench/bench_nn layer_* lines; 24 accumulators still
 * fit the 32 registers). */
static inline __attribute__((always_inline)) void dot8p(int k, size_t in, const double *P,
                                                        const double *b, const double *u, double *z)
{
    v8d a[3][8];
#pragma GCC unroll 3
    for (int q = 0; q < k; q++)
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            a[q][j] = (v8d){0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            double uj = u[i + j];
#pragma GCC unroll 3
            for (int q = 0; q < k; q++) {
                v8d pv;
                LOAD8(pv, P + q * 8 * in + (i + j) * 8);
                a[q][j] += pv * uj;
            }
        }
    }
#pragma GCC unroll 3
    for (int q = 0; q < k; q++) {
        v8d s = ((a[q][0] + a[q][4]) + (a[q][1] + a[q][5])) +
                ((a[q][2] + a[q][6]) + (a[q][3] + a[q][7]));
        for (size_t t = i; t < in; t++) {
            v8d pv;
            LOAD8(pv, P + q * 8 * in + t * 8);
            s += pv * u[t];
        }
        v8d bv = {0};
        if (b) LOAD8(bv, b + 8 * q);
        s = bv + s;
        memcpy(z + 8 * q, &s, sizeof s);
    }
}

/* The AVX2 clone's dot8p: four rows (half a block: P at the block's
 * panel + 0 or + 4, stride 8) per 256-bit vector, lane r = row r, with
 * dot4's IEEE operations in dot4's order (0 + the first product, hsum8's
 * tree, the tail, b + s), so the same bits. dot4 reduces each row with
 * scalar adds, which this avoids, with 8 accumulators of the 16 registers
 * (bench/bench_cde and bench/bench_nn in an AVX2 build; docs/nn.md). */
typedef double v4d __attribute__((vector_size(32)));
#define LOAD4(dst, p) memcpy(&(dst), (p), sizeof(v4d))

static inline __attribute__((always_inline)) void dot4p(size_t in, const double *P, const double *b,
                                                        const double *u, double *z)
{
    v4d a[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        a[j] = (v4d){0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            v4d pv;
            LOAD4(pv, P + (i + j) * 8);
            a[j] += pv * u[i + j];
        }
    }
    v4d s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    for (; i < in; i++) {
        v4d pv;
        LOAD4(pv, P + i * 8);
        s += pv * u[i];
    }
    v4d bv = {0};
    if (b) LOAD4(bv, b);
    s = bv + s;
    memcpy(z, &s, sizeof s);
}
#undef LOAD4

/* z = b (or +0) + W u for in < 8 from W transposed (P[i*out + o] =
 * W[o][i]), eight rows per vector, each z[o] added column after column in
 * order as the column loop of matvec_loops does, but in a register. */
static inline __attribute__((always_inline)) void colp(size_t out, size_t in, const double *P,
                                                       const double *b, const double *u, double *z)
{
    size_t o = 0;
    for (; o + 8 <= out; o += 8) {
        v8d s = {0}, pv;
        if (b) LOAD8(s, b + o);
        for (size_t i = 0; i < in; i++) {
            LOAD8(pv, P + i * out + o);
            s += pv * u[i];
        }
        memcpy(z + o, &s, sizeof s);
    }
    for (; o < out; o++) {
        double s = b ? b[o] : 0.0;
        for (size_t i = 0; i < in; i++)
            s += P[i * out + o] * u[i];
        z[o] = s;
    }
}
/* Keep a loaded panel vector in a register: GCC otherwise folds the load
 * into each state's multiply, one load per product instead of one per
 * ks products, and the kernel is bound by loads. Only in code compiled for
 * AVX-512 (the "v" constraint names its 32 zmm registers there). */
#if defined(__x86_64__)
#define PANEL_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define PANEL_IN_REGISTER(v) ((void)0)
#endif

/* dot8p(1) for ks = 1..3 states at once: z_s[0..7] = b + W[0..7] . u_s
 * from one block's panel (lane r = row r), each panel vector loaded once
 * for the ks states. Each lane performs dot8p's IEEE operations in its
 * order, so every state's result is the one it gets alone, bit for bit;
 * what changes is that a block of samples reads the weights once: two
 * 64 x 64 layers (an SDE's drift and diffusion) do not fit the L1 cache
 * together, and one state per pass reloads them from L2 every time
 * (bench/bench_sde; docs/benchmarks.md, "SDE"). 24 accumulators at ks = 3,
 * as dot8p(3). */
static inline __attribute__((always_inline)) void dot8s(int ks, size_t in, const double *P,
                                                        const double *b, const double *u,
                                                        double *z, size_t zs)
{
    v8d a[3][8];
#pragma GCC unroll 3
    for (int s = 0; s < ks; s++)
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            a[s][j] = (v8d){0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            v8d pv;
            LOAD8(pv, P + (i + j) * 8);
            PANEL_IN_REGISTER(pv);
#pragma GCC unroll 3
            for (int s = 0; s < ks; s++)
                a[s][j] += pv * u[s * in + i + j];
        }
    }
#pragma GCC unroll 3
    for (int s = 0; s < ks; s++) {
        v8d r = ((a[s][0] + a[s][4]) + (a[s][1] + a[s][5])) +
                ((a[s][2] + a[s][6]) + (a[s][3] + a[s][7]));
        for (size_t t = i; t < in; t++) {
            v8d pv;
            LOAD8(pv, P + t * 8);
            r += pv * u[s * in + t];
        }
        v8d bv = {0};
        if (b) LOAD8(bv, b);
        r = bv + r;
        memcpy(z + s * zs, &r, sizeof r);
    }
}
#undef SHUF
#undef LOAD8
#endif

/* z = W u (+ b if b): W out x in row-major. Narrow inputs go column by
 * column (vectorised over the rows); wider ones eight or four rows at a
 * time. P, if not NULL, is panel_pack's copy of W (panel_size): W
 * transposed for in < 8, else panels of the first out/8*8 rows, which
 * only the AVX-512 and AVX2 clones are given. */
SIMD_CLONES static void matvec_loops(size_t out, size_t in, const double *W, const double *P,
                                     const double *b, const double *u, double *z)
{
    if (in < 8) {
#if defined(PANEL_HAVE_V8D)
        if (P && simd_vector_doubles() >= 8) {
            colp(out, in, P, b, u, z);
            return;
        }
#endif
        if (b) /* z = b or +0 */
            memcpy(z, b, out * sizeof *z);
        else
            memset(z, 0, out * sizeof *z);
        for (size_t i = 0; i < in; i++) {
            double ui = u[i];
            if (P) { /* column i of W, contiguous */
                const double *w = P + i * out;
#pragma omp simd
                for (size_t o = 0; o < out; o++)
                    z[o] += w[o] * ui;
            } else {
                const double *w = W + i;
#pragma omp simd
                for (size_t o = 0; o < out; o++)
                    z[o] += w[o * in] * ui;
            }
        }
        return;
    }
    size_t o = 0;
#if defined(PANEL_HAVE_V8D)
    if (simd_vector_doubles() >= 8) {
        if (P) {
            for (; o + 24 <= out; o += 24)
                dot8p(3, in, P + o * in, b ? b + o : NULL, u, z + o);
            /* 0, 1 or 2 blocks left; k a constant in each call */
            if (out - o >= 16) {
                dot8p(2, in, P + o * in, b ? b + o : NULL, u, z + o);
                o += 16;
            } else if (out - o >= 8) {
                dot8p(1, in, P + o * in, b ? b + o : NULL, u, z + o);
                o += 8;
            }
        }
        for (; o + 8 <= out; o += 8)
            dot8(in, W + o * in, b ? b + o : NULL, u, z + o);
    } else if (P && simd_vector_doubles() >= 4) {
        for (; o + 8 <= out; o += 8) {
            dot4p(in, P + o * in, b ? b + o : NULL, u, z + o);
            dot4p(in, P + o * in + 4, b ? b + o + 4 : NULL, u, z + o + 4);
        }
    }
#endif
    for (; o + 4 <= out; o += 4) {
        double s[4];
        dot4(in, W + o * in, u, s);
        for (int r = 0; r < 4; r++)
            z[o + r] = (b ? b[o + r] : 0.0) + s[r];
    }
    for (; o < out; o++)
        z[o] = (b ? b[o] : 0.0) + dot1(in, W + o * in, u);
}

/* n states with the AVX-512 panels, out a multiple of 8: block by block
 * (8 rows), the states three at a time. */
#if defined(PANEL_HAVE_V8D) && defined(__x86_64__)
#define PANEL_HAVE_N 1
/* Called only when simd_vector_doubles() >= 8, so compiled for AVX-512
 * alone (no other clone would run it). */
__attribute__((target("avx512f"))) static void matvec_n_loops(size_t n, size_t out, size_t in, const double *P,
                                       const double *b, const double *u, double *z)
{
    for (size_t o = 0; o < out; o += 8) {
        const double *Pq = P + o * in, *bq = b ? b + o : NULL;
        size_t s = 0;
        for (; s + 3 <= n; s += 3)
            dot8s(3, in, Pq, bq, u + s * in, z + s * out + o, out);
        if (n - s == 2)
            dot8s(2, in, Pq, bq, u + s * in, z + s * out + o, out);
        else if (n - s == 1)
            dot8s(1, in, Pq, bq, u + s * in, z + s * out + o, out);
    }
}

/* n states through a layer with fewer than 8 outputs (in >= 8), such as
 * a network's last: dot1's (and dot4's) operations per row and state, the
 * (state, row) pairs eight at a time, z[s*out + o] being pair s*out + o.
 * Eight independent sums instead of one chain per call, and one shuffle
 * tree (nn_hsum8x8, hsum8's order) for the eight reductions. */
__attribute__((target("avx512f"))) static void narrow_n_loops(size_t n, size_t out, size_t in,
                                                              const double *W, const double *b,
                                                              const double *u, double *z)
{
    const size_t pairs = n * out;
    for (size_t p0 = 0; p0 < pairs; p0 += 8) {
        const size_t g = pairs - p0 < 8 ? pairs - p0 : 8;
        const double *w[8], *x[8];
        v8d a[8];
        for (size_t q = 0; q < 8; q++) {
            size_t p = p0 + (q < g ? q : 0);
            w[q] = W + (p % out) * in;
            x[q] = u + (p / out) * in;
            a[q] = (v8d){0};
        }
        size_t i = 0;
        for (; i + 8 <= in; i += 8) {
#pragma GCC unroll 8
            for (int q = 0; q < 8; q++) {
                v8d wv, uv;
                memcpy(&wv, w[q] + i, sizeof wv);
                memcpy(&uv, x[q] + i, sizeof uv);
                a[q] += wv * uv;
            }
        }
        double sum[8] __attribute__((aligned(64)));
        nn_hsum8x8(a, sum);
        for (size_t q = 0; q < g; q++) {
            for (size_t t = i; t < in; t++)
                sum[q] += w[q][t] * x[q][t];
            z[p0 + q] = (b ? b[(p0 + q) % out] : 0.0) + sum[q];
        }
    }
}

/* n states through a layer with fewer than 8 inputs, from W transposed:
 * colp state by state, in one call. */
__attribute__((target("avx512f"))) static void colp_n_loops(size_t n, size_t out, size_t in,
                                                            const double *P, const double *b,
                                                            const double *u, double *z)
{
    for (size_t s = 0; s < n; s++)
        colp(out, in, P, b, u + s * in, z + s * out);
}
#endif /* PANEL_HAVE_V8D && __x86_64__: the panels of several states */

void panel_matvec_n(size_t n, size_t out, size_t in, const double *W, const double *P,
                    const double *b, const double *u, double *z)
{
#if defined(PANEL_HAVE_N)
    if (n > 1 && simd_vector_doubles() >= 8) {
        if (P && in >= 8 && out % 8 == 0) {
            matvec_n_loops(n, out, in, P, b, u, z);
            return;
        }
        if (in >= 8 && out < 8) {
            narrow_n_loops(n, out, in, W, b, u, z);
            return;
        }
        if (in < 8 && P) {
            colp_n_loops(n, out, in, P, b, u, z);
            return;
        }
    }
#endif
    for (size_t k = 0; k < n; k++)
        panel_matvec(out, in, W, P, b, u + k * in, z + k * out);
}

/* The four-row loops keep 32 partial sums, which need wide vectors: at
 * SSE2 width (the baseline clone, CPUs without AVX2) they spill and are
 * slower than OpenBLAS's dgemv (docs/nn.md), which picks its own kernel
 * for the CPU; use it there (different summation order, same contract). */
void panel_matvec(size_t out, size_t in, const double *W, const double *P, const double *b,
                  const double *u, double *z)
{
    if (in < 8 || simd_vector_doubles() >= 4) {
        matvec_loops(out, in, W, P, b, u, z);
        return;
    }
    if (b)
        memcpy(z, b, out * sizeof *z);
    else
        memset(z, 0, out * sizeof *z); /* beta = 0 need not clear a NaN left in z */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)in, 1.0, W, (int)in, u, 1, 1.0, z, 1);
}
