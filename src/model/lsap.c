/* model/lsap.c: see lsap.h. Jonker and Volgenant's LAPJV (1987) for a
 * dense square matrix, in the form of the widely used `lap` C code
 * (Kazmar, gatagat/lap): column reduction with reduction transfer, two
 * passes of augmenting row reduction, then one shortest augmenting path
 * per row still free.
 *
 * THE INVARIANT that makes the result exact: every assigned row i sits on
 * a column of least reduced cost c[i][j] - v[j] (its implicit u_i). Column
 * reduction starts there (each column's v its minimum, each row that is
 * the unique minimum of some column assigned to it); reduction transfer
 * lowers v at a uniquely assigned column by the row's second-least reduced
 * cost, which keeps the row's column least. Augmenting row reduction
 * assigns a free row to its least column j1 and lowers v[j1] by the gap to
 * its second least (the row stays on a least column; the row it displaces
 * becomes free). The augmentation is Dijkstra's search over reduced costs
 * (all >= 0 by the invariant) from the free row to a free column, with the
 * potentials of the scanned columns raised by their distance deficit, so
 * the invariant holds after it and the final assignment with its duals
 * satisfies complementary slackness: optimal, not approximate.
 *
 * Doubles: a lowering that does not lower in floating point (the gap below
 * an ulp of v) is treated as a tie, the row then takes its second column
 * if the first is held. Each pass of row reduction lowers and re-queues
 * displaced rows for at most as many steps as it started with free rows,
 * then only assigns (the displaced rows wait for the augmentation): so it
 * terminates on every input, and on the near-tied costs of flow matching
 * (squared distances between point clouds) it does not spend O(n^3) in
 * long displacement chains, which the classic bound (n x rows handled)
 * allows and which made it slower than no row reduction at all
 * (docs/benchmarks.md, "CFM"). The Dijkstra search never
 * depends on such a step, so the optimum is that of the rounded reduced
 * costs: equal to the exact optimum up to rounding of the totals (tested
 * against the Hungarian method to 1e-12, check_cfm). */
#include "model/lsap.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

struct lsap {
    size_t max_n;
    double *v, *d;               /* column potentials; the search's distances */
    long *x, *y;                 /* column of each row, row of each column (-1: none) */
    long *free_rows, *cols, *pred;
    bool *unique;
};

void lsap_free(lsap *l)
{
    if (!l) return;
    free(l->v), free(l->d), free(l->x), free(l->y);
    free(l->free_rows), free(l->cols), free(l->pred), free(l->unique);
    free(l);
}

err_code lsap_new(lsap **out, size_t max_n, err *e)
{
    *out = NULL;
    if (max_n == 0) return err_set(e, ERR_INVALID, "n", "must be at least 1");
    lsap *l = calloc(1, sizeof *l);
    if (!l) return err_set(e, ERR_NOMEM, NULL, "out of memory");
    const size_t m = max_n;
    l->max_n = max_n;
    l->v = malloc(m * sizeof *l->v);
    l->d = malloc(m * sizeof *l->d);
    l->x = malloc(m * sizeof *l->x);
    l->y = malloc(m * sizeof *l->y);
    l->free_rows = malloc(m * sizeof *l->free_rows);
    l->cols = malloc(m * sizeof *l->cols);
    l->pred = malloc(m * sizeof *l->pred);
    l->unique = malloc(m * sizeof *l->unique);
    if (!l->v || !l->d || !l->x || !l->y || !l->free_rows || !l->cols || !l->pred || !l->unique) {
        lsap_free(l);
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    }
    *out = l;
    return ERR_OK;
}

/* Column reduction and reduction transfer; returns the free rows' count. */
static size_t reduce_columns(lsap *l, size_t n, const double *c)
{
    double *v = l->v;
    long *x = l->x, *y = l->y;
    for (size_t j = 0; j < n; j++)
        v[j] = INFINITY, y[j] = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = -1;
        l->unique[i] = true;
        const double *row = c + i * n;
        for (size_t j = 0; j < n; j++)
            if (row[j] < v[j]) v[j] = row[j], y[j] = (long)i;
    }
    for (size_t j = n; j-- > 0;) { /* each row keeps the last column it is the minimum of */
        const long i = y[j];
        if (x[i] < 0)
            x[i] = (long)j;
        else
            l->unique[i] = false, y[j] = -1;
    }
    size_t n_free = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] < 0) {
            l->free_rows[n_free++] = (long)i;
        } else if (l->unique[i] && n > 1) {
            const size_t j = (size_t)x[i];
            const double *row = c + i * n;
            double m = INFINITY;
            for (size_t k = 0; k < n; k++)
                if (k != j && row[k] - v[k] < m) m = row[k] - v[k];
            v[j] -= m;
        }
    }
    return n_free;
}

