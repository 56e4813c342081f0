/* codec/codec_cnf.c: see codec_cnf.h. */
#include "codec/codec_cnf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"
#include "codec/codec_model_solver.h"

/* Up to 2^53: every JSON reader holds it exactly. */
#define SEED_MAX 9007199254740992L

static double *alloc_doubles(size_t n, err *e)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    return p;
}

/* A list of points, each dim numbers, into a new array. */
static err_code decode_points(const json_t *v, const char *field, size_t dim,
                              const codec_cnf_limits *lim, size_t *n, double **out, err *e)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, field, "must be a non-empty list of points (%zu numbers each), got %s",
                       dim, json_is_array(v) ? "an empty array" : codec_json_type_name(v));
    *n = json_array_size(v);
    if (*n > lim->max_points)
        return err_set(e, ERR_TOO_LARGE, field,
                       "%zu points is more than max_cnf_points = %zu; split the request", *n,
                       lim->max_points);
    if (!(*out = alloc_doubles(*n * dim, e))) return ERR_NOMEM;
    for (size_t b = 0; b < *n; b++) {
        char f[ERR_FIELD_MAX];
        if (codec_json_get_vector(json_array_get(v, b), codec_json_field_index(f, sizeof f, field, b),
                                  dim, *out + b * dim, e) != ERR_OK)
            return ERR_INVALID;
    }
    return ERR_OK;
}

static err_code decode_trace(const json_t *body, size_t dim, const codec_cnf_limits *lim,
                             codec_cnf_req *q, err *e)
{
    const json_t *tr = json_object_get(body, "trace"), *pr = json_object_get(body, "probes"),
                 *no = json_object_get(body, "noise");
    q->tr.trace = dim <= lim->max_exact_dim ? CNF_TRACE_EXACT : CNF_TRACE_HUTCHINSON;
    if (tr) {
        const char *s;
        if (codec_json_get_string(tr, "trace", &s, e) != ERR_OK) return ERR_INVALID;
        if (strcmp(s, "exact") == 0)
            q->tr.trace = CNF_TRACE_EXACT;
        else if (strcmp(s, "hutchinson") == 0)
            q->tr.trace = CNF_TRACE_HUTCHINSON;
        else
            return err_set(e, ERR_INVALID, "trace", "must be \"exact\" or \"hutchinson\", got \"%.40s\"", s);
    }
    if (q->tr.trace == CNF_TRACE_EXACT && dim > lim->max_exact_dim)
        return err_set(e, ERR_INVALID, "trace",
                       "the exact trace is served up to dim %zu (max_cnf_exact_dim), this model has "
                       "dim %zu: use \"hutchinson\"",
                       lim->max_exact_dim, dim);
    if (q->tr.trace == CNF_TRACE_EXACT && (pr || no))
        return err_set(e, ERR_INVALID, pr ? "probes" : "noise", "is for \"trace\": \"hutchinson\" only");
    q->tr.probes = 1;
    if (pr) {
        long k;
        if (codec_json_get_long(pr, "probes", 1, 1000000000L, &k, e) != ERR_OK) return ERR_INVALID;
        if ((size_t)k > lim->max_probes)
            return err_set(e, ERR_TOO_LARGE, "probes", "%ld probes is more than max_cnf_probes = %zu",
                           k, lim->max_probes);
        q->tr.probes = (size_t)k;
        if (q->tr.probes * dim > CODEC_CNF_MAX_PROBE_VALUES)
            return err_set(e, ERR_TOO_LARGE, "probes",
                           "%zu probes of %zu values is more than %u probe values per point",
                           q->tr.probes, dim, CODEC_CNF_MAX_PROBE_VALUES);
    }
    q->tr.noise = CNF_NOISE_RADEMACHER;
    if (no) {
        const char *s;
        if (codec_json_get_string(no, "noise", &s, e) != ERR_OK) return ERR_INVALID;
        if (strcmp(s, "gaussian") == 0)
            q->tr.noise = CNF_NOISE_GAUSSIAN;
        else if (strcmp(s, "rademacher") != 0)
            return err_set(e, ERR_INVALID, "noise", "must be \"rademacher\" or \"gaussian\", got \"%.40s\"", s);
    }
    return ERR_OK;
}

