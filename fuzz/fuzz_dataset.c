/* fuzz_dataset: dataset uploads, as JSON or as CSV (the first byte's low
 * bit chooses). Properties: never a crash; what decodes passes
 * dataset_validate, and its summary counts what it holds. */
#include "fuzz/fuzz.h"

#include "codec/codec_dataset.h"
#include "codec/codec_parse.h"

FUZZ_ENTRY(dataset)
{
    if (size < 1) return 0;
    err e;
    err_clear(&e);
    dataset ds;
    dataset_init(&ds);
    err_code rc;
    if (data[0] & 1) {
        rc = codec_dataset_csv_decode((const char *)data + 1, size - 1, &ds, &e);
    } else {
        json_t *doc = NULL;
        rc = codec_parse((const char *)data + 1, size - 1, &doc, &e);
        if (rc == ERR_OK) rc = codec_dataset_json_decode(doc, &ds, &e);
        json_decref(doc);
    }
    if (rc == ERR_OK) {
        err_clear(&e);
        FUZZ_ASSERT(dataset_validate(&ds, &e) == ERR_OK);
        dataset_info in;
        dataset_summarise(&ds, &in);
        size_t points = 0;
        for (size_t s = 0; s < ds.n_series; s++)
            points += ds.series[s].n;
        FUZZ_ASSERT(in.n_series == ds.n_series && in.n_points == points);
        FUZZ_ASSERT(in.n_missing <= points * ds.channels);
    } else {
        FUZZ_ASSERT(e.code != ERR_OK);
    }
    dataset_free(&ds);
    return 0;
}
