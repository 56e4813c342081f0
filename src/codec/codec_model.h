/* codec/codec_model.h: the model document (docs/model-format.md) <-> model_def.
 *
 * The document is what clients upload (POST /v1/models/{name}/versions) and
 * what an export returns (GET .../versions/{v}); the same text works both
 * ways. Decoding checks everything a client can get wrong and names the
 * field as the document spells it, with the reason:
 *   vector_field.layers[1].weight      "rows have 32 values, but the layer
 *                                       before gives 64"
 *   vector_field.layers[1].weight[3]   "has 63 values, row 0 has 64"
 *   vector_field.layers[0].bias[2]     "must be a finite number, got NaN"
 *   vector_field.layers[2].activation  "unknown activation ..."
 *   solver.tolerance                   "unknown key (expected one of: ...)"
 * then runs model_def_validate as a last line of defence.
 *
 * Encoding writes the canonical document: keys in a fixed order, every
 * number through codec_num_write (bit-exact round trip), unset solver
 * fields and a zero augment_dim left out.
 *
 * Both kinds are handled: "ode" (state_dim, augment_dim, vector_field) and
 * "cde" (input_channels, hidden_dim, channels, interpolation, initial,
 * vector_field, readout). Stateless and thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_MODEL_H
#define ODESERVE_CODEC_CODEC_MODEL_H

#include <jansson.h>

#include "core/err.h"
#include "codec/jbuf.h"
#include "model/model_def.h"

/* Decode a document into d (model_def_init'ed by the caller; on failure it
 * is left empty). ERR_INVALID with the field, ERR_NOMEM. */
err_code codec_model_decode(const json_t *doc, model_def *d, err *e);
/* The keys whose arrays a model upload may have packed (codec_parse.h):
 * codec_model_decode reads them packed or not alike. */
extern const char *const codec_model_pack_keys[];

/* Append the document of a valid d to b. */
void codec_model_encode(const model_def *d, jbuf *b);

/* Read, parse and decode a document file. Errors are prefixed with the
 * path ("examples/spiral.json: ..."). */
err_code codec_model_file_load(const char *path, model_def *d, err *e);

/* GET /v1/solvers: {"solvers": [{"name", "kind", "order", "embedded_order",
 * "stepping", "dense_order"}, ...]} for every method of num's one table
 * (rk_tableau_all), in its order; "embedded_order" is null for the
 * fixed-step methods; "auto" adds "runs": ["dopri5", "rodas4"]. NULL when
 * out of memory. */
json_t *codec_solvers_list(void);

#endif
