/* codec/codec_sde.h: sde trajectory requests in, sde trajectory replies out.
 *
 * POST /v1/models/{name}/trajectory with a model of kind "sde" carries
 *
 *   {"y0": [..] | [[..], ..], "t": [..], "t0": 0, "version": 3,
 *    "samples": 1000, "seed": 7, "output": "summary" | "samples" | "both",
 *    "quantiles": [0.05, 0.5, 0.95], "solver": {"method": .., "step": ..}}
 *
 * "samples" defaults to 100 (or the cap, if lower) and must be 1..max_samples (ERR_INVALID at or
 * below 0, ERR_TOO_LARGE above: the daemon's max_sde_samples); "seed" is an
 * integer 0..2^53 (absent: the caller draws one, has_seed false);
 * "quantiles" at most CODEC_SDE_MAX_QUANTILES numbers in (0, 1), default
 * 0.05, 0.5, 0.95. Every key not listed is an error; every error names its
 * field ("y0[1][0]", "t[4]", "quantiles[2]", "seed").
 *
 * Replies (numbers through codec_num_write):
 *   {"model", "version", "seed", "n_samples", "t", "solver": {"method", "step"},
 *    "mean": [t][d], "std": [t][d], "quantiles": {"0.05": [t][d], ..},   (summary)
 *    "samples": [k][t][d],                                                 (samples)
 *    "stats"}
 * with one more level, [b], in front of each for a list of initial states.
 * The quantile keys are the numbers as the request wrote them, shortest
 * form. Stateless, thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_SDE_H
#define ODESERVE_CODEC_CODEC_SDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec_request.h"
#include "codec/jbuf.h"
#include "core/err.h"
#include "model/model_def.h"

#define CODEC_SDE_MAX_QUANTILES 32
#define CODEC_SDE_DEFAULT_SAMPLES 100

enum codec_sde_output { CODEC_SDE_SUMMARY = 1, CODEC_SDE_SAMPLES = 2, CODEC_SDE_BOTH = 3 };

/* A decoded sde trajectory request. Owns t and y0. */
typedef struct codec_sde_req {
    double t0;
    size_t n_t;
    double *t;
    size_t batch;
    bool batched; /* y0 was a list of states */
    double *y0;   /* batch x state_dim */
    size_t samples;
    bool has_seed;
    uint64_t seed;
    int output; /* enum codec_sde_output */
    size_t nq;
    double quantiles[CODEC_SDE_MAX_QUANTILES];
    model_solver solver;
} codec_sde_req;

err_code codec_sde_req_decode(const json_t *body, size_t state_dim, size_t max_samples,
                              codec_sde_req *q, err *e);
void codec_sde_req_free(codec_sde_req *q);

/* The solve's answer, borrowed by the reply writer. */
typedef struct codec_sde_result {
    size_t dim;
    const double *paths; /* batch x samples x n_t x dim (output samples or both) */
    const double *mean, *std; /* batch x n_t x dim (summary or both) */
    const double *quant;      /* nq x batch x n_t x dim */
    const char *method;
    double step;
} codec_sde_result;

void codec_sde_reply(jbuf *b, const char *model, int version, const codec_sde_req *q,
                     const codec_sde_result *r, const codec_request_stats *st);

#endif
