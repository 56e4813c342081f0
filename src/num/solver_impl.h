/* num/solver_impl.h (private to num): the body of ode_solver, shared by
 * evolve.c and driver.c. Nothing outside src/num includes this. Ownership
 * and threads as ode_solver (driver.h): it owns these buffers; one thread
 * at a time. */
#ifndef ODESERVE_NUM_SOLVER_IMPL_H
#define ODESERVE_NUM_SOLVER_IMPL_H

#include "num/control.h"
#include "num/dense.h"
#include "num/driver.h"

struct ode_tpair {
    double t;   /* an output time */
    size_t idx; /* its row in the caller's order */
};

struct ode_solver {
    const struct rk_tableau *tab;
    size_t cap;             /* dim the state buffers hold */
    double *y, *y1, *ytmp;  /* cap each: state, trial state, stage argument */
    double *k;              /* (stages + dense_stages) x cap: stage derivatives */
    ode_dense *dense;       /* interpolant of the last accepted step */
    struct ode_implicit *imp; /* implicit methods' workspace (implicit.h), else NULL */
    struct ode_tpair *outs; /* output times sorted for the sweep */
    size_t outs_cap;
    double *jumps; /* jump times sorted for the sweep */
    size_t jumps_cap;

    /* the current solve (borrowed) */
    const struct ode_problem *p;
    const struct ode_options *o;
    size_t dim;
    struct ode_control ctl;
    struct ode_stats *st;
    err *e;
    long attempts; /* step attempts so far, against max_steps */
    double t_k1;   /* where k_1 of the coming step was evaluated: its start, or just past it
                      (nextafter, onward) when it starts at a jump */

    /* "auto" (autoswitch.h); s->tab is the method running now */
    int is_auto;
    int stiff_hits, calm_hits; /* the stiffness test's counters */
    double *pow_v;             /* 3 pow_cap: the power vector (kept), 2 scratch */
    size_t pow_cap;
    int pow_fresh; /* pow_v not yet set in this sweep */
    struct ode_events *events; /* events.h's workspace, NULL until a problem has events */
};

#endif
