/* model/grad_core.c: the gradient engine's counted buffers. See
 * grad_core.h. */
#include "model/grad_core.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Move b's bytes into a new 64-byte aligned block counted as `want` bytes
 * (>= b->bytes). By a copy, not realloc: num's eight-lane loops
 * (num/num_simd.h) on the sweep's rows (kbar, y0b, lam) then split no cache
 * line, where realloc's 16-byte alignment made most of those loads and
 * stores straddle two (docs/training.md, W2). */
static err_code buf_grow(grad_solver *s, struct grad_core_buf *b, size_t want, err *e)
{
    void *p = want && want <= SIZE_MAX - 63 ? aligned_alloc(64, (want + 63) / 64 * 64) : NULL;
    if (!p) return err_set(e, ERR_NOMEM, NULL, "out of memory for the gradient (%zu bytes)", want);
    if (b->p) memcpy(p, b->p, b->bytes);
    free(b->p);
    s->mem_now += want - b->bytes;
    if (s->mem_now > s->mem_peak) s->mem_peak = s->mem_now;
    b->p = p;
    b->bytes = want;
    return ERR_OK;
}

err_code grad_core_buf_reserve(grad_solver *s, struct grad_core_buf *b, size_t bytes, err *e)
{
    if (bytes <= b->bytes && b->p) return ERR_OK;
    size_t want = b->bytes > SIZE_MAX / 2 ? SIZE_MAX : 2 * b->bytes;
    if (want < bytes) want = bytes;
    if (want < 64) want = 64;
    return buf_grow(s, b, want, e);
}

err_code grad_core_buf_reserve_aligned(grad_solver *s, struct grad_core_buf *b, size_t bytes,
                                       err *e)
{
    return grad_core_buf_reserve_upto(s, b, bytes, SIZE_MAX, e);
}

err_code grad_core_buf_reserve_upto(grad_solver *s, struct grad_core_buf *b, size_t bytes,
                                    size_t cap, err *e)
{
    if (bytes <= b->bytes && b->p) return ERR_OK;
    size_t want = b->bytes > SIZE_MAX / 2 ? SIZE_MAX : 2 * b->bytes;
    if (want > cap) want = cap;
    if (want < bytes) want = bytes;
    return buf_grow(s, b, (want + 63) / 64 * 64, e);
}

void grad_core_buf_release(grad_solver *s, struct grad_core_buf *b)
{
    free(b->p);
    s->mem_now -= b->bytes;
    b->p = NULL;
    b->bytes = 0;
}

int grad_core_fwd_rhs(double t, const double *y, double *dydt, void *ctx)
{
    grad_solver *s = ctx;
    return s->g->eval(s->g->ctx, t, s->item0, s->n, y, dydt);
}

/* t nudged into the step being taken forward (grad.h, jac) */
int grad_core_fwd_jac(double t, const double *y, double *J, double *dfdt, void *ctx)
{
    grad_solver *s = ctx;
    return s->g->jac(s->g->ctx, nextafter(t, INFINITY), s->item0, s->n, y, J, dfdt);
}
