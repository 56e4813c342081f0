/* codec/codec_request.h: trajectory requests in, trajectory replies out.
 *
 * POST /v1/models/{name}/trajectory carries one JSON object. Its "version"
 * is read first (codec_request_version), to find the model; the rest depends
 * on the model's kind and is decoded by that kind's decoder:
 *
 *   ode  {"y0": [..] | [[..], ..], "t": [..] | [[..], ..], "t0": 0, "version": 3,
 *         "solver": {...overrides...}, "augmented": false,
 *         "events": [{"name": "x", "state": [..], "value": 0,
 *                     "direction": "both", "terminal": false}, ..]}
 *
 * "t" as a list of lists is a grid per initial state (y0 must then be a
 * list of as many states; a grid may be empty, not all of them).
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
#include "model/model_name.h"
#include "model/ode_model.h"
#include "num/driver.h"

/* At most this many events per request: each costs a functional per sample
 * of every step (num/driver.h), and the sign bookkeeping is per event. */
#define CODEC_MAX_EVENTS 16
/* An event's name: 1 to this many bytes. */
#define CODEC_EVENT_NAME_MAX 64

/* "version": a positive integer, "latest" or an alias; absent = latest.
 * *ref receives it (model/model_name.h); resolving an alias is the
 * caller's. `body` must be an object. */
err_code codec_request_version(const json_t *body, model_version_ref *ref, err *e);

/* One event object (docs/api.md, "Events") at `field` ("events[2]"): keys
 * name, state, value, direction, terminal, and the `extra` keys
 * (NULL-terminated, may be NULL; at most 6) that the caller reads itself.
 * The weights (dim numbers) go to w and ev->w = w; the name (at most
 * CODEC_EVENT_NAME_MAX bytes and its NUL) to name. Errors name the key. */
err_code codec_request_event_decode(const json_t *v, const char *field, size_t dim,
                                    const char *const *extra, struct ode_event *ev, double *w,
                                    char *name, err *e);
/* "events": a list of at most CODEC_MAX_EVENTS items; *n its length. */
err_code codec_request_events_count(const json_t *v, size_t *n, err *e);

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
    size_t *t_len;       /* "t" a list of lists: batch grid lengths (t holds them in a row); else NULL */
    size_t n_events;     /* "events": at most CODEC_MAX_EVENTS */
    struct ode_event *events; /* w: state_dim weights each, in event_w */
    double *event_w;
    char (*event_names)[CODEC_EVENT_NAME_MAX + 1];
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

/* The counters alone, "nfe":..,"steps":..,"rejected":..,"elapsed_ms":..
 * and, after an implicit method, "n_jac":..,"n_lu":..: what the stats member
 * and the Open Inference Protocol's flat "parameters" share. */
void codec_request_stats_counts(jbuf *b, const codec_request_stats *st);

/* The reply {"model", "version", "t", "y", "stats"}: y holds batch x n_t x
 * od values (row-major, as ode_model_solve writes them); y[i] is the state
 * at t[i], or y[b][i] for a batched request. */
void codec_request_ode_reply(jbuf *b, const char *model, int version, const codec_request_ode *q,
                             const double *y, size_t od, const codec_request_stats *st);

/* The same with events (ev: the solve's, NULL when the request had none):
 * "events": [{"name", "t", "y"}, ..] (a list of them per state for a
 * batched request), "stopped_at" (see docs/api.md), and null for the rows
 * of y past a terminal event (NAN rows). With per-state grids y[b] follows
 * t[b] and "t" echoes the lists. */
void codec_request_ode_reply_ev(jbuf *b, const char *model, int version,
                                const codec_request_ode *q, const double *y, size_t od,
                                const struct ode_model_events *ev, const codec_request_stats *st);

#endif
