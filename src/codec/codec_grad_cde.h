/* codec/codec_grad_cde.h: gradient requests for cde models in, their
 * replies out (POST /v1/models/{name}/gradient with a model of kind cde,
 * docs/api.md "Gradients of a cde").
 *
 * The request is the cde trajectory request (codec_cde.h: "observations"
 * and "t", or a "series" batch; "solver", "version") without "events",
 * plus the gradient's keys:
 *   {"observations": {"t": [..], "x": [[..], ..]}, "t": [..],
 *    "output": "readout" | "hidden", "targets": [[..], ..],
 *    "loss": "sse" | "mse", "method": "adjoint_checkpointed", "solver": {..}}
 * "output" says what the targets compare with: the readout (default,
 * readout_dim values a row) or the hidden state (hidden_dim). "targets":
 * one row per query time (null = a missing row or value); with "series",
 * a list of such tables, one per series. The query times must be sorted.
 *
 * The reply:
 *   {"model", "version", "loss",
 *    "grad": {"initial": {"layers": [..]}, "vector_field": {"layers": [..]},
 *             "readout": {"layers": [..]}},
 *    "stats": {..}}
 * each network's gradient in the layout of the model document's network
 * (codec_grad_layers_write), stats as codec_grad.h.
 *
 * Stateless and thread-safe; every error names its field. */
#ifndef ODESERVE_CODEC_CODEC_GRAD_CDE_H
#define ODESERVE_CODEC_CODEC_GRAD_CDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "codec/codec_cde.h"
#include "codec/codec_grad.h"
#include "codec/jbuf.h"
#include "core/err.h"
#include "model/grad.h"
#include "model/cde_model.h"

/* A decoded request. Owns cde (its series) and target. */
typedef struct codec_grad_cde_req {
    codec_cde_req cde;  /* the series, solver overrides; output READOUT or HIDDEN */
    size_t rows;        /* sum over series of their query times */
    double *target;     /* rows x width (series order), NaN = null */
    size_t width;       /* readout_dim or hidden_dim */
    bool mean;          /* "mse" (default "sse") */
    grad_method method; /* default adjoint_checkpointed */
} codec_grad_cde_req;

/* Decode `body` (an object) for a cde model of these sizes. On failure q
 * is left empty (codec_grad_cde_req_free is still safe). ERR_INVALID
 * naming codec_cde.h's fields, "events", "output", "t[i]" (unsorted),
 * "targets[..]", "loss", "method"; ERR_NOMEM. */
err_code codec_grad_cde_decode(const json_t *body, const codec_cde_dims *dims,
                               codec_grad_cde_req *q, err *e);
void codec_grad_cde_req_free(codec_grad_cde_req *q);

/* The reply: gtheta the model's parameters in model_def order (initial |
 * vector_field | readout, each in mlp order). */
void codec_grad_cde_reply(jbuf *b, const char *model, int version, double loss, const mlp *initial,
                          const mlp *vector_field, const mlp *readout, const double *gtheta,
                          const codec_grad_stats *st);

#endif
