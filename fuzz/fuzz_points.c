/* fuzz_points: point-set CSV uploads (codec_dataset_csv_points_decode, the
 * body of POST /v1/datasets/{name}?kind=points). Properties: never a crash;
 * a failure is an error naming a line ("line[k]..."); what decodes is one
 * point set that passes dataset_validate, 1 .. CODEC_DATASET_MAX_DIM columns,
 * at least one point, every value finite, point i at "time" i; and it
 * round-trips: written back as CSV with 17 significant digits it decodes to
 * the same doubles bit for bit. */
#include "fuzz/fuzz.h"

#include "codec/codec_dataset.h"

#include <math.h>
#include <string.h>

/* The decoded set as CSV again: a header "c0,c1,..." and %.17g cells. */
static char *write_csv(const dataset *ds, size_t *len)
{
    const dataset_series *x = &ds->series[0];
    const size_t cap = 16 + ds->channels * 8 + x->n * ds->channels * 26;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t k = 0; k < ds->channels; k++)
        n += (size_t)snprintf(out + n, cap - n, "%sc%zu", k ? "," : "", k);
    n += (size_t)snprintf(out + n, cap - n, "\n");
    for (size_t i = 0; i < x->n; i++) {
        for (size_t k = 0; k < ds->channels; k++)
            n += (size_t)snprintf(out + n, cap - n, "%s%.17g", k ? "," : "",
                                  x->y[i * ds->channels + k]);
        n += (size_t)snprintf(out + n, cap - n, "\n");
    }
    *len = n;
    return out;
}

FUZZ_ENTRY(points)
{
    err e;
    err_clear(&e);
    dataset ds;
    dataset_init(&ds);
    const err_code rc = codec_dataset_csv_points_decode((const char *)data, size, &ds, &e);
    if (rc != ERR_OK) {
        FUZZ_ASSERT(e.code != ERR_OK);
        FUZZ_ASSERT(rc == ERR_NOMEM || strncmp(e.field, "line[", 5) == 0);
        dataset_free(&ds);
        return 0;
    }
    err_clear(&e);
    FUZZ_ASSERT(dataset_validate(&ds, &e) == ERR_OK);
    FUZZ_ASSERT(ds.kind == DATASET_KIND_POINTS && ds.n_series == 1);
    FUZZ_ASSERT(ds.channels >= 1 && ds.channels <= CODEC_DATASET_MAX_DIM);
    const dataset_series *x = &ds.series[0];
    FUZZ_ASSERT(x->n >= 1);
    for (size_t i = 0; i < x->n; i++) {
        FUZZ_ASSERT(x->t[i] == (double)i);
        for (size_t k = 0; k < ds.channels; k++)
            FUZZ_ASSERT(isfinite(x->y[i * ds.channels + k]));
    }
    size_t len = 0;
    char *again = write_csv(&ds, &len);
    if (again) {
        dataset back;
        dataset_init(&back);
        err_clear(&e);
        FUZZ_ASSERT(codec_dataset_csv_points_decode(again, len, &back, &e) == ERR_OK);
        FUZZ_ASSERT(back.channels == ds.channels && back.series[0].n == x->n);
        FUZZ_ASSERT(memcmp(back.series[0].y, x->y, x->n * ds.channels * sizeof(double)) == 0);
        dataset_free(&back);
        free(again);
    }
    dataset_free(&ds);
    return 0;
}
