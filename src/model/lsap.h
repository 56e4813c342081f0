/* model/lsap.h: the linear sum assignment problem, exactly: given an n x n
 * cost matrix C, the permutation col minimising sum_i C[i][col[i]].
 *
 * DESIGN. Jonker and Volgenant's LAPJV (1987): column reduction with
 * reduction transfer, augmenting row reduction, then shortest augmenting
 * paths (Dijkstra over reduced costs c[i][j] - v[j] >= 0) for the rows
 * still free; lsap.c says why the result is an exact optimum, not an
 * approximation (unlike Sinkhorn or an auction without its final epsilon),
 * and how it terminates on doubles. A cost matrix gives one answer on
 * every run (no randomness; ties broken by scan order).
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
