/* codec/codec_request.h: trajectory requests in, trajectory replies out.
 *
 * POST /v1/models/{name}/trajectory carries one JSON object. Its "version"
 * is read first (codec_request_version), to find the model; the rest depends
 * on the model's kind and is decoded by that kind's decoder:
 *
 *   ode  {"y0": [..] | [[..], ..], "t": [..], "t0": 0, "version": 3,
 *         "solver": {...overrides...}, "augmented": false}
 *
 * (cde models: codec/codec_cde.h). Every key not
 * listed is an error; every error names its field ("y0[1][0]", "t[4]",
 * "solver.rtol") and says why.
 *
 * Replies are written straight into a jbuf (no json_t tree), numbers
 * through codec_num_write, so they read back bit for bit. Stateless and
 * thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_REQUEST_H
#define ODESERVE_CODEC_CODEC_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "codec/jbuf.h"
#include "model/model_def.h"

/* "version": a positive integer or "latest"; absent = latest. *version
 * receives the number, 0 for latest. `body` must be an object. */
err_code codec_request_version(const json_t *body, int *version, err *e);

/* A decoded ode trajectory request. Owns t and y0. */
typedef struct codec_request_ode {
    double t0;           /* default 0 */
    size_t n_t;          /* >= 1 */
    double *t;           /* n_t output times, as sent */
    size_t batch;        /* initial states, >= 1 */
    bool batched;        /* y0 was a list of states: the reply nests y one level deeper */
    double *y0;          /* batch x state_dim */
    model_solver solver; /* overrides; unset fields keep the model's defaults */
    bool augmented;      /* report the augmented dimensions too */
} codec_request_ode;

/* Decode `body` (an object) for a model of state_dim. On failure q is
 * left empty (codec_request_ode_free is still safe). */
err_code codec_request_ode_decode(const json_t *body, size_t state_dim, codec_request_ode *q,
                                  err *e);
void codec_request_ode_free(codec_request_ode *q);

/* What the reply reports about the solve. */
typedef struct codec_request_stats {
    long nfe, steps, rejected;
    double elapsed_ms;  /* time spent solving */
    long n_jac, n_lu;   /* implicit methods (0 otherwise) */
    long auto_steps[2]; /* "auto": steps of dopri5, rodas4 (0, 0 otherwise) */
    long n_switches;    /* "auto": switches between them */
} codec_request_stats;

/* ,"stats":{"nfe":..,"steps":..,"rejected":..,"elapsed_ms":..}} : the
 * stats member and the closing brace of every trajectory reply. After
 * elapsed_ms, only when an implicit method ran: "n_jac", "n_lu"; only for
 * "auto": "methods": {"dopri5": steps, "rodas4": steps}, "switches". An
 * explicit method's reply keeps the four keys alone. */
void codec_request_stats_write(jbuf *b, const codec_request_stats *st);

/* The reply {"model", "version", "t", "y", "stats"}: y holds batch x n_t x
 * od values (row-major, as ode_model_solve writes them); y[i] is the state
 * at t[i], or y[b][i] for a batched request. */
void codec_request_ode_reply(jbuf *b, const char *model, int version, const codec_request_ode *q,
                             const double *y, size_t od, const codec_request_stats *st);

#endif
