/* model/lsap.c: see lsap.h. Indices are 1-based inside (0 is the virtual
 * column the search starts from), as in the textbook form of the method. */
#include "model/lsap.h"

#include <math.h>
#include <stdlib.h>

struct lsap {
    size_t max_n;
    double *u, *v, *minv; /* row and column potentials; a column's best reduced cost */
    size_t *p, *way;      /* p[j]: the row on column j; way[j]: the column before j */
    unsigned char *used;
};

void lsap_free(lsap *l)
{
    if (!l) return;
    free(l->u), free(l->v), free(l->minv), free(l->p), free(l->way), free(l->used);
    free(l);
}

err_code lsap_new(lsap **out, size_t max_n, err *e)
{
    *out = NULL;
    if (max_n == 0) return err_set(e, ERR_INVALID, "n", "must be at least 1");
    lsap *l = calloc(1, sizeof *l);
    if (!l) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    const size_t m = max_n + 1;
    l->max_n = max_n;
    l->u = calloc(m, sizeof *l->u);
    l->v = calloc(m, sizeof *l->v);
    l->minv = calloc(m, sizeof *l->minv);
    l->p = calloc(m, sizeof *l->p);
    l->way = calloc(m, sizeof *l->way);
    l->used = calloc(m, 1);
    if (!l->u || !l->v || !l->minv || !l->p || !l->way || !l->used) {
        lsap_free(l);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    *out = l;
    return ERR_OK;
}

double lsap_solve(lsap *l, size_t n, const double *cost, size_t *col)
{
    double *u = l->u, *v = l->v, *minv = l->minv;
    size_t *p = l->p, *way = l->way;
    unsigned char *used = l->used;
    for (size_t j = 0; j <= n; j++)
        u[j] = v[j] = 0, p[j] = way[j] = 0;
    for (size_t i = 1; i <= n; i++) {
        /* add row i: a shortest augmenting path from the virtual column 0 */
        p[0] = i;
        size_t j0 = 0;
        for (size_t j = 0; j <= n; j++)
            minv[j] = INFINITY, used[j] = 0;
        do {
            used[j0] = 1;
            const size_t i0 = p[j0];
            const double *row = cost + (i0 - 1) * n;
            double delta = INFINITY;
            size_t j1 = 0;
            for (size_t j = 1; j <= n; j++) {
                if (used[j]) continue;
                const double cur = row[j - 1] - u[i0] - v[j];
                if (cur < minv[j]) minv[j] = cur, way[j] = j0;
                if (minv[j] < delta) delta = minv[j], j1 = j;
            }
            for (size_t j = 0; j <= n; j++) {
                if (used[j])
                    u[p[j]] += delta, v[j] -= delta;
                else
                    minv[j] -= delta;
            }
            j0 = j1;
        } while (p[j0] != 0);
        do { /* flip the path */
            const size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    double total = 0;
    for (size_t j = 1; j <= n; j++) {
        col[p[j] - 1] = j - 1;
        total += cost[(p[j] - 1) * n + (j - 1)];
    }
    return total;
}
