/* model/cde_path.h: from a client's raw observations to the path X of a
 * neural CDE: validation, missing values, the added channels.
 *
 * CHANNELS of X, in this order (Kidger et al. 2020, section 3.5):
 *   [time]        channels.time: the observation time t_k, channel 0;
 *   data 0..d-1   the client's measurements;
 *   [intensity]   channels.intensity: for each data channel j, the number of
 *                 observations of j at times <= t_k (the cumulative count, the
 *                 "observational intensity"), d channels.
 * So input_channels = [1] + d + [d]. Time and intensity are never missing.
 *
 * MISSING VALUES. The C API carries "null" in one of two ways:
 *   missing != NULL   a mask, n x d flags, nonzero = null: the value in x is
 *                     ignored there, and every other value must be finite
 *                     ("observations.x[4][1]": is not a finite number). The
 *                     codec uses this: JSON null sets the flag, so a
 *                     real NaN (which JSON cannot carry anyway) is never
 *                     mistaken for a missing value;
 *   missing == NULL   NaN in x means null (torchcde's convention; handy for
 *                     C callers); an infinity is an error.
 * How a null is filled depends on the scheme (interp.h, docs/cde.md). A data
 * channel with no value at all is an error ("observations.x[*][2]").
 *
 * ERROR FIELDS are spelled as the HTTP request spells them:
 *   "observations.t"        no observation;
 *   "observations.t[3]"     non-finite, equal to (duplicate) or before t[2];
 *   "observations.x"        as many rows as times? (cde_path_rows_check);
 *   "observations.x[2]"     a row with the wrong channel count
 *                           (cde_path_row_check: ragged rows are the codec's
 *                           to see, it calls this for the message);
 *   "observations.x[4][1]"  an observed value that is not finite;
 *   "observations.x[*][2]"  data channel 2 never observed;
 *   "channels.time"         rectilinear without the time channel.
 * Batches add "series[i]." in front (err_prefix_field).
 *
 * Ownership: nothing is kept from the arguments; the interp returned is the
 * caller's (interp_free). Stateless and thread-safe. */
#ifndef ODESERVE_MODEL_CDE_PATH_H
#define ODESERVE_MODEL_CDE_PATH_H

#include "core/err.h"
#include "model/interp.h"
#include "model/model_def.h"

#include <stdbool.h>
#include <stddef.h>

/* One series of observations (borrowed). */
struct cde_path_obs {
    size_t n;                     /* observations, >= 1 */
    const double *t;              /* n times, strictly increasing */
    const double *x;              /* n x n_data values, row-major */
    const unsigned char *missing; /* NULL, or n x n_data flags (nonzero = null) */
};

/* The channel layout of X. */
struct cde_path_channels {
    size_t n_data;  /* the client's channels, d >= 1 */
    bool time;      /* prepend t as channel 0 */
    bool intensity; /* append d cumulative counts */
};

/* The layout of a model_def of kind "cde" (n_data from input_channels). */
struct cde_path_channels cde_path_channels_of(const model_def *d);
/* Channels of X: [1] + d + [d]. */
size_t cde_path_channels_total(const struct cde_path_channels *ch);

/* Codec helpers, so every layer words these errors alike:
 * n_rows rows of x for n_t times ("observations.x"), and row i holding len
 * values where n_data are expected ("observations.x[i]"). */
err_code cde_path_rows_check(size_t n_t, size_t n_rows, err *e);
err_code cde_path_row_check(size_t i, size_t len, size_t n_data, err *e);

/* Check one series (fields above). */
err_code cde_path_validate(const struct cde_path_obs *obs, size_t n_data, err *e);

/* The data matrix of X at the observation times: n x total channels,
 * row-major, NaN where a data channel is null. obs must be valid. */
void cde_path_data(const struct cde_path_channels *ch, const struct cde_path_obs *obs, double *X);

/* Validate, lay out the channels and build the interpolation. */
err_code cde_path_new(interp **out, model_interp scheme, const struct cde_path_channels *ch,
                      const struct cde_path_obs *obs, err *e);

#endif
