/* fuzz_job: training job documents (codec_job_decode). Properties: never a
 * crash, no leak; a decoded job names a valid model and dataset. */
#include "fuzz/fuzz.h"

#include "codec/codec_job.h"
#include "model/model_name.h"

FUZZ_ENTRY(job)
{
    err e;
    err_clear(&e);
    job_spec s;
    if (codec_job_decode((const char *)data, size, &s, &e) == ERR_OK) {
        FUZZ_ASSERT(model_name_ok(s.model) && model_name_ok(s.dataset));
        FUZZ_ASSERT(s.iterations >= 1);
        job_spec_free(&s);
    } else {
        FUZZ_ASSERT(e.code != ERR_OK);
    }
    return 0;
}
