#include "codec/codec_catalog.h"

/* The fields both replies share, without the closing brace. */
static void info_open(const model_info *m, jbuf *b)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, m->name);
    jbuf_lit(b, ",\"kind\":");
    jbuf_str(b, model_kind_name(m->kind));
    jbuf_lit(b, ",\"state_dim\":");
    jbuf_int(b, (long long)m->state_dim);
    if (m->kind == MODEL_KIND_CDE) {
        jbuf_lit(b, ",\"input_channels\":");
        jbuf_int(b, (long long)m->input_channels);
        jbuf_lit(b, ",\"data_channels\":");
        jbuf_int(b, (long long)m->data_channels);
        jbuf_lit(b, ",\"hidden_dim\":");
        jbuf_int(b, (long long)m->hidden_dim);
        jbuf_lit(b, ",\"output_dim\":");
        jbuf_int(b, (long long)m->output_dim);
    }
    jbuf_lit(b, ",\"latest_version\":");
    jbuf_int(b, m->latest_version);
}

void codec_catalog_list_encode(const model_info *list, size_t n, jbuf *b)
{
    jbuf_lit(b, "{\"models\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        info_open(&list[i], b);
        jbuf_lit(b, ",\"versions\":");
        jbuf_int(b, list[i].n_versions);
        jbuf_lit(b, ",\"created_at\":");
        jbuf_str(b, list[i].created_at);
        jbuf_raw(b, "}", 1);
    }
    jbuf_lit(b, "]}");
}

void codec_catalog_model_encode(const model_info *m, const model_version_info *v, size_t n,
                                jbuf *b)
{
    info_open(m, b);
    jbuf_lit(b, ",\"created_at\":");
    jbuf_str(b, m->created_at);
    jbuf_lit(b, ",\"versions\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_lit(b, "{\"version\":");
        jbuf_int(b, v[i].version);
        jbuf_lit(b, ",\"created_at\":");
        jbuf_str(b, v[i].created_at);
        jbuf_lit(b, ",\"checksum\":");
        jbuf_str(b, v[i].checksum);
        jbuf_lit(b, ",\"n_params\":");
        jbuf_int(b, (long long)v[i].n_params);
        jbuf_lit(b, ",\"description\":");
        jbuf_str(b, v[i].description);
        jbuf_raw(b, "}", 1);
    }
    jbuf_lit(b, "]}");
}

void codec_catalog_stored_encode(const char *name, int version, jbuf *b)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"version\":");
    jbuf_int(b, version);
    jbuf_raw(b, "}", 1);
}

void codec_catalog_deleted_encode(const char *name, int version, jbuf *b)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    if (version > 0) {
        jbuf_lit(b, ",\"version\":");
        jbuf_int(b, version);
    }
    jbuf_lit(b, ",\"deleted\":true}");
}
