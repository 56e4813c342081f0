/* model/grad_core.c: the gradient engine's counted buffers. See
 * grad_core.h. */
#include "model/grad_core.h"

#include <stdint.h>
#include <stdlib.h>

err_code grad_core_buf_reserve(grad_solver *s, struct grad_core_buf *b, size_t bytes, err *e)
{
    if (bytes <= b->bytes && b->p) return ERR_OK;
    size_t want = b->bytes > SIZE_MAX / 2 ? SIZE_MAX : 2 * b->bytes;
    if (want < bytes) want = bytes;
    if (want < 64) want = 64;
    void *p = realloc(b->p, want);
    if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient (%zu bytes)", want);
    s->mem_now += want - b->bytes;
    if (s->mem_now > s->mem_peak) s->mem_peak = s->mem_now;
    b->p = p;
    b->bytes = want;
    return ERR_OK;
}

void grad_core_buf_release(grad_solver *s, struct grad_core_buf *b)
{
    free(b->p);
    s->mem_now -= b->bytes;
    b->p = NULL;
    b->bytes = 0;
}
