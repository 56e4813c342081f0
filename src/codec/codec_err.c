#include "codec/codec_err.h"

#include <string.h>

#include "codec/codec_utf8.h"

/* A JSON string of `s`, always valid: each byte that does not start a
 * valid UTF-8 sequence becomes '?', and a sequence cut by the end of the
 * text is dropped, so the valid characters stay. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s);
    if (j) return j;
    char buf[ERR_MSG_MAX + ERR_FIELD_MAX];
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    while (p < end && o + 4 < sizeof buf) {
        size_t n = codec_utf8_len(p, end);
        if (n) {
            memcpy(buf + o, p, n);
            o += n;
            p += n;
            continue;
        }
        size_t rest = (size_t)(end - p);
        if (rest < 4 && *p >= 0xc2 && *p <= 0xf4) {
            size_t i = 1; /* a lead byte and continuations up to the end: a cut character */
            while (i < rest && (p[i] & 0xc0) == 0x80)
                i++;
            if (i == rest) break;
        }
        buf[o++] = '?';
        p++;
    }
    buf[o] = '\0';
    return json_string(buf);
}

json_t *codec_err_json(const err *e)
{
    json_t *inner = json_object();
    if (!inner) return NULL;
    json_object_set_new(inner, "code", json_string(err_code_name(e->code)));
    json_object_set_new(inner, "message", safe_string(e->message[0] ? e->message : "error"));
    if (e->field[0]) json_object_set_new(inner, "field", safe_string(e->field));
    json_t *outer = json_object();
    if (!outer || json_object_set_new(outer, "error", inner) != 0) {
        json_decref(outer);
        return NULL;
    }
    return outer;
}

json_t *codec_err_oip_json(const err *e)
{
    char text[ERR_FIELD_MAX + ERR_MSG_MAX + 4];
    const char *msg = e->message[0] ? e->message : "error";
    if (e->field[0])
        snprintf(text, sizeof text, "%s: %s", e->field, msg);
    else
        snprintf(text, sizeof text, "%s", msg);
    json_t *outer = json_object();
    if (!outer || json_object_set_new(outer, "error", safe_string(text)) != 0) {
        json_decref(outer);
        return NULL;
    }
    return outer;
}
