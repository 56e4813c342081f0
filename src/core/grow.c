/* core/grow.c: see grow.h. */
#include "core/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int grow_rows(size_t *cap, size_t need, size_t n_arrays, void *const arrays[],
              const size_t row_bytes[])
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2) return -1;
        c *= 2;
    }
    int rc = 0;
    for (size_t i = 0; i < n_arrays; i++) {
        if (!row_bytes[i]) continue;
        if (c > SIZE_MAX / row_bytes[i]) return -1;
        void *p;
        memcpy(&p, arrays[i], sizeof p);
        void *q = realloc(p, c * row_bytes[i]);
        if (!q) {
            rc = -1;
            continue;
        }
        memcpy(arrays[i], &q, sizeof q);
    }
    if (rc == 0) *cap = c;
    return rc;
}
