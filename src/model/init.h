/* model/init.h: seeded parameter initialisation for new models.
 *
 * Schemes, per linear layer (fan_in = in_features; elementwise layers own
 * no parameters):
 *   pytorch  PyTorch's default for nn.Linear (reset_parameters:
 *            kaiming_uniform_(W, a = sqrt(5)), then the bias): with
 *            bound = 1 / sqrt(fan_in), W ~ U(-bound, bound) and
 *            b ~ U(-bound, bound);
 *   normal   W ~ N(0, std^2), b = 0 (the reference spiral demo:
 *            nn.init.normal_(W, 0, 0.1), nn.init.constant_(b, 0)).
 * Draw order: the networks in order, each network's linear layers in
 * order, W row-major (the nn/mlp.h parameter layout) then b; the bias of
 * "normal" draws nothing. So a seed fixes every value, on one machine
 * (rng.h); the numbers are not PyTorch's (a different generator).
 *
 * Ownership and threads: stateless apart from the generator passed in (one
 * per thread, rng.h); init_model_params allocates d->params when it is NULL,
 * and the model_def then owns it (model_def_free). */
#ifndef ODESERVE_MODEL_INIT_H
#define ODESERVE_MODEL_INIT_H

#include "core/err.h"
#include "model/model_def.h"
#include "model/rng.h"

typedef enum init_scheme {
    INIT_PYTORCH = 0, /* "pytorch" (the default) */
    INIT_NORMAL,      /* "normal", with std */
} init_scheme;

struct init_config {
    init_scheme scheme;
    double std; /* normal: > 0 */
};

err_code init_scheme_from_name(const char *name, init_scheme *out, err *e);
const char *init_scheme_name(init_scheme s);

/* Fill the parameters of one network (params: its model_net_n_params
 * values). ERR_INVALID for a bad std ("std") or layers that do not chain. */
err_code init_net_params(const model_net *net, const struct init_config *c, rng *r, double *params,
                         err *e);

/* Fill every network of d in order. d->params is allocated (n_params set)
 * when it is NULL; otherwise it must hold the networks' total. */
err_code init_model_params(model_def *d, const struct init_config *c, rng *r, err *e);

#endif
