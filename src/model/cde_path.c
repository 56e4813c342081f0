/* model/cde_path.c: see cde_path.h. */
#include "model/cde_path.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct cde_path_channels cde_path_channels_of(const model_def *d)
{
    struct cde_path_channels ch = {.time = d->channel_time, .intensity = d->channel_intensity};
    size_t rest = d->input_channels - (d->channel_time ? 1 : 0);
    ch.n_data = d->channel_intensity ? rest / 2 : rest;
    return ch;
}

size_t cde_path_channels_total(const struct cde_path_channels *ch)
{
    return (ch->time ? 1 : 0) + ch->n_data * (ch->intensity ? 2 : 1);
}

err_code cde_path_rows_check(size_t n_t, size_t n_rows, err *e)
{
    if (n_t == n_rows) return ERR_OK;
    return err_set(e, ERR_INVALID, "observations.x",
                   "has %zu rows but observations.t has %zu times (one row per time)", n_rows, n_t);
}

err_code cde_path_row_check(size_t i, size_t len, size_t n_data, err *e)
{
    if (len == n_data) return ERR_OK;
    char f[64];
    snprintf(f, sizeof f, "observations.x[%zu]", i);
    return err_set(e, ERR_INVALID, f, "has %zu values, the model takes %zu data channels", len,
                   n_data);
}

static bool is_null(const struct cde_path_obs *obs, size_t n_data, size_t i, size_t j)
{
    return obs->missing ? obs->missing[i * n_data + j] != 0 : isnan(obs->x[i * n_data + j]);
}

static err_code check_times(const struct cde_path_obs *obs, err *e)
{
    char f[64];
    if (obs->n == 0 || !obs->t)
        return err_set(e, ERR_INVALID, "observations.t", "is empty (needs an observation)");
    for (size_t i = 0; i < obs->n; i++) {
        if (isfinite(obs->t[i]) && (i == 0 || obs->t[i] > obs->t[i - 1])) continue;
        snprintf(f, sizeof f, "observations.t[%zu]", i);
        if (!isfinite(obs->t[i])) return err_set(e, ERR_INVALID, f, "is not a finite number");
        if (obs->t[i] == obs->t[i - 1])
            return err_set(e, ERR_INVALID, f,
                           "duplicates observations.t[%zu] (times must strictly increase)", i - 1);
        if (obs->t[i] < obs->t[i - 1])
            return err_set(e, ERR_INVALID, f,
                           "is before observations.t[%zu] (times must strictly increase)", i - 1);
    }
    return ERR_OK;
}

err_code cde_path_validate(const struct cde_path_obs *obs, size_t n_data, err *e)
{
    err_code rc = check_times(obs, e);
    if (rc) return rc;
    if (n_data == 0 || !obs->x)
        return err_set(e, ERR_INVALID, "observations.x", "has no data channel");
    char f[80];
    for (size_t i = 0; i < obs->n; i++)
        for (size_t j = 0; j < n_data; j++)
            if (!is_null(obs, n_data, i, j) && !isfinite(obs->x[i * n_data + j])) {
                snprintf(f, sizeof f, "observations.x[%zu][%zu]", i, j);
                return err_set(e, ERR_INVALID, f,
                               "is not a finite number (send null for a missing value)");
            }
    for (size_t j = 0; j < n_data; j++) {
        size_t i = 0;
        while (i < obs->n && is_null(obs, n_data, i, j))
            i++;
        if (i == obs->n) {
            snprintf(f, sizeof f, "observations.x[*][%zu]", j);
            return err_set(e, ERR_INVALID, f,
                           "data channel %zu is never observed (every channel needs a value)", j);
        }
    }
    return ERR_OK;
}

void cde_path_data(const struct cde_path_channels *ch, const struct cde_path_obs *obs, double *X)
{
    const size_t d = ch->n_data, C = cde_path_channels_total(ch), off = ch->time ? 1 : 0;
    for (size_t i = 0; i < obs->n; i++) {
        double *row = X + i * C;
        if (ch->time) row[0] = obs->t[i];
        for (size_t j = 0; j < d; j++) {
            bool null = is_null(obs, d, i, j);
            row[off + j] = null ? NAN : obs->x[i * d + j];
            if (ch->intensity) /* cumulative count of observations of channel j up to t_i */
                row[off + d + j] = (i ? X[(i - 1) * C + off + d + j] : 0) + (null ? 0 : 1);
        }
    }
}

/* Segment k of the path, its value and slope at both ends and the size of
 * each term over it, all finite? Finite observations can still give a path
 * a double cannot hold: values near the largest double, or a time spacing
 * so small (1e-300) or so large (2e308) that slopes and cubic coefficients
 * overflow. Such a path would reach the solver as a NaN state. */
static bool segment_finite(const interp *p, size_t k, double h)
{
    double cf[4];
    for (size_t j = 0; j < interp_channels(p); j++) {
        interp_coeffs(p, k, j, cf);
        double t1 = cf[1] * h, t2 = cf[2] * h * h, t3 = cf[3] * h * h * h;
        double x = cf[0] + t1 + t2 + t3, dx = cf[1] + 2 * cf[2] * h + 3 * cf[3] * h * h;
        if (!isfinite(cf[0]) || !isfinite(cf[1]) || !isfinite(cf[2]) || !isfinite(cf[3]) ||
            !isfinite(t1) || !isfinite(t2) || !isfinite(t3) || !isfinite(x) || !isfinite(dx))
            return false;
    }
    return true;
}

static err_code check_path_finite(const interp *p, const struct cde_path_obs *obs, err *e)
{
    const size_t m = interp_n_knots(p);
    const double *s = interp_knots(p);
    const bool doubled = interp_scheme(p) == MODEL_INTERP_RECTILINEAR;
    for (size_t k = 0; k + 1 < m || k == 0; k++) {
        double h = m > 1 ? s[k + 1] - s[k] : 0;
        if (isfinite(h) && segment_finite(p, k, h)) continue;
        size_t i = doubled ? k / 2 : k; /* the segment starts at observation i */
        char f[64];
        if (obs->n < 2) return err_set(e, ERR_INVALID, "observations.x[0]", "is too large");
        snprintf(f, sizeof f, "observations.t[%zu]", i + 1);
        return err_set(e, ERR_INVALID, f,
                       "the path from observations.t[%zu] to here overflows a double: the "
                       "values, or the time spacing (%.17g), are out of range",
                       i, obs->t[i + 1] - obs->t[i]);
    }
    return ERR_OK;
}

err_code cde_path_new(interp **out, model_interp scheme, const struct cde_path_channels *ch,
                      const struct cde_path_obs *obs, err *e)
{
    *out = NULL;
    if (scheme == MODEL_INTERP_RECTILINEAR && !ch->time)
        return err_set(e, ERR_INVALID, "channels.time",
                       "rectilinear interpolation needs the time channel (channels.time)");
    err_code rc = cde_path_validate(obs, ch->n_data, e);
    if (rc) return rc;
    const size_t C = cde_path_channels_total(ch);
    double *X = malloc(obs->n * C * sizeof *X);
    if (!X) return err_set(e, ERR_NOMEM, NULL, "out of memory for a path");
    cde_path_data(ch, obs, X);
    rc = interp_new(out, scheme, obs->t, obs->n, X, C, ch->time ? 0 : INTERP_NO_TIME_CHANNEL, e);
    free(X);
    if (!rc && (rc = check_path_finite(*out, obs, e))) {
        interp_free(*out);
        *out = NULL;
    }
    return rc;
}
