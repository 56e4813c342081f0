/* model/optim.h: first-order optimisers with PyTorch's update rules, and
 * gradient-norm clipping.
 *
 * With g = grad + weight_decay * p (L2 penalty added to the gradient, as
 * every torch.optim optimiser below does; not AdamW's decoupled decay), one
 * step of each (t = the step number, from 1):
 *   sgd      momentum mu, dampening d, nesterov:
 *              buf = g at t = 1, else mu buf + (1 - d) g   (only when mu != 0)
 *              g   = g + mu buf (nesterov) or buf           (only when mu != 0)
 *              p  -= lr g
 *   rmsprop  alpha (0.99), eps (1e-8), momentum mu, centered:
 *              v = alpha v + (1 - alpha) g^2
 *              centered: m = alpha m + (1 - alpha) g; den = sqrt(v - m^2) + eps
 *              else den = sqrt(v) + eps
 *              mu > 0: buf = mu buf + g / den; p -= lr buf;  else p -= lr g / den
 *   adam     beta1 (0.9), beta2 (0.999), eps (1e-8):
 *              m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *              p -= (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * (torch.optim.SGD / RMSprop / Adam, the single-tensor "for-loop" code.)
 *
 * STATE, for checkpoints: the step count and one flat array of doubles,
 * the per-parameter buffers laid end to end, each n_params long:
 *   sgd      [buf] when momentum != 0, else nothing
 *   rmsprop  [square_avg] [momentum_buffer if momentum > 0] [grad_avg if centered]
 *   adam     [exp_avg] [exp_avg_sq]
 * optim_state_len says how many doubles; restoring into an optimiser built
 * from the same config and n_params resumes bit-for-bit.
 *
 * Ownership and threads: an optim owns its buffers; one thread at a time. */
#ifndef ODESERVE_MODEL_OPTIM_H
#define ODESERVE_MODEL_OPTIM_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum optim_kind {
    OPTIM_SGD = 0, /* "sgd" */
    OPTIM_RMSPROP, /* "rmsprop" */
    OPTIM_ADAM,    /* "adam" */
    OPTIM__COUNT
} optim_kind;

struct optim_config {
    optim_kind kind;
    double lr;           /* > 0 */
    double weight_decay; /* >= 0: L2, added to the gradient */
    double momentum;     /* sgd, rmsprop: >= 0 (0) */
    double dampening;    /* sgd: (0) */
    bool nesterov;       /* sgd: needs momentum > 0 and dampening 0 */
    double alpha;        /* rmsprop: smoothing constant in [0, 1) (0.99) */
    bool centered;       /* rmsprop */
    double beta1, beta2; /* adam: in [0, 1) (0.9, 0.999) */
    double eps;          /* rmsprop, adam: > 0 (1e-8) */
};

/* PyTorch's defaults for `kind`, lr = 1e-3 (torch's Adam and RMSprop
 * defaults are 1e-3 and 1e-2; SGD has none: set lr). */
void optim_config_init(struct optim_config *c, optim_kind kind);

err_code optim_kind_from_name(const char *name, optim_kind *out, err *e);
const char *optim_kind_name(optim_kind k); /* "?" when out of range */

/* Check ranges; fields "lr", "weight_decay", "momentum", ... */
err_code optim_config_validate(const struct optim_config *c, err *e);

typedef struct optim optim;

/* An optimiser for n_params parameters, zero state, step count 0. */
err_code optim_new(optim **out, const struct optim_config *c, size_t n_params, err *e);
void optim_free(optim *o); /* NULL is a no-op */

/* One step: params updated in place from grad (grad is not modified). */
void optim_step(optim *o, double *params, const double *grad);

size_t optim_n_params(const optim *o);
long optim_steps(const optim *o); /* steps taken (restored ones included) */
const struct optim_config *optim_config_get(const optim *o);

/* Checkpoint: the layout above. */
size_t optim_state_len(const optim *o);
void optim_state_get(const optim *o, double *state); /* optim_state_len values */
/* ERR_INVALID when len != optim_state_len or steps < 0; "state" names a
 * non-finite value. */
err_code optim_state_set(optim *o, long steps, const double *state, size_t len, err *e);

/* torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): the global L2 norm
 * N of g (n values) is returned; when max_norm / (N + 1e-6) < 1, g is
 * scaled by that factor. max_norm <= 0 only measures. A non-finite norm
 * leaves g as is (the caller decides what a NaN gradient means). */
double optim_clip_grad_norm(double *g, size_t n, double max_norm);

#endif
