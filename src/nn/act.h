/* nn/act.h: activation functions of the MLP layers, over arrays.
 *
 * Each activation is applied elementwise to a contiguous array (a layer's
 * pre-activations for a whole batch at once), through the vectorised
 * kernels of nn/vmath.h where libm would be slow. The derivative needs the
 * pre-activation z and/or the output a = act(z); callers keep both (the
 * forward tape), so no exp is recomputed for tanh, sigmoid or elu.
 *
 * Conventions (PyTorch's): relu'(0) = 0; elu and softplus with alpha = beta
 * = 1; NaN propagates through every activation (relu(NaN) = NaN), so a
 * non-finite state is never masked. Stateless and thread-safe. */
#ifndef ODESERVE_NN_ACT_H
#define ODESERVE_NN_ACT_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum mlp_act {
    MLP_ACT_IDENTITY = 0, /* "identity": z */
    MLP_ACT_TANH,         /* "tanh" */
    MLP_ACT_RELU,         /* "relu": max(z, 0) */
    MLP_ACT_SOFTPLUS,     /* "softplus": log(1 + e^z) */
    MLP_ACT_SIGMOID,      /* "sigmoid": 1 / (1 + e^-z) */
    MLP_ACT_ELU,          /* "elu": z > 0 ? z : e^z - 1 */
    MLP_ACT_SILU,         /* "silu": z sigmoid(z) */
    MLP_ACT_CUBE,         /* "cube": z^3 */
    MLP_ACT_SQUARE,       /* "square": z^2 */
    MLP_ACT_SIN,          /* "sin": sin z (libm, not vectorised) */
    MLP_ACT__COUNT
} mlp_act;

/* "tanh" -> MLP_ACT_TANH. Unknown or NULL name: ERR_INVALID with an empty
 * field (the caller prefixes its own path, e.g. "layers[1].activation") and
 * a message listing the known names. */
err_code mlp_act_from_name(const char *name, mlp_act *out, err *e);

/* Wire name of an activation; "?" for an out-of-range value. */
const char *mlp_act_name(mlp_act act);

/* a[i] = act(z[i]) for i < n. a == z (in place) is allowed. */
void mlp_act_apply(mlp_act act, size_t n, const double *z, double *a);

/* d[i] = act'(z[i]), given z and a = act(z) (either may be ignored).
 * d may alias neither z nor a. */
void mlp_act_deriv(mlp_act act, size_t n, const double *z, const double *a, double *d);

/* g[i] *= act'(z[i]): the backward step of the activation. */
void mlp_act_grad(mlp_act act, size_t n, const double *z, const double *a, double *g);

/* True when act' is computed from a = act(z) alone (identity, tanh, relu,
 * sigmoid, elu): z may then be overwritten by a, and deriv/grad may be
 * called with z == a. */
bool mlp_act_deriv_from_output(mlp_act act);

#endif
