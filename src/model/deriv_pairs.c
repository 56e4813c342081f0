/* model/deriv_pairs.c: see deriv_pairs.h. */
#include "model/deriv_pairs.h"

#include "model/interp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void deriv_pairs_free(deriv_pairs *p)
{
    if (!p) return;
    free(p->x), free(p->dx), free(p->t);
    memset(p, 0, sizeof *p);
}

static int row_ok(const double *r, size_t dim)
{
    for (size_t k = 0; k < dim; k++)
        if (isnan(r[k])) return 0;
    return 1;
}

/* The weights of x[i-1], x[i], x[i+1] (or the end's three rows) at row i. */
static void central_weights(const double *t, size_t n, size_t i, size_t *j0, double w[3])
{
    if (i == 0) {
        const double h1 = t[1] - t[0], h2 = t[2] - t[1];
        *j0 = 0;
        w[0] = -(2 * h1 + h2) / (h1 * (h1 + h2));
        w[1] = (h1 + h2) / (h1 * h2);
        w[2] = -h1 / (h2 * (h1 + h2));
    } else if (i == n - 1) {
        const double h1 = t[n - 2] - t[n - 3], h2 = t[n - 1] - t[n - 2];
        *j0 = n - 3;
        w[0] = h2 / (h1 * (h1 + h2));
        w[1] = -(h1 + h2) / (h1 * h2);
        w[2] = (2 * h2 + h1) / (h2 * (h1 + h2));
    } else {
        const double h1 = t[i] - t[i - 1], h2 = t[i + 1] - t[i];
        *j0 = i - 1;
        w[0] = -h2 / (h1 * (h1 + h2));
        w[1] = (h2 - h1) / (h1 * h2);
        w[2] = h1 / (h2 * (h1 + h2));
    }
}

err_code deriv_pairs_of(const dataset_series *x, size_t channels, size_t dim, job_derivs rule,
                        deriv_pairs *p, err *e)
{
    memset(p, 0, sizeof *p);
    const size_t n = x->n;
    p->x = malloc((n ? n : 1) * dim * sizeof *p->x);
    p->dx = malloc((n ? n : 1) * dim * sizeof *p->dx);
    p->t = malloc((n ? n : 1) * sizeof *p->t);
    if (!p->x || !p->dx || !p->t) {
        deriv_pairs_free(p);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    interp *sp = NULL;
    if (rule == JOB_DERIVS_SPLINE && n >= 2 &&
        interp_new(&sp, MODEL_INTERP_NATURAL_CUBIC, x->t, n, x->y, channels,
                   INTERP_NO_TIME_CHANNEL, e) != ERR_OK) {
        deriv_pairs_free(p);
        return e->code;
    }
    for (size_t i = 0; i < n; i++) {
        const double *r = x->y + i * channels;
        double *px = p->x + p->n * dim, *pd = p->dx + p->n * dim;
        if (!row_ok(r, dim)) continue;
        if (rule == JOB_DERIVS_CENTRAL) {
            if (n < 3) break;
            size_t j0;
            double w[3];
            central_weights(x->t, n, i, &j0, w);
            const double *r0 = x->y + j0 * channels;
            if (!row_ok(r0, dim) || !row_ok(r0 + channels, dim) ||
                !row_ok(r0 + 2 * channels, dim))
                continue;
            for (size_t k = 0; k < dim; k++)
                pd[k] = w[0] * r0[k] + w[1] * r0[channels + k] + w[2] * r0[2 * channels + k];
        } else if (rule == JOB_DERIVS_SPLINE) {
            if (!sp) break;
            interp_eval(sp, interp_param(sp, x->t[i]), NULL, pd, NULL);
        } else {
            if (!row_ok(r + dim, dim)) continue;
            memcpy(pd, r + dim, dim * sizeof *pd);
        }
        memcpy(px, r, dim * sizeof *px);
        p->t[p->n++] = x->t[i];
    }
    interp_free(sp);
    return ERR_OK;
}
