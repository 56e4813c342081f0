/* model/cfm.h: conditional flow matching for continuous normalizing flows
 * (docs/cnf-training.md): the loss of one mini-batch and its gradient, with
 * no ODE solve.
 *
 * THE OBJECTIVE (Lipman et al. 2023; Tong et al. 2023, OT-CFM). Given n
 * pairs (x0_k ~ base, x1_k ~ data), times t_k ~ U(0, 1) and, with
 * sigma > 0, noise eps_k ~ N(0, I):
 *   x_t = (1 - t) x0 + t x1 + sigma eps,   u = x1 - x0,
 *   L   = 1/(n d) sum_k |f(x_t_k, t_k) - u_k|^2
 * (the mean over every component, as torch's mse_loss). dL/dtheta is one
 * forward and one reverse pass of the network on the batch. The pairs are
 * coupled independently (as drawn) or by exact optimal transport on the
 * mini-batch: x1's rows permuted to minimise sum_k |x0_k - x1_k|^2
 * (model/lsap.h), Tong et al.'s minibatch OT with an exact solver.
 *
 * The vector field takes its time as its last input (time_input): the batch
 * runs through a twin network with input [x, t] of width d + 1 bound to the
 * same parameters, so every row has its own t and the batch is one GEMM
 * per layer (mlp_forward_batch shares one t across a batch).
 *
 * Ownership and threads: a cfm borrows the parameter vector it is bound to
 * (the trainer's; it must outlive the cfm) and owns its twin network,
 * workspace and buffers, sized once by cfm_new; cfm_loss does not allocate.
 * One thread at a time. */
#ifndef ODESERVE_MODEL_CFM_H
#define ODESERVE_MODEL_CFM_H

#include "core/err.h"
#include "nn/mlp.h"

#include <stddef.h>

typedef enum cfm_coupling {
    CFM_COUPLING_OT = 0,      /* "ot": exact OT on the mini-batch (the default) */
    CFM_COUPLING_INDEPENDENT, /* "independent": the pairs as drawn */
} cfm_coupling;

const char *cfm_coupling_name(cfm_coupling c);

typedef struct cfm cfm;

/* For the vector field `field` (time_input, d inputs and d outputs: else
 * ERR_INVALID "vector_field") whose parameters are `params`
 * (mlp_n_params(field) values, borrowed), batches up to max_batch. */
err_code cfm_new(cfm **out, const mlp *field, double *params, size_t max_batch, err *e);
void cfm_free(cfm *c); /* NULL is a no-op */

/* Exact OT coupling: permute the rows of x1 (n x d, in place) so that
 * sum_k |x0_k - x1_k|^2 is least. Returns that sum. n <= max_batch. */
double cfm_couple(cfm *c, size_t n, const double *x0, double *x1);

/* The loss above for pairs (x0, x1) (n x d each), times t (n), noise eps
 * (n x d; NULL or sigma 0: none). Its gradient with respect to the
 * parameters into dtheta (overwritten; NULL: the loss alone). */
void cfm_loss(cfm *c, size_t n, const double *x0, const double *x1, const double *t,
              const double *eps, double sigma, double *loss, double *dtheta);

#endif
