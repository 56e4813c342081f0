/* model/grad_adjoint.h (private to grad_*.c): the continuous adjoint's
 * backward solves (grad_adjoint.c has the design), run by
 * grad_solver_backward after a forward solve that kept y(t_i) in s->yt and
 * with dL/dy(t_i) in s->ybt.
 *
 * Ownership and threads as grad_solver (grad_solve.h): its buffers live in
 * the solver (grad_core.h); one thread at a time. */
#ifndef ODESERVE_MODEL_GRAD_ADJOINT_H
#define ODESERVE_MODEL_GRAD_ADJOINT_H

#include "core/err.h"
#include "model/grad.h"

/* The interpolating adjoint's record of the forward (after an implicit
 * forward, grad_adjoint.c): begin before the solve, record as the num
 * observer (ctx = the grad_solver) of every accepted step. */
void grad_adjoint_record_begin(grad_solver *s);
int grad_adjoint_record(const struct ode_step_record *rec, void *ctx);

/* y0bar (may be NULL) overwritten with dL/dy0, dtheta added to. */
err_code grad_adjoint_backward(grad_solver *s, double *y0bar, double *dtheta, err *e);

#endif
