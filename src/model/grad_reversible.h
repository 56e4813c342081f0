/* model/grad_reversible.h (private to grad_*.c): the "reversible" gradient
 * method, reversible Heun with a backward pass that reconstructs every step
 * algebraically (grad_reversible.c has the design). grad_solve.c drives
 * it: forward instead of the num solve, backward once dL/dy(t_i) is in
 * s->ybt.
 *
 * Ownership and threads as grad_solver (grad_solve.h): its few state
 * vectors live in the solver (grad_core.h); one thread at a time. */
#ifndef ODESERVE_MODEL_GRAD_REVERSIBLE_H
#define ODESERVE_MODEL_GRAD_REVERSIBLE_H

#include "core/err.h"
#include "model/grad.h"

/* The fixed-step solve from s->t0, s->y0 to the observation times, y(t_i)
 * into s->yt (time-major). Needs o->ode.fixed_step or n_steps (ERR_INVALID,
 * field "n_steps", otherwise). */
err_code grad_reversible_forward(grad_solver *s, err *e);
/* y0bar (may be NULL) overwritten with dL/dy0, dtheta added to. */
err_code grad_reversible_backward(grad_solver *s, double *y0bar, double *dtheta, err *e);

#endif
