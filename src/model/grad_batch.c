/* model/grad_batch.c: see grad_batch.h. */
#include "model/grad_batch.h"

#include <stdio.h>

size_t grad_batch_items(size_t batch, grad_batch_mode mode)
{
    return mode != GRAD_BATCH_PER_ITEM ? batch : 1;
}

err_code grad_batch_run(size_t batch, grad_batch_mode mode, grad_batch_solve_fn solve, void *ctx,
                        err *e)
{
    const size_t per = grad_batch_items(batch, mode);
    for (size_t b0 = 0; b0 < batch; b0 += per) {
        err_code rc = solve(ctx, b0, per, e);
        if (!rc) continue;
        if (mode == GRAD_BATCH_PER_ITEM) {
            char f[40];
            snprintf(f, sizeof f, "[%zu]", b0);
            err_prefix_field(e, f);
            err_prefix_field(e, "batch");
        }
        return rc;
    }
    return ERR_OK;
}

void grad_batch_stats_add_forward(struct grad_stats *sum, const grad_solver *s)
{
    struct grad_stats st;
    grad_solver_stats(s, &st);
    sum->fwd_steps += st.fwd_steps;
    sum->fwd_rejected += st.fwd_rejected;
    sum->fwd_nfe += st.fwd_nfe;
    sum->bwd_steps += st.bwd_steps;
    sum->bwd_rejected += st.bwd_rejected;
    sum->bwd_nfe += st.bwd_nfe;
    if (st.tape_bytes > sum->tape_bytes) sum->tape_bytes = st.tape_bytes;
    sum->fwd_jac += st.fwd_jac;
    sum->fwd_lu += st.fwd_lu;
    sum->fwd_stiff_steps += st.fwd_stiff_steps;
    sum->bwd_jac += st.bwd_jac;
    sum->bwd_lu += st.bwd_lu;
}

void grad_batch_stats_add_backward(struct grad_stats *sum, const grad_solver *s)
{
    struct grad_stats st;
    grad_solver_stats(s, &st);
    sum->bwd_steps += st.bwd_steps;
    sum->bwd_rejected += st.bwd_rejected;
    sum->bwd_nfe += st.bwd_nfe;
    sum->bwd_jac += st.bwd_jac;
    sum->bwd_lu += st.bwd_lu;
    sum->bwd_kept += st.bwd_kept;
    sum->bwd_resolve_nfe += st.bwd_resolve_nfe;
    if (st.ckpt_n > sum->ckpt_n) sum->ckpt_n = st.ckpt_n;
    if (st.ckpt_every > sum->ckpt_every) sum->ckpt_every = st.ckpt_every;
}
