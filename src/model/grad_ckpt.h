/* model/grad_ckpt.h (private to grad_*.c): adjoint_checkpointed, the
 * interpolating adjoint over checkpointed segments (grad_ckpt.c has the
 * design). grad_solve.c drives it: begin before the forward solve, record
 * as the num observer of every accepted step, backward once dL/dy(t_i) is
 * in s->ybt.
 *
 * Ownership and threads as grad_solver (grad_solve.h): the checkpoints live
 * in the solver (grad_core.h); one thread at a time. */
#ifndef ODESERVE_MODEL_GRAD_CKPT_H
#define ODESERVE_MODEL_GRAD_CKPT_H

#include "core/err.h"
#include "model/grad.h"
#include "num/driver.h"

/* The first checkpoint (t0, y0); ERR_NOMEM. */
err_code grad_ckpt_begin(grad_solver *s, err *e);
/* The num observer (ctx = the grad_solver): keep the step's start when it
 * is a checkpoint. */
int grad_ckpt_record(const struct ode_step_record *rec, void *ctx);
/* y0bar (may be NULL) overwritten with dL/dy0, dtheta added to. */
err_code grad_ckpt_backward(grad_solver *s, double *y0bar, double *dtheta, err *e);

#endif
