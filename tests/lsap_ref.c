/* tests/lsap_ref.c: the reference assignment solver of check_cfm, the one
 * model/lsap.c used before LAPJV (kept so the new solver is checked against
 * an independent exact method at sizes brute force cannot reach). The
 * shortest augmenting path form of Crouse (2016, "On implementing 2D
 * rectangular assignment algorithms", the one SciPy's linear_sum_assignment
 * uses), square case, started from the column minima. */
#include "lsap_ref.h"


#include <math.h>
#include <stdlib.h>

struct lsap_ref {
    size_t max_n;
    double *u, *v, *spc; /* row and column potentials; shortest path costs to the columns */
    long *path, *row4col, *col4row;
    size_t *remaining; /* the columns the current search has not reached */
    unsigned char *sr, *sc;
};

void lsap_ref_free(lsap_ref *l)
{
    if (!l) return;
    free(l->u), free(l->v), free(l->spc), free(l->path), free(l->row4col), free(l->col4row);
    free(l->remaining), free(l->sr), free(l->sc);
    free(l);
}

lsap_ref *lsap_ref_new(size_t max_n)
{
    lsap_ref *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    const size_t m = max_n;
    l->max_n = max_n;
    l->u = calloc(m, sizeof *l->u);
    l->v = calloc(m, sizeof *l->v);
    l->spc = calloc(m, sizeof *l->spc);
    l->path = calloc(m, sizeof *l->path);
    l->row4col = calloc(m, sizeof *l->row4col);
    l->col4row = calloc(m, sizeof *l->col4row);
    l->remaining = calloc(m, sizeof *l->remaining);
    l->sr = calloc(m, 1);
    l->sc = calloc(m, 1);
    if (!l->u || !l->v || !l->spc || !l->path || !l->row4col || !l->col4row || !l->remaining ||
        !l->sr || !l->sc) {
        lsap_ref_free(l);
        return NULL;
    }
    return l;
}

/* Dijkstra from row i over reduced costs to the nearest free column (the
 * sink); *min_val its distance. */
static size_t augment(lsap_ref *l, size_t n, const double *cost, size_t i, double *min_val)
{
    size_t nrem = n;
    for (size_t it = 0; it < n; it++) /* reversed, so ties go to the lowest column */
        l->remaining[it] = n - it - 1;
    for (size_t k = 0; k < n; k++)
        l->sr[k] = l->sc[k] = 0, l->spc[k] = INFINITY;
    double mv = 0;
    for (;;) {
        size_t index = 0;
        double lowest = INFINITY;
        l->sr[i] = 1;
        const double *row = cost + i * n;
        const double base = mv - l->u[i];
        for (size_t it = 0; it < nrem; it++) {
            const size_t j = l->remaining[it];
            const double r = base + row[j] - l->v[j];
            if (r < l->spc[j]) l->path[j] = (long)i, l->spc[j] = r;
            if (l->spc[j] < lowest || (l->spc[j] == lowest && l->row4col[j] < 0))
                lowest = l->spc[j], index = it;
        }
        mv = lowest;
        const size_t j = l->remaining[index];
        l->sc[j] = 1;
        l->remaining[index] = l->remaining[--nrem];
        if (l->row4col[j] < 0) {
            *min_val = mv;
            return j;
        }
        i = (size_t)l->row4col[j];
    }
}

double lsap_ref_solve(lsap_ref *l, size_t n, const double *cost, size_t *col)
{
    for (size_t k = 0; k < n; k++)
        l->u[k] = 0, l->v[k] = INFINITY, l->path[k] = l->row4col[k] = l->col4row[k] = -1;
    /* Start from the column minima as the column potentials (Jonker and
     * Volgenant's column reduction): a feasible dual (every reduced cost
     * >= 0), much closer to the optimum than zero when the costs share a
     * large common part, as squared distances between two shifted clouds do. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (cost[i * n + j] < l->v[j]) l->v[j] = cost[i * n + j];
    for (size_t cur = 0; cur < n; cur++) {
        double mv = 0;
        size_t j = augment(l, n, cost, cur, &mv);
        l->u[cur] += mv;
        for (size_t i = 0; i < n; i++)
            if (l->sr[i] && i != cur) l->u[i] += mv - l->spc[l->col4row[i]];
        for (size_t k = 0; k < n; k++)
            if (l->sc[k]) l->v[k] -= mv - l->spc[k];
        for (;;) { /* flip the path back to row cur */
            const size_t i = (size_t)l->path[j];
            l->row4col[j] = (long)i;
            const long prev = l->col4row[i];
            l->col4row[i] = (long)j;
            if (i == cur) break;
            j = (size_t)prev;
        }
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        col[i] = (size_t)l->col4row[i];
        total += cost[i * n + col[i]];
    }
    return total;
}
