/* codec/codec_packed.c: see codec_packed.h.
 *
 * The node is a jansson string (jansson has no node type of ours): a
 * header, then the doubles. The header's first byte is NUL, which the
 * parser never lets into a string ("\u0000" is refused), and its second
 * is 0xff, never valid UTF-8: no string of a request can pass for it. */
#include "codec/codec_packed.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char packed_magic[8] = {'\0', '\xff', 'p', 'a', 'c', 'k', 'e', 'd'};

typedef struct packed_head {
    char magic[8];
    uint64_t rows, cols;
} packed_head;

json_t *codec_packed_new_own(double *buf, size_t rows, size_t cols)
{
    _Static_assert(sizeof(packed_head) == CODEC_PACKED_HEAD * sizeof(double), "head size");
    size_t n = cols ? rows * cols : rows;
    json_t *s = NULL;
    if ((cols && n / cols != rows) || n > SIZE_MAX / sizeof(double) - CODEC_PACKED_HEAD) goto out;
    size_t len = (CODEC_PACKED_HEAD + n) * sizeof(double);
    /* give back the buffer's spare room first: the copy below is then the
     * only other block of this size */
    double *fit = realloc(buf, len);
    if (fit) buf = fit;
    packed_head h;
    memcpy(h.magic, packed_magic, sizeof h.magic);
    h.rows = rows;
    h.cols = cols;
    memcpy(buf, &h, sizeof h);
    s = json_stringn_nocheck((const char *)buf, len);
out:
    free(buf);
    return s;
}

bool codec_packed_get(const json_t *v, codec_packed_view *out)
{
    if (!json_is_string(v)) return false;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len < sizeof(packed_head) || memcmp(s, packed_magic, sizeof packed_magic) != 0)
        return false;
    packed_head h;
    memcpy(&h, s, sizeof h);
    out->rows = (size_t)h.rows;
    out->cols = (size_t)h.cols;
    /* jansson's string buffer comes from malloc and the header is 24
     * bytes: the doubles are aligned */
    out->v = (const double *)(const void *)(s + sizeof h);
    return true;
}

static json_t *number(double x)
{
    return codec_packed_is_null(x) ? json_null() : json_real(x);
}

json_t *codec_packed_item(const codec_packed_view *p, size_t i)
{
    if (i >= p->rows) return NULL;
    if (!p->cols) return number(p->v[i]);
    json_t *row = json_array();
    for (size_t k = 0; row && k < p->cols; k++)
        if (json_array_append_new(row, number(p->v[i * p->cols + k])) != 0) {
            json_decref(row);
            row = NULL;
        }
    return row;
}

double codec_packed_null(void)
{
    return NAN;
}

bool codec_packed_is_null(double x)
{
    return isnan(x);
}

/* The plain array of a packed node: a new reference, NULL when out of memory. */
static json_t *expand(const codec_packed_view *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->rows; i++) {
        json_t *x = codec_packed_item(p, i);
        if (!x || json_array_append_new(a, x) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

err_code codec_packed_unpack(json_t *tree, err *e)
{
    codec_packed_view p;
    if (json_is_object(tree)) {
        const char *k;
        json_t *x;
        json_object_foreach(tree, k, x)
        {
            if (!codec_packed_get(x, &p)) {
                if (codec_packed_unpack(x, e) != ERR_OK) return ERR_NOMEM;
                continue;
            }
            json_t *a = expand(&p);
            if (!a || json_object_set_new(tree, k, a) != 0) /* same key: replaced in place */
                return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
        }
    } else if (json_is_array(tree)) {
        for (size_t i = 0; i < json_array_size(tree); i++) {
            json_t *x = json_array_get(tree, i);
            if (!codec_packed_get(x, &p)) {
                if (codec_packed_unpack(x, e) != ERR_OK) return ERR_NOMEM;
                continue;
            }
            json_t *a = expand(&p);
            if (!a || json_array_set_new(tree, i, a) != 0)
                return err_set(e, ERR_NOMEM, NULL, "out of memory decoding the request");
        }
    }
    return ERR_OK;
}
