/* num/autoswitch.h (internal to num): the "auto" method (tableau.h's
 * rk_auto): dopri5 while the problem is not stiff, rodas4 while it is.
 *
 * Into rodas4: Hairer's stiffness test of dopri5 (Hairer-Norsett-Wanner I,
 * II.10; dopri5.f): after an accepted step, h lambda is estimated as
 *   |h| ||k_7 - k_6|| / ||y_{n+1} - Y_6||
 * in the error norm's weights (autoswitch.c: scale-invariant),
 * both stages taken at t_n + h (c_6 = c_7 = 1), so the quotient is a
 * difference quotient of f along a direction the step itself produced; it
 * costs two sums over stages already computed and no evaluation of f. When
 * it exceeds 3.0 the step was held at the stability boundary (near 3.3 on
 * the negative real axis) rather than by accuracy: a mode with h lambda
 * that large and a non-negligible amplitude would fail the error test.
 * dopri5.f uses 3.25; under our PI controller the estimate on stiff steps
 * hovers within +-0.1 of 3.25, so about half the steps fell short and the
 * count below kept being cleared (tests/check_num_stiff.c, auto_switches_back).
 * 15 such steps switch (dopri5.f's count), and as in dopri5.f 6 non-stiff
 * steps in a row clear the count.
 *
 * Back to dopri5: after each accepted rodas4 step, rho(J) at the step's
 * start (rodas4 forms J there anyway) is estimated from a few power
 * iterations on W J W^-1, W the same weights (dim^2 each, against rodas4's
 * dim^3 LU per step), the vector
 * kept from step to step so the estimate sharpens over a stiff stretch: the
 * Ritz values on the last two iterates' plane, which see a complex pair
 * that the power quotient alone swings around (implicit.c, ritz_rho).
 * When |h| rho <= 3.0 / 2 for 15 steps in a row, dopri5 could take rodas4's
 * steps with room to spare and it takes over. The hysteresis: the factor 2
 * (dopri5's accuracy-limited steps are often larger than rodas4's, which
 * would put it straight back on its boundary) and the 15-step counts both
 * ways, so a problem on the edge switches at most once per 15 steps.
 *
 * A switch happens at a step boundary: the step just accepted keeps its
 * method's dense output; the next one starts with k_1 = f(t, y) (dopri5's
 * FSAL stage, or a fresh evaluation), the new method's error controller
 * from scratch, and the step size the old method proposed. */
#ifndef ODESERVE_NUM_AUTOSWITCH_H
#define ODESERVE_NUM_AUTOSWITCH_H

#include "num/evolve.h"

/* Start of a sweep: dopri5, counters cleared. */
void ode_auto_start(ode_solver *s);

/* After an accepted step of size h (before the driver moves past it):
 * counts it, runs the test of the method that took it; 1 = switch before
 * the next step (ode_auto_switch after the driver has advanced). */
int ode_auto_after_step(ode_solver *s, double h);

/* Switch to the other method at t (k row 0 already holds f(t, y)). The first
 * switch to rodas4 allocates its workspace (a solve that never switches
 * allocates nothing more than dopri5's): ERR_NOMEM is the only failure. */
err_code ode_auto_switch(ode_solver *s, double t);

/* rho(J) estimate for the Jacobian of the last rodas4 step (implicit.c);
 * -1 when none is held. v: 3 cap values, the start vector (updated) and
 * the estimate's scratch. */
double ode_implicit_rho(const ode_solver *s, double *v, int iters);

#endif
