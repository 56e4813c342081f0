/* codec/codec_cde.h: cde trajectory requests in, cde trajectory replies out.
 *
 * POST /v1/models/{name}/trajectory with a model of kind "cde" carries
 *
 *   one series  {"observations": {"t": [..], "x": [[1.2, null], ..]},
 *                "t": [..], "output": "readout", "version": 3,
 *                "solver": {...overrides...},
 *                "events": [{"name", "state", "value", "direction", "terminal",
 *                            "on": "hidden" | "readout"}, ..]}
 *   a batch     {"series": [{"observations": {..}, "t": [..]}, ..],
 *                "output": .., "version": .., "solver": {..}, "events": [..]}
 *
 * "x" has one row per observation time, each with the model's data
 * channels (cde_model_data_channels); JSON null marks a value not observed
 * (carried as the mask of struct cde_path_obs, never as NaN). "t" (query times)
 * defaults to the observation times. "output" is "readout" (default),
 * "hidden" or "both". "events" (codec_request_event_decode's objects plus
 * "on") hold hidden_dim weights each, readout_dim with "on": "readout".
 * Every key not listed is an error; every error names
 * its field as the request spells it ("observations.x[2][1]",
 * "series[1].observations.t[3]", "output"), the series checks through
 * cde_path.h's helpers so the model layer and the codec word them alike.
 * Query times outside the observations are the solve's to report
 * (cde_model_solve, field "t[i]" / "series[b].t[i]").
 *
 * Replies (written into a jbuf, numbers through codec_num_write so they
 * read back bit for bit):
 *   one series  {"model", "version", "t", "readout"?, "hidden"?, "events"?,
 *                "stopped_at"?, "stats"}
 *   a batch     {"model", "version", "series": [{"t", "readout"?, "hidden"?,
 *                "events"?, "stopped_at"?}, ..], "stats"}
 * "readout"[i] / "hidden"[i] is the value at t[i] (null past a terminal
 * event); "events" [{"name", "t", "readout"?, "hidden"?}, ..] when the
 * request had events, "stopped_at" when a terminal one stopped the series.
 * Stateless, thread-safe. */
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
    size_t n_events;     /* "events": at most CODEC_MAX_EVENTS */
    struct cde_event *events; /* g.w into event_w, max(hidden, readout) doubles each */
    double *event_w;
    char (*event_names)[CODEC_EVENT_NAME_MAX + 1];
} codec_cde_req;

/* The model's sizes a request is decoded against. */
typedef struct codec_cde_dims {
    size_t n_data;      /* data channels per observation row */
    size_t hidden_dim;  /* an event's "state" on the hidden state */
    size_t readout_dim; /* ... on the readout */
} codec_cde_dims;

/* Decode `body` (an object) for a model of these sizes. On failure q is
 * left empty (codec_cde_req_free is still safe). */
err_code codec_cde_req_decode(const json_t *body, const codec_cde_dims *dims, codec_cde_req *q,
                              err *e);
void codec_cde_req_free(codec_cde_req *q);

/* The reply: readout (rows x readout_dim) and hidden (rows x hidden_dim),
 * rows in series order (cde_model_solve's layout); each written when the
 * request's output asks for it. ev: the solve's events (NULL when the
 * request had none). */
void codec_cde_reply(jbuf *b, const char *model, int version, const codec_cde_req *q,
                     const double *readout, size_t readout_dim, const double *hidden,
                     size_t hidden_dim, const struct cde_model_events *ev,
                     const codec_request_stats *st);

#endif