/* The solve's values against max_values (codec_cnf.h). */
static err_code check_values(const codec_cnf_req *q, size_t dim, bool with_trace, const char *pts,
                             const codec_cnf_limits *lim, err *e)
{
    const size_t k = !with_trace ? 0 : q->tr.trace == CNF_TRACE_HUTCHINSON ? q->tr.probes : 1;
    const double values = (double)q->n * (double)(dim + k) * (double)(q->n_t + 1);
    if (values <= (double)lim->max_values) return ERR_OK;
    return err_set(e, ERR_TOO_LARGE, k > 1 ? "probes" : q->n_t ? "t" : pts,
                   "the solve would hold %.0f values (points x (dim + %zu trace values)%s), more "
                   "than max_solve_points = %zu; split the request",
                   values, k, q->n_t ? " x (path times + 1)" : "", lim->max_values);
}

static err_code decode_common(const json_t *body, codec_cnf_req *q, err *e)
{
    const json_t *sd = json_object_get(body, "seed"), *so = json_object_get(body, "solver");
    if (sd) {
        long s;
        if (codec_json_get_long(sd, "seed", 0, SEED_MAX, &s, e) != ERR_OK) return ERR_INVALID;
        q->seed = (uint64_t)s;
        q->has_seed = true;
    }
    if (so && codec_model_solver_decode(so, "solver", &q->solver, e) != ERR_OK) return ERR_INVALID;
    return ERR_OK;
}

err_code codec_cnf_logp_decode(const json_t *body, size_t dim, const codec_cnf_limits *lim,
                               codec_cnf_req *q, err *e)
{
    static const char *const keys[] = {"version", "x", "trace", "probes", "seed", "noise", "solver", NULL};
    memset(q, 0, sizeof *q);
    if (!json_is_object(body))
        return err_set(e, ERR_INVALID, "", "the body must be an object, got %s", codec_json_type_name(body));
    if (codec_json_keys_check(body, "", keys, e) != ERR_OK) return ERR_INVALID;
    const json_t *x = json_object_get(body, "x");
    if (!x) return err_set(e, ERR_INVALID, "x", "missing: the points (a list of %zu-number lists)", dim);
    if (decode_points(x, "x", dim, lim, &q->n, &q->x, e) != ERR_OK) return e->code;
    if (decode_trace(body, dim, lim, q, e) != ERR_OK) return e->code;
    if (decode_common(body, q, e) != ERR_OK) return e->code;
    q->tr.seed = q->seed;
    return check_values(q, dim, true, "x", lim, e);
}

err_code codec_cnf_sample_decode(const json_t *body, size_t dim, const codec_cnf_limits *lim,
                                 codec_cnf_req *q, err *e)
{
    static const char *const keys[] = {"version", "n", "seed", "z", "t", "log_prob", "trace",
                                       "probes", "noise", "solver", NULL};
    memset(q, 0, sizeof *q);
    if (!json_is_object(body))
        return err_set(e, ERR_INVALID, "", "the body must be an object, got %s", codec_json_type_name(body));
    if (codec_json_keys_check(body, "", keys, e) != ERR_OK) return ERR_INVALID;
    const json_t *z = json_object_get(body, "z"), *n = json_object_get(body, "n"),
                 *t = json_object_get(body, "t"), *lp = json_object_get(body, "log_prob");
    if (z && n) return err_set(e, ERR_INVALID, "n", "give \"n\" (with \"seed\") or \"z\", not both");
    if (z && json_object_get(body, "seed") && !lp)
        return err_set(e, ERR_INVALID, "seed", "with \"z\" nothing is drawn: leave \"seed\" out");
    if (z) {
        if (decode_points(z, "z", dim, lim, &q->n, &q->x, e) != ERR_OK) return e->code;
    } else {
        long k;
        if (!n) return err_set(e, ERR_INVALID, "n", "missing: how many samples (or \"z\", base points)");
        if (codec_json_get_long(n, "n", 1, 1000000000000L, &k, e) != ERR_OK) return ERR_INVALID;
        if ((size_t)k > lim->max_points)
            return err_set(e, ERR_TOO_LARGE, "n", "%ld samples is more than max_cnf_points = %zu; split the request",
                           k, lim->max_points);
        q->n = (size_t)k;
    }
    if (t) {
        if (!json_is_array(t))
            return err_set(e, ERR_INVALID, "t", "must be a list of times in [0, 1], got %s",
                           codec_json_type_name(t));
        q->n_t = json_array_size(t);
        if (q->n_t && !(q->t = alloc_doubles(q->n_t, e))) return ERR_NOMEM;
        if (q->n_t && codec_json_get_vector(t, "t", q->n_t, q->t, e) != ERR_OK) return ERR_INVALID;
        for (size_t i = 0; i < q->n_t; i++)
            if (!(q->t[i] >= 0 && q->t[i] <= 1)) {
                char f[ERR_FIELD_MAX];
                return err_set(e, ERR_INVALID, codec_json_field_index(f, sizeof f, "t", i),
                               "must be a time in [0, 1] (0 the base, 1 the data), got %.17g", q->t[i]);
            }
        if (q->n_t && q->n > lim->max_points / (q->n_t + 1))
            return err_set(e, ERR_TOO_LARGE, "t",
                           "%zu samples x %zu times is more than max_cnf_points = %zu points", q->n,
                           q->n_t + 1, lim->max_points);
    }
    if (lp && codec_json_get_bool(lp, "log_prob", &q->log_prob, e) != ERR_OK) return ERR_INVALID;
    if (!q->log_prob && (json_object_get(body, "trace") || json_object_get(body, "probes") ||
                         json_object_get(body, "noise")))
        return err_set(e, ERR_INVALID, json_object_get(body, "trace") ? "trace"
                                       : json_object_get(body, "probes") ? "probes" : "noise",
                       "is for \"log_prob\": true only");
    if (q->log_prob && decode_trace(body, dim, lim, q, e) != ERR_OK) return e->code;
    if (decode_common(body, q, e) != ERR_OK) return e->code;
    q->tr.seed = q->seed;
    return check_values(q, dim, q->log_prob, q->x ? "z" : "n", lim, e);
}

