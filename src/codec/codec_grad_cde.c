/* codec/codec_grad_cde.c: see codec_grad_cde.h. */
#include "codec/codec_grad_cde.h"

#include "codec/codec_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void codec_grad_cde_req_free(codec_grad_cde_req *q)
{
    codec_cde_req_free(&q->cde);
    free(q->target);
    memset(q, 0, sizeof *q);
}

/* The query times of every series sorted, and at least one. */
static err_code check_times(const codec_cde_req *c, err *e)
{
    for (size_t b = 0; b < c->batch; b++) {
        const struct cde_series *s = &c->series[b];
        char f[ERR_FIELD_MAX], g[ERR_FIELD_MAX];
        if (c->batched)
            snprintf(f, sizeof f, "%s.t", codec_json_field_index(g, sizeof g, "series", b));
        else
            snprintf(f, sizeof f, "t");
        if (s->n_t == 0)
            return err_set(e, ERR_INVALID, f, "a gradient needs at least one query time");
        for (size_t i = 1; i < s->n_t; i++)
            if (s->t[i] < s->t[i - 1])
                return err_set(e, ERR_INVALID, codec_json_field_index(g, sizeof g, f, i),
                               "query times must be sorted (non-decreasing) for a gradient");
    }
    return ERR_OK;
}

static err_code decode_targets(const json_t *v, codec_grad_cde_req *q, err *e)
{
    const codec_cde_req *c = &q->cde;
    const char *what = q->cde.output == CDE_OUTPUT_HIDDEN ? "the hidden state" : "the readout";
    if (!v) return err_set(e, ERR_INVALID, "targets", "required: a row per query time");
    q->rows = 0;
    for (size_t b = 0; b < c->batch; b++)
        q->rows += c->series[b].n_t;
    if (q->rows > SIZE_MAX / sizeof(double) / q->width)
        return err_set(e, ERR_TOO_LARGE, "targets", "too many rows");
    if (!(q->target = malloc(q->rows * q->width * sizeof *q->target)))
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the targets");
    if (!c->batched)
        return codec_grad_table_decode(v, "targets", q->width, what, c->series[0].n_t, q->target,
                                       e);
    if (!codec_json_is_array(v) || codec_json_array_size(v) != c->batch)
        return err_set(e, ERR_INVALID, "targets", "with %zu series: a list of %zu tables", c->batch,
                       c->batch);
    err_code rc = ERR_OK;
    size_t row = 0;
    for (size_t b = 0; b < c->batch && !rc; b++) {
        char f[48];
        json_t *tb = codec_json_array_item(v, b);
        rc =
            codec_grad_table_decode(tb, codec_json_field_index(f, sizeof f, "targets", b), q->width,
                                    what, c->series[b].n_t, q->target + row * q->width, e);
        json_decref(tb);
        row += c->series[b].n_t;
    }
    return rc;
}

err_code codec_grad_cde_decode(const json_t *body, const codec_cde_dims *dims,
                               codec_grad_cde_req *q, err *e)
{
    memset(q, 0, sizeof *q);
    if (json_object_get(body, "events"))
        return err_set(e, ERR_INVALID, "events",
                       "a gradient request has no events (the loss is on the query times)");
    err_code rc = codec_grad_names_decode(body, &q->mean, &q->method, e);
    if (rc) return rc;
    /* the trajectory request's own decoder reads the rest (and refuses any
     * other key): it gets the body without the gradient's keys */
    json_t *traj = json_copy((json_t *)body);
    if (!traj) return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
    json_object_del(traj, "targets");
    json_object_del(traj, "loss");
    json_object_del(traj, "method");
    rc = codec_cde_req_decode(traj, dims, &q->cde, e);
    json_decref(traj);
    if (!rc && q->cde.output == CDE_OUTPUT_BOTH)
        rc = err_set(e, ERR_INVALID, "output",
                     "the targets compare with one output: \"readout\" (default) or \"hidden\"");
    q->width = q->cde.output == CDE_OUTPUT_HIDDEN ? dims->hidden_dim : dims->readout_dim;
    if (!rc) rc = check_times(&q->cde, e);
    if (!rc) rc = decode_targets(json_object_get(body, "targets"), q, e);
    if (rc) codec_grad_cde_req_free(q);
    return rc;
}

static void write_net(jbuf *b, const char *name, const mlp *f, const double *g)
{
    jbuf_lit(b, "\"");
    jbuf_raw(b, name, strlen(name));
    jbuf_lit(b, "\":{\"layers\":");
    codec_grad_layers_write(b, f, g);
    jbuf_lit(b, "}");
}

void codec_grad_cde_reply(jbuf *b, const char *model, int version, double loss, const mlp *initial,
                          const mlp *vector_field, const mlp *readout, const double *gtheta,
                          const codec_grad_stats *st)
{
    const size_t n0 = mlp_n_params(initial), n1 = mlp_n_params(vector_field),
                 n2 = mlp_n_params(readout);
    jbuf_reserve(b, 500 + strlen(model) + (n0 + n1 + n2) * 26);
    jbuf_lit(b, "{\"model\":");
    jbuf_str(b, model);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_lit(b, ",\"loss\":");
    jbuf_double(b, loss);
    jbuf_lit(b, ",\"grad\":{");
    write_net(b, "initial", initial, gtheta);
    jbuf_lit(b, ",");
    write_net(b, "vector_field", vector_field, gtheta + n0);
    jbuf_lit(b, ",");
    write_net(b, "readout", readout, gtheta + n0 + n1);
    jbuf_lit(b, "},\"stats\":");
    codec_grad_stats_write(b, st);
    jbuf_lit(b, "}");
}
