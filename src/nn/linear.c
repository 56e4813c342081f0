/* nn/linear.c: one linear layer over a batch, forward and reverse. See
 * linear.h. */
#include "nn/linear.h"

#include "nn/panel.h"
#include "nn/simd.h"

#include <cblas.h>
#include <stdbool.h>
#include <string.h>

/* gp = W^T g (in values), four rows of W per pass over gp. */
SIMD_CLONES static void matvec_t(size_t out, size_t in, const double *W, const double *g,
                                 double *gp)
{
    memset(gp, 0, in * sizeof *gp);
    size_t o = 0;
    for (; o + 4 <= out; o += 4) {
        const double *w0 = W + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
        double g0 = g[o], g1 = g[o + 1], g2 = g[o + 2], g3 = g[o + 3];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            gp[i] += (g0 * w0[i] + g1 * w1[i]) + (g2 * w2[i] + g3 * w3[i]);
    }
    for (; o < out; o++) {
        const double *w = W + o * in;
        double go = g[o];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            gp[i] += go * w[i];
    }
}

/* dW += g u^T (out x in), db += g. */
SIMD_CLONES static void outer_acc(size_t out, size_t in, const double *g, const double *u,
                                  double *dW, double *db)
{
    for (size_t o = 0; o < out; o++) {
        double *d = dW + o * in;
        double go = g[o];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            d[i] += go * u[i];
        db[o] += go;
    }
}

/* y += x */
static void add_to(size_t n, const double *x, double *y)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

/* ---- small layers ---------------------------------------------------------
 * A layer of at most LINEAR_SMALL_WEIGHTS weights over a batch: GEMM's
 * packing and dispatch cost more than the product itself (bench_train's
 * 2-50-2 field, docs/training.md), so the batch is run here with W, or its
 * transpose copied to the stack (in < 8: the loops then run along out). */

static bool small_layer(size_t n, size_t out, size_t in)
{
    return out * in <= LINEAR_SMALL_WEIGHTS && n <= LINEAR_SMALL_MAX_BATCH;
}

static void transpose(size_t out, size_t in, const double *W, double *WT)
{
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++)
            WT[i * out + o] = W[o * in + i];
}

/* z = u W^T + b by panel_matvec_n's kernels (the same bits as one state at
 * a time), with W's panels packed on the stack when they are W^T (in < 8). */
static void small_forward(size_t n, size_t out, size_t in, const double *W, const double *b,
                          const double *u, double *z)
{
    double P[LINEAR_SMALL_WEIGHTS];
    const size_t np = panel_size(out, in);
    if (in < 8 && np > 0 && np <= LINEAR_SMALL_WEIGHTS) {
        panel_pack(out, in, W, P);
        panel_matvec_n(n, out, in, W, P, b, u, z);
        return;
    }
    panel_matvec_n(n, out, in, W, NULL, b, u, z);
}

/* dW += g^T u, db += sum of g; in < 8 through a transposed accumulator. */
SIMD_CLONES static void small_param_grad(size_t n, size_t out, size_t in, const double *g,
                                         const double *u, double *dW, double *db)
{
    if (in >= 8) {
        for (size_t k = 0; k < n; k++)
            outer_acc(out, in, g + k * out, u + k * in, dW, db);
        return;
    }
    double dWT[2 * LINEAR_SMALL_WEIGHTS];     /* (in + 1) out <= 2 in out, e.g. 1 x 512 */
    double *acc = dWT, *dbs = dWT + in * out; /* in >= 1 rows of out, then db */
    memset(dWT, 0, (in + 1) * out * sizeof *dWT);
    for (size_t k = 0; k < n; k++) {
        const double *gk = g + k * out, *uk = u + k * in;
        for (size_t i = 0; i < in; i++) {
            const double ui = uk[i];
            double *a = acc + i * out;
#pragma omp simd
            for (size_t o = 0; o < out; o++)
                a[o] += ui * gk[o];
        }
#pragma omp simd
        for (size_t o = 0; o < out; o++)
            dbs[o] += gk[o];
    }
    for (size_t o = 0; o < out; o++) {
        for (size_t i = 0; i < in; i++)
            dW[o * in + i] += acc[i * out + o];
        db[o] += dbs[o];
    }
}

/* gp = g W: in < 8, one dot along out per input with W^T; else rows of W. */
SIMD_CLONES static void small_input_grad(size_t n, size_t out, size_t in, const double *W,
                                         const double *g, double *gp)
{
    if (in >= 8) {
        for (size_t k = 0; k < n; k++)
            matvec_t(out, in, W, g + k * out, gp + k * in);
        return;
    }
    double WT[LINEAR_SMALL_WEIGHTS];
    transpose(out, in, W, WT);
    for (size_t k = 0; k < n; k++) {
        const double *gk = g + k * out;
        for (size_t i = 0; i < in; i++)
            gp[k * in + i] = linear_dot_lanes(out, gk, WT + i * out);
    }
}

void linear_forward(size_t n, size_t out, size_t in, const double *W, const double *P,
                    const double *b, const double *u, double *z)
{
    if (n >= LINEAR_GEMM_MIN_BATCH && small_layer(n, out, in)) {
        small_forward(n, out, in, W, b, u, z);
        return;
    }
    if (n < LINEAR_GEMM_MIN_BATCH) {
        panel_matvec_n(n, out, in, W, P, b, u, z);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (b)
            memcpy(z + k * out, b, out * sizeof *b);
        else
            memset(z + k * out, 0, out * sizeof *z);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0, u, (int)in,
                W, (int)in, 1.0, z, (int)out);
}

void linear_param_grad(size_t n, size_t out, size_t in, const double *g, const double *u,
                       double *dW, double *db)
{
    if (n >= LINEAR_GEMM_MIN_BATCH && small_layer(n, out, in)) {
        small_param_grad(n, out, in, g, u, dW, db);
        return;
    }
    if (n < LINEAR_GEMM_MIN_BATCH) {
        for (size_t k = 0; k < n; k++)
            outer_acc(out, in, g + k * out, u + k * in, dW, db);
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0, g,
                (int)out, u, (int)in, 1.0, dW, (int)in);
    for (size_t k = 0; k < n; k++)
        add_to(out, g + k * out, db);
}

void linear_input_grad(size_t n, size_t out, size_t in, const double *W, const double *g,
                       double *gp)
{
    if (n >= LINEAR_GEMM_MIN_BATCH && small_layer(n, out, in)) {
        small_input_grad(n, out, in, W, g, gp);
        return;
    }
    if (n < LINEAR_GEMM_MIN_BATCH) {
        for (size_t k = 0; k < n; k++)
            matvec_t(out, in, W, g + k * out, gp + k * in);
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0, g,
                (int)out, W, (int)in, 0.0, gp, (int)in);
}
