/* fuzz_parse: the request parser (codec_parse, numbers by codec_strtod).
 * Properties: it never crashes; an accepted text, written back (jbuf_json,
 * every number by codec_num_write), parses again to an equal tree; a
 * rejected one gets an error body that is valid JSON. */
#include "fuzz/fuzz.h"

#include <string.h>

#include "codec/codec_err.h"
#include "codec/codec_parse.h"
#include "codec/jbuf.h"

FUZZ_ENTRY(parse)
{
    err e;
    err_clear(&e);
    json_t *doc = NULL;
    if (codec_parse((const char *)data, size, &doc, &e) != ERR_OK) {
        FUZZ_ASSERT(doc == NULL && e.code != ERR_OK);
        json_t *body = codec_err_json(&e);
        FUZZ_ASSERT(body != NULL);
        char *text = json_dumps(body, JSON_COMPACT);
        FUZZ_ASSERT(text != NULL);
        free(text);
        json_decref(body);
        return 0;
    }
    jbuf b;
    jbuf_init(&b);
    jbuf_json(&b, doc);
    size_t len = 0;
    char *text = jbuf_take(&b, &len);
    FUZZ_ASSERT(text != NULL);
    json_t *again = NULL;
    err_clear(&e);
    FUZZ_ASSERT(codec_parse(text, len, &again, &e) == ERR_OK);
    FUZZ_ASSERT(json_equal(doc, again));
    json_decref(again);
    json_decref(doc);
    free(text);
    return 0;
}
