/* codec/codec_ham.c: see codec_ham.h. */
#include "codec/codec_ham.h"

#include "codec/codec_json.h"

#include <stdlib.h>
#include <string.h>

err_code codec_ham_traj_decode(const json_t *body, size_t state_dim, codec_request_ode *q, err *e)
{
    if (codec_request_ode_decode(body, state_dim, q, e) != ERR_OK) return e ? e->code : ERR_INVALID;
    const char *bad = json_object_get(body, "events")      ? "events"
                      : json_object_get(body, "augmented") ? "augmented"
                                                           : NULL;
    if (bad) {
        codec_request_ode_free(q);
        return err_set(e, ERR_INVALID, bad, "is not served for hamiltonian or lagrangian models");
    }
    return ERR_OK;
}

void codec_ham_traj_reply(jbuf *b, const char *model, int version, const codec_request_ode *q,
                          const double *y, size_t od, const double *energy,
                          const codec_request_stats *st)
{
    const size_t rows = q->t_len ? q->n_t : q->batch * q->n_t;
    jbuf_reserve(b, 200 + strlen(model) + (q->n_t + rows * (od + 1)) * 25);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"t\":");
    if (q->t_len) {
        jbuf_raw(b, "[", 1);
        for (size_t k = 0, off = 0; k < q->batch; off += q->t_len[k++]) {
            if (k) jbuf_raw(b, ",", 1);
            jbuf_vec(b, q->t + off, q->t_len[k]);
        }
        jbuf_raw(b, "]", 1);
    } else {
        jbuf_vec(b, q->t, q->n_t);
    }
    for (int pass = 0; pass < 2; pass++) {
        jbuf_lit(b, pass ? ",\"energy\":" : ",\"y\":");
        if (q->batched) jbuf_raw(b, "[", 1);
        for (size_t k = 0, off = 0; k < (q->batched ? q->batch : 1); k++) {
            const size_t n = q->t_len ? q->t_len[k] : q->n_t;
            if (k) jbuf_raw(b, ",", 1);
            if (pass)
                jbuf_vec(b, energy + off, n);
            else
                jbuf_rows(b, y + off * od, n, od);
            off += n;
        }
        if (q->batched) jbuf_raw(b, "]", 1);
    }
    codec_request_stats_write(b, st);
}

err_code codec_ham_energy_decode(const json_t *body, size_t state_dim, double **y, size_t *n,
                                 bool *batched, err *e)
{
    static const char *const keys[] = {"y", "version", NULL};
    *y = NULL;
    *n = 0;
    if (codec_json_keys_check(body, "", keys, e) != ERR_OK) return ERR_INVALID;
    const json_t *v = json_object_get(body, "y");
    if (!v)
        return err_set(e, ERR_INVALID, "y", "missing: a state [q; p] of %zu numbers, or a list "
                       "of them", state_dim);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "y", "must be a state of %zu numbers or a non-empty list "
                       "of states, got %s", state_dim,
                       json_is_array(v) ? "an empty array" : codec_json_type_name(v));
    *batched = json_is_array(json_array_get(v, 0));
    const size_t count = *batched ? json_array_size(v) : 1;
    if (count > CODEC_HAM_MAX_STATES)
        return err_set(e, ERR_INVALID, "y", "%zu states: at most %d per request", count,
                       CODEC_HAM_MAX_STATES);
    double *out = malloc(count * state_dim * sizeof *out);
    if (!out) return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the states");
    for (size_t k = 0; k < count; k++) {
        char f[ERR_FIELD_MAX];
        const json_t *s = *batched ? json_array_get(v, k) : v;
        if (*batched) codec_json_field_index(f, sizeof f, "y", k);
        else snprintf(f, sizeof f, "y");
        if (!json_is_array(s) || json_array_size(s) != state_dim) {
            err_set(e, ERR_INVALID, f, "must be a state [q; p] of %zu numbers (2 dof), got %s",
                    state_dim, json_is_array(s) ? "another length" : codec_json_type_name(s));
            free(out);
            return ERR_INVALID;
        }
        if (codec_json_get_vector(s, f, state_dim, out + k * state_dim, e) != ERR_OK) {
            free(out);
            return ERR_INVALID;
        }
    }
    *y = out;
    *n = count;
    return ERR_OK;
}

void codec_ham_energy_reply(jbuf *b, const char *model, int version, size_t n, bool batched,
                            const double *h, const double *grad, size_t state_dim)
{
    jbuf_reserve(b, 120 + strlen(model) + n * (state_dim + 1) * 25);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"energy\":");
    if (batched)
        jbuf_vec(b, h, n);
    else
        jbuf_double(b, h[0]);
    jbuf_lit(b, ",\"gradient\":");
    if (batched)
        jbuf_rows(b, grad, n, state_dim);
    else
        jbuf_vec(b, grad, state_dim);
    jbuf_lit(b, "}");
}
