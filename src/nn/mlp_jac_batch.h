/* nn/mlp_jac_batch.h: the input Jacobian of an MLP vector field over a
 * batch of states at one time, with the forward pass, as one GEMM per layer
 * (the exact trace of a shared-step cnf solve, model/cnf_model.c).
 *
 * WHAT. For n states x_b at time t (nn/mlp.h: any layers and activations),
 * y_b = f(x_b, t) and the columns J_b e_j (j < state_dim; J = df/dx, the
 * time's column is not formed). Same numbers as n calls of mlp_jacobian up
 * to rounding (the products go through cblas_dgemm instead of the
 * single-state kernels); y_b is the same bit for bit as
 * mlp_forward_batch's at a batch of at least MLP_GEMM_MIN_BATCH.
 *
 * METHOD. Each layer's input is one matrix of n (1 + state_dim) rows: the
 * n states, then the n tangents of column 0, of column 1, ... Every linear
 * layer is then ONE product with W^T (the bias added to the states' rows
 * only), and the tangent rows are scaled by act'(z) computed once from the
 * states' rows (from the output where the activation allows, so tanh is
 * evaluated once). A first linear layer needs no product for the tangents:
 * W e_j is W's column j.
 *
 * Ownership and threads: an mlp_jac_batch_ws is one thread's scratch, sized
 * by mlp_jac_batch_ws_new for one network's shapes and up to max_batch
 * states; evaluation never allocates and only reads the network (its
 * current parameters), so threads may share one mlp, each with its own
 * workspace. Best for batches of at least MLP_GEMM_MIN_BATCH states; below
 * that, mlp_jacobian per state is faster. */
#ifndef ODESERVE_NN_MLP_JAC_BATCH_H
#define ODESERVE_NN_MLP_JAC_BATCH_H

#include "core/err.h"
#include "nn/mlp.h"

#include <stddef.h>

typedef struct mlp_jac_batch_ws mlp_jac_batch_ws;

/* ERR_INVALID when max_batch is 0 or too large; ERR_NOMEM. */
err_code mlp_jac_batch_ws_new(mlp_jac_batch_ws **out, const mlp *m, size_t max_batch, err *e);
void mlp_jac_batch_ws_free(mlp_jac_batch_ws *w); /* NULL is a no-op */

/* Evaluate at n <= max_batch states: state b's state_dim values at
 * x[b * ldx] (ldx >= state_dim: a solver's rows may carry more values),
 * time t (ignored without time_input). The results stay in w until the
 * next evaluation: */
void mlp_jac_batch_eval(const mlp *m, mlp_jac_batch_ws *w, size_t n, const double *x, size_t ldx,
                        double t);
/* f(x_b, t) at [b * output_dim], n x output_dim. */
const double *mlp_jac_batch_y(const mlp_jac_batch_ws *w);
/* Column j < state_dim of each state's Jacobian: df/dx_j of state b at
 * [b * output_dim + o] for output o, n x output_dim. */
const double *mlp_jac_batch_col(const mlp_jac_batch_ws *w, size_t j);

#endif