/* One pass of augmenting row reduction over the free rows; returns the
 * rows still free (compacted to the front of free_rows). */
static size_t reduce_rows(lsap *l, size_t n, const double *c, size_t n_free)
{
    double *v = l->v;
    long *x = l->x, *y = l->y, *fr = l->free_rows;
    size_t current = 0, new_free = 0, count = 0;
    while (current < n_free) {
        count++;
        const long fi = fr[current++];
        const double *row = c + (size_t)fi * n;
        size_t j1 = 0;
        long j2 = -1;
        double u1 = row[0] - v[0], u2 = INFINITY;
        for (size_t j = 1; j < n; j++) {
            const double h = row[j] - v[j];
            if (h < u2) {
                if (h >= u1) {
                    u2 = h, j2 = (long)j;
                } else {
                    u2 = u1, j2 = (long)j1;
                    u1 = h, j1 = j;
                }
            }
        }
        long i0 = y[j1];
        const double v1_new = v[j1] - (u2 - u1);
        const bool lowers = v1_new < v[j1];
        if (count < n_free) {
            if (lowers) {
                v[j1] = v1_new;
            } else if (i0 >= 0 && j2 >= 0) { /* a tie: take the second column */
                j1 = (size_t)j2;
                i0 = y[j1];
            }
            if (i0 >= 0) {
                if (lowers)
                    fr[--current] = i0; /* displaced: handle it next */
                else
                    fr[new_free++] = i0;
            }
        } else if (i0 >= 0) {
            fr[new_free++] = i0;
        }
        x[fi] = (long)j1;
        y[j1] = fi;
    }
    return new_free;
}

/* Dijkstra from free row start to the nearest free column over reduced
 * costs; raises the potentials of the columns it settled. Returns that
 * free column; pred holds the path. */
static size_t find_path(lsap *l, size_t n, const double *c, long start)
{
    double *v = l->v, *d = l->d;
    long *y = l->y, *cols = l->cols, *pred = l->pred;
    const double *srow = c + (size_t)start * n;
    for (size_t j = 0; j < n; j++)
        cols[j] = (long)j, pred[j] = start, d[j] = srow[j] - v[j];
    size_t lo = 0, hi = 0, n_ready = 0;
    long final_j = -1;
    while (final_j < 0) {
        if (lo == hi) { /* the columns at the least distance move to [lo, hi) */
            n_ready = lo;
            double mind = d[cols[lo]];
            hi = lo + 1;
            for (size_t k = hi; k < n; k++) {
                const long j = cols[k];
                if (d[j] <= mind) {
                    if (d[j] < mind) hi = lo, mind = d[j];
                    cols[k] = cols[hi];
                    cols[hi++] = j;
                }
            }
            for (size_t k = lo; k < hi; k++)
                if (y[cols[k]] < 0) {
                    final_j = cols[k];
                    break;
                }
            if (final_j >= 0) break;
        }
        /* scan the rows of the settled columns */
        while (lo != hi && final_j < 0) {
            const long j0 = cols[lo++], i = y[j0];
            const double mind = d[j0];
            const double *row = c + (size_t)i * n;
            const double h = row[j0] - v[j0] - mind;
            for (size_t k = hi; k < n; k++) {
                const long j = cols[k];
                const double red = row[j] - v[j] - h;
                if (red < d[j]) {
                    d[j] = red;
                    pred[j] = i;
                    if (red == mind) {
                        if (y[j] < 0) {
                            final_j = j;
                            break;
                        }
                        cols[k] = cols[hi];
                        cols[hi++] = j;
                    }
                }
            }
        }
    }
    const double mind = d[final_j]; /* the path's length: every column settled before
                                       the last round is at most this far */
    for (size_t k = 0; k < n_ready; k++) {
        const long j = cols[k];
        v[j] += d[j] - mind;
    }
    return (size_t)final_j;
}

double lsap_solve(lsap *l, size_t n, const double *cost, size_t *col)
{
    size_t n_free = reduce_columns(l, n, cost);
    for (int pass = 0; pass < 2 && n_free > 0; pass++)
        n_free = reduce_rows(l, n, cost, n_free);
    for (size_t f = 0; f < n_free; f++) {
        const long start = l->free_rows[f];
        size_t j = find_path(l, n, cost, start);
        for (;;) { /* flip the path back to the start row */
            const long i = l->pred[j];
            l->y[j] = i;
            const long prev = l->x[i];
            l->x[i] = (long)j;
            if (i == start) break;
            j = (size_t)prev;
        }
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        col[i] = (size_t)l->x[i];
        total += cost[i * n + col[i]];
    }
    return total;
}
