/* fuzz_model: model documents (codec_model_decode).
 * Properties: never a crash; a document that decodes validates
 * (model_def_validate), and encode -> parse -> decode -> encode gives the
 * same bytes (what is stored loads back field for field). */
#include "fuzz/fuzz.h"

#include <string.h>

#include "codec/codec_model.h"
#include "codec/codec_parse.h"
#include "codec/jbuf.h"

FUZZ_ENTRY(model)
{
    err e;
    err_clear(&e);
    json_t *doc = NULL;
    if (codec_parse((const char *)data, size, &doc, &e) != ERR_OK) return 0;
    model_def def;
    model_def_init(&def);
    if (codec_model_decode(doc, &def, &e) == ERR_OK) {
        err_clear(&e);
        FUZZ_ASSERT(model_def_validate(&def, &e) == ERR_OK);
        jbuf b1, b2;
        jbuf_init(&b1);
        jbuf_init(&b2);
        codec_model_encode(&def, &b1);
        size_t n1 = 0, n2 = 0;
        char *t1 = jbuf_take(&b1, &n1);
        FUZZ_ASSERT(t1 != NULL);
        json_t *again = NULL;
        model_def def2;
        model_def_init(&def2);
        FUZZ_ASSERT(codec_parse(t1, n1, &again, &e) == ERR_OK);
        FUZZ_ASSERT(codec_model_decode(again, &def2, &e) == ERR_OK);
        codec_model_encode(&def2, &b2);
        char *t2 = jbuf_take(&b2, &n2);
        FUZZ_ASSERT(t2 != NULL && n1 == n2 && memcmp(t1, t2, n1) == 0);
        free(t1);
        free(t2);
        json_decref(again);
        model_def_free(&def2);
    } else {
        FUZZ_ASSERT(e.code != ERR_OK);
    }
    model_def_free(&def);
    json_decref(doc);
    return 0;
}
