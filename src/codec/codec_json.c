/* codec/codec_json.c: the typed getters and field paths. See codec_json.h. */
#include "codec/codec_json.h"

#include "codec/codec_packed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool codec_json_is_array(const json_t *v)
{
    codec_packed_view p;
    return json_is_array(v) || codec_packed_get(v, &p);
}

size_t codec_json_array_size(const json_t *v)
{
    codec_packed_view p;
    return codec_packed_get(v, &p) ? p.rows : json_array_size(v);
}

json_t *codec_json_array_item(const json_t *v, size_t i)
{
    codec_packed_view p;
    if (codec_packed_get(v, &p)) return codec_packed_item(&p, i);
    return json_incref(json_array_get(v, i));
}

const char *codec_json_type_name(const json_t *v)
{
    codec_packed_view p;
    if (codec_packed_get(v, &p)) return "an array";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

const char *codec_json_field(char *buf, size_t n, const char *parent, const char *child)
{
    if (!child[0]) child = "[\"\"]"; /* the empty key: visible, unlike "a." or "" */
    const char *sep = (!parent || !parent[0] || child[0] == '[') ? "" : ".";
    if (snprintf(buf, n, "%s%s%s", parent ? parent : "", sep, child) >= (int)n)
        buf[n - 1] = '\0'; /* cut: a path this long is still recognisable */
    return buf;
}

const char *codec_json_field_index(char *buf, size_t n, const char *parent, size_t i)
{
    if (snprintf(buf, n, "%s[%zu]", parent ? parent : "", i) >= (int)n) buf[n - 1] = '\0';
    return buf;
}

err_code codec_json_get_double(const json_t *v, const char *field, double *out, err *e)
{
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, field, "must be a number, got %s", codec_json_type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x)) return err_set(e, ERR_INVALID, field, "must be a finite number");
    *out = x;
    return ERR_OK;
}

err_code codec_json_get_long(const json_t *v, const char *field, long lo, long hi, long *out,
                             err *e)
{
    double x;
    if (!json_is_number(v) || !isfinite(x = json_number_value(v)) || x != floor(x))
        return err_set(e, ERR_INVALID, field, "must be an integer from %ld to %ld, got %s", lo, hi,
                       json_is_number(v) ? "a fraction" : codec_json_type_name(v));
    if (x < (double)lo || x > (double)hi)
        return err_set(e, ERR_INVALID, field, "must be an integer from %ld to %ld, got %.17g", lo,
                       hi, x);
    *out = (long)x;
    return ERR_OK;
}

err_code codec_json_get_size(const json_t *v, const char *field, size_t lo, size_t hi, size_t *out,
                             err *e)
{
    long x;
    if (codec_json_get_long(v, field, (long)lo, (long)hi, &x, e) != ERR_OK) return ERR_INVALID;
    *out = (size_t)x;
    return ERR_OK;
}

err_code codec_json_get_bool(const json_t *v, const char *field, bool *out, err *e)
{
    if (!json_is_boolean(v))
        return err_set(e, ERR_INVALID, field, "must be true or false, got %s",
                       codec_json_type_name(v));
    *out = json_is_true(v);
    return ERR_OK;
}

err_code codec_json_get_string(const json_t *v, const char *field, const char **out, err *e)
{
    codec_packed_view p;
    if (!json_is_string(v) || codec_packed_get(v, &p))
        return err_set(e, ERR_INVALID, field, "must be a string, got %s", codec_json_type_name(v));
    *out = json_string_value(v);
    return ERR_OK;
}

/* codec_json_get_vector of a packed array: the values of a flat one
 * copied; an element that is not a number made as a node and checked as
 * the plain array's would be. */
static err_code get_vector_packed(const codec_packed_view *p, const char *field, size_t n,
                                  double *out, err *e)
{
    if (p->rows != n)
        return err_set(e, ERR_INVALID, field, "must hold %zu numbers, got %zu", n, p->rows);
    for (size_t i = 0; i < n; i++) {
        if (!p->cols && !codec_packed_is_null(p->v[i])) {
            out[i] = p->v[i];
            continue;
        }
        char f[ERR_FIELD_MAX];
        json_t *x = codec_packed_item(p, i);
        if (!x) return err_set(e, ERR_NOMEM, field, "out of memory");
        err_code rc =
            codec_json_get_double(x, codec_json_field_index(f, sizeof f, field, i), &out[i], e);
        json_decref(x);
        if (rc != ERR_OK) return ERR_INVALID;
    }
    return ERR_OK;
}

err_code codec_json_get_vector(const json_t *v, const char *field, size_t n, double *out, err *e)
{
    codec_packed_view p;
    if (codec_packed_get(v, &p)) return get_vector_packed(&p, field, n, out, e);
    if (!json_is_array(v))
        return err_set(e, ERR_INVALID, field, "must be an array of %zu numbers, got %s", n,
                       codec_json_type_name(v));
    if (json_array_size(v) != n)
        return err_set(e, ERR_INVALID, field, "must hold %zu numbers, got %zu", n,
                       json_array_size(v));
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, i);
        if (json_is_real(x)) { /* the common case, without the checks below */
            out[i] = json_real_value(x);
            if (isfinite(out[i])) continue;
        }
        char f[ERR_FIELD_MAX];
        if (codec_json_get_double(x, codec_json_field_index(f, sizeof f, field, i), &out[i], e) !=
            ERR_OK)
            return ERR_INVALID;
    }
    return ERR_OK;
}

err_code codec_json_keys_check(const json_t *obj, const char *field, const char *const *allowed,
                               err *e)
{
    if (!json_is_object(obj))
        return err_set(e, ERR_INVALID, field, "must be an object, got %s",
                       codec_json_type_name(obj));
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)obj, k, x)
    {
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, k) == 0;
        if (known) continue;
        char f[ERR_FIELD_MAX], list[256];
        size_t o = 0;
        list[0] = '\0';
        for (const char *const *a = allowed; *a && o < sizeof list; a++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", a == allowed ? "" : ", ", *a);
        return err_set(e, ERR_INVALID, codec_json_field(f, sizeof f, field, k),
                       "unknown key (expected one of: %s)", list);
    }
    return ERR_OK;
}
