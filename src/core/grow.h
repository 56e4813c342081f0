/* core/grow.h: growing a set of parallel arrays, each row n values wide, to
 * hold at least `need` rows. Used where rows arrive one at a time and their
 * count is unknown in advance (events found during a solve).
 *
 * grow_rows takes the addresses of the caller's array pointers (double **,
 * size_t ** ...: any object pointer, read and written as bytes so that no
 * pointer is accessed through another type) and the bytes of one row of
 * each. On failure every array keeps its contents and *cap is unchanged
 * (arrays already enlarged stay valid); the caller owns and frees them.
 * Stateless and thread-safe for distinct arrays. */
#ifndef ODESERVE_CORE_GROW_H
#define ODESERVE_CORE_GROW_H

#include <stddef.h>

/* 0 on success (*cap >= need), -1 when out of memory. Doubles the capacity
 * (at least 16 rows). */
int grow_rows(size_t *cap, size_t need, size_t n_arrays, void *const arrays[],
              const size_t row_bytes[]);

#endif
