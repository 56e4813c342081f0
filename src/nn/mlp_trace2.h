/* nn/mlp_trace2.h: the exact Jacobian trace of a two-hidden-layer MLP
 * vector field over a batch, for the cost of one more product of the
 * hidden layers' size (the exact trace of a shared-step cnf solve,
 * model/cnf_model.c), whatever the dimension.
 *
 * WHAT. For f(x, t) = W3 act2(W2 act1(W1 [x; t] + b1) + b2) + b3 (three
 * linear layers, the last one without activation, output_dim ==
 * state_dim: mlp_trace2_fits says whether a network has that shape) and n
 * states x_b at time t: y_b = f(x_b, t) and tr(df/dx) at x_b. y_b is
 * mlp_forward_batch's bit for bit at a batch of at least
 * MLP_GEMM_MIN_BATCH; the trace equals the sum of mlp_jacobian's diagonal
 * up to rounding (a different order of the same sums).
 *
 * METHOD. With s1 = act1'(z1), s2 = act2'(z2) and W1x the first layer's
 * columns for x (not t),
 *     tr J = sum_j e_j^T W3 diag(s2) W2 diag(s1) W1x e_j
 *          = sum_{q,p} s2_q M_qp s1_p,   M = W2 o C,  C_qp = sum_j W3_jq W1x_pj
 * (o: the elementwise product). M depends on the parameters only
 * (mlp_trace2_prepare); per evaluation the trace is one GEMM, s1 M^T, and a
 * dot product with s2 per state, instead of d tangent columns through the
 * second layer (d = 2: two products of its size; d = 64: 64).
 *
 * Ownership and threads: an mlp_trace2_ws is one thread's scratch, for one
 * network's shapes and up to max_batch states; mlp_trace2_prepare stores M
 * in it from the network's current parameters, which must not change
 * before the evaluations that follow (prepare again after a change). The
 * network is only read: threads may share one mlp, each with its own
 * workspace. Evaluation never allocates. */
#ifndef ODESERVE_NN_MLP_TRACE2_H
#define ODESERVE_NN_MLP_TRACE2_H

#include "core/err.h"
#include "nn/mlp.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct mlp_trace2_ws mlp_trace2_ws;

/* Whether m is linear(act1) -> linear(act2) -> linear(identity) with
 * output_dim == state_dim. */
bool mlp_trace2_fits(const mlp *m);

/* ERR_INVALID when m does not fit or max_batch is 0 or too large; ERR_NOMEM. */
err_code mlp_trace2_ws_new(mlp_trace2_ws **out, const mlp *m, size_t max_batch, err *e);
void mlp_trace2_ws_free(mlp_trace2_ws *w); /* NULL is a no-op */

/* M from m's current parameters (see above). */
void mlp_trace2_prepare(const mlp *m, mlp_trace2_ws *w);

/* n <= max_batch states: state b's state_dim values at x[b * ldx] (ldx >=
 * state_dim), time t (ignored without time_input). Then mlp_trace2_y
 * (n x output_dim) and mlp_trace2_tr (n) hold the results until the next
 * evaluation. */
void mlp_trace2_eval(const mlp *m, mlp_trace2_ws *w, size_t n, const double *x, size_t ldx,
                     double t);
const double *mlp_trace2_y(const mlp_trace2_ws *w);
const double *mlp_trace2_tr(const mlp_trace2_ws *w);

#endif
