/* nn/mlp_grad3.h: a third derivative of a scalar MLP y(x; theta), the one
 * the derivative fit of a Lagrangian network needs (model/trainer_deriv.c,
 * docs/structured.md "Training: lagrangian"): for two directions u, w in
 * input space, the bilinear form of the input Hessian
 *
 *   S(x; theta) = u' Hess_x y(x; theta) w
 *
 * and its gradients dS/dtheta (parameters x input x input) and dS/dx.
 *
 * METHOD (analytic; no finite differences). A second-order forward pass
 * carries per layer the value a, the tangents a_u = da.u, a_w = da.w and
 * the mixed second-order tangent a_uw (a_uw = 0 at the input):
 *     z = W a + b, z_u = W a_u, z_w = W a_w, z_uw = W a_uw,
 *     h_u = s1 z_u, h_w = s1 z_w, h_uw = s2 z_u z_w + s1 z_uw,
 * with s_k the activation's k-th derivative at z, so the output's h_uw is
 * S. The reverse pass of that computation, seeded with 1 on h_uw, needs
 * s3 (mlp_grad3_act_third), and gives
 *     Wbar += zbar a' + zubar a_u' + zwbar a_w' + zuwbar a_uw',  bbar += zbar.
 * Cost: about four forward and four reverse passes of one state. Networks
 * are those of nn/mlp_grad.h (one output, no time input, smooth
 * activations: mlp_grad_check).
 *
 * Ownership and threads: an mlp_grad3_ws is one thread's scratch for one
 * network's shapes; evaluations never allocate. The network is only read:
 * several threads may share one mlp, each with its own workspace. */
#ifndef ODESERVE_NN_MLP_GRAD3_H
#define ODESERVE_NN_MLP_GRAD3_H

#include "core/err.h"
#include "nn/act.h"
#include "nn/mlp.h"

#include <stddef.h>

typedef struct mlp_grad3_ws mlp_grad3_ws;

/* Workspace for m (which must pass mlp_grad_check: ERR_INVALID naming the
 * part otherwise). */
err_code mlp_grad3_ws_new(mlp_grad3_ws **out, const mlp *m, err *e);
void mlp_grad3_ws_free(mlp_grad3_ws *w); /* NULL is a no-op */

/* S = u' Hess_x y(x) w (u, w: state_dim values), returned; dtheta
 * (mlp_n_params, may be NULL) += scale dS/dtheta; dx (state_dim, may be
 * NULL) += scale dS/dx. */
double mlp_grad3_uhw(const mlp *m, mlp_grad3_ws *w, const double *x, const double *u,
                     const double *v, double scale, double *dx, double *dtheta);

/* d3[i] = act'''(z[i]) given z and a = act(z), for the activations
 * mlp_grad_check accepts (identity, tanh, softplus, sigmoid, silu, cube,
 * square, sin); 0 for the others. */
void mlp_grad3_act_third(act_kind act, size_t n, const double *z, const double *a, double *d3);

#endif
