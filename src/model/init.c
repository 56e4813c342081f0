/* model/init.c: PyTorch-default and normal initialisation. See init.h. */
#include "model/init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

err_code init_scheme_from_name(const char *name, init_scheme *out, err *e)
{
    if (name && !strcmp(name, "pytorch")) {
        *out = INIT_PYTORCH;
        return ERR_OK;
    }
    if (name && !strcmp(name, "normal")) {
        *out = INIT_NORMAL;
        return ERR_OK;
    }
    return err_set(e, ERR_INVALID, "", "unknown scheme \"%s\" (expected pytorch or normal)",
                   name ? name : "(null)");
}

const char *init_scheme_name(init_scheme s)
{
    return s == INIT_PYTORCH ? "pytorch" : s == INIT_NORMAL ? "normal" : "?";
}

err_code init_net_params(const model_net *net, const struct init_config *c, rng *r, double *params,
                         err *e)
{
    if (c->scheme == INIT_NORMAL && (!(c->std > 0) || !isfinite(c->std)))
        return err_set(e, ERR_INVALID, "std", "must be a finite number > 0");
    if (c->scheme != INIT_NORMAL && c->scheme != INIT_PYTORCH)
        return err_set(e, ERR_INVALID, "scheme", "unknown scheme");
    size_t np;
    err_code rc = model_net_n_params(net, &np, e);
    if (rc) return rc;
    double *p = params;
    for (size_t l = 0; l < net->n_layers; l++) {
        const mlp_layer *L = &net->layers[l];
        if (L->kind != MLP_LINEAR) continue;
        const size_t nw = L->out * L->in;
        if (c->scheme == INIT_NORMAL) {
            for (size_t i = 0; i < nw; i++)
                p[i] = c->std * rng_normal(r);
            memset(p + nw, 0, L->out * sizeof *p);
        } else {
            const double bound = 1.0 / sqrt((double)L->in);
            for (size_t i = 0; i < nw + L->out; i++)
                p[i] = rng_uniform_range(r, -bound, bound);
        }
        p += nw + L->out;
    }
    return ERR_OK;
}

err_code init_model_params(model_def *d, const struct init_config *c, rng *r, err *e)
{
    size_t total = 0, n;
    for (size_t i = 0; i < d->n_nets; i++) {
        err_code rc = model_net_n_params(&d->nets[i], &n, e);
        if (rc) {
            err_prefix_field(e, model_net_name(d->kind, i));
            return rc;
        }
        total += n;
    }
    if (!d->params) {
        d->params = calloc(total ? total : 1, sizeof *d->params);
        if (!d->params) return err_set(e, ERR_NOMEM, NULL, "out of memory for the parameters");
        d->n_params = total;
    } else if (d->n_params != total) {
        return err_set(e, ERR_INVALID, "params", "%zu parameters; the networks have %zu",
                       d->n_params, total);
    }
    double *p = d->params;
    for (size_t i = 0; i < d->n_nets; i++) {
        err_code rc = init_net_params(&d->nets[i], c, r, p, e);
        if (rc) return rc;
        model_net_n_params(&d->nets[i], &n, NULL);
        p += n;
    }
    return ERR_OK;
}
