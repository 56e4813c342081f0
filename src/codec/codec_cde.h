/* codec/codec_cde.h: cde trajectory requests in, cde trajectory replies out.
 *
 * POST /v1/models/{name}/trajectory with a model of kind "cde" carries
 *
 *   one series  {"observations": {"t": [..], "x": [[1.2, null], ..]},
 *                "t": [..], "output": "readout", "version": 3,
 *                "solver": {...overrides...}}
 *   a batch     {"series": [{"observations": {..}, "t": [..]}, ..],
 *                "output": .., "version": .., "solver": {..}}
 *
 * "x" has one row per observation time, each with the model's data
 * channels (cde_model_data_channels); JSON null marks a value not observed
 * (carried as the mask of struct cde_path_obs, never as NaN). "t" (query times)
 * defaults to the observation times. "output" is "readout" (default),
 * "hidden" or "both". Every key not listed is an error; every error names
 * its field as the request spells it ("observations.x[2][1]",
 * "series[1].observations.t[3]", "output"), the series checks through
 * cde_path.h's helpers so the model layer and the codec word them alike.
 * Query times outside the observations are the solve's to report
 * (cde_model_solve, field "t[i]" / "series[b].t[i]").
 *
 * Replies (written into a jbuf, numbers through codec_num_write so they
 * read back bit for bit):
 *   one series  {"model", "version", "t", "readout"?, "hidden"?, "stats"}
 *   a batch     {"model", "version", "series": [{"t", "readout"?, "hidden"?},
 *                ..], "stats"}
 * "readout"[i] / "hidden"[i] is the value at t[i]. Stateless, thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_CDE_H
#define ODESERVE_CODEC_CODEC_CDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "codec/codec_request.h"
#include "codec/jbuf.h"
#include "model/cde_model.h"

/* A decoded cde trajectory request. Owns every array its series point to. */
typedef struct codec_cde_req {
    size_t batch;              /* series, >= 1 */
    bool batched;              /* sent as "series": the reply is a "series" list */
    struct cde_series *series; /* batch entries; t is never NULL after decoding */
    cde_output output;
    model_solver solver; /* overrides; unset fields keep the model's defaults */
} codec_cde_req;

/* Decode `body` (an object) for a model with n_data data channels. On
 * failure q is left empty (codec_cde_req_free is still safe). */
err_code codec_cde_req_decode(const json_t *body, size_t n_data, codec_cde_req *q, err *e);
void codec_cde_req_free(codec_cde_req *q);

/* The reply: readout (rows x readout_dim) and hidden (rows x hidden_dim),
 * rows in series order (cde_model_solve's layout); each written when the
 * request's output asks for it. */
void codec_cde_reply(jbuf *b, const char *model, int version, const codec_cde_req *q,
                     const double *readout, size_t readout_dim, const double *hidden,
                     size_t hidden_dim, const codec_request_stats *st);

#endif
