/* codec/codec_oip.h: the Open Inference Protocol (KServe v2) in JSON.
 *
 * An inference request (POST /v2/models/{name}[/versions/{v}]/infer)
 *
 *   {"id": "a1", "parameters": {"rtol": 1e-8, "method": "dopri5"},
 *    "inputs": [{"name": "y0", "datatype": "FP64", "shape": [2, 2],
 *                "data": [1, 0, 0, 1]},            (flat, row-major, or nested)
 *               {"name": "t", "datatype": "FP64", "shape": [3], "data": [0.5, 1, 2]}],
 *    "outputs": [{"name": "y"}]}                   (optional: which outputs)
 *
 * is decoded in two steps. codec_oip_req_decode reads the envelope and every
 * tensor (its datatype, a shape of 1 to CODEC_OIP_MAX_RANK dimensions and
 * data whose length, flat or nested, is the product of the shape) without
 * knowing the model. Once the model is known, codec_oip_to_ode or
 * codec_oip_to_cde writes the same request as a v1 trajectory body
 * (codec_request.h, codec_cde.h), so the v1 decoders check it against the
 * model and the v1 solve path runs unchanged; codec_oip_field_map then
 * renames the fields of the v1 decoders' errors back to the request as the
 * client wrote it ("y0[1][0]" -> "inputs[0].data[2]", "solver.rtol" ->
 * "parameters.rtol").
 *
 * Tensors by kind (docs/api.md, "Open Inference Protocol"):
 *   ode  in:  y0 FP64 [state_dim] or [batch, state_dim]; t FP64 [n] or
 *             [batch, n] (a grid per state); parameters: the solver
 *             overrides, "t0", "augmented"
 *        out: y FP64 [n, od] or [batch, n, od]; t as sent
 *   cde  in:  obs_t FP64 [n_obs] (shared) or [batch, n_obs]; obs_x FP64
 *             [n_obs, data_channels] or [batch, n_obs, data_channels];
 *             obs_missing BOOL, obs_x's shape, optional: true where a value
 *             was not observed (torchcde's NaN; JSON has no NaN), its obs_x
 *             value ignored; t FP64 [n] or [batch, n], optional (default:
 *             the observation times)
 *        out: readout FP64 [(batch,) n, readout_dim]; hidden FP64
 *             [(batch,) n, hidden_dim]; t as used
 * The reply's "parameters" carry the solve's stats (nfe, steps, ...).
 *
 * Errors name fields as the client wrote them ("inputs[1].shape",
 * "inputs[0].data[3]", "parameters.rtol", "outputs[0].name"). Replies are
 * written into a jbuf, numbers through codec_num_write: a tensor's data are
 * the same text as the v1 reply's numbers. Stateless and thread-safe; a
 * codec_oip_req borrows strings from the body it was decoded from. */
#ifndef ODESERVE_CODEC_CODEC_OIP_H
#define ODESERVE_CODEC_CODEC_OIP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "codec/codec_cde.h"
#include "codec/codec_request.h"
#include "codec/jbuf.h"
#include "core/err.h"
#include "model/model_def.h"

#define CODEC_OIP_MAX_RANK 4
#define CODEC_OIP_MAX_INPUTS 8

/* One input tensor. */
typedef struct codec_oip_tensor {
    const char *name;     /* borrowed from the body */
    const char *datatype; /* "FP64", "BOOL", ... borrowed */
    size_t rank;
    size_t shape[CODEC_OIP_MAX_RANK];
    size_t n;     /* product of the shape */
    double *data; /* n values, row-major; BOOL as 0 and 1. Owned */
    bool nested;  /* data was sent nested (error fields follow it) */
    size_t index; /* position in "inputs" */
} codec_oip_tensor;

/* Outputs a request may name. */
enum codec_oip_out {
    CODEC_OIP_OUT_Y = 1u << 0,
    CODEC_OIP_OUT_T = 1u << 1,
    CODEC_OIP_OUT_READOUT = 1u << 2,
    CODEC_OIP_OUT_HIDDEN = 1u << 3
};

/* A decoded inference request. */
typedef struct codec_oip_req {
    const char *id;           /* "id", borrowed; NULL when absent */
    const json_t *parameters; /* "parameters" (an object of scalars), borrowed; may be NULL */
    size_t n_inputs;
    codec_oip_tensor inputs[CODEC_OIP_MAX_INPUTS];
    size_t n_outputs;                               /* "outputs" named, in order; 0 = all */
    unsigned outputs[CODEC_OIP_MAX_INPUTS];         /* enum codec_oip_out, in the order asked */
    const char *output_names[CODEC_OIP_MAX_INPUTS]; /* borrowed */
} codec_oip_req;

/* The envelope and every tensor of `body`. On failure q is left empty
 * (codec_oip_req_free is still safe). */
err_code codec_oip_req_decode(const json_t *body, codec_oip_req *q, err *e);
void codec_oip_req_free(codec_oip_req *q);

/* The request as a v1 trajectory body (new reference in *out) for an ode
 * model of state_dim, or a cde model with n_data data channels. Errors
 * about what the v1 body cannot say (a missing or unknown tensor, a wrong
 * datatype or rank, an unknown output) name the OIP field. */
err_code codec_oip_to_ode(const codec_oip_req *q, size_t state_dim, json_t **out, err *e);
err_code codec_oip_to_cde(const codec_oip_req *q, size_t n_data, json_t **out, err *e);

/* Rename e->field from the v1 body of codec_oip_to_<kind> to the OIP
 * request's field. A field it does not know is left as it is. */
void codec_oip_field_map(const codec_oip_req *q, model_kind kind, err *e);

/* The inference replies. `version` is the model version solved. */
void codec_oip_ode_reply(jbuf *b, const codec_oip_req *q, const char *model, int version,
                         const codec_request_ode *oq, const double *y, size_t od,
                         const codec_request_stats *st);
void codec_oip_cde_reply(jbuf *b, const codec_oip_req *q, const char *model, int version,
                         const codec_cde_req *cq, const double *readout, size_t readout_dim,
                         const double *hidden, size_t hidden_dim, const codec_request_stats *st);

/* What GET /v2/models/{name} reports about one model version. */
typedef struct codec_oip_model_meta {
    const char *name;
    model_kind kind;
    const int *versions; /* every stored version, ascending */
    size_t n_versions;
    size_t state_dim, output_dim;   /* ode: y0's and y's last dimension */
    size_t data_channels;           /* cde: obs_x's last dimension */
    size_t readout_dim, hidden_dim; /* cde */
} codec_oip_model_meta;

void codec_oip_model_meta_write(jbuf *b, const codec_oip_model_meta *m);
/* {"live": true} or {"ready": true}: the health replies (`key`). */
void codec_oip_health_write(jbuf *b, const char *key);
/* {"name": name, "ready": true}: a model's readiness. */
void codec_oip_model_ready_write(jbuf *b, const char *name);
/* {"name": "odeserved", "version": .., "extensions": []} */
void codec_oip_server_meta_write(jbuf *b, const char *name, const char *version);

#endif
