/* codec_model_solver: the "solver" object of a model document and of every
 * request that may override it. A module of its own because every request
 * codec needs it and none of them needs the rest of codec_model (which in
 * turn includes the kinds' codecs: keeping it apart keeps the codec layer
 * free of include circles). Pure functions; thread-safe. */
#ifndef ODESERVE_CODEC_MODEL_SOLVER_H
#define ODESERVE_CODEC_MODEL_SOLVER_H

#include <jansson.h>

#include "core/err.h"
#include "model/model_def.h"

/* Decode a "solver" object (a model's defaults or a request's overrides)
 * into s (zeroed first). `field` is the object's own name ("solver"). */
err_code codec_model_solver_decode(const json_t *v, const char *field, model_solver *s, err *e);

#endif
