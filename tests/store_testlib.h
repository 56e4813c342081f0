/* tests/store_testlib.h: shared by the model store tests (check_models,
 * check_model_cache, check_store, ...): a fresh temporary directory per
 * test, migrated databases in it, SQL helpers, and example model versions
 * with awkward contents. */
#ifndef ODESERVE_TESTS_STORE_TESTLIB_H
#define ODESERVE_TESTS_STORE_TESTLIB_H

#include "model/model_def.h"
#include "store/db.h"

#include <stddef.h>

/* Once per process: a top directory under $TMPDIR; stl_done removes it. */
void stl_init(const char *prog);
void stl_done(void);

/* Check fixtures: a fresh subdirectory per test. */
void stl_tmp_setup(void);
void stl_tmp_teardown(void);

/* The test's database file (tmpdir/models.db). */
const char *stl_db_path(void);
/* A connection to it, migrated to the latest schema. */
db *stl_open(void);
/* A pool on it (the database migrated through a first connection). */
db_conns *stl_pool(void);

/* SQL straight on a connection, for checks independent of the store's API;
 * each fails the test on an error. */
void stl_exec_ok(db *d, const char *sql);    /* no rows wanted */
long long stl_q_int(db *d, const char *sql); /* db_query_int */
/* The first column of the first row, malloc'd ("" for NULL). */
char *stl_q_text(db *d, const char *sql);

/* Example versions, every field set (model_def_init'ed first; free with
 * model_def_free). `seed` varies the parameters. The parameters include
 * -0.0, the smallest subnormal, the largest subnormal, 1e308, -DBL_MAX and
 * a parameter equal to 1.0 at index 0; the rest are finite doubles drawn
 * from every exponent range.
 *   ode: state 2 + augment 1, time input, layers cube (elementwise),
 *        linear 4->8 tanh, sin (elementwise, width 8), linear 8->3;
 *        tsit5 with every solver field but `step` set; a UTF-8 description.
 *   cde: 3 channels (time, one data channel, its intensity), hidden 4,
 *        hermite_bdiff; initial 3->4, vector_field 4->5 relu -> square
 *        (elementwise) -> 5->12 tanh, readout 4->2; fixed-step rk4 with
 *        `step` set; description NULL. */
void stl_ode_def(model_def *d, unsigned seed);
void stl_cde_def(model_def *d, unsigned seed);

/* Every field equal; doubles compared bit for bit. */
void stl_assert_def_eq(const model_def *a, const model_def *b);

/* Claim the oldest queued job as a worker does (store_job_claim), checking
 * there is one and that it is `want`; the spec and checkpoint are freed. */
void stl_job_claim(db *d, long long want);

#endif
