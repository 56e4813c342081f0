/* cde_testlib.h: what check_interp and check_cde share: a small RNG, the
 * SciPy fixture (tests/fixtures/cde_reference.json, made by
 * tests/fixtures/gen_cde_reference.py) and error-field assertions.
 * Test-only: jansson is linked into the tests, never into libmodel. */
#ifndef ODESERVE_TESTS_CDE_TESTLIB_H
#define ODESERVE_TESTS_CDE_TESTLIB_H

#include "core/err.h"
#include "model/model_def.h"

#include <jansson.h>
#include <stddef.h>

/* Uniform in [lo, hi) (xorshift; deterministic). */
double ct_urand(double lo, double hi);

/* A JSON file of the source tree (relative to top_srcdir); aborts when it
 * cannot be read. The caller owns it. */
json_t *ct_json_load(const char *rel);

/* The fixture, loaded once (aborts the test program if it cannot). */
json_t *ct_fixture(void);
void ct_fixture_free(void);

/* A JSON array of numbers (null -> NaN) into a new array; *n its length.
 * Rows: an array of arrays, flattened row-major; *rows, *cols. */
double *ct_vec(const json_t *a, size_t *n);
double *ct_mat(const json_t *a, size_t *rows, size_t *cols);

/* |a - b| <= tol (1 + |b|), elementwise over n values; returns the worst
 * ratio |a - b| / (1 + |b|). */
double ct_rel_err(const double *a, const double *b, size_t n);

/* A CDE model definition from a fixture case (input_channels, hidden_dim,
 * channels, interpolation, and the initial, vector_field and readout nets with
 * their params); d is initialised here, the caller frees it with
 * model_def_free. Aborts the test on a malformed case. */
void ct_load_cde_def(const json_t *cs, model_def *d);

/* Assert that e carries `code` and the field `field`. */
#define ct_assert_err(rc, e, want_code, want_field)                                                \
    do {                                                                                           \
        ck_assert_int_eq((rc), (want_code));                                                       \
        ck_assert_int_eq((e).code, (want_code));                                                   \
        ck_assert_str_eq((e).field, (want_field));                                                 \
    } while (0)

#endif
