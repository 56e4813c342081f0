/* model/cnf_ml.h: maximum-likelihood training of a continuous normalizing
 * flow (docs/cnf.md, "Training by maximum likelihood"): the mean negative
 * log-likelihood of a mini-batch of data points and its gradient in the
 * vector field's parameters.
 *
 * THE LOSS. With the flow of cnf_model.h (t = 0 the base, t = 1 the data)
 * each point x is integrated data -> base with the augmented state
 * [z, a_1 .. a_k] in the reversed time s = 1 - t (so the gradient engine
 * runs forwards, s from 0 to 1):
 *     dz/ds = -f(z, 1 - s),   da_j/ds = tr_j(1 - s),   z(0) = x, a(0) = 0,
 *     NLL(x) = -log N_base(z(1)) + mean_j a_j(1),
 *     L      = (1/n) sum_b NLL(x_b).
 * tr_j is the exact trace of df/dz (k = 1; d forward-mode tangents through
 * the network, nn/mlp_tangent.h) or Hutchinson's eps_j^T (df/dz) eps_j with
 * k probes drawn ONCE per solve from (probe_seed, point index, probe index)
 * by cnf_model_probe and held fixed along it, so the integrand is smooth in
 * s and adaptive step counts stay those of the exact trace.
 *
 * THE GRADIENT. The augmented field is a grad_field (model/grad.h) and the
 * solve goes through the gradient engine (model/grad_solve.h), by either of
 * its methods: backprop through the solver's steps (the exact gradient of
 * the computed NLL for the steps taken) or the adjoint. The field's VJP,
 * for a cotangent [w, c] of [dz/ds, da/ds], is
 *     dz   += -w^T df/dz + sum_j c_j d tr_j / dz,
 *     dth  += -w^T df/dth + sum_j c_j d tr_j / dth,
 * the trace terms by reverse mode over the tangent pass
 * (mlp_tangent_vjp): the mixed second derivatives of f, analytically.
 *
 * Ownership and threads: a cnf_ml borrows the field network (its current,
 * usually bound, parameters are the ones differentiated) and the base's
 * mean and scale; it owns its workspaces, gradient engine and buffers,
 * sized by cnf_ml_new for batches up to max_batch. One thread at a time. */
#ifndef ODESERVE_MODEL_CNF_ML_H
#define ODESERVE_MODEL_CNF_ML_H

#include "core/err.h"
#include "model/cnf_model.h"
#include "model/grad_solve.h"
#include "nn/mlp.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cnf_ml cnf_ml;

/* A training job's trace when it names none: exact up to this dimension
 * (d tangent passes per evaluation), Hutchinson with one probe above
 * (the served log_prob's max_cnf_exact_dim default, docs/cnf.md). */
#define CNF_ML_EXACT_DIM 64

/* How the trace is taken during training (the probes' seed is per call). */
struct cnf_ml_opts {
    cnf_trace trace; /* exact: k = 1; hutchinson: probes */
    size_t probes;   /* hutchinson: k >= 1 */
    cnf_noise noise; /* hutchinson */
};

/* field: d inputs (+ the time when time_input) and d outputs (else
 * ERR_INVALID "vector_field"). mean, scale: the base N(mean, diag(scale)^2)
 * (d values each, borrowed), or both NULL for N(0, I). ERR_INVALID on
 * "objective.probes" for a Hutchinson trace without probes. */
err_code cnf_ml_new(cnf_ml **out, const mlp *field, const double *mean, const double *scale,
                    size_t max_batch, const struct cnf_ml_opts *o, err *e);
void cnf_ml_free(cnf_ml *c); /* NULL is a no-op */

/* The mean NLL of the n <= max_batch points x (n x d) into *loss, and
 * dL/dtheta into dtheta (mlp_n_params(field) values, overwritten; NULL:
 * the loss alone, no backward pass). so: the method (backprop or
 * adjoint), tableau and tolerances of the solve. st (may be NULL): the
 * engine's counters. Errors: the engine's (ERR_SOLVER with the time
 * reached, ERR_NOMEM, ERR_INVALID). */
err_code cnf_ml_loss(cnf_ml *c, const struct grad_solve_options *so, size_t n, const double *x,
                     uint64_t probe_seed, double *loss, double *dtheta, struct grad_stats *st,
                     err *e);

#endif
