/* codec/codec_request.c: see codec_request.h. */
#include "codec/codec_request.h"

#include <stdlib.h>
#include <string.h>

#include "codec/codec_json.h"
#include "codec/codec_model.h"

err_code codec_request_version(const json_t *body, int *version, err *e)
{
    const json_t *v = json_object_get(body, "version");
    *version = 0;
    if (!v || (json_is_string(v) && strcmp(json_string_value(v), "latest") == 0)) return ERR_OK;
    long n;
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, "version",
                       "must be a positive integer or \"latest\", got %s", codec_json_type_name(v));
    if (codec_json_get_long(v, "version", 1, 2147483647L, &n, e) != ERR_OK) return ERR_INVALID;
    *version = (int)n;
    return ERR_OK;
}

void codec_request_ode_free(codec_request_ode *q)
{
    if (!q) return;
    free(q->t);
    free(q->y0);
    memset(q, 0, sizeof *q);
}

static void *alloc_doubles(size_t n, err *e)
{
    void *p = n <= ((size_t)-1) / sizeof(double) ? malloc(n * sizeof(double)) : NULL;
    if (!p) err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    return p;
}

/* "t": a non-empty list of finite numbers. */
static err_code decode_times(const json_t *v, codec_request_ode *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "t", "missing: the list of output times");
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "t", "must be an array of times, got %s",
                       codec_json_type_name(v));
    if (json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "t", "must not be empty: give at least one output time");
    q->n_t = json_array_size(v);
    if (!(q->t = alloc_doubles(q->n_t, e))) return ERR_NOMEM;
    return codec_json_get_vector(v, "t", q->n_t, q->t, e);
}

/* "y0": one state (dim numbers) or a non-empty list of states. */
static err_code decode_y0(const json_t *v, size_t dim, codec_request_ode *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "y0", "missing: the initial state (%zu numbers)", dim);
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, "y0",
                       "must be a state (%zu numbers) or a list of states, got %s", dim,
                       codec_json_type_name(v));
    q->batched = json_array_size(v) > 0 && json_is_array(json_array_get(v, 0));
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

err_code codec_request_ode_decode(const json_t *body, size_t state_dim, codec_request_ode *q,
                                  err *e)
{
    static const char *const keys[] = {"y0", "t", "t0", "version", "solver", "augmented", NULL};
    memset(q, 0, sizeof *q);
    const json_t *t0 = json_object_get(body, "t0"), *solver = json_object_get(body, "solver"),
                 *aug = json_object_get(body, "augmented");
    if (codec_json_keys_check(body, "", keys, e) != ERR_OK ||
        decode_y0(json_object_get(body, "y0"), state_dim, q, e) != ERR_OK ||
        decode_times(json_object_get(body, "t"), q, e) != ERR_OK ||
        (t0 && codec_json_get_double(t0, "t0", &q->t0, e) != ERR_OK) ||
        (solver && codec_model_solver_decode(solver, "solver", &q->solver, e) != ERR_OK) ||
        (aug && codec_json_get_bool(aug, "augmented", &q->augmented, e) != ERR_OK)) {
        codec_request_ode_free(q);
        return e ? e->code : ERR_INVALID;
    }
    return ERR_OK;
}

void codec_request_stats_write(jbuf *b, const codec_request_stats *st)
{
    jbuf_lit(b, ",\"stats\":{\"nfe\":");
    jbuf_int(b, st->nfe);
    jbuf_lit(b, ",\"steps\":");
    jbuf_int(b, st->steps);
    jbuf_lit(b, ",\"rejected\":");
    jbuf_int(b, st->rejected);
    jbuf_lit(b, ",\"elapsed_ms\":");
    jbuf_double(b, st->elapsed_ms);
    if (st->n_jac || st->n_lu) {
        jbuf_lit(b, ",\"n_jac\":");
        jbuf_int(b, st->n_jac);
        jbuf_lit(b, ",\"n_lu\":");
        jbuf_int(b, st->n_lu);
    }
    if (st->auto_steps[0] || st->auto_steps[1]) {
        jbuf_lit(b, ",\"methods\":{\"dopri5\":");
        jbuf_int(b, st->auto_steps[0]);
        jbuf_lit(b, ",\"rodas4\":");
        jbuf_int(b, st->auto_steps[1]);
        jbuf_lit(b, "},\"switches\":");
        jbuf_int(b, st->n_switches);
    }
    jbuf_lit(b, "}}");
}

void codec_request_ode_reply(jbuf *b, const char *model, int version, const codec_request_ode *q,
                             const double *y, size_t od, const codec_request_stats *st)
{
    jbuf_reserve(b, 160 + strlen(model) + (q->n_t + q->batch * q->n_t * od) * 25);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"t\":");
    jbuf_vec(b, q->t, q->n_t);
    jbuf_lit(b, ",\"y\":");
    if (!q->batched) {
        jbuf_rows(b, y, q->n_t, od);
    } else {
        jbuf_raw(b, "[", 1);
        for (size_t k = 0; k < q->batch; k++) {
            if (k) jbuf_raw(b, ",", 1);
            jbuf_rows(b, y + k * q->n_t * od, q->n_t, od);
        }
        jbuf_raw(b, "]", 1);
    }
    codec_request_stats_write(b, st);
}
