/* model/cfm.c: see cfm.h. */
#include "model/cfm.h"

#include "model/lsap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Clouds of up to this dimension are centred before the assignment (the
 * shift lives on the stack); wider ones are solved as they are. */
#define CFM_MAX_CENTRED 1024

struct cfm {
    mlp *twin; /* the field with [x, t] as a (d + 1)-wide input */
    mlp_ws *ws;
    lsap *ot;
    size_t d, max_batch, np;
    double *in;   /* max_batch x (d + 1): [x_t, t] rows */
    double *out;  /* max_batch x d: f, then the loss's gradient in f */
    double *cost; /* max_batch^2 */
    double *tmp;  /* max_batch x d */
    size_t *col;
};

const char *cfm_coupling_name(cfm_coupling c)
{
    return c == CFM_COUPLING_INDEPENDENT ? "independent" : "ot";
}

void cfm_free(cfm *c)
{
    if (!c) return;
    mlp_ws_free(c->ws);
    mlp_free(c->twin);
    lsap_free(c->ot);
    free(c->in), free(c->out), free(c->cost), free(c->tmp), free(c->col);
    free(c);
}

err_code cfm_new(cfm **out, const mlp *field, double *params, size_t max_batch, err *e)
{
    *out = NULL;
    const size_t d = mlp_state_dim(field);
    if (!mlp_time_input(field) || mlp_output_dim(field) != d)
        return err_set(e, ERR_INVALID, "vector_field",
                       "flow matching needs a field of the state and the time (time_input) with "
                       "as many outputs as inputs");
    if (max_batch == 0) return err_set(e, ERR_INVALID, "objective.batch_size", "must be >= 1");
    cfm *c = calloc(1, sizeof *c);
    if (!c) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    c->d = d;
    c->max_batch = max_batch;
    c->np = mlp_n_params(field);
    mlp_layer layers[MLP_MAX_LAYERS];
    const size_t nl = mlp_n_layers(field);
    for (size_t i = 0; i < nl; i++) {
        layers[i] = mlp_layer_at(field, i);
        /* elementwise layers keep "inferred" widths: the twin infers its own */
        if (layers[i].kind == MLP_ELEMENTWISE) layers[i].in = layers[i].out = 0;
    }
    mlp_spec ts = {.state_dim = d + 1, .time_input = false, .n_layers = nl, .layers = layers};
    if (mlp_new(&c->twin, &ts, e) != ERR_OK) goto fail;
    if (mlp_n_params(c->twin) != c->np) {
        err_set(e, ERR_INVALID, "vector_field", "the time must be an input of the first layer");
        goto fail;
    }
    mlp_params_bind(c->twin, params);
    if (mlp_ws_new(&c->ws, c->twin, max_batch, e) != ERR_OK ||
        lsap_new(&c->ot, max_batch, e) != ERR_OK)
        goto fail;
    c->in = malloc(max_batch * (d + 1) * sizeof *c->in);
    c->out = malloc(max_batch * d * sizeof *c->out);
    c->cost = malloc(max_batch * max_batch * sizeof *c->cost);
    c->tmp = malloc(max_batch * d * sizeof *c->tmp);
    c->col = malloc(max_batch * sizeof *c->col);
    if (!c->in || !c->out || !c->cost || !c->tmp || !c->col) {
        err_set(e, ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    *out = c;
    return ERR_OK;
fail:
    cfm_free(c);
    return e->code;
}

/* The assignment is solved on the two clouds each centred on its mean:
 * |a_i - b_j|^2 and |(a_i - a_mean) - (b_j - b_mean)|^2 differ by a term of
 * row i plus a term of column j, which every permutation pays once, so the
 * optimal permutations are the same; but a data cloud far from the base
 * makes every cost share a large common part, the near-ties that make
 * shortest augmenting paths long (docs/benchmarks.md, "CFM"). */
double cfm_couple(cfm *c, size_t n, const double *x0, double *x1)
{
    const size_t d = c->d;
    double shift[CFM_MAX_CENTRED];
    const bool centre = d <= CFM_MAX_CENTRED;
    for (size_t k = 0; centre && k < d; k++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x1[i * d + k] - x0[i * d + k];
        shift[k] = s / (double)n;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++) {
                const double r = x0[i * d + k] - x1[j * d + k] + (centre ? shift[k] : 0.0);
                s += r * r;
            }
            c->cost[i * n + j] = s;
        }
    lsap_solve(c->ot, n, c->cost, c->col);
    memcpy(c->tmp, x1, n * d * sizeof *x1);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(x1 + i * d, c->tmp + c->col[i] * d, d * sizeof *x1);
        for (size_t k = 0; k < d; k++) {
            const double r = x0[i * d + k] - x1[i * d + k];
            total += r * r;
        }
    }
    return total;
}

void cfm_loss(cfm *c, size_t n, const double *x0, const double *x1, const double *t,
              const double *eps, double sigma, double *loss, double *dtheta)
{
    const size_t d = c->d, w = d + 1;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < d; i++) {
            const size_t a = k * d + i;
            double x = (1 - t[k]) * x0[a] + t[k] * x1[a];
            if (eps && sigma > 0) x += sigma * eps[a];
            c->in[k * w + i] = x;
        }
        c->in[k * w + d] = t[k];
    }
    mlp_forward_batch(c->twin, c->ws, n, c->in, 0, c->out);
    const double scale = 1.0 / (double)(n * d);
    double s = 0;
    for (size_t a = 0; a < n * d; a++) {
        const double r = c->out[a] - (x1[a] - x0[a]);
        s += r * r;
        c->out[a] = 2 * scale * r; /* dL/df */
    }
    *loss = s * scale;
    if (!dtheta) return;
    memset(dtheta, 0, c->np * sizeof *dtheta);
    mlp_vjp_batch(c->twin, c->ws, n, c->out, NULL, NULL, dtheta);
}
