/* train_testlib: what the tests of a training kind's state (trainer_internal.h)
 * repeat: a job spec from JSON, in-memory datasets, a trainer_data bound to a
 * model's networks as trainer.c binds them, and the loss gradient of series 0
 * (or of two windows) against central differences. Functions abort the test
 * on failure. Not thread-safe (tt_seed is one global xorshift state). */
#ifndef ODESERVE_TESTS_TRAIN_TESTLIB_H
#define ODESERVE_TESTS_TRAIN_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "model/dataset.h"
#include "model/job_spec.h"
#include "model/model_def.h"
#include "model/trainer_internal.h"
#include "nn/mlp.h"

extern uint64_t tt_seed;
double tt_urand(double lo, double hi);
void tt_spec_from(const char *doc, job_spec *s);
/* One series of n rows of c channels at times t (copied). */
void tt_series_set(dataset *ds, size_t s, size_t n, const double *t, const double *y, size_t c);
void tt_ds_new(dataset *ds, size_t n_series, size_t channels);
/* n spirals (cos(t + phi), +-sin(t + phi)), label 1 = anticlockwise; even:
 * 10 times 0.3 apart, all observed; else 8 to 12 irregular times with
 * interior values missing with probability 0.2. The same seed, the same set. */
void tt_spirals(dataset *ds, size_t n, int even, uint64_t seed);

/* A trainer_data over def's networks bound to params, as trainer.c makes it. */
struct tt_td {
    struct trainer_data d;
    mlp *net[MODEL_MAX_NETS];
};

void tt_td_new(struct tt_td *t, const model_def *def, const dataset *ds, const job_spec *spec,
               double *params);
void tt_td_free(struct tt_td *t);
void tt_near(double a, double b, const char *what, size_t i);
/* The loss of series 0 (or of windows) and its gradient against central
 * differences in the first n_trained parameters; the rest must be 0. */
void tt_check_fd(const struct trainer_kind *kind, struct tt_td *t, size_t n_trained, int windows);

/* Train the job of job_doc (a kind fitting (q, v) pairs, 2 channels) on
 * exact harmonic-oscillator series, 4 of 40 samples at radii 0.5 to 1.25,
 * to its end; the loss must fall a hundredfold. `what` names it in the
 * printed line. */
void tt_fit_oscillator(const char *job_doc, const char *what);

#endif
