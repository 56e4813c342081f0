/* model/solve_cost.h: a cheap guess of how long a trajectory solve will
 * take, learned per model version, so that the server can answer
 * predictably small solves on the thread that read the request (no hand-off
 * to the evaluation pool; http/trajectory.c) and send the rest to the pool
 * at once.
 *
 * Work is counted in "units": per trajectory, one unit of setup plus the
 * time span the solver must cover, scaled by how many steps per unit of
 * time the tolerance asks for (an order-5 adaptive method takes about
 * rtol^(-1/5) steps per unit time: Hairer, Norsett & Wanner, Solving ODEs
 * I, II.4; a fixed-step method span/step). The model's own cost per unit
 * (network size, stiffness of its dynamics) is what solve_cost learns from
 * the solves it serves: an exponentially weighted mean of seconds per unit
 * over completed solves, raised at once to a lower bound when a solve is
 * stopped early (an inline attempt that ran out of its budget), so the next
 * request like it goes straight to the pool. The guess is only a hint: an
 * inline attempt is always bounded by its time budget, whatever the guess.
 *
 * Thread-safe: a solve_cost is shared by every thread serving the model;
 * updates are relaxed atomic stores (a lost update costs nothing but a
 * slightly older guess). No allocation; zero-initialise (or
 * solve_cost_init) before use. */
#ifndef ODESERVE_MODEL_SOLVE_COST_H
#define ODESERVE_MODEL_SOLVE_COST_H

#include <stdatomic.h>
#include <stddef.h>

#include "model/model_def.h"

typedef struct solve_cost {
    _Atomic double sec_per_unit; /* learned seconds per work unit; 0 = nothing learned yet */
} solve_cost;

void solve_cost_init(solve_cost *c);

/* Work units of a solve: `batch` trajectories covering `span` units of
 * time (the sum over both directions from t0), with the effective solver
 * settings `s` (the model's defaults merged with the request's overrides;
 * unset rtol means num's default 1e-3). Always > 0. */
double solve_cost_units(size_t batch, double span, const model_solver *s);

/* Predicted seconds for `units`; 0 when nothing has been learned yet. */
double solve_cost_predict(const solve_cost *c, double units);

/* A solve of `units` completed in `seconds`: fold it into the mean. */
void solve_cost_observe(solve_cost *c, double units, double seconds);

/* A solve of `units` completed in `seconds` of wall-clock time on a thread
 * that may have been preempted meanwhile. Such times err one way only (a
 * preemption adds, nothing subtracts), so the guess follows their low end:
 * a time under the guess moves it as solve_cost_observe does, one above it
 * moves it by SOLVE_COST_UP_WEIGHT of the difference and counts at most
 * SOLVE_COST_OUTLIER times the guess (up at most 1/8 per solve). Why: under
 * load a thread is preempted in the middle of a solve now and then, for a
 * time slice or more, and that wait is no property of the request; folded
 * in whole, such solves kept the mean above the inline threshold and sent
 * the next requests through the pool's two hand-offs (docs/benchmarks.md,
 * "The inline guess under load"). A solve that really costs far more is
 * stopped at its inline budget, which raises the guess at once
 * (solve_cost_at_least). */
#define SOLVE_COST_OUTLIER 2.0
#define SOLVE_COST_UP_WEIGHT 0.125
void solve_cost_observe_wall(solve_cost *c, double units, double seconds);

/* A solve of `units` was stopped after `seconds` without finishing: its
 * cost is at least that; the guess for it rises to at least that at once. */
void solve_cost_at_least(solve_cost *c, double units, double seconds);

#endif
