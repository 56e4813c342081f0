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
    size_t *hint;          /* per item: interp_deriv's segment hint */
    double *merged;        /* room for every item's interp_stops */
    double *merged_smooth; /* room for every item's interp_smooth_stops */
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

static int cb_d2xdt2(void *ctx, size_t item, double s, double *out)
{
    grad_interp *g = ctx;
    if (item >= g->n) return -1;
    interp_eval(g->paths[item], s, NULL, NULL, out);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The union of one list (interp_stops or interp_smooth_stops) over items
 * [item0, item0 + n), in buf. */
static const double *merge(grad_interp *g, size_t (*count)(const interp *),
                           const double *(*list)(const interp *), double *buf, size_t item0,
                           size_t n, size_t *n_out)
{
    *n_out = 0;
    if (item0 >= g->n || n == 0) return NULL;
    if (n > g->n - item0) n = g->n - item0;
    if (n == 1) {
        *n_out = count(g->paths[item0]);
        return list(g->paths[item0]);
    }
    size_t m = 0;
    for (size_t b = item0; b < item0 + n; b++) {
        const size_t k = count(g->paths[b]);
        if (k) memcpy(buf + m, list(g->paths[b]), k * sizeof *buf);
        m += k;
    }
    if (m > 1) qsort(buf, m, sizeof *buf, cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || buf[i] != buf[u - 1]) buf[u++] = buf[i];
    *n_out = u;
    return u ? buf : NULL;
}

static const double *cb_jumps(void *ctx, size_t item0, size_t n, size_t *n_jumps)
{
    grad_interp *g = ctx;
    return merge(g, interp_n_stops, interp_stops, g->merged, item0, n, n_jumps);
}

static const double *cb_stops(void *ctx, size_t item0, size_t n, size_t *n_stops)
{
    grad_interp *g = ctx;
    return merge(g, interp_n_smooth_stops, interp_smooth_stops, g->merged_smooth, item0, n,
                 n_stops);
}

err_code grad_interp_new(grad_interp **out, const interp *const *paths, size_t n, err *e)
{
    *out = NULL;
    if (!paths || n == 0) return err_set(e, ERR_INVALID, "paths", "at least one path");
    size_t total = 0, total_smooth = 0;
    for (size_t b = 0; b < n; b++) {
        if (!paths[b] || interp_channels(paths[b]) != interp_channels(paths[0])) {
            char f[40];
            snprintf(f, sizeof f, "paths[%zu]", b);
            return err_set(e, ERR_INVALID, f, "missing, or not %zu channels like paths[0]",
                           interp_channels(paths[0]));
        }
        total += interp_n_stops(paths[b]);
        total_smooth += interp_n_smooth_stops(paths[b]);
    }
    grad_interp *g = calloc(1, sizeof *g);
    if (!g) return err_set(e, ERR_NOMEM, NULL, "out of memory for the paths");
    g->hint = calloc(n, sizeof *g->hint);
    g->merged = malloc((total ? total : 1) * sizeof *g->merged);
    g->merged_smooth = malloc((total_smooth ? total_smooth : 1) * sizeof *g->merged_smooth);
    if (!g->hint || !g->merged || !g->merged_smooth) {
        grad_interp_free(g);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the paths");
    }
    g->paths = paths;
    g->n = n;
    g->path = (struct grad_path){.channels = interp_channels(paths[0]),
                                 .x = cb_x,
                                 .dxdt = cb_dxdt,
                                 .jumps = cb_jumps,
                                 .stops = cb_stops,
                                 .d2xdt2 = cb_d2xdt2,
                                 .ctx = g};
    *out = g;
    return ERR_OK;
}

void grad_interp_free(grad_interp *g)
{
    if (!g) return;
    free(g->hint);
    free(g->merged);
    free(g->merged_smooth);
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
