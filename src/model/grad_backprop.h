/* model/grad_backprop.h (private to grad_*.c): discretise-then-optimise,
 * the reverse sweep through the steps the forward solve recorded
 * (grad_backprop.c has the design). grad_solve.c drives it: reserve and
 * begin before the forward solve, observe as the num observer of every
 * accepted step, finish after it, backward once dL/dy(t_i) is in s->ybt.
 *
 * Ownership and threads as grad_solver (grad_solve.h): the tape and the
 * sweep's buffers live in the solver (grad_core.h); one thread at a time. */
#ifndef ODESERVE_MODEL_GRAD_BACKPROP_H
#define ODESERVE_MODEL_GRAD_BACKPROP_H

#include "core/err.h"
#include "model/grad.h"
#include "num/driver.h"

/* The observation records of the forward solve (n_t of them). */
err_code grad_backprop_reserve(grad_solver *s, err *e);
/* An empty tape; the observations at t0 answered by y0. */
void grad_backprop_begin(grad_solver *s);
/* The num observer (ctx = the grad_solver): record one accepted step. */
int grad_backprop_observe(const struct ode_step_record *rec, void *ctx);
/* The forward's right-hand side (ctx = the grad_solver) while begin has
 * set s->keeping: the field's eval, keeping what it leaves for the VJP in
 * a slot of s->act (observe keeps the slots of the accepted stages). */
int grad_backprop_fwd_rhs(double t, const double *y, double *dydt, void *ctx);
/* After the forward solve: the last step's end, the tape's size. */
err_code grad_backprop_finish(grad_solver *s, err *e);
/* The reverse sweep: y0bar (may be NULL) overwritten, dtheta added to. */
err_code grad_backprop_backward(grad_solver *s, double *y0bar, double *dtheta, err *e);

#endif
