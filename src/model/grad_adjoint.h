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
#include "num/driver.h"

/* The interpolating adjoint's record of the forward (after an implicit
 * forward, grad_adjoint.c): begin before the solve, record as the num
 * observer (ctx = the grad_solver) of every accepted step. */
void grad_adjoint_record_begin(grad_solver *s);
int grad_adjoint_record(const struct ode_step_record *rec, void *ctx);

/* y0bar (may be NULL) overwritten with dL/dy0, dtheta added to. */
err_code grad_adjoint_backward(grad_solver *s, double *y0bar, double *dtheta, err *e);

/* The interpolating adjoint's pieces, for adjoint_checkpointed
 * (grad_ckpt.c): [a, w] (D = N + P components, in s->aug, zeroed by begin)
 * solved backwards with h(t) read from the steps grad_adjoint_record
 * recorded, by the forward's method if explicit, else esdirk4. */
struct grad_adjoint_run {
    ode_solver *ode;
    int implicit;
    struct ode_options oo;
    size_t D;
};
err_code grad_adjoint_interp_begin(grad_solver *s, struct grad_adjoint_run *r, err *e);
/* [a, w] from t_hi down to t_lo < t_hi, within the recorded steps. */
err_code grad_adjoint_interp_solve(grad_solver *s, const struct grad_adjoint_run *r, double t_hi,
                                   double t_lo, err *e);

#endif
