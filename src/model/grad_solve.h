/* model/grad_solve.h: the gradient of a loss on the solution of
 * dy/dt = g_theta(t, y) at observation times, with respect to theta and
 * y(t0): the engine under neural ODE and neural CDE training (grad_ode.h,
 * grad_cde.h), for any batched vector field that has a VJP.
 *
 * Four methods (docs/training.md has the maths; the two below, and
 * GRAD_ADJOINT_CKPT, the adjoint against re-solved checkpointed segments,
 * grad_ckpt.c, and GRAD_REVERSIBLE, reversible Heun with a reconstructing
 * backward pass, grad_reversible.c):
 *   GRAD_ADJOINT   optimise-then-discretise, Chen et al. 2018, the
 *                  semantics of torchdiffeq's odeint_adjoint. The forward
 *                  solve keeps only y(t_i). Backward, from the last
 *                  observation time to t0, one solve per interval
 *                  [t_{i-1}, t_i] of the augmented system
 *                      dh/dt = g(t, h),  da/dt = -a^T dg/dh,  dw/dt = -a^T dg/dtheta
 *                  with the same method; at each t_i, h is reset to the
 *                  stored forward y(t_i) and dL/dy(t_i) is added to a (a
 *                  jump). Memory: O(n_t x state), never O(steps). After an
 *                  implicit forward (rodas4, esdirk4, auto that switched)
 *                  h(t) comes from the forward's recorded steps instead and
 *                  [a, w] is solved with esdirk4 (grad_adjoint.c): memory
 *                  O(forward steps x state) then. Backprop refuses the
 *                  implicit methods (ERR_INVALID, field "gradient").
 *   GRAD_BACKPROP  discretise-then-optimise: the exact gradient of the
 *                  numerical solution. The forward solve records every
 *                  accepted step (y_n and the stage derivatives k_i, via
 *                  the num observer); the reverse sweep runs each step's
 *                  Runge-Kutta map backwards (a_ij, b_i, and the dense
 *                  output weights b_i(theta) of the observation times that
 *                  fall inside a step) with VJPs of g at the recomputed
 *                  stage arguments. Memory: O(steps x stages x state).
 *                  The step sizes (error control, initial step) are treated
 *                  as constants, as every discretise-then-optimise library
 *                  does: the gradient is that of the map y0 -> y(t_i) for
 *                  the step sequence actually taken.
 *
 * Batches. The n items of one call are solved as ONE system (shared steps,
 * num/driver.h): every stage evaluates g on the whole batch (one GEMM per
 * layer), and the VJPs are batched likewise. The error norm of the forward
 * solve is the RMS over the whole batch (torchdiffeq's, on a batch tensor)
 * or, with per_item_norm, the max over items of each item's RMS (num's
 * groups). Per-trajectory training is n = 1 per call (item0 says which).
 *
 * Observation times: t[0 .. n_t) shared by the n items, sorted
 * non-decreasing (duplicates allowed: their losses add), all >= t0; a time
 * equal to t0 observes y0 itself.
 *
 * Ownership and threads: a grad_solver owns all its memory; one thread at
 * a time. The field and its ctx are borrowed from forward to backward.
 * Allocations only grow (amortised doubling); a stream of calls of one
 * shape allocates nothing after the first few. Every allocation of the
 * engine goes through a byte counter (grad_solver_mem); the num solver's
 * own buffers are sized by the state dimension and the number of output
 * and jump times (num/driver.h), never by the number of steps. */
#ifndef ODESERVE_MODEL_GRAD_SOLVE_H
#define ODESERVE_MODEL_GRAD_SOLVE_H

#include "core/err.h"
#include "model/grad.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>

/* The methods, struct grad_field, struct grad_solve_options, struct
 * grad_stats and the grad_solver handle: model/grad.h. */

err_code grad_solver_new(grad_solver **out, err *e);
void grad_solver_free(grad_solver *s); /* NULL is a no-op */

/* Forward: y(t_i) of the n items into y_out (n x n_t x dim: y_out[(b*n_t +
 * i)*dim + k]); y0 is n x dim. Keeps what backward needs (the adjoint: the
 * y(t_i); backprop: the tape). o and g must stay valid until backward.
 * Errors: ERR_INVALID (field "t[i]", "t0", "y0", ...), the solver's
 * ERR_SOLVER (message with the time reached), ERR_NOMEM, the abort hook's. */
err_code grad_solver_forward(grad_solver *s, const struct grad_field *g,
                             const struct grad_solve_options *o, size_t item0, size_t n, double t0,
                             const double *y0, const double *t, size_t n_t, double *y_out, err *e);

/* Backward after a successful forward: ybar = dL/dy(t_i) in the layout of
 * y_out. y0bar (n x dim, may be NULL) receives dL/dy0 (overwritten);
 * dtheta (g->n_params) accumulates dL/dtheta (+=). */
err_code grad_solver_backward(grad_solver *s, const double *ybar, double *y0bar, double *dtheta,
                              err *e);

/* Counters of the latest forward/backward. */
void grad_solver_stats(const grad_solver *s, struct grad_stats *st);

/* Bytes the engine holds now and the most it ever held. */
void grad_solver_mem(const grad_solver *s, size_t *now, size_t *peak);
/* Reset the peak to the current holding (e.g. between measurements). */
void grad_solver_mem_peak_reset(grad_solver *s);

#endif
