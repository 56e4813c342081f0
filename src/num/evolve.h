/* num/evolve.h (internal to num): one accepted step, with retries. GSL
 * odeiv2's evolve.c.
 *
 * From (t, y, k_1 = f(t, y)) it tries steps toward t_stop until one is
 * accepted: the step is clipped so that it ends exactly at t_stop when it
 * would reach or pass it (also when it would stop a hair short: the ulp
 * guard), rejected steps shrink h by the controller's factor, and a
 * recoverable failure of f (> 0 or non-finite) shrinks h by 4, a Newton
 * failure or a singular iteration matrix of an implicit method (implicit.h)
 * by 2. It fails when
 * |h| falls below max(min_step, 10 ulp(t)), after max_steps attempts, or
 * when the abort hook says so.
 *
 * Ownership and threads: works in the ode_solver's own buffers (no
 * allocation); the state struct is the driver's, on its stack. One thread
 * at a time per solver (driver.h). */
#ifndef ODESERVE_NUM_EVOLVE_H
#define ODESERVE_NUM_EVOLVE_H

#include "num/solver_impl.h"

struct ode_evolve_state {
    double t;         /* current time */
    double h;         /* proposal for the next step (signed) */
    double dir;       /* +1 forward, -1 backward */
    double t_stop;    /* the step must not pass this */
    int stop_is_jump; /* t_stop is a jump time (one-sided stage times) */
    /* fixed-step mode: t advances as t_base + n_since * h, free of drift */
    int fixed;
    double t_base;
    long n_since;
    /* result of the last call */
    double t_new;
    double h_used;
    int hit_stop; /* the step ended at t_stop */
};

/* Hairer's initial step (HNW I, II.4, as in DOPRI5 and SciPy): the signed h
 * for the state in s->y with k_1 in row 0 of s->k. Uses one evaluation of
 * f. Fails only when f fails fatally. */
err_code ode_evolve_initial_step(ode_solver *s, double t0, double dir, double *h);

/* One accepted step; on success s->y1 and s->k hold it and ev->t_new,
 * ev->h_used, ev->hit_stop describe it, ev->h is the next proposal. */
err_code ode_evolve_apply(ode_solver *s, struct ode_evolve_state *ev);

/* Record a failure at time t: fills s->st->t_fail, sets s->e, returns the code
 * (or the code already recorded in s->e: the first error wins). */
err_code ode_evolve_fail(ode_solver *s, double t, err_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The failure message for f's nonzero code rc at time t. */
err_code ode_evolve_rhs_fail(ode_solver *s, double t, int rc, const char *where);

#endif
