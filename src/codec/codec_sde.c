/* codec/codec_sde.c: see codec_sde.h. */
#include "codec/codec_sde.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"
#include "codec/codec_model_solver.h"
#include "codec/codec_num.h"

static double *alloc_doubles(size_t n, err *e)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    return p;
}

static err_code decode_y0(const json_t *v, size_t dim, codec_sde_req *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "y0", "missing: the initial state (%zu numbers)", dim);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "y0",
                       "must be a state (%zu numbers) or a non-empty list of states, got %s", dim,
                       json_is_array(v) ? "an empty array" : codec_json_type_name(v));
    q->batched = json_is_array(json_array_get(v, 0));
    q->batch = q->batched ? json_array_size(v) : 1;
    if (!(q->y0 = alloc_doubles(q->batch * dim, e))) return ERR_NOMEM;
    if (!q->batched) return codec_json_get_vector(v, "y0", dim, q->y0, e);
    for (size_t b = 0; b < q->batch; b++) {
        char f[ERR_FIELD_MAX];
        if (codec_json_get_vector(json_array_get(v, b),
                                  codec_json_field_index(f, sizeof f, "y0", b), dim,
                                  q->y0 + b * dim, e) != ERR_OK)
            return ERR_INVALID;
    }
    return ERR_OK;
}

static err_code decode_times(const json_t *v, codec_sde_req *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "t", "missing: the list of output times");
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "t", "must be an array of times, got %s",
                       codec_json_type_name(v));
    q->n_t = json_array_size(v);
    if (q->n_t == 0)
        return err_set(e, ERR_INVALID, "t", "must not be empty: give at least one output time");
    if (!(q->t = alloc_doubles(q->n_t, e))) return ERR_NOMEM;
    return codec_json_get_vector(v, "t", q->n_t, q->t, e);
}

static err_code decode_samples(const json_t *v, size_t max_samples, codec_sde_req *q, err *e)
{
    q->samples = CODEC_SDE_DEFAULT_SAMPLES < max_samples ? CODEC_SDE_DEFAULT_SAMPLES : max_samples;
    if (!v) return ERR_OK;
    double x;
    if (!json_is_number(v) || !isfinite(x = json_number_value(v)) || x != floor(x))
        return err_set(e, ERR_INVALID, "samples", "must be a positive integer, got %s",
                       json_is_number(v) ? "a fraction" : codec_json_type_name(v));
    if (x < 1) return err_set(e, ERR_INVALID, "samples", "must be at least 1, got %.17g", x);
    if (x > (double)max_samples)
        return err_set(e, ERR_TOO_LARGE, "samples",
                       "%.17g samples is more than max_sde_samples = %zu; split the request "
                       "(samples with the same seed are the same in every split: docs/sde.md)",
                       x, max_samples);
    q->samples = (size_t)x;
    return ERR_OK;
}

/* Up to 2^53: every JSON reader holds it exactly. */
#define SEED_MAX 9007199254740992L

static err_code decode_seed(const json_t *v, codec_sde_req *q, err *e)
{
    long s;
    if (!v) return ERR_OK;
    if (codec_json_get_long(v, "seed", 0, SEED_MAX, &s, e) != ERR_OK) return ERR_INVALID;
    q->seed = (uint64_t)s;
    q->has_seed = true;
    return ERR_OK;
}

static err_code decode_output(const json_t *v, codec_sde_req *q, err *e)
{
    static const char *const names[] = {NULL, "summary", "samples", "both"};
    q->output = CODEC_SDE_SUMMARY;
    if (!v) return ERR_OK;
    const char *s;
    if (codec_json_get_string(v, "output", &s, e) != ERR_OK) return ERR_INVALID;
    for (int i = 1; i <= 3; i++)
        if (strcmp(s, names[i]) == 0) {
            q->output = i;
            return ERR_OK;
        }
    return err_set(e, ERR_INVALID, "output",
                   "unknown output \"%.40s\" (expected summary, samples or both)", s);
}

static err_code decode_quantiles(const json_t *v, codec_sde_req *q, err *e)
{
    static const double dflt[] = {0.05, 0.5, 0.95};
    if (!v) {
        q->nq = 3;
        memcpy(q->quantiles, dflt, sizeof dflt);
        return ERR_OK;
    }
    if (!json_is_array(v) || json_array_size(v) > CODEC_SDE_MAX_QUANTILES)
        return err_set(e, ERR_INVALID, "quantiles", "must be a list of at most %d numbers in (0, 1)",
                       CODEC_SDE_MAX_QUANTILES);
    q->nq = json_array_size(v);
    for (size_t i = 0; i < q->nq; i++) {
        char f[ERR_FIELD_MAX];
        codec_json_field_index(f, sizeof f, "quantiles", i);
        if (codec_json_get_double(json_array_get(v, i), f, &q->quantiles[i], e) != ERR_OK)
            return ERR_INVALID;
        if (!(q->quantiles[i] > 0 && q->quantiles[i] < 1))
            return err_set(e, ERR_INVALID, f, "must be strictly between 0 and 1, got %.17g",
                           q->quantiles[i]);
        for (size_t j = 0; j < i; j++)
            if (q->quantiles[j] == q->quantiles[i])
                return err_set(e, ERR_INVALID, f, "repeats quantiles[%zu] (the reply's keys)", j);
    }
    return ERR_OK;
}

