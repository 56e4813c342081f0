/* codec/codec_grad.c: see codec_grad.h. */
#include "codec/codec_grad.h"

#include "codec/codec_json.h"
#include "codec/codec_model_solver.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define F(buf, parent, child) codec_json_field(buf, sizeof buf, parent, child)
#define FI(buf, parent, i) codec_json_field_index(buf, sizeof buf, parent, i)

void codec_grad_req_free(codec_grad_req *q)
{
    free(q->y0);
    free(q->t);
    free(q->target);
    memset(q, 0, sizeof *q);
}

static err_code decode_y0(const json_t *v, size_t sd, codec_grad_req *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "y0", "required: a state or a list of states");
    if (!codec_json_is_array(v) || codec_json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "y0", "expected a non-empty array, got %s",
                       codec_json_type_name(v));
    json_t *first = codec_json_array_item(v, 0);
    q->batched = codec_json_is_array(first);
    json_decref(first);
    q->batch = q->batched ? codec_json_array_size(v) : 1;
    if (q->batch > SIZE_MAX / sd / sizeof(double))
        return err_set(e, ERR_TOO_LARGE, "y0", "too many states");
    if (!(q->y0 = malloc(q->batch * sd * sizeof *q->y0)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for y0");
    if (!q->batched) return codec_json_get_vector(v, "y0", sd, q->y0, e);
    for (size_t b = 0; b < q->batch; b++) {
        char f[48];
        json_t *row = codec_json_array_item(v, b);
        err_code rc = codec_json_get_vector(row, FI(f, "y0", b), sd, q->y0 + b * sd, e);
        json_decref(row);
        if (rc) return rc;
    }
    return ERR_OK;
}

static err_code decode_t(const json_t *body, codec_grad_req *q, err *e)
{
    const json_t *v = json_object_get(body, "t");
    if (!v || !codec_json_is_array(v) || codec_json_array_size(v) == 0)
        return err_set(e, ERR_INVALID, "t", "required: a non-empty list of observation times");
    q->n_t = codec_json_array_size(v);
    if (!(q->t = malloc(q->n_t * sizeof *q->t)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for t");
    if (codec_json_get_vector(v, "t", q->n_t, q->t, e)) return ERR_INVALID;
    const json_t *t0 = json_object_get(body, "t0");
    if (t0 && codec_json_get_double(t0, "t0", &q->t0, e)) return ERR_INVALID;
    for (size_t i = 0; i < q->n_t; i++) { /* the engine's rules, also for unobserved items */
        char f[40];
        FI(f, "t", i);
        if (q->t[i] < q->t0) return err_set(e, ERR_INVALID, f, "is before t0 = %.17g", q->t0);
        if (i && q->t[i] < q->t[i - 1])
            return err_set(e, ERR_INVALID, f, "observation times must be sorted (non-decreasing)");
    }
    return ERR_OK;
}

static err_code decode_table(const json_t *v, const char *field, size_t sd, size_t nt, double *out,
                             err *e)
{
    return codec_grad_table_decode(v, field, sd, "the state", nt, out, e);
}

err_code codec_grad_table_decode(const json_t *v, const char *field, size_t sd, const char *what,
                                 size_t nt, double *out, err *e)
{
    if (!codec_json_is_array(v))
        return err_set(e, ERR_INVALID, field, "expected a list of %zu rows, got %s", nt,
                       codec_json_type_name(v));
    if (codec_json_array_size(v) != nt)
        return err_set(e, ERR_INVALID, field, "%zu rows, one per time of t (%zu)",
                       codec_json_array_size(v), nt);
    err_code rc = ERR_OK;
    for (size_t i = 0; i < nt && !rc; i++) {
        char f[64];
        FI(f, field, i);
        json_t *row = codec_json_array_item(v, i);
        if (json_is_null(row)) {
            for (size_t k = 0; k < sd; k++)
                out[i * sd + k] = NAN;
        } else if (!codec_json_is_array(row) || codec_json_array_size(row) != sd) {
            rc = err_set(e, ERR_INVALID, f, "expected null or %zu values (%s), got %s", sd, what,
                         codec_json_type_name(row));
        } else {
            for (size_t k = 0; k < sd && !rc; k++) {
                char g[80];
                json_t *x = codec_json_array_item(row, k);
                if (json_is_null(x))
                    out[i * sd + k] = NAN;
                else
                    rc = codec_json_get_double(x, FI(g, f, k), &out[i * sd + k], e);
                json_decref(x);
            }
        }
        json_decref(row);
    }
    return rc;
}

static err_code decode_targets(const json_t *v, size_t sd, codec_grad_req *q, err *e)
{
    if (!v) return err_set(e, ERR_INVALID, "targets", "required: a row per time of t");
    if (!(q->target = malloc(q->batch * q->n_t * sd * sizeof *q->target)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the targets");
    if (!q->batched) return decode_table(v, "targets", sd, q->n_t, q->target, e);
    if (!codec_json_is_array(v) || codec_json_array_size(v) != q->batch)
        return err_set(e, ERR_INVALID, "targets",
                       "with a list of %zu initial states: a list of %zu tables", q->batch,
                       q->batch);
    err_code rc = ERR_OK;
    for (size_t b = 0; b < q->batch && !rc; b++) {
        char f[48];
        json_t *tb = codec_json_array_item(v, b);
        rc = decode_table(tb, FI(f, "targets", b), sd, q->n_t, q->target + b * q->n_t * sd, e);
        json_decref(tb);
    }
    return rc;
}

static err_code decode_names(const json_t *body, codec_grad_req *q, err *e)
{
    return codec_grad_names_decode(body, &q->mean, &q->method, e);
}

err_code codec_grad_names_decode(const json_t *body, bool *mean, grad_method *method, err *e)
{
    const char *s = NULL;
    const json_t *v = json_object_get(body, "loss");
    if (v && codec_json_get_string(v, "loss", &s, e)) return ERR_INVALID;
    if (s && strcmp(s, "sse") && strcmp(s, "mse"))
        return err_set(e, ERR_INVALID, "loss", "unknown loss \"%.32s\" (expected sse or mse)", s);
    *mean = s && !strcmp(s, "mse");
    *method = GRAD_ADJOINT_CKPT;
    v = json_object_get(body, "method");
    if (!v) return ERR_OK;
    if (codec_json_get_string(v, "method", &s, e)) return ERR_INVALID;
    if (grad_method_from_name(s, method, e)) {
        err_prefix_field(e, "method");
        return ERR_INVALID;
    }
    return ERR_OK;
}

err_code codec_grad_decode(const json_t *body, size_t sd, codec_grad_req *q, err *e)
{
    static const char *const keys[] = {"y0",     "t",      "t0",      "targets", "loss",
                                       "method", "solver", "version", NULL};
    memset(q, 0, sizeof *q);
    const json_t *solver = json_object_get(body, "solver");
    err_code rc = codec_json_keys_check(body, "", keys, e);
    if (!rc) rc = decode_names(body, q, e);
    if (!rc && solver) rc = codec_model_solver_decode(solver, "solver", &q->solver, e);
    if (!rc) rc = decode_y0(json_object_get(body, "y0"), sd, q, e);
    if (!rc) rc = decode_t(body, q, e);
    if (!rc) rc = decode_targets(json_object_get(body, "targets"), sd, q, e);
    if (rc) codec_grad_req_free(q);
    return rc;
}

void codec_grad_layers_write(jbuf *b, const mlp *f, const double *g)
{
    jbuf_lit(b, "[");
    for (size_t i = 0; i < mlp_n_layers(f); i++) {
        const mlp_layer L = mlp_layer_at(f, i);
        if (i) jbuf_lit(b, ",");
        if (L.kind != MLP_LINEAR) {
            jbuf_lit(b, "{}");
            continue;
        }
        const double *w = g + mlp_layer_offset(f, i);
        jbuf_lit(b, "{\"weight\":");
        jbuf_rows(b, w, L.out, L.in);
        jbuf_lit(b, ",\"bias\":");
        jbuf_vec(b, w + L.out * L.in, L.out);
        jbuf_lit(b, "}");
    }
    jbuf_lit(b, "]");
}

void codec_grad_reply(jbuf *b, const char *model, int version, const codec_grad_req *q, size_t sd,
                      double loss, const double *gy0, const mlp *f, const double *gtheta,
                      const codec_grad_stats *st)
{
    jbuf_reserve(b, 400 + strlen(model) + (q->batch * sd + mlp_n_params(f)) * 26);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"loss\":");
    jbuf_double(b, loss);
    jbuf_lit(b, ",\"grad\":{\"y0\":");
    if (q->batched)
        jbuf_rows(b, gy0, q->batch, sd);
    else
        jbuf_vec(b, gy0, sd);
    jbuf_lit(b, ",\"layers\":");
    codec_grad_layers_write(b, f, gtheta);
    jbuf_lit(b, "},\"stats\":");
    codec_grad_stats_write(b, st);
    jbuf_lit(b, "}");
}

void codec_grad_stats_write(jbuf *b, const codec_grad_stats *st)
{
    jbuf_lit(b, "{\"method\":");
    jbuf_str(b, st->method);
    const struct grad_stats *s = &st->st;
    jbuf_lit(b, ",\"nfe\":");
    jbuf_int(b, s->fwd_nfe);
    jbuf_lit(b, ",\"steps\":");
    jbuf_int(b, s->fwd_steps);
    jbuf_lit(b, ",\"rejected\":");
    jbuf_int(b, s->fwd_rejected);
    jbuf_lit(b, ",\"backward_nfe\":");
    jbuf_int(b, s->bwd_nfe + s->bwd_resolve_nfe);
    jbuf_lit(b, ",\"backward_steps\":");
    jbuf_int(b, s->bwd_steps);
    if (s->ckpt_n) {
        jbuf_lit(b, ",\"checkpoints\":");
        jbuf_int(b, s->ckpt_n);
        jbuf_lit(b, ",\"resolve_nfe\":");
        jbuf_int(b, s->bwd_resolve_nfe);
    }
    if (s->tape_bytes) {
        jbuf_lit(b, ",\"tape_bytes\":");
        jbuf_int(b, (long long)s->tape_bytes);
    }
    jbuf_lit(b, ",\"elapsed_ms\":");
    jbuf_double(b, st->elapsed_ms);
    jbuf_lit(b, "}");
}
