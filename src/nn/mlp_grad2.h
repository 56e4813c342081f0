/* nn/mlp_grad2.h: the second derivatives of a scalar MLP y(x; theta) that
 * training a model built from its input gradient needs (a Hamiltonian
 * network's HNN loss on J grad H, backpropagation through a symplectic
 * step; model/ham_train.h). For a direction v in input space:
 *
 *   dx     += scale * Hess_x y(x) v                 (Hessian-vector product)
 *   dtheta += scale * d/dtheta [ v' grad_x y(x; theta) ]
 *                                     (the vector-Hessian product in theta x x)
 *
 * i.e. the reverse pass of the scalar ydot = v' grad_x y, the forward-mode
 * tangent of y along v. Networks are those of nn/mlp_grad.h (one output,
 * no time input, smooth activations: mlp_grad_check).
 *
 * METHOD (analytic; no finite differences). mlp_grad2_forward runs the
 * forward pass and the plain reverse pass, keeping per layer its input a,
 * pre-activation z, act'(z), act''(z) and delta = dy/dz (the tape), and
 * returns y and grad_x y. mlp_grad2_vjp then carries the tangent forward
 * (a_dot, z_dot = W a_dot, through act') and sweeps back the adjoint of the
 * primal values, abar, with the tangent's adjoint known from the tape
 * (it is delta: ydot is linear in the tangent):
 *     zbar = abar' * act'(z) + (dy/da') * act''(z) * z_dot
 *     Wbar += zbar a' + delta a_dot',  bbar += zbar,  abar = W' zbar,
 * starting from abar = 0 at the output. Cost: about two forward and two
 * reverse passes per state (bench/bench_hamiltonian measures the kind).
 *
 * Ownership and threads: an mlp_grad2_ws is one thread's scratch for one
 * network's shapes (mlp_grad2_ws_new), holding the tape of the latest
 * forward; evaluations never allocate. The network is only read: several
 * threads may use one mlp, each with its own workspace. The parameters must
 * not change between a forward and the vjps that use its tape. */
#ifndef ODESERVE_NN_MLP_GRAD2_H
#define ODESERVE_NN_MLP_GRAD2_H

#include "core/err.h"
#include "nn/mlp.h"

#include <stddef.h>

typedef struct mlp_grad2_ws mlp_grad2_ws;

/* Workspace for m (which must pass mlp_grad_check: ERR_INVALID naming the
 * part otherwise). */
err_code mlp_grad2_ws_new(mlp_grad2_ws **out, const mlp *m, err *e);
void mlp_grad2_ws_free(mlp_grad2_ws *w); /* NULL is a no-op */

/* y(x), and g = grad_x y (state_dim values, overwritten; may be NULL).
 * Records the tape at x. */
double mlp_grad2_forward(const mlp *m, mlp_grad2_ws *w, const double *x, double *g);

/* After mlp_grad2_forward at x: dx += scale Hess_x y(x) v (state_dim; may
 * be NULL) and dtheta += scale d/dtheta [v' grad_x y(x)] (mlp_n_params, the
 * nn/mlp.h layout; may be NULL). v has state_dim values. The tape stays:
 * several directions may follow one forward. */
void mlp_grad2_vjp(const mlp *m, mlp_grad2_ws *w, const double *v, double scale, double *dx,
                   double *dtheta);

#endif
