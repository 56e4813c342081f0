/* tests/lsap_ref.h: the Hungarian shortest-augmenting-path assignment
 * solver model/lsap.c used before LAPJV, kept as check_cfm's independent
 * exact reference. An lsap_ref owns its scratch (sized for max_n); one
 * thread at a time. */
#ifndef ODESERVE_TESTS_LSAP_REF_H
#define ODESERVE_TESTS_LSAP_REF_H

#include <stddef.h>

typedef struct lsap_ref lsap_ref;

lsap_ref *lsap_ref_new(size_t max_n); /* NULL: out of memory */
void lsap_ref_free(lsap_ref *l);      /* NULL is a no-op */
/* cost n x n row-major; col[i] the column of row i; returns the total. */
double lsap_ref_solve(lsap_ref *l, size_t n, const double *cost, size_t *col);

#endif