err_code codec_sde_req_decode(const json_t *body, size_t state_dim, size_t max_samples,
                              codec_sde_req *q, err *e)
{
    static const char *const keys[] = {"y0",     "t",         "t0",     "version", "samples",
                                       "seed",   "output",    "quantiles", "solver", NULL};
    memset(q, 0, sizeof *q);
    const json_t *t0 = json_object_get(body, "t0"), *solver = json_object_get(body, "solver");
    if (codec_json_keys_check(body, "", keys, e) != ERR_OK ||
        decode_y0(json_object_get(body, "y0"), state_dim, q, e) != ERR_OK ||
        decode_times(json_object_get(body, "t"), q, e) != ERR_OK ||
        (t0 && codec_json_get_double(t0, "t0", &q->t0, e) != ERR_OK) ||
        decode_samples(json_object_get(body, "samples"), max_samples, q, e) != ERR_OK ||
        decode_seed(json_object_get(body, "seed"), q, e) != ERR_OK ||
        decode_output(json_object_get(body, "output"), q, e) != ERR_OK ||
        decode_quantiles(json_object_get(body, "quantiles"), q, e) != ERR_OK ||
        (solver && codec_model_solver_decode(solver, "solver", &q->solver, e) != ERR_OK)) {
        codec_sde_req_free(q);
        return e ? e->code : ERR_INVALID;
    }
    return ERR_OK;
}

void codec_sde_req_free(codec_sde_req *q)
{
    if (!q) return;
    free(q->t);
    free(q->y0);
    memset(q, 0, sizeof *q);
}

/* n blocks of rows x dim, [..] around them when `nest`. */
static void blocks(jbuf *b, const double *v, size_t n, size_t rows, size_t dim, bool nest)
{
    if (!nest) {
        jbuf_rows(b, v, rows, dim);
        return;
    }
    jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_rows(b, v + i * rows * dim, rows, dim);
    }
    jbuf_raw(b, "]", 1);
}

void codec_sde_reply(jbuf *b, const char *model, int version, const codec_sde_req *q,
                     const codec_sde_result *r, const codec_request_stats *st)
{
    const size_t cell = q->n_t * r->dim;
    size_t values = q->n_t;
    if (q->output & CODEC_SDE_SUMMARY) values += q->batch * cell * (2 + q->nq);
    if (q->output & CODEC_SDE_SAMPLES) values += q->batch * q->samples * cell;
    jbuf_reserve(b, 256 + strlen(model) + values * 25);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"seed\":");
    jbuf_int(b, (long long)q->seed);
    jbuf_lit(b, ",\"n_samples\":");
    jbuf_int(b, (long long)q->samples);
    jbuf_lit(b, ",\"solver\":{\"method\":");
    jbuf_str(b, r->method);
    jbuf_lit(b, ",\"step\":");
    jbuf_double(b, r->step);
    jbuf_lit(b, "},\"t\":");
    jbuf_vec(b, q->t, q->n_t);
    if (q->output & CODEC_SDE_SUMMARY) {
        jbuf_lit(b, ",\"mean\":");
        blocks(b, r->mean, q->batch, q->n_t, r->dim, q->batched);
        jbuf_lit(b, ",\"std\":");
        blocks(b, r->std, q->batch, q->n_t, r->dim, q->batched);
        jbuf_lit(b, ",\"quantiles\":{");
        for (size_t j = 0; j < q->nq; j++) {
            char num[CODEC_NUM_MAX];
            codec_num_write(num, q->quantiles[j]);
            if (j) jbuf_raw(b, ",", 1);
            jbuf_str(b, num);
            jbuf_raw(b, ":", 1);
            blocks(b, r->quant + j * q->batch * cell, q->batch, q->n_t, r->dim, q->batched);
        }
        jbuf_raw(b, "}", 1);
    }
    if (q->output & CODEC_SDE_SAMPLES) {
        jbuf_lit(b, ",\"samples\":");
        if (q->batched) jbuf_raw(b, "[", 1);
        for (size_t bb = 0; bb < q->batch; bb++) {
            if (bb) jbuf_raw(b, ",", 1);
            blocks(b, r->paths + bb * q->samples * cell, q->samples, q->n_t, r->dim, true);
        }
        if (q->batched) jbuf_raw(b, "]", 1);
    }
    codec_request_stats_write(b, st);
}
