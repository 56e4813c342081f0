/* codec/codec_hybrid.h: the JSON of hybrid models (docs/hybrid.md,
 * docs/model-format.md): the document's own fields (state_names,
 * parameters, equations, trainable, bounds), decoded into a model_def's
 * model_hybrid and written back in the one order export uses, and the
 * trajectory request (an ode request without events or augmented).
 * codec_model.c calls these for the kind "hybrid"; the network is its
 * business (one MLP named "network").
 *
 * Stateless and thread-safe; writers append to a jbuf. */
#ifndef ODESERVE_CODEC_CODEC_HYBRID_H
#define ODESERVE_CODEC_CODEC_HYBRID_H

#include <jansson.h>

#include "codec/codec_request.h"
#include "codec/jbuf.h"
#include "core/err.h"
#include "model/model_def.h"

/* The fields of `doc` besides kind, description, network and solver, into
 * d->hybrid (d->state_dim set); *values gets the parameters' values
 * (malloc'd, d->hybrid->n_par of them; the caller appends them after the
 * network's weights and frees the array). Errors name the field. */
err_code codec_hybrid_decode(const json_t *doc, model_def *d, double **values, err *e);

/* ,"state_dim":..,"state_names":[..],"parameters":{..},"equations":[..] */
void codec_hybrid_encode_head(const model_def *d, jbuf *b);
/* ,"trainable":[..],"bounds":{..} (each only when not empty) */
void codec_hybrid_encode_tail(const model_def *d, jbuf *b);

/* A trajectory request: codec_request_ode_decode, then events and
 * augmented refused (field named). */
err_code codec_hybrid_traj_decode(const json_t *body, size_t state_dim, codec_request_ode *q,
                                  err *e);

#endif
