#include "codec/codec_meta.h"

void codec_meta_status_encode(const char *status, jbuf *b)
{
    jbuf_lit(b, "{\"status\":");
    jbuf_str(b, status);
    jbuf_raw(b, "}", 1);
}

void codec_meta_version_encode(const codec_meta_version *v, jbuf *b)
{
    jbuf_lit(b, "{\"name\":\"odeserved\",\"version\":");
    jbuf_str(b, v->version);
    jbuf_lit(b, ",\"schema\":{\"latest\":");
    jbuf_int(b, v->schema_latest);
    jbuf_lit(b, ",\"current\":");
    if (v->schema_current >= 0)
        jbuf_int(b, v->schema_current);
    else
        jbuf_lit(b, "null");
    jbuf_lit(b, "},\"libraries\":{\"libmicrohttpd\":");
    jbuf_str(b, v->libmicrohttpd);
    jbuf_lit(b, ",\"jansson\":");
    jbuf_str(b, v->jansson);
    jbuf_lit(b, ",\"sqlite\":");
    jbuf_str(b, v->sqlite);
    if (v->openblas) {
        jbuf_lit(b, ",\"openblas\":");
        jbuf_str(b, v->openblas);
    }
    jbuf_lit(b, "}}");
}
