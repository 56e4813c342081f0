/* codec/codec_grad.h: gradient requests in, gradient replies out
 * (POST /v1/models/{name}/gradient, docs/api.md "Gradients").
 *
 *   {"y0": [..] | [[..], ..], "t": [..], "t0": 0, "targets": [[..], ..],
 *    "loss": "sse" | "mse", "method": "adjoint_checkpointed", "solver": {..},
 *    "version": 3}
 *
 * targets: one row of state_dim values per time of t (null for a missing
 * value or a whole missing row); with a list of initial states, a list of
 * such tables, one per state. The reply:
 *   {"model", "version", "loss", "grad": {"y0": .., "layers": [..]}, "stats": {..}}
 * with grad.y0 nested as the request's y0 and grad.layers[i] in the layout
 * of the model document's vector_field.layers[i] ({"weight": [[..]],
 * "bias": [..]}, or {} for a layer without parameters).
 *
 * Stateless and thread-safe; every error names its field. */
#ifndef ODESERVE_CODEC_CODEC_GRAD_H
#define ODESERVE_CODEC_CODEC_GRAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "codec/jbuf.h"
#include "core/err.h"
#include "model/grad.h"
#include "model/model_def.h"
#include "nn/mlp.h"

/* A decoded request. Owns y0, t and target. */
typedef struct codec_grad_req {
    size_t batch;        /* initial states, >= 1 */
    bool batched;        /* y0 was a list of states */
    double *y0;          /* batch x state_dim */
    double t0;           /* default 0 */
    size_t n_t;          /* >= 1 */
    double *t;           /* n_t observation times */
    double *target;      /* batch x n_t x state_dim, NaN = null */
    bool mean;           /* "mse" (default "sse") */
    grad_method method;  /* default adjoint_checkpointed */
    model_solver solver; /* overrides */
} codec_grad_req;

/* Decode `body` (an object) for an ODE model of state_dim. On failure q
 * is left empty (codec_grad_req_free is still safe). ERR_INVALID naming
 * "y0[..]", "t[i]", "targets[..]", "loss", "method", "solver.x";
 * ERR_NOMEM. */
err_code codec_grad_decode(const json_t *body, size_t state_dim, codec_grad_req *q, err *e);
void codec_grad_req_free(codec_grad_req *q);

/* What the reply's stats say. */
typedef struct codec_grad_stats {
    const char *method;
    struct grad_stats st;
    double elapsed_ms;
} codec_grad_stats;

/* The reply; gy0 batch x state_dim, gtheta the parameters of f in mlp
 * order. */
void codec_grad_reply(jbuf *b, const char *model, int version, const codec_grad_req *q,
                      size_t state_dim, double loss, const double *gy0, const mlp *f,
                      const double *gtheta, const codec_grad_stats *st);

/* ---- pieces the cde request (codec_grad_cde.h) shares -------------------- */

/* "loss" (sse | mse, default sse) and "method" (default
 * adjoint_checkpointed) of body. ERR_INVALID naming "loss" / "method". */
err_code codec_grad_names_decode(const json_t *body, bool *mean, grad_method *method, err *e);

/* One targets table at `field`: nt rows, each null or `width` numbers or
 * nulls (NaN = null) into out (nt x width); `what` names a row in messages
 * ("the state", "the readout"). ERR_INVALID naming "field[i]", "field[i][k]". */
err_code codec_grad_table_decode(const json_t *v, const char *field, size_t width,
                                 const char *what, size_t nt, double *out, err *e);

/* A network's gradient (gtheta in mlp order) as the model document's
 * "layers" list: {"weight": [[..]], "bias": [..]}, or {} without parameters. */
void codec_grad_layers_write(jbuf *b, const mlp *f, const double *g);

/* The reply's "stats" object. */
void codec_grad_stats_write(jbuf *b, const codec_grad_stats *st);

#endif
