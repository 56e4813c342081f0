/* codec/codec_cnf.h: the JSON of a cnf model's two routes (docs/cnf.md):
 * POST /v1/models/{name}/log_prob and POST /v1/models/{name}/sample.
 *
 * Requests decode into a codec_cnf_req, which owns its arrays
 * (codec_cnf_req_free). The daemon's limits come in as codec_cnf_limits:
 * points (rows of the reply: n, times n_t + 1 with a path) above
 * max_points and probes above max_probes are ERR_TOO_LARGE (413) naming the
 * field; "trace": "exact" on a model wider than max_exact_dim is
 * ERR_INVALID (422) on "trace". The trace defaults to "exact" up to
 * max_exact_dim and to "hutchinson" with one probe above it.
 *
 * Thread safety: pure functions of their arguments. */
#ifndef ODESERVE_CODEC_CODEC_CNF_H
#define ODESERVE_CODEC_CODEC_CNF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "codec/codec_request.h"
#include "codec/jbuf.h"
#include "core/err.h"
#include "model/cnf_model.h"

typedef struct codec_cnf_limits {
    size_t max_points;    /* max_cnf_points */
    size_t max_exact_dim; /* max_cnf_exact_dim */
    size_t max_probes;    /* max_cnf_probes */
} codec_cnf_limits;

typedef struct codec_cnf_req {
    size_t n;                 /* points */
    double *x;                /* log_prob: the points; sample: the given "z" or NULL */
    uint64_t seed;            /* base draws (sample) and probes (Hutchinson) */
    bool has_seed;            /* "seed" given (sample without z and seed: the caller draws one) */
    double *t;                /* sample: path times, n_t of them (NULL when none) */
    size_t n_t;
    bool log_prob;            /* sample: "log_prob": true */
    struct cnf_trace_opts tr; /* the resolved trace */
    model_solver solver;      /* "solver" overrides */
} codec_cnf_req;

/* {"x": [[...], ...], "trace", "probes", "seed", "noise", "solver",
 * "version"} for a model of dimension dim. */
err_code codec_cnf_logp_decode(const json_t *body, size_t dim, const codec_cnf_limits *lim,
                               codec_cnf_req *q, err *e);
/* {"n", "seed"} or {"z": [[...], ...]}, "t", "log_prob", "trace", "probes",
 * "noise", "solver", "version". */
err_code codec_cnf_sample_decode(const json_t *body, size_t dim, const codec_cnf_limits *lim,
                                 codec_cnf_req *q, err *e);
void codec_cnf_req_free(codec_cnf_req *q); /* NULL is a no-op */

/* {"model", "version", "log_prob": [...], "trace", "probes"?, "stderr"?,
 * "stats": {...}}; se: the standard errors (Hutchinson; NAN prints null). */
void codec_cnf_logp_reply(jbuf *b, const char *model, int version, const codec_cnf_req *q,
                          const double *lp, const double *se, const struct cnf_stats *cs,
                          const codec_request_stats *st);
/* {"model", "version", "seed"?, "x": [[...]], "t"?, "path"?: [point][time][dim],
 * "log_prob"?, "stderr"?, "stats"}. */
void codec_cnf_sample_reply(jbuf *b, const char *model, int version, const codec_cnf_req *q,
                            size_t dim, const double *x, const double *path, const double *lp,
                            const double *se, const struct cnf_stats *cs,
                            const codec_request_stats *st);

#endif
