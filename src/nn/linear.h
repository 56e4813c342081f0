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
