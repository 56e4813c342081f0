/* model/loss.h: the training losses and their gradients.
 *
 *   mse            l(y, y*) = (y - y*)^2,   dl/dy = 2 (y - y*)
 *   l1             l(y, y*) = |y - y*|,     dl/dy = sign(y - y*), 0 at the kink
 *                  (PyTorch's abs backward)
 *   cross_entropy  l(z, c) = logsumexp(z) - z_c for logits z and a class
 *                  index c; dl/dz = softmax(z) - onehot(c). The log-sum-exp
 *                  subtracts max(z) first, so large logits never overflow.
 *
 * Reduction. The loss is scale * (sum of the per-value (regression) or
 * per-row (cross_entropy) terms). Regression targets may be NaN: a missing
 * value, skipped and not counted. scale == 0 means "the mean": 1 / (number
 * of non-missing targets) for regression (torch.mean over the observed
 * values, e.g. nn.L1Loss()), 1 / rows for cross_entropy (nn.CrossEntropyLoss
 * with reduction="mean"). A caller who splits one mini-batch over several
 * calls passes the batch's own 1 / count as scale so the pieces add up.
 *
 * Gradients are ADDED into grad (+=), so pieces of one loss accumulate;
 * grad may be NULL for the value alone. Stateless and thread-safe. */
#ifndef ODESERVE_MODEL_LOSS_H
#define ODESERVE_MODEL_LOSS_H

#include "core/err.h"

#include <stddef.h>

typedef enum loss_kind {
    LOSS_MSE = 0,       /* "mse" */
    LOSS_L1,            /* "l1" */
    LOSS_CROSS_ENTROPY, /* "cross_entropy" */
    LOSS__COUNT
} loss_kind;

/* "l1" -> LOSS_L1; ERR_INVALID (empty field, a message listing the names). */
err_code loss_from_name(const char *name, loss_kind *out, err *e);
const char *loss_name(loss_kind k); /* "?" when out of range */

/* Number of non-NaN values among target[0 .. n). */
size_t loss_observed_count(size_t n, const double *target);

/* mse or l1 over n values: returns scale * sum over non-NaN targets of
 * l(y_i, target_i) (scale 0 = the mean: 0 when nothing is observed), and
 * grad[i] += scale * dl/dy_i there. */
double loss_regression(loss_kind k, size_t n, const double *y, const double *target, double scale,
                       double *grad);

/* The same over `rows` rows of n values (y and grad rows `stride` apart,
 * target rows n apart): the sum, from 0 in row order, of what
 * loss_regression returns for each row, the same bits, in one call. */
double loss_regression_rows(loss_kind k, size_t rows, size_t n, const double *y, size_t stride,
                            const double *target, double scale, double *grad);

/* Cross entropy over `rows` rows of `classes` logits (row-major) with class
 * indices label[r] in [0, classes) (checked: ERR_INVALID, field
 * "label[r]"). *value = scale * sum_r (logsumexp(z_r) - z_r[label_r])
 * (scale 0 = the mean over rows); grad (rows x classes, may be NULL) +=
 * scale * (softmax(z_r) - onehot(label_r)). */
err_code loss_cross_entropy(size_t rows, size_t classes, const double *logits, const long *label,
                            double scale, double *value, double *grad, err *e);

#endif
