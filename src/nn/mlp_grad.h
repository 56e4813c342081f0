/* nn/mlp_grad.h: the gradient and the Hessian of a scalar MLP with respect
 * to its input, for models whose vector field is built from the derivatives
 * of a learned scalar (a Hamiltonian H(q, p), model/hamiltonian.h).
 *
 * NETWORKS. Any nn/mlp.h network with one output and no time input whose
 * activations are all twice continuously differentiable (mlp_grad_act_smooth:
 * identity, tanh, softplus, sigmoid, silu, cube, square, sin). relu and elu
 * are refused: relu's second derivative is zero almost everywhere and
 * undefined at 0 (a Hessian that says nothing, a gradient field that jumps),
 * elu's second derivative jumps at 0.
 *
 * METHOD. The gradient is the reverse pass of nn/mlp.h (mlp_forward, then
 * mlp_vjp with the seed 1): one forward and one backward sweep. The Hessian
 * is explicit, per layer: with z_l a layer's pre-activation (its input for
 * an elementwise layer), J_l = dz_l/dx carried forward (width x d) and
 * g_l = dy/da_l from the backward sweep,
 *     d2y/dx2 = sum_l J_l^T diag(g_l * act''(z_l)) J_l,
 * since the linear maps have no curvature; it costs about d forward passes.
 * No finite differences anywhere.
 *
 * Ownership and threads: an mlp_grad_ws is one thread's scratch (it owns an
 * mlp_ws), sized by mlp_grad_ws_new for one network's shapes and up to
 * max_batch states; evaluations never allocate. The network is only read:
 * any number of threads may evaluate one mlp, each with its own workspace. */
#ifndef ODESERVE_NN_MLP_GRAD_H
#define ODESERVE_NN_MLP_GRAD_H

#include "core/err.h"
#include "nn/act.h"
#include "nn/mlp.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct mlp_grad_ws mlp_grad_ws;

/* True for the C2 activations listed above. */
bool mlp_grad_act_smooth(act_kind act);

/* Why act is refused (a sentence for an error message), "" when it is not. */
const char *mlp_grad_act_why(act_kind act);

/* ERR_INVALID unless m has one output, no time input and smooth
 * activations; the field names the part ("layers[2].activation",
 * "layers[3]" for the output width, "time_input"). */
err_code mlp_grad_check(const mlp *m, err *e);

/* Workspace for m (which must pass mlp_grad_check) and up to max_batch
 * states (>= 1). */
err_code mlp_grad_ws_new(mlp_grad_ws **out, const mlp *m, size_t max_batch, err *e);
void mlp_grad_ws_free(mlp_grad_ws *w); /* NULL is a no-op */

/* y(x); g = dy/dx (state_dim values, overwritten). */
double mlp_grad_eval(const mlp *m, mlp_grad_ws *w, const double *x, double *g);

/* For n <= max_batch states X (n x state_dim): y[k] = y(X[k]) (y may be
 * NULL) and G[k] = dy/dx at X[k] (n x state_dim, overwritten). Through the
 * batched forward and VJP of nn/mlp.h (GEMM from MLP_GEMM_MIN_BATCH). */
void mlp_grad_eval_batch(const mlp *m, mlp_grad_ws *w, size_t n, const double *x, double *y,
                         double *g);

/* y(x), g = dy/dx (may be NULL) and the Hessian hess = d2y/dx2
 * (state_dim x state_dim, row-major, symmetric), all overwritten. */
double mlp_grad_hessian(const mlp *m, mlp_grad_ws *w, const double *x, double *g, double *hess);

#endif
