#include "codec/codec_dataset_export.h"

#include <math.h>

static void value(jbuf *b, double v)
{
    if (isnan(v))
        jbuf_lit(b, "null");
    else
        jbuf_double(b, v);
}

static void series(const dataset *d, const dataset_series *s, jbuf *b)
{
    jbuf_lit(b, "{\"t\":");
    jbuf_vec(b, s->t, s->n);
    jbuf_lit(b, ",\"y\":[");
    for (size_t i = 0; i < s->n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_raw(b, "[", 1);
        for (size_t c = 0; c < d->channels; c++) {
            if (c) jbuf_raw(b, ",", 1);
            value(b, s->y[i * d->channels + c]);
        }
        jbuf_raw(b, "]", 1);
    }
    jbuf_raw(b, "]", 1);
    if (d->label_kind == DATASET_LABEL_CLASS) {
        jbuf_lit(b, ",\"label\":");
        jbuf_int(b, s->label_class);
    } else if (d->label_kind == DATASET_LABEL_VECTOR) {
        jbuf_lit(b, ",\"label\":");
        jbuf_vec(b, s->label_vec, d->label_dim);
    }
    jbuf_raw(b, "}", 1);
}

/* A point set as uploaded: {"kind": "points", "points": [...]}, rows
 * offset .. offset+limit of its one series. */
static void points(const char *name, const dataset *d, size_t offset, size_t limit, jbuf *b)
{
    const dataset_series *s = d->n_series ? &d->series[0] : NULL;
    const size_t n = s ? s->n : 0;
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"kind\":\"points\",\"total\":");
    jbuf_int(b, (long long)n);
    jbuf_lit(b, ",\"offset\":");
    jbuf_int(b, (long long)offset);
    jbuf_lit(b, ",\"points\":[");
    for (size_t i = offset, k = 0; i < n && k < limit; i++, k++) {
        if (k) jbuf_raw(b, ",", 1);
        jbuf_vec(b, s->y + i * d->channels, d->channels);
    }
    jbuf_lit(b, "]}");
}

void codec_dataset_series_encode(const char *name, const dataset *d, size_t offset, size_t limit,
                                 jbuf *b)
{
    if (d->kind == DATASET_KIND_POINTS) {
        points(name, d, offset, limit, b);
        return;
    }
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"kind\":\"series\"");
    jbuf_lit(b, ",\"total\":");
    jbuf_int(b, (long long)d->n_series);
    jbuf_lit(b, ",\"offset\":");
    jbuf_int(b, (long long)offset);
    jbuf_lit(b, ",\"series\":[");
    for (size_t i = offset, k = 0; i < d->n_series && k < limit; i++, k++) {
        if (k) jbuf_raw(b, ",", 1);
        series(d, &d->series[i], b);
    }
    jbuf_lit(b, "]}");
}
