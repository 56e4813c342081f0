/* codec/codec_hybrid.c: see codec_hybrid.h. */
#include "codec/codec_hybrid.h"

#include "codec/codec_json.h"
#include "nn/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static err_code strings(const json_t *doc, const char *key, size_t n, const char *what, char **out,
                        err *e)
{
    const json_t *v = json_object_get(doc, key);
    if (!v) return err_set(e, ERR_INVALID, key, "missing: %s", what);
    if (!json_is_array(v) || json_array_size(v) != n)
        return err_set(e, ERR_INVALID, key, "must be an array of %s, got %s%zu", what,
                       json_is_array(v) ? "" : codec_json_type_name(v),
                       json_is_array(v) ? json_array_size(v) : 0);
    for (size_t i = 0; i < n; i++) {
        char f[ERR_FIELD_MAX];
        const char *s;
        codec_json_field_index(f, sizeof f, key, i);
        if (codec_json_get_string(json_array_get(v, i), f, &s, e) != ERR_OK) return ERR_INVALID;
        if (!(out[i] = strdup(s))) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    return ERR_OK;
}

static long par_index(const model_hybrid *h, const char *name)
{
    for (size_t i = 0; i < h->n_par; i++)
        if (strcmp(h->par_names[i], name) == 0) return (long)i;
    return -1;
}

static err_code decode_bounds(const json_t *v, model_hybrid *h, err *e)
{
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "bounds", "must be an object of parameter: [lower, upper], "
                       "got %s", codec_json_type_name(v));
    const char *key;
    json_t *b;
    json_object_foreach((json_t *)v, key, b) {
        char f[ERR_FIELD_MAX];
        snprintf(f, sizeof f, "bounds.%.64s", key);
        long i = par_index(h, key);
        if (i < 0) return err_set(e, ERR_INVALID, f, "\"%.64s\" is not a parameter", key);
        if (!json_is_array(b) || json_array_size(b) != 2)
            return err_set(e, ERR_INVALID, f, "must be [lower, upper] (null for none)");
        double lim[2] = {-INFINITY, INFINITY};
        for (size_t k = 0; k < 2; k++) {
            const json_t *x = json_array_get(b, k);
            char fk[ERR_FIELD_MAX];
            codec_json_field_index(fk, sizeof fk, f, k);
            if (!json_is_null(x) && codec_json_get_double(x, fk, &lim[k], e) != ERR_OK)
                return ERR_INVALID;
        }
        h->lo[i] = lim[0];
        h->hi[i] = lim[1];
    }
    return ERR_OK;
}

err_code codec_hybrid_decode(const json_t *doc, model_def *d, double **values, err *e)
{
    *values = NULL;
    const json_t *v = json_object_get(doc, "state_dim");
    if (!v) return err_set(e, ERR_INVALID, "state_dim", "missing: a positive integer");
    if (codec_json_get_size(v, "state_dim", 1, MLP_MAX_WIDTH - 1, &d->state_dim, e) != ERR_OK)
        return ERR_INVALID;
    const json_t *pars = json_object_get(doc, "parameters");
    if (pars && !json_is_object(pars))
        return err_set(e, ERR_INVALID, "parameters", "must be an object of name: value, got %s",
                       codec_json_type_name(pars));
    const size_t np = pars ? json_object_size(pars) : 0;
    if (!(d->hybrid = model_hybrid_new(d->state_dim, np)) ||
        !(*values = malloc((np + 1) * sizeof **values)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the model");
    model_hybrid *h = d->hybrid;
    char what[96];
    snprintf(what, sizeof what, "state_dim = %zu names", d->state_dim);
    if (strings(doc, "state_names", d->state_dim, what, h->state_names, e) != ERR_OK)
        return e->code;
    const json_t *eqs = json_object_get(doc, "equations");
    if (eqs && json_is_array(eqs) && json_array_size(eqs) != d->state_dim)
        return err_set(e, ERR_INVALID, "equations", "has %zu equations, state_dim is %zu (one "
                       "d state_i / dt per state)", json_array_size(eqs), d->state_dim);
    snprintf(what, sizeof what, "state_dim = %zu expressions", d->state_dim);
    if (strings(doc, "equations", d->state_dim, what, h->equations, e) != ERR_OK) return e->code;
    size_t i = 0;
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)pars, key, x) {
        char f[ERR_FIELD_MAX];
        snprintf(f, sizeof f, "parameters.%.64s", key);
        if (!(h->par_names[i] = strdup(key)))
            return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the model");
        if (codec_json_get_double(x, f, &(*values)[i], e) != ERR_OK) return ERR_INVALID;
        i++;
    }
    const json_t *tr = json_object_get(doc, "trainable");
    if (tr) {
        if (!json_is_array(tr))
            return err_set(e, ERR_INVALID, "trainable", "must be an array of parameter names, "
                           "got %s", codec_json_type_name(tr));
        for (size_t k = 0; k < json_array_size(tr); k++) {
            char f[ERR_FIELD_MAX];
            const char *s;
            codec_json_field_index(f, sizeof f, "trainable", k);
            if (codec_json_get_string(json_array_get(tr, k), f, &s, e) != ERR_OK) return ERR_INVALID;
            long p = par_index(h, s);
            if (p < 0) return err_set(e, ERR_INVALID, f, "\"%.64s\" is not a parameter", s);
            if (h->trainable[p]) return err_set(e, ERR_INVALID, f, "\"%.64s\" is listed twice", s);
            h->trainable[p] = 1;
        }
    }
    const json_t *bounds = json_object_get(doc, "bounds");
    if (bounds && decode_bounds(bounds, h, e) != ERR_OK) return e->code;
    return ERR_OK;
}

