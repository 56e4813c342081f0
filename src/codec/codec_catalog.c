#include "codec/codec_catalog.h"

#include "codec/codec_hybrid.h"
#include "codec/codec_json.h"
#include "codec/codec_request.h"

/* The fields both replies share, without the closing brace. */
static void info_open(const model_info *m, jbuf *b)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, m->name);
    jbuf_lit(b, ",\"kind\":");
    jbuf_str(b, model_kind_name(m->kind));
    if (m->kind == MODEL_KIND_HYBRID && m->def && m->def->hybrid) {
        codec_hybrid_encode_head(m->def, b); /* state_dim, names, parameters, equations */
    } else {
        jbuf_lit(b, ",\"state_dim\":");
        jbuf_int(b, (long long)m->state_dim);
    }
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
                                const model_alias *a, size_t n_aliases, jbuf *b)
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
    jbuf_lit(b, "],\"aliases\":{");
    for (size_t i = 0; i < n_aliases; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_str(b, a[i].alias);
        jbuf_raw(b, ":", 1);
        jbuf_int(b, a[i].version);
    }
    jbuf_lit(b, "}}");
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

static void int_or_null(jbuf *b, int v)
{
    if (v > 0)
        jbuf_int(b, v);
    else
        jbuf_lit(b, "null");
}

err_code codec_catalog_alias_decode(const json_t *doc, model_version_ref *ref, err *e)
{
    static const char *const keys[] = {"version", NULL};
    err_code rc = codec_json_keys_check(doc, "", keys, e);
    if (rc) return rc;
    if (!json_object_get(doc, "version"))
        return err_set(e, ERR_INVALID, "version", "required: the version the alias names");
    return codec_request_version(doc, ref, e);
}

void codec_catalog_alias_encode(const char *name, const char *alias, int version, int previous,
                                jbuf *b)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"alias\":");
    jbuf_str(b, alias);
    if (version > 0) {
        jbuf_lit(b, ",\"version\":");
        jbuf_int(b, version);
    } else {
        jbuf_lit(b, ",\"deleted\":true");
    }
    jbuf_lit(b, ",\"previous\":");
    int_or_null(b, previous);
    jbuf_raw(b, "}", 1);
}

void codec_catalog_history_encode(const char *name, const model_alias_event *ev, size_t n,
                                  jbuf *b)
{
    jbuf_lit(b, "{\"name\":");
    jbuf_str(b, name);
    jbuf_lit(b, ",\"history\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) jbuf_raw(b, ",", 1);
        jbuf_lit(b, "{\"alias\":");
        jbuf_str(b, ev[i].alias);
        jbuf_lit(b, ",\"from\":");
        int_or_null(b, ev[i].from_version);
        jbuf_lit(b, ",\"to\":");
        int_or_null(b, ev[i].to_version);
        jbuf_lit(b, ",\"by\":");
        jbuf_str(b, ev[i].actor);
        jbuf_lit(b, ",\"at\":");
        jbuf_str(b, ev[i].at);
        jbuf_raw(b, "}", 1);
    }
    jbuf_lit(b, "]}");
}
