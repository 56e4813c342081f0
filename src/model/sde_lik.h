/* model/sde_lik.h: the training objective of an sde model (docs/sde.md,
 * "Training"): the negative log-likelihood of a series' observed
 * transitions y_i -> y_{i+1} under the Gaussian transition of
 * Euler-Maruyama with n_i = ceil((t_{i+1} - t_i) / step) equal sub-steps of
 * h_i = (t_{i+1} - t_i) / n_i, mean and covariance propagated through the
 * sub-steps by linearising the drift at the mean:
 *
 *   m_0 = y_i, P_0 = 0,
 *   m_{k+1} = m_k + h f(m_k, t_k),
 *   P_{k+1} = (I + h J_k) P_k (I + h J_k)^T + h G_k G_k^T,
 *   J_k = df/dh (m_k, t_k), G_k = g(m_k, t_k) as a state_dim x m matrix,
 *   -log p_i = 1/2 (r^T P_n^-1 r + log det P_n + d log 2 pi), r = y_{i+1} - m_n.
 *
 * Exact for a linear drift with additive noise (the scheme's transition is
 * then Gaussian with exactly this mean and covariance). The gradient is the
 * reverse of this recursion (by hand, sde_lik_net.h for the networks), so
 * it needs no Brownian path. Transitions with a missing value at either end
 * are skipped.
 *
 * Ownership and threads: an sde_lik borrows the two networks (bound to the
 * trainer's parameters) and owns its buffers; one thread at a time. */
#ifndef ODESERVE_MODEL_SDE_LIK_H
#define ODESERVE_MODEL_SDE_LIK_H

#include "core/err.h"
#include "nn/mlp.h"
#include "num/sde.h"

#include <stddef.h>

/* The most sub-steps one transition may take (a gap / step beyond it is
 * ERR_INVALID naming "solver.step"). */
#define SDE_LIK_MAX_SUBSTEPS 100000

typedef struct sde_lik sde_lik;

struct sde_lik_model {
    const mlp *drift, *diffusion; /* model_def.h's sde networks */
    sde_noise noise;
    size_t dim, brownian_dim; /* brownian_dim: general noise only */
    double step;              /* the largest sub-step, > 0 */
};

err_code sde_lik_new(sde_lik **out, const struct sde_lik_model *m, err *e);
void sde_lik_free(sde_lik *l); /* NULL is a no-op */

/* Transitions of a series of n observations (t: n times, y: n x dim, NaN
 * missing) that have every value at both ends. */
size_t sde_lik_count(size_t n, size_t dim, const double *y);

/* scale x the summed negative log-likelihood of the series' transitions
 * into *loss; when dtheta_f / dtheta_g are not NULL, the gradient by the
 * drift's and the diffusion's parameters is ADDED into them. ERR_SOLVER
 * when a transition's covariance is not positive definite or a value is
 * not finite; ERR_INVALID ("solver.step") for too many sub-steps. */
err_code sde_lik_series(sde_lik *l, size_t n, const double *t, const double *y, double scale,
                        double *loss, double *dtheta_f, double *dtheta_g, err *e);

#endif
