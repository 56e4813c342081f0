/* model/dataset.c: see dataset.h. */
#include "model/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dataset_init(dataset *d)
{
    memset(d, 0, sizeof *d);
}

void dataset_free(dataset *d)
{
    if (!d) return;
    for (size_t i = 0; d->series && i < d->n_series; i++) {
        free(d->series[i].t);
        free(d->series[i].y);
        free(d->series[i].label_vec);
    }
    free(d->series);
    dataset_init(d);
}

const char *dataset_label_kind_name(dataset_label_kind k)
{
    switch (k) {
    case DATASET_LABEL_CLASS:
        return "class";
    case DATASET_LABEL_VECTOR:
        return "vector";
    default:
        return "none";
    }
}

const char *dataset_kind_name(dataset_kind k)
{
    return k == DATASET_KIND_POINTS ? "points" : "series";
}

err_code dataset_points_alloc(dataset *d, size_t n, size_t dim, err *e)
{
    d->kind = DATASET_KIND_POINTS;
    d->channels = dim;
    d->label_kind = DATASET_LABEL_NONE;
    d->series = calloc(1, sizeof *d->series);
    if (!d->series) return err_set(e, ERR_NOMEM, "points", "out of memory");
    d->n_series = 1;
    dataset_series *x = &d->series[0];
    x->t = malloc((n ? n : 1) * sizeof *x->t);
    x->y = calloc(n * dim > 0 ? n * dim : 1, sizeof *x->y);
    if (!x->t || !x->y) return err_set(e, ERR_NOMEM, "points", "out of memory");
    x->n = n;
    for (size_t i = 0; i < n; i++)
        x->t[i] = (double)i;
    return ERR_OK;
}

/* A point set: one series of finite points (time is the row index). */
static err_code points_validate(const dataset *d, err *e)
{
    char f[96];
    if (d->n_series != 1 || d->series[0].n == 0)
        return err_set(e, ERR_INVALID, "points", "must hold at least one point");
    if (d->label_kind != DATASET_LABEL_NONE)
        return err_set(e, ERR_INVALID, "points", "a point set has no labels");
    const dataset_series *x = &d->series[0];
    for (size_t i = 0; i < x->n; i++) {
        if (x->t[i] != (double)i) {
            snprintf(f, sizeof f, "points[%zu]", i);
            return err_set(e, ERR_INVALID, f, "a point set's rows are numbered 0, 1, ...");
        }
        for (size_t k = 0; k < d->channels; k++)
            if (!isfinite(x->y[i * d->channels + k])) {
                snprintf(f, sizeof f, "points[%zu][%zu]", i, k);
                return err_set(e, ERR_INVALID, f,
                               "must be a finite number (a point set has no missing values)");
            }
    }
    return ERR_OK;
}

static err_code series_validate(const dataset *d, size_t s, err *e)
{
    const dataset_series *x = &d->series[s];
    char f[96];
    if (x->n == 0) {
        snprintf(f, sizeof f, "series[%zu].t", s);
        return err_set(e, ERR_INVALID, f, "a series needs at least one point");
    }
    for (size_t i = 0; i < x->n; i++) {
        if (!isfinite(x->t[i]) || (i > 0 && !(x->t[i] > x->t[i - 1]))) {
            snprintf(f, sizeof f, "series[%zu].t[%zu]", s, i);
            return err_set(e, ERR_INVALID, f,
                           isfinite(x->t[i]) ? "times must be strictly increasing"
                                             : "must be a finite number");
        }
        for (size_t k = 0; k < d->channels; k++)
            if (isinf(x->y[i * d->channels + k])) {
                snprintf(f, sizeof f, "series[%zu].y[%zu][%zu]", s, i, k);
                return err_set(e, ERR_INVALID, f, "must be a finite number or null");
            }
    }
    if (d->label_kind == DATASET_LABEL_CLASS && x->label_class < 0) {
        snprintf(f, sizeof f, "series[%zu].label", s);
        return err_set(e, ERR_INVALID, f, "a class label must be an integer >= 0");
    }
    for (size_t k = 0; d->label_kind == DATASET_LABEL_VECTOR && k < d->label_dim; k++)
        if (!isfinite(x->label_vec[k])) {
            snprintf(f, sizeof f, "series[%zu].label[%zu]", s, k);
            return err_set(e, ERR_INVALID, f, "must be a finite number");
        }
    return ERR_OK;
}

err_code dataset_validate(const dataset *d, err *e)
{
    if (d->kind == DATASET_KIND_POINTS) {
        if (d->channels == 0) return err_set(e, ERR_INVALID, "points", "points need >= 1 value");
        return points_validate(d, e);
    }
    if (d->channels == 0) return err_set(e, ERR_INVALID, "series", "no channels");
    if (d->n_series == 0) return err_set(e, ERR_INVALID, "series", "must hold at least one series");
    if (d->label_kind == DATASET_LABEL_VECTOR && d->label_dim == 0)
        return err_set(e, ERR_INVALID, "label", "a label vector must not be empty");
    for (size_t s = 0; s < d->n_series; s++)
        if (series_validate(d, s, e) != ERR_OK) return e->code;
    return ERR_OK;
}

void dataset_summarise(const dataset *d, dataset_info *info)
{
    memset(info, 0, sizeof *info);
    info->channels = d->channels;
    info->n_series = d->n_series;
    info->label_kind = d->label_kind;
    info->label_dim = d->label_dim;
    info->kind = d->kind;
    info->t_min = INFINITY;
    info->t_max = -INFINITY;
    for (size_t s = 0; s < d->n_series; s++) {
        const dataset_series *x = &d->series[s];
        info->n_points += x->n;
        if (x->n && x->t[0] < info->t_min) info->t_min = x->t[0];
        if (x->n && x->t[x->n - 1] > info->t_max) info->t_max = x->t[x->n - 1];
        for (size_t i = 0; i < x->n * d->channels; i++)
            info->n_missing += isnan(x->y[i]) ? 1 : 0;
    }
}
