#include "codec/codec_dataset_info.h"

void codec_dataset_info_encode(const dataset_info *in, jbuf *b)
{
    double total = (double)(in->n_points * in->channels);
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, in->name);
    jbuf_lit(b, ",\"created_at\":");
    jbuf_str(b, in->created_at);
    jbuf_lit(b, ",\"kind\":");
    jbuf_str(b, dataset_kind_name(in->kind));
    if (in->kind == DATASET_KIND_POINTS) { /* no time, no missing values, no labels */
        jbuf_lit(b, ",\"points\":");
        jbuf_int(b, (long long)in->n_points);
        jbuf_lit(b, ",\"channels\":");
        jbuf_int(b, (long long)in->channels);
        jbuf_raw(b, "}", 1);
        return;
    }
    jbuf_lit(b, ",\"series\":");
    jbuf_int(b, (long long)in->n_series);
    jbuf_lit(b, ",\"points\":");
    jbuf_int(b, (long long)in->n_points);
    jbuf_lit(b, ",\"channels\":");
    jbuf_int(b, (long long)in->channels);
    jbuf_lit(b, ",\"time_range\":[");
    jbuf_double(b, in->t_min);
    jbuf_raw(b, ",", 1);
    jbuf_double(b, in->t_max);
    jbuf_lit(b, "],\"missing_fraction\":");
    jbuf_double(b, total > 0 ? (double)in->n_missing / total : 0.0);
    jbuf_lit(b, ",\"label\":");
    jbuf_str(b, dataset_label_kind_name(in->label_kind));
    if (in->label_kind == DATASET_LABEL_VECTOR) {
        jbuf_lit(b, ",\"label_dim\":");
        jbuf_int(b, (long long)in->label_dim);
    }
    jbuf_raw(b, "}", 1);
}

void codec_dataset_info_list_encode(const dataset_info *list, size_t n, jbuf *b)
{
    jbuf_lit(b, "{\"datasets\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        codec_dataset_info_encode(&list[i], b);
    }
    jbuf_lit(b, "]}");
}

void codec_dataset_info_deleted_encode(const char *name, jbuf *b)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"deleted\":true}");
}
