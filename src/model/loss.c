/* model/loss.c: mse, l1, cross entropy. See loss.h. */
#include "model/loss.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const names[LOSS__COUNT] = {"mse", "l1", "cross_entropy"};

err_code loss_from_name(const char *name, loss_kind *out, err *e)
{
    for (int k = 0; name && k < LOSS__COUNT; k++)
        if (!strcmp(name, names[k])) {
            *out = (loss_kind)k;
            return ERR_OK;
        }
    return err_set(e, ERR_INVALID, "", "unknown loss \"%s\" (expected mse, l1 or cross_entropy)",
                   name ? name : "(null)");
}

const char *loss_name(loss_kind k)
{
    return (int)k >= 0 && k < LOSS__COUNT ? names[k] : "?";
}

size_t loss_observed_count(size_t n, const double *target)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += !isnan(target[i]);
    return c;
}

double loss_regression(loss_kind k, size_t n, const double *y, const double *target, double scale,
                       double *grad)
{
    if (scale == 0) {
        size_t c = loss_observed_count(n, target);
        if (!c) return 0;
        scale = 1.0 / (double)c;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(target[i])) continue;
        const double d = y[i] - target[i];
        if (k == LOSS_MSE) {
            sum += d * d;
            if (grad) grad[i] += scale * 2.0 * d;
        } else {
            sum += fabs(d);
            if (grad) grad[i] += scale * (double)((d > 0) - (d < 0));
        }
    }
    return scale * sum;
}

double loss_regression_rows(loss_kind k, size_t rows, size_t n, const double *y, size_t stride,
                            const double *target, double scale, double *grad)
{
    double total = 0;
    if (scale == 0 || (k != LOSS_MSE && k != LOSS_L1)) { /* a scale per row */
        for (size_t r = 0; r < rows; r++)
            total += loss_regression(k, n, y + r * stride, target + r * n, scale,
                                     grad ? grad + r * stride : NULL);
        return total;
    }
    for (size_t r = 0; r < rows; r++) {
        const double *yr = y + r * stride, *tr = target + r * n;
        double *gr = grad ? grad + r * stride : NULL, sum = 0;
        for (size_t i = 0; i < n; i++) {
            if (isnan(tr[i])) continue;
            const double d = yr[i] - tr[i];
            if (k == LOSS_MSE) {
                sum += d * d;
                if (gr) gr[i] += scale * 2.0 * d;
            } else {
                sum += fabs(d);
                if (gr) gr[i] += scale * (double)((d > 0) - (d < 0));
            }
        }
        total += scale * sum;
    }
    return total;
}

err_code loss_cross_entropy(size_t rows, size_t classes, const double *logits, const long *label,
                            double scale, double *value, double *grad, err *e)
{
    for (size_t r = 0; r < rows; r++)
        if (label[r] < 0 || (size_t)label[r] >= classes) {
            char f[48];
            snprintf(f, sizeof f, "label[%zu]", r);
            return err_set(e, ERR_INVALID, f, "class %ld is not in [0, %zu)", label[r], classes);
        }
    if (scale == 0) scale = rows ? 1.0 / (double)rows : 0;
    double sum = 0;
    for (size_t r = 0; r < rows; r++) {
        const double *z = logits + r * classes;
        double zmax = z[0];
        for (size_t c = 1; c < classes; c++)
            if (z[c] > zmax) zmax = z[c];
        double se = 0;
        for (size_t c = 0; c < classes; c++)
            se += exp(z[c] - zmax);
        const double lse = zmax + log(se);
        sum += lse - z[label[r]];
        if (!grad) continue;
        double *g = grad + r * classes;
        for (size_t c = 0; c < classes; c++)
            g[c] += scale * (exp(z[c] - lse) - (c == (size_t)label[r]));
    }
    *value = scale * sum;
    return ERR_OK;
}
