/* nn/mlp_tangent.h: forward-mode tangents of an MLP vector field and the
 * reverse pass over them: the mixed second derivatives (parameters x
 * input, input x input) that the parameter gradient of a Jacobian trace
 * needs (maximum-likelihood training of a cnf, model/cnf_ml.h).
 *
 * WHAT. For a network f(x, t) (nn/mlp.h, any layers and activations) and
 * n states x_b, each with k tangents u_bj (directions in x; the time's
 * tangent is 0), the forward pass gives y_b = f(x_b, t) and the JVPs
 * J_b u_bj (J = df/dx). The reverse pass, for cotangents ybar_b of y_b and
 * vbar_bj of J_b u_bj, gives the gradient of
 *     S = sum_b [ ybar_b . f(x_b, t) + sum_j vbar_bj . J_b u_bj ]
 * with respect to every x_b and to the parameters theta. With u = v = a
 * probe eps, the second term is eps^T J eps (Hutchinson's trace); with the
 * unit vectors (u = NULL) and vbar_bj = c_b e_j, it is c_b tr(J).
 *
 * METHOD. Reverse mode over the tangent pass, per layer, no finite
 * differences: with z = W a + b, h = act(z), zd = W ad, hd = act'(z) zd,
 *     zbar  = hbar act'(z) + sum_j hdbar_j act''(z) zd_j,
 *     zdbar_j = hdbar_j act'(z),
 *     abar = W^T zbar, adbar_j = W^T zdbar_j,
 *     Wbar += zbar a^T + sum_j zdbar_j ad_j^T,  bbar += zbar,
 * every product one GEMM over the batch (the tangents of a batch are
 * n x k rows). act'' is the activation's second derivative where it
 * exists (relu: 0, elu: e^z below 0, the one-sided values at the kink).
 *
 * Ownership and threads: an mlp_tangent_ws is one thread's scratch and
 * tape, sized by mlp_tangent_ws_new for one network's shapes, up to
 * max_batch states and max_k tangents each; the passes never allocate. The
 * network is only read (its current, possibly bound, parameters): any
 * number of threads may use one mlp, each with its own workspace. */
#ifndef ODESERVE_NN_MLP_TANGENT_H
#define ODESERVE_NN_MLP_TANGENT_H

#include "core/err.h"
#include "nn/act.h"
#include "nn/mlp.h"

#include <stddef.h>

typedef struct mlp_tangent_ws mlp_tangent_ws;

/* ERR_INVALID when max_batch or max_k is 0; ERR_NOMEM. */
err_code mlp_tangent_ws_new(mlp_tangent_ws **out, const mlp *m, size_t max_batch, size_t max_k,
                            err *e);
void mlp_tangent_ws_free(mlp_tangent_ws *w); /* NULL is a no-op */

/* n <= max_batch states x (n x state_dim) at time t (ignored without
 * time_input), k <= max_k tangents each: u is n x k x state_dim (tangent j
 * of state b at u[(b*k + j)*state_dim]), or NULL for the unit vectors
 * (k must then be state_dim: u_bj = e_j). y (n x output_dim, may be NULL)
 * receives f; yd (n x k x output_dim, may be NULL) the JVPs J u. Records
 * the tape for mlp_tangent_vjp. */
void mlp_tangent_forward(const mlp *m, mlp_tangent_ws *w, size_t n, const double *x, double t,
                         size_t k, const double *u, double *y, double *yd);

/* After mlp_tangent_forward, same network and parameters: ybar (n x
 * output_dim; NULL = 0) and vbar (n x k x output_dim; NULL = 0) as above.
 * dx (n x state_dim; may be NULL) += dS/dx; dtheta (mlp_n_params; may be
 * NULL) += dS/dtheta. */
void mlp_tangent_vjp(const mlp *m, mlp_tangent_ws *w, const double *ybar, const double *vbar,
                     double *dx, double *dtheta);

#endif