void codec_cnf_req_free(codec_cnf_req *q)
{
    if (!q) return;
    free(q->x);
    free(q->t);
    memset(q, 0, sizeof *q);
}

static void head(jbuf *b, const char *model, int version, size_t values)
{
    jbuf_reserve(b, 256 + strlen(model) + values * 25);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
}

static void trace_keys(jbuf *b, const codec_cnf_req *q, const double *se, bool seed)
{
    jbuf_lit(b, q->tr.trace == CNF_TRACE_EXACT ? ",\"trace\":\"exact\"" : ",\"trace\":\"hutchinson\"");
    if (q->tr.trace != CNF_TRACE_HUTCHINSON) return;
    jbuf_lit(b, ",\"probes\":");
    jbuf_int(b, (long long)q->tr.probes);
    jbuf_lit(b, q->tr.noise == CNF_NOISE_GAUSSIAN ? ",\"noise\":\"gaussian\"" : ",\"noise\":\"rademacher\"");
    if (seed) {
        jbuf_lit(b, ",\"seed\":");
        jbuf_int(b, (long long)q->tr.seed);
    }
    if (se) {
        jbuf_lit(b, ",\"stderr\":");
        jbuf_vec(b, se, q->n);
    }
}

static void stats(jbuf *b, const struct cnf_stats *cs, const codec_request_stats *st)
{
    jbuf_lit(b, cs->mode == CNF_BATCH_SHARED ? ",\"batch_mode\":\"shared\"" : ",\"batch_mode\":\"per_point\"");
    codec_request_stats_write(b, st);
}

void codec_cnf_logp_reply(jbuf *b, const char *model, int version, const codec_cnf_req *q,
                          const double *lp, const double *se, const struct cnf_stats *cs,
                          const codec_request_stats *st)
{
    head(b, model, version, 2 * q->n);
    jbuf_lit(b, ",\"log_prob\":");
    jbuf_vec(b, lp, q->n);
    trace_keys(b, q, se, true);
    stats(b, cs, st);
}

void codec_cnf_sample_reply(jbuf *b, const char *model, int version, const codec_cnf_req *q,
                            size_t dim, const double *x, const double *path, const double *lp,
                            const double *se, const struct cnf_stats *cs,
                            const codec_request_stats *st)
{
    head(b, model, version, q->n * dim * (q->n_t + 1) + 2 * q->n);
    if (!q->x || (q->log_prob && q->tr.trace == CNF_TRACE_HUTCHINSON)) {
        jbuf_lit(b, ",\"seed\":");
        jbuf_int(b, (long long)q->seed);
    }
    jbuf_lit(b, ",\"x\":");
    jbuf_rows(b, x, q->n, dim);
    if (q->n_t) {
        jbuf_lit(b, ",\"t\":");
        jbuf_vec(b, q->t, q->n_t);
        jbuf_lit(b, ",\"path\":[");
        for (size_t i = 0; i < q->n; i++) {
            if (i) jbuf_raw(b, ",", 1);
            jbuf_rows(b, path + i * q->n_t * dim, q->n_t, dim);
        }
        jbuf_raw(b, "]", 1);
    }
    if (q->log_prob) {
        jbuf_lit(b, ",\"log_prob\":");
        jbuf_vec(b, lp, q->n);
        trace_keys(b, q, se, false);
    }
    stats(b, cs, st);
}
