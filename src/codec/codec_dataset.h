/* codec/codec_dataset.h: dataset uploads (JSON and CSV) -> dataset.
 *
 * JSON: {"series": [{"t": [...], "y": [[...], ...], "label": ...}, ...]}
 *   y has one row per time, each with the same number of channels; null
 *   marks a missing value. label is optional, and either on every series
 *   or on none: an integer >= 0 (a class) or an array of numbers.
 * CSV (Content-Type: text/csv): a header line "series,t,<channel...>[,label]"
 *   then one line per observation. A series' lines are consecutive and in
 *   time order; an empty cell (or NA, NaN, null) is a missing value; label
 *   is a class index, the same on every line of a series.
 * Point sets (docs/training-jobs.md, "Point datasets"): JSON
 *   {"kind": "points", "points": [[...], ...]}, every point as wide as the
 *   first, no missing values; CSV (codec_dataset_csv_points_decode, chosen
 *   by the upload's ?kind=points) a header naming the columns, then one
 *   point per line, every cell a finite number.
 * Errors are ERR_INVALID naming the place: "series[2].y[5][1]" for JSON,
 * "line[7].t" for CSV (line 1 is the header). Stateless, thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_DATASET_H
#define ODESERVE_CODEC_CODEC_DATASET_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"
#include "model/dataset.h"

/* ds is dataset_init'ed by the caller and left empty on failure. doc may
 * come from codec_parse_packed with codec_dataset_pack_keys. */
err_code codec_dataset_json_decode(const json_t *doc, dataset *ds, err *e);
/* The keys whose arrays a dataset upload may have packed (codec_parse.h). */
extern const char *const codec_dataset_pack_keys[];
err_code codec_dataset_csv_decode(const char *text, size_t len, dataset *ds, err *e);
err_code codec_dataset_csv_points_decode(const char *text, size_t len, dataset *ds, err *e);

/* The widest point a point set may have (as a CSV's columns). */
#define CODEC_DATASET_MAX_DIM 1024

#endif
