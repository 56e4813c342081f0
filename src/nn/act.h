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

typedef enum act_kind {
    ACT_IDENTITY = 0, /* "identity": z */
    ACT_TANH,         /* "tanh" */
    ACT_RELU,         /* "relu": max(z, 0) */
    ACT_SOFTPLUS,     /* "softplus": log(1 + e^z) */
    ACT_SIGMOID,      /* "sigmoid": 1 / (1 + e^-z) */
    ACT_ELU,          /* "elu": z > 0 ? z : e^z - 1 */
    ACT_SILU,         /* "silu": z sigmoid(z) */
    ACT_CUBE,         /* "cube": z^3 */
    ACT_SQUARE,       /* "square": z^2 */
    ACT_SIN,          /* "sin": sin z (libm, not vectorised) */
    ACT__COUNT
} act_kind;

/* "tanh" -> ACT_TANH. Unknown or NULL name: ERR_INVALID with an empty
 * field (the caller prefixes its own path, e.g. "layers[1].activation") and
 * a message listing the known names. */
err_code act_from_name(const char *name, act_kind *out, err *e);

/* Wire name of an activation; "?" for an out-of-range value. */
const char *act_name(act_kind act);

/* a[i] = act(z[i]) for i < n. a == z (in place) is allowed. */
void act_apply(act_kind act, size_t n, const double *z, double *a);

/* d[i] = act'(z[i]), given z and a = act(z) (either may be ignored).
 * d may alias neither z nor a. */
void act_deriv(act_kind act, size_t n, const double *z, const double *a, double *d);

/* d[i] = act''(z[i]), given z and a = act(z); 0 for the piecewise-linear
 * ones (identity, relu) and, for elu, act''s side at 0. d may alias
 * neither z nor a. */
void act_deriv2(act_kind act, size_t n, const double *z, const double *a, double *d);

/* g[i] *= act'(z[i]): the backward step of the activation. */
void act_grad(act_kind act, size_t n, const double *z, const double *a, double *g);

/* True when act' is computed from a = act(z) alone (identity, tanh, relu,
 * sigmoid, elu): z may then be overwritten by a, and deriv/grad may be
 * called with z == a. */
bool act_deriv_from_output(act_kind act);

#endif
