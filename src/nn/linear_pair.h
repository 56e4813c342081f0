/* nn/linear_pair.h: the reverse pass (and the forward) through two linear
 * layers back to back, fused, for the narrow fields of training at small batches:
 *   h = act(W_a u + b_a)  (in -> hid),   y = W_b h + b_b  (hid -> out),
 * such as bench_train's Linear(2, 50) tanh Linear(50, 2).
 *
 * Internal to src/nn (mlp_vjp_batch, nn/mlp.c). Layer by layer, each
 * product is a kernel call per state with a few hundred multiply-adds
 * (nn/linear.c), and the cotangent of the hidden layer goes through memory
 * between them; here one pass per state does both layers' products and the
 * activation's derivative, the hidden cotangent staying in L1. Every value
 * is the one nn/linear.c's small-layer path and act_grad compute, by the
 * same IEEE operations in the same order (but one 0 + x that changes no
 * answer: linear_pair.c), so the answers are the same bit for bit
 * (tests/check_nn_pair): only the speed differs
 * (bench/bench_train; docs/training.md, "Where the time goes").
 *
 * Stateless and thread-safe; nothing here allocates. The caller owns every
 * array; outputs alias no input. */
#ifndef ODESERVE_NN_LINEAR_PAIR_H
#define ODESERVE_NN_LINEAR_PAIR_H

#include "nn/act.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether linear_pair_vjp takes these shapes: the batches and layers for
 * which nn/linear.c runs its small-layer loops (n from
 * LINEAR_GEMM_MIN_BATCH to LINEAR_SMALL_MAX_BATCH, at most
 * LINEAR_SMALL_WEIGHTS weights per layer), in <= 7, hid >= 8, out <= 3,
 * and layer a's activation tanh, sigmoid or identity (derivatives from the
 * output alone). */
bool linear_pair_fits(size_t n, size_t in, size_t hid, size_t out, act_kind act);

/* For n states (rows): u (n x in) the input of layer a, h (n x hid) its
 * output, v (n x out) the cotangent of y. Adds into dWa (hid x in, then
 * b_a's hid values) and dWb (out x hid, then b_b's out values) the
 * parameter cotangents, if dWa is not NULL (both or neither); writes gu
 * (n x in) = the cotangent of u, if gu is not NULL. */
void linear_pair_vjp(size_t n, size_t in, size_t hid, size_t out, act_kind act, const double *Wa,
                     const double *Wb, const double *u, const double *h, const double *v,
                     double *dWa, double *dWb, double *gu);

/* Whether linear_pair_forward takes these shapes: linear_pair_fits's,
 * layer a's activation tanh or identity, on a CPU with AVX2 or AVX-512
 * (whose small-layer loops in nn/panel.c are the ones it repeats; the
 * baseline's layer b goes through BLAS's dgemv). */
bool linear_pair_forward_fits(size_t n, size_t in, size_t hid, size_t out, act_kind act);

/* The forward pass through both layers for n states: h (n x hid) =
 * act(W_a u + b_a), y (n x out) = W_b h + b_b, in one call specialised
 * for in and out, the activation by vmath_tanh's element code
 * (nn/vmath_elem.h). The same bits as nn/linear.c's linear_forward,
 * act_apply, linear_forward. h and y alias no input. Only for shapes
 * linear_pair_forward_fits takes (hid >= 8 among them). */
void linear_pair_forward(size_t n, size_t in, size_t hid, size_t out, act_kind act,
                         const double *Wa, const double *ba, const double *Wb, const double *bb,
                         const double *u, double *h, double *y);

#endif
