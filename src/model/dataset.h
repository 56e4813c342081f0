/* model/dataset.h: a dataset of observed time series, or a set of points,
 * as data.
 *
 * A dataset holds series of observations: series s has n points at strictly
 * increasing times t and, at each, `channels` values (NaN = missing), and
 * optionally a label: a class index (CDE classification) or a vector of
 * label_dim values. Every series of a dataset has the same channels and the
 * same kind of label.
 *
 * A point set (kind DATASET_KIND_POINTS: samples of a distribution, no
 * time, e.g. to train a normalizing flow) is held as ONE series of n
 * points, t[i] = i (the row index, so the series rules hold), y the n x
 * channels points, no missing values, no label.
 *
 * Stored by store/datasets.h, decoded by
 * codec/codec_dataset.h, trained on by the training maths.
 *
 * Ownership: a dataset owns its series and their arrays; dataset_free
 * releases them. Plain data: no locks; share a dataset between threads only
 * for reading. */
#ifndef ODESERVE_MODEL_DATASET_H
#define ODESERVE_MODEL_DATASET_H

#include "core/err.h"

#include <stddef.h>

typedef enum dataset_label_kind {
    DATASET_LABEL_NONE = 0, /* "none" */
    DATASET_LABEL_CLASS,    /* "class": an integer >= 0 */
    DATASET_LABEL_VECTOR,   /* "vector": label_dim numbers */
} dataset_label_kind;

typedef enum dataset_kind {
    DATASET_KIND_SERIES = 0, /* "series": time series */
    DATASET_KIND_POINTS,     /* "points": a point set, as one series (above) */
} dataset_kind;

typedef struct dataset_series {
    size_t n;          /* points, >= 1 */
    double *t;         /* n times, strictly increasing (owned) */
    double *y;         /* n x channels, row-major, NaN = missing (owned) */
    long label_class;  /* DATASET_LABEL_CLASS */
    double *label_vec; /* DATASET_LABEL_VECTOR: label_dim values (owned) */
} dataset_series;

typedef struct dataset {
    dataset_kind kind;
    size_t channels; /* a point set: the points' dimension */
    dataset_label_kind label_kind;
    size_t label_dim; /* vector labels */
    size_t n_series;
    dataset_series *series; /* owned */
} dataset;

typedef struct dataset_info {
    char name[65];
    char created_at[32];
    size_t channels, n_series, n_points, n_missing; /* n_missing values (not points) */
    double t_min, t_max;
    dataset_label_kind label_kind;
    size_t label_dim;
    dataset_kind kind;
} dataset_info;

void dataset_init(dataset *d);
void dataset_free(dataset *d); /* frees the owned members, then re-inits */
const char *dataset_label_kind_name(dataset_label_kind k);
const char *dataset_kind_name(dataset_kind k); /* "series" or "points" */

/* Make d (dataset_init'ed) a point set of n points of dim values, y
 * zeroed and t the row indices. ERR_NOMEM. */
err_code dataset_points_alloc(dataset *d, size_t n, size_t dim, err *e);

/* Check the shape rules above (times finite and strictly increasing,
 * values finite or NaN, labels of one kind); the field names the series
 * ("series[3].t[5]"), or the point of a point set ("points[7][1]"). */
err_code dataset_validate(const dataset *d, err *e);

/* The summary of d (name and created_at left empty). */
void dataset_summarise(const dataset *d, dataset_info *info);

#endif
