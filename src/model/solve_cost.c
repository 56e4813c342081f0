/* model/solve_cost.c: see solve_cost.h. */
#include "model/solve_cost.h"

#include <math.h>

#include "num/tableau.h"

/* Weight of a new observation in the mean: about the last 4 solves count. */
#define COST_EWMA_WEIGHT 0.25
/* Tolerance the step factor is relative to (W1's rtol): 1 there. */
#define COST_RTOL_REF 1e-6
/* num's default rtol (ode_options_init), used when neither side sets one. */
#define COST_RTOL_DEFAULT 1e-3
/* Steps per unit time a fixed-step method is counted as, relative to an
 * adaptive one at the reference tolerance (the spiral model at rtol 1e-6
 * takes ~11 steps per unit time). */
#define COST_FIXED_STEPS_REF 10.0

void solve_cost_init(solve_cost *c)
{
    atomic_init(&c->sec_per_unit, 0.0);
}

/* Steps per unit of time, relative to an adaptive method at rtol 1e-6. */
static double step_factor(const model_solver *s)
{
    const struct rk_tableau *tab = rk_tableau_find(s->method[0] ? s->method : "dopri5");
    if (tab && !rk_tableau_adaptive(tab))
        return s->step > 0 ? 1.0 / (s->step * COST_FIXED_STEPS_REF) : 1.0;
    double rtol = s->rtol > 0 ? s->rtol : COST_RTOL_DEFAULT;
    return pow(COST_RTOL_REF / rtol, 0.2);
}

double solve_cost_units(size_t batch, double span, const model_solver *s)
{
    if (!(span >= 0) || !isfinite(span)) span = 0;
    return (double)(batch ? batch : 1) * (1.0 + span * step_factor(s));
}

double solve_cost_predict(const solve_cost *c, double units)
{
    return atomic_load_explicit(&c->sec_per_unit, memory_order_relaxed) * units;
}

void solve_cost_observe(solve_cost *c, double units, double seconds)
{
    if (!(units > 0) || !(seconds >= 0)) return;
    double rate = seconds / units;
    double old = atomic_load_explicit(&c->sec_per_unit, memory_order_relaxed);
    double next = old > 0 ? old + COST_EWMA_WEIGHT * (rate - old) : rate;
    atomic_store_explicit(&c->sec_per_unit, next, memory_order_relaxed);
}

void solve_cost_observe_wall(solve_cost *c, double units, double seconds)
{
    if (!(units > 0) || !(seconds >= 0)) return;
    double old = atomic_load_explicit(&c->sec_per_unit, memory_order_relaxed);
    double rate = seconds / units;
    if (!(old > 0) || rate <= old) {
        solve_cost_observe(c, units, seconds);
        return;
    }
    if (rate > SOLVE_COST_OUTLIER * old) rate = SOLVE_COST_OUTLIER * old;
    atomic_store_explicit(&c->sec_per_unit, old + SOLVE_COST_UP_WEIGHT * (rate - old),
                          memory_order_relaxed);
}

void solve_cost_at_least(solve_cost *c, double units, double seconds)
{
    if (!(units > 0) || !(seconds >= 0)) return;
    double rate = seconds / units;
    double old = atomic_load_explicit(&c->sec_per_unit, memory_order_relaxed);
    if (rate > old) atomic_store_explicit(&c->sec_per_unit, rate, memory_order_relaxed);
}