static void strs(jbuf *b, char *const *s, size_t n)
{
    jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_str(b, s[i]);
    }
    jbuf_raw(b, "]", 1);
}

void codec_hybrid_encode_head(const model_def *d, jbuf *b)
{
    const model_hybrid *h = d->hybrid;
    const double *v = model_def_hybrid_values(d);
    jbuf_lit(b, ",\"state_dim\":");
    jbuf_int(b, (long long)d->state_dim);
    jbuf_lit(b, ",\"state_names\":");
    strs(b, h->state_names, h->n_state);
    jbuf_lit(b, ",\"parameters\":{");
    for (size_t i = 0; i < h->n_par; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_str(b, h->par_names[i]);
        jbuf_raw(b, ":", 1);
        jbuf_double(b, v[i]);
    }
    jbuf_lit(b, "},\"equations\":");
    strs(b, h->equations, h->n_state);
}

static void bound(jbuf *b, double x)
{
    if (isinf(x))
        jbuf_lit(b, "null");
    else
        jbuf_double(b, x);
}

void codec_hybrid_encode_tail(const model_def *d, jbuf *b)
{
    const model_hybrid *h = d->hybrid;
    int first = 1;
    for (size_t i = 0; i < h->n_par; i++) {
        if (!h->trainable[i]) continue;
        jbuf_lit(b, first ? ",\"trainable\":[" : ",");
        first = 0;
        jbuf_str(b, h->par_names[i]);
    }
    if (!first) jbuf_raw(b, "]", 1);
    first = 1;
    for (size_t i = 0; i < h->n_par; i++) {
        if (isinf(h->lo[i]) && isinf(h->hi[i])) continue;
        jbuf_lit(b, first ? ",\"bounds\":{" : ",");
        first = 0;
        jbuf_str(b, h->par_names[i]);
        jbuf_raw(b, ":[", 2);
        bound(b, h->lo[i]);
        jbuf_raw(b, ",", 1);
        bound(b, h->hi[i]);
        jbuf_raw(b, "]", 1);
    }
    if (!first) jbuf_raw(b, "}", 1);
}

err_code codec_hybrid_traj_decode(const json_t *body, size_t state_dim, codec_request_ode *q,
                                  err *e)
{
    if (codec_request_ode_decode(body, state_dim, q, e) != ERR_OK) return e ? e->code : ERR_INVALID;
    const char *bad = json_object_get(body, "events")      ? "events"
                      : json_object_get(body, "augmented") ? "augmented"
                                                           : NULL;
    if (bad) {
        codec_request_ode_free(q);
        return err_set(e, ERR_INVALID, bad, "is not served for hybrid models");
    }
    return ERR_OK;
}
