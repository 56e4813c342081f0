/* model/lsap.h: the linear sum assignment problem, exactly: given an n x n
 * cost matrix C, the permutation col minimising sum_i C[i][col[i]].
 *
 * DESIGN. The Hungarian method with row and column potentials and
 * shortest augmenting paths (Kuhn 1955, Munkres 1957; the O(n^3) form of
 * Jonker and Volgenant 1987 without their initialisation heuristics): rows
 * are added one at a time, each by a Dijkstra search over reduced costs
 * C[i][j] - u[i] - v[j] >= 0, so the result is an exact optimum, not an
 * approximation (unlike Sinkhorn). Ties are broken by the lowest column
 * index, so a cost matrix gives one answer on every run.
 * Used by flow matching (model/cfm.h) to couple a mini-batch by exact OT.
 *
 * Ownership and threads: an lsap owns its scratch, sized once by lsap_new
 * for up to max_n; lsap_solve does not allocate. One thread at a time per
 * lsap. */
#ifndef ODESERVE_MODEL_LSAP_H
#define ODESERVE_MODEL_LSAP_H

#include "core/err.h"

#include <stddef.h>

typedef struct lsap lsap;

err_code lsap_new(lsap **out, size_t max_n, err *e); /* ERR_NOMEM, ERR_INVALID (max_n 0) */
void lsap_free(lsap *l);                              /* NULL is a no-op */

/* cost: n x n row-major, finite (1 <= n <= max_n). col[i] (n values): the
 * column assigned to row i. Returns the optimal total cost. */
double lsap_solve(lsap *l, size_t n, const double *cost, size_t *col);

#endif
