/* nn/linear.h: the maths of one linear layer, z = W u + b, for one state
 * or a batch, and its reverse-mode products.
 *
 * Internal to src/nn (the layers of nn/mlp.h). W is out x in row-major
 * (PyTorch's nn.Linear.weight), b has out values; a batch of n states is
 * row-major n x in (u), n x out (z, g). Batches of LINEAR_GEMM_MIN_BATCH or
 * more go through cblas_dgemm (but small layers, see
 * LINEAR_SMALL_WEIGHTS, through loops of their own); smaller ones item by item through the
 * single-state kernels of nn/panel.h, which are faster there (bench/bench_nn
 * fwd_batch<n> lines, docs/nn.md). The two paths differ in summation order,
 * so their results agree to rounding, not bit for bit.
 *
 * Stateless and thread-safe; nothing here allocates. The caller owns every
 * array; outputs alias no input. */
#ifndef ODESERVE_NN_LINEAR_H
#define ODESERVE_NN_LINEAR_H

#include <stddef.h>

#define LINEAR_GEMM_MIN_BATCH 12

/* Layers of at most this many weights (out x in), at batches from
 * LINEAR_GEMM_MIN_BATCH to LINEAR_SMALL_MAX_BATCH, skip GEMM for loops
 * here (its packing and dispatch dominate at that size; docs/training.md,
 * "Where the time goes"). */
#define LINEAR_SMALL_WEIGHTS 512
#define LINEAR_SMALL_MAX_BATCH 256

/* sum a_i b_i in eight lanes (one AVX-512 vector, two AVX2 ones), added
 * pairwise at the end: the same order in every clone. The reduction of the
 * small-layer input cotangent (in < 8), shared with nn/linear_pair.c, whose
 * answers must be these bit for bit. */
static inline __attribute__((always_inline)) double linear_dot_lanes(size_t n, const double *a,
                                                                     const double *b)
{
    double acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[i + l] * b[i + l];
    for (int l = 0; i + (size_t)l < n; l++)
        acc[l] += a[i + l] * b[i + l];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* z = W u + b (b NULL: + 0) for n states. P: W's panels (nn/panel.h) or
 * NULL; only the path below the GEMM threshold reads them (panel_matvec_n:
 * each state the same bits as alone). */
void linear_forward(size_t n, size_t out, size_t in, const double *W, const double *P,
                    const double *b, const double *u, double *z);

/* The parameter cotangent from the output cotangent g at the inputs u:
 * dW += sum over the batch of g u^T, db += sum of g. */
void linear_param_grad(size_t n, size_t out, size_t in, const double *g, const double *u,
                       double *dW, double *db);

/* The input cotangent: gp (n x in) = g (n x out) W. */
void linear_input_grad(size_t n, size_t out, size_t in, const double *W, const double *g,
                       double *gp);

#endif
