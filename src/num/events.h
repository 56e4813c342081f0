/* num/events.h (internal to num): locating the events of driver.h's struct
 * ode_event on the dense output of each accepted step. The driver calls
 * begin at the start of each sweep and step after each accepted step, with
 * the step recorded in s->dense.
 *
 * Ownership and threads: the workspace (struct ode_events) belongs to the
 * ode_solver (s->events), sized by ode_events_reserve; one thread at a time
 * per solver, as the solver. */
#ifndef ODESERVE_NUM_EVENTS_H
#define ODESERVE_NUM_EVENTS_H

#include "num/evolve.h"

/* Room for n events of dim values (grows only). */
err_code ode_events_reserve(ode_solver *s, size_t n, size_t dim, err *e);
void ode_events_free(ode_solver *s);

/* A sweep starts at (p->t0, p->y0) in direction dir. */
void ode_events_begin(ode_solver *s, double dir);

/* The step ev->t .. ev->t_new just accepted (in s->dense, s->y, s->y1):
 * report its events; *t_term receives the time of the first terminal one,
 * NAN if none. 0, or the error of the dense output or of on_event. */
err_code ode_events_step(ode_solver *s, const struct ode_evolve_state *ev, double *t_term);

#endif
