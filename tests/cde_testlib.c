/* cde_testlib.c: see cde_testlib.h. */
#include "cde_testlib.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x853c49e6748fea9bull;

double ct_urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * ((double)(rng >> 11) * 0x1p-53);
}

json_t *ct_json_load(const char *rel)
{
    char path[4096];
    tu_source_path(path, sizeof path, rel);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "cannot load %s: %s (set top_srcdir)\n", path, je.text);
        abort();
    }
    return j;
}

static json_t *fixture;

json_t *ct_fixture(void)
{
    if (!fixture) fixture = ct_json_load("tests/fixtures/cde_reference.json");
    return fixture;
}

void ct_fixture_free(void)
{
    json_decref(fixture);
    fixture = NULL;
}

static double num(const json_t *v)
{
    return json_is_null(v) ? NAN : json_number_value(v);
}

double *ct_vec(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v) abort();
    for (size_t i = 0; i < *n; i++)
        v[i] = num(json_array_get(a, i));
    return v;
}

double *ct_mat(const json_t *a, size_t *rows, size_t *cols)
{
    *rows = json_array_size(a);
    *cols = *rows ? json_array_size(json_array_get(a, 0)) : 0;
    const size_t total = *rows * *cols;
    double *v = malloc((total ? total : 1) * sizeof *v);
    if (!v) abort();
    for (size_t i = 0; i < *rows; i++) {
        const json_t *r = json_array_get(a, i);
        if (json_array_size(r) != *cols) abort();
        for (size_t j = 0; j < *cols; j++)
            v[i * *cols + j] = num(json_array_get(r, j));
    }
    return v;
}

double ct_rel_err(const double *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(a[i] - b[i]) / (1 + fabs(b[i]));
        if (!(r <= worst)) worst = r; /* NaN propagates */
    }
    return worst;
}
