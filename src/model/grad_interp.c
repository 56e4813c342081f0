/* model/grad_interp.c: grad_path callbacks over interp paths. See
 * grad_interp.h. */
#include "model/grad_interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct grad_interp {
    struct grad_path path; /* ctx = this */
    const interp *const *paths;
    size_t n;
    size_t *hint;    /* per item: interp_deriv's segment hint */
    double *merged;  /* room for every item's stops */
    size_t n_merged; /* stops in the latest union */
};

static int cb_x(void *ctx, size_t item, double s, double *out)
{
    const grad_interp *g = ctx;
    if (item >= g->n) return -1;
    interp_eval(g->paths[item], s, out, NULL, NULL);
    return 0;
}

static int cb_dxdt(void *ctx, size_t item, double s, double *out)
{
    grad_interp *g = ctx;
    if (item >= g->n) return -1;
    interp_deriv(g->paths[item], s, &g->hint[item], out);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const double *cb_jumps(void *ctx, size_t item0, size_t n, size_t *n_jumps)
{
    grad_interp *g = ctx;
    *n_jumps = 0;
    if (item0 >= g->n || n == 0) return NULL;
    if (n > g->n - item0) n = g->n - item0;
    if (n == 1) {
        *n_jumps = interp_n_stops(g->paths[item0]);
        return interp_stops(g->paths[item0]);
    }
    size_t m = 0;
    for (size_t b = item0; b < item0 + n; b++) {
        const size_t k = interp_n_stops(g->paths[b]);
        if (k) memcpy(g->merged + m, interp_stops(g->paths[b]), k * sizeof *g->merged);
        m += k;
    }
    if (m > 1) qsort(g->merged, m, sizeof *g->merged, cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || g->merged[i] != g->merged[u - 1]) g->merged[u++] = g->merged[i];
    g->n_merged = u;
    *n_jumps = u;
    return u ? g->merged : NULL;
}

err_code grad_interp_new(grad_interp **out, const interp *const *paths, size_t n, err *e)
{
    *out = NULL;
    if (!paths || n == 0) return err_set(e, ERR_INVALID, "paths", "at least one path");
    size_t total = 0;
    for (size_t b = 0; b < n; b++) {
        if (!paths[b] || interp_channels(paths[b]) != interp_channels(paths[0])) {
            char f[40];
            snprintf(f, sizeof f, "paths[%zu]", b);
            return err_set(e, ERR_INVALID, f, "missing, or not %zu channels like paths[0]",
                           interp_channels(paths[0]));
        }
        total += interp_n_stops(paths[b]);
    }
    grad_interp *g = calloc(1, sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, NULL, "out of memory for the paths");
    g->hint = calloc(n, sizeof *g->hint);
    g->merged = malloc((total ? total : 1) * sizeof *g->merged);
    if (!g->hint || !g->merged) {
        grad_interp_free(g);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the paths");
    }
    g->paths = paths;
    g->n = n;
    g->path = (struct grad_path){.channels = interp_channels(paths[0]),
                                 .x = cb_x,
                                 .dxdt = cb_dxdt,
                                 .jumps = cb_jumps,
                                 .ctx = g};
    *out = g;
    return ERR_OK;
}

void grad_interp_free(grad_interp *g)
{
    if (!g) return;
    free(g->hint);
    free(g->merged);
    free(g);
}

const struct grad_path *grad_interp_path(const grad_interp *g)
{
    return &g->path;
}

double grad_interp_s0(const grad_interp *g, size_t item)
{
    return interp_knots(g->paths[item])[0];
}

void grad_interp_params(const grad_interp *g, size_t item, const double *t, size_t n, double *s)
{
    for (size_t i = 0; i < n; i++)
        s[i] = interp_param(g->paths[item], t[i]);
}
