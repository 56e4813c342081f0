/* model/hybrid.h: a hybrid model (universal differential equation, or a
 * plain mechanistic one) ready to solve: dh_i/dt = equations[i](h, p, t,
 * nn(h[, t])), the equations compiled by model/hybrid_expr.h, the optional
 * network an nn/mlp.h MLP whose k outputs are nn_0 .. nn_{k-1}.
 *
 * DERIVATIVES (exact): the Jacobian df/dh = dE/dh + dE/dnn . dnn/dh (the
 * equations' symbolic partials and the network's analytic Jacobian), df/dt
 * likewise, and the parameter Jacobian df/dtheta over the model's whole
 * parameter vector (the network's weights by its reverse pass, then the
 * physical parameters' symbolic partials), for training.
 *
 * SOLVERS: every method of the ODE table through num/driver.h, one
 * trajectory at a time, the implicit ones (rodas4, esdirk4, auto) with the
 * Jacobian above. An equation that is not finite during a solve (log of a
 * negative number, a division by zero) stops it: ERR_SOLVER naming the
 * equation and the time.
 *
 * Ownership and threads: a hybrid_model is immutable after hybrid_model_new
 * and may be shared by any number of threads; each solve or evaluation makes
 * its own workspace (hybrid_ws). */
#ifndef ODESERVE_MODEL_HYBRID_H
#define ODESERVE_MODEL_HYBRID_H

#include "core/err.h"
#include "model/batch_solve.h" /* struct model_traj_query, struct model_traj_stats */
#include "model/model_def.h"
#include "num/driver.h"

#include <stddef.h>

typedef struct hybrid_model hybrid_model;
typedef struct hybrid_ws hybrid_ws;

/* ERR_INVALID if d is not a valid "hybrid" model_def. */
err_code hybrid_model_new(hybrid_model **out, const model_def *d, err *e);
void hybrid_model_free(hybrid_model *m); /* NULL is a no-op */

size_t hybrid_model_state_dim(const hybrid_model *m);
size_t hybrid_model_n_params(const hybrid_model *m); /* network weights + physical */

/* One thread's scratch for the evaluations below. */
err_code hybrid_ws_new(hybrid_ws **out, const hybrid_model *m, err *e);
void hybrid_ws_free(hybrid_ws *w); /* NULL is a no-op */

/* f(t, y) into f (state_dim values). Returns 0, or 1 + i when equation i
 * is not finite. */
int hybrid_model_field(hybrid_ws *w, double t, const double *y, double *f);
/* J = df/dy (state_dim^2 row-major) and dfdt (state_dim; may be NULL). */
void hybrid_model_jacobian(hybrid_ws *w, double t, const double *y, double *J, double *dfdt);
/* G = df/dtheta (state_dim x n_params row-major), theta the model's
 * parameter vector in model_def order. */
void hybrid_model_param_jacobian(hybrid_ws *w, double t, const double *y, double *G);

/* After nothing in particular (it evaluates afresh at (t, y)): dy += v^T
 * df/dy (state_dim) and dtheta += v^T df/dtheta (n_params, the layout of
 * hybrid_model_param_jacobian): the equations' symbolic partials and one
 * reverse pass of the network. What training's gradient engine calls. */
void hybrid_model_vjp(hybrid_ws *w, double t, const double *y, const double *v, double *dy,
                      double *dtheta);

/* Training: read the parameters from theta (n_params values, the
 * network's weights then the physical parameters; the caller's, outliving
 * m) at every evaluation instead of the copies made by hybrid_model_new.
 * Drops the network's panels. A write, like mlp_params_bind: not
 * concurrent with evaluations; a bound model belongs to one trainer. */
void hybrid_model_bind(hybrid_model *m, double *theta);

/* Solve. y_out: rows x state_dim (rows = batch x n_t, or n_t with t_len).
 * ERR_INVALID naming the request's field, ERR_SOLVER with the time, or the
 * abort hook's code. */
err_code hybrid_model_solve(const hybrid_model *m, const struct model_traj_query *q, double *y_out,
                            struct model_traj_stats *st, err *e);

#endif
