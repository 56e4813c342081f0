/* fuzz_packed: the packed parse (codec_parse_packed) against the plain one.
 * The first byte chooses the decoder (low bit: 0 dataset, 1 model) and the
 * pack_min (bits 1-2: 1, 2, 3 or 64); the rest is the document. Property:
 * both parses give the same error (code, field, message) or trees that
 * write the same text; both decodes give the same error, or the same data
 * bit for bit (a dataset's arrays; a model's written document). */
#include "fuzz/fuzz.h"

#include <string.h>

#include "codec/codec_dataset.h"
#include "codec/codec_model.h"
#include "codec/codec_parse.h"
#include "codec/jbuf.h"

static int same_err(const err *a, const err *b)
{
    return a->code == b->code && strcmp(a->field, b->field) == 0 &&
           strcmp(a->message, b->message) == 0;
}

static int same_doubles(const double *a, const double *b, size_t n)
{
    return n == 0 || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

static int same_dataset(const dataset *a, const dataset *b)
{
    if (a->n_series != b->n_series || a->channels != b->channels ||
        a->label_kind != b->label_kind || a->label_dim != b->label_dim)
        return 0;
    for (size_t s = 0; s < a->n_series; s++) {
        const dataset_series *x = &a->series[s], *y = &b->series[s];
        if (x->n != y->n || x->label_class != y->label_class || !same_doubles(x->t, y->t, x->n) ||
            !same_doubles(x->y, y->y, x->n * a->channels) ||
            (a->label_kind == DATASET_LABEL_VECTOR &&
             !same_doubles(x->label_vec, y->label_vec, a->label_dim)))
            return 0;
    }
    return 1;
}

static char *tree_text(const json_t *v)
{
    jbuf b;
    jbuf_init(&b);
    jbuf_json(&b, v);
    size_t n;
    return jbuf_take(&b, &n);
}

static char *model_text(const model_def *d)
{
    jbuf b;
    jbuf_init(&b);
    codec_model_encode(d, &b);
    size_t n;
    return jbuf_take(&b, &n);
}

FUZZ_ENTRY(packed)
{
    static const size_t mins[] = {1, 2, 3, CODEC_PARSE_PACK_MIN};
    if (size < 1) return 0;
    const int is_model = data[0] & 1;
    const size_t pack_min = mins[(data[0] >> 1) & 3];
    const char *text = (const char *)data + 1;
    const char *const *keys = is_model ? codec_model_pack_keys : codec_dataset_pack_keys;
    err e1, e2;
    err_clear(&e1);
    err_clear(&e2);
    json_t *plain = NULL, *packed = NULL;
    err_code r1 = codec_parse(text, size - 1, &plain, &e1);
    err_code r2 = codec_parse_packed(text, size - 1, keys, pack_min, &packed, &e2);
    FUZZ_ASSERT(r1 == r2 && same_err(&e1, &e2));
    if (r1 != ERR_OK) return 0;
    char *t1 = tree_text(plain), *t2 = tree_text(packed);
    FUZZ_ASSERT(t1 && t2 && strcmp(t1, t2) == 0);
    free(t1);
    free(t2);
    if (is_model) {
        model_def d1, d2;
        model_def_init(&d1);
        model_def_init(&d2);
        r1 = codec_model_decode(plain, &d1, &e1);
        r2 = codec_model_decode(packed, &d2, &e2);
        FUZZ_ASSERT(r1 == r2 && same_err(&e1, &e2));
        if (r1 == ERR_OK) {
            t1 = model_text(&d1);
            t2 = model_text(&d2);
            FUZZ_ASSERT(t1 && t2 && strcmp(t1, t2) == 0);
            free(t1);
            free(t2);
        }
        model_def_free(&d1);
        model_def_free(&d2);
    } else {
        dataset d1, d2;
        dataset_init(&d1);
        dataset_init(&d2);
        r1 = codec_dataset_json_decode(plain, &d1, &e1);
        r2 = codec_dataset_json_decode(packed, &d2, &e2);
        FUZZ_ASSERT(r1 == r2 && same_err(&e1, &e2));
        if (r1 == ERR_OK) FUZZ_ASSERT(same_dataset(&d1, &d2));
        dataset_free(&d1);
        dataset_free(&d2);
    }
    json_decref(plain);
    json_decref(packed);
    return 0;
}
