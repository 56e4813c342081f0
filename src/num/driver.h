/* num/driver.h: solve an initial value problem y' = f(t, y), y(t0) = y0, and
 * report y at any set of output times. The public face of the num layer.
 *
 * The integrator is split as in GSL's odeiv2: step.c (one trial step of the
 * generic explicit Runge-Kutta kernel + error estimate; implicit.c for the
 * Rosenbrock and ESDIRK tables, which need ode_problem.jac), control.c (error
 * norm, accept/reject, next h), evolve.c (one accepted step, with retries),
 * dense.c (the interpolant of the last step), driver.c (this loop). Methods
 * are data (tableau.h).
 *
 * Output times: any order, duplicates allowed, on either side of t0. Times
 * >= t0 are reached by one forward integration, times < t0 by one backward
 * integration from (t0, y0); states come back in the caller's order. Output
 * times never shorten a step: each is answered from the dense output of the
 * step that covers it (a time equal to a step end gets that step's y_{n+1}),
 * so the work does not grow with the number of output times. The forward
 * span ends at the largest output time, the backward one at the smallest.
 *
 * Jump times (discontinuities of f in t, e.g. the knots of a neural CDE's
 * piecewise interpolation): a step never crosses one; it ends exactly there,
 * and the next step starts afresh (k_1 is re-evaluated, no FSAL reuse). Stages
 * of the step that ends at a jump t_j that fall on t_j are evaluated at
 * nextafter(t_j, t_n), and the first stage after it at nextafter(t_j, beyond),
 * so f sees the one-sided limits it needs (the scheme torchdiffeq uses for
 * its jump_t). Jumps outside the integrated spans are ignored.
 *
 * Stop times (points where f is continuous but not smooth, e.g. the knots
 * of a C1 or C2 cubic spline, where its second or third derivative jumps):
 * a step never crosses one either, but the next step goes on as after any
 * accepted step: k_1 is the last stage (FSAL), evaluated at the stop itself,
 * which is right because f has one value there; the error controller keeps
 * its memory, and the next step size is its proposal from the step that
 * ended at the stop. After a jump the next step instead resumes with the
 * size the clip cut short. A time that is both a jump and a stop is a jump.
 *
 * Batches. Shared-step mode: pass the batch as one system of dim = groups *
 * n and set options.groups; the error norm is the maximum over the groups of
 * each group's RMS norm, so each trajectory meets the tolerance, and f can
 * evaluate each stage of the whole batch at once (one GEMM). Per-trajectory
 * mode is a loop over trajectories calling ode_solve once each (one solver
 * object reused: no allocation after the first); that loop belongs to the
 * caller, who also decides what one failed trajectory means for the rest.
 *
 * Events (events.c): roots of linear functionals g(t, y) = w . y - value,
 * located on the dense output of each accepted step; see struct ode_event.
 *
 * Ownership and threads: an ode_solver owns its workspaces; use one per
 * thread. Problems, options and outputs are borrowed for the call only.
 * Tables are const and shared. The hot loop never allocates: ode_solver_new
 * sizes the workspaces for `dim`; a solve with a larger dim, or more output
 * or jump times than any before, grows them once at entry. */
#ifndef ODESERVE_NUM_DRIVER_H
#define ODESERVE_NUM_DRIVER_H

#include "core/err.h"
#include "num/dense.h"
#include "num/tableau.h"

#include <stddef.h>

typedef struct ode_solver ode_solver;

/* The vector field, ode_rhs_fn (dense.h):
 *   int f(double t, const double *y, double *dydt, void *ctx)
 * writes f(t, y) into dydt (dim values) and returns 0 on success, > 0 for a
 * recoverable failure (the solver shrinks the step and retries; non-finite
 * output is treated the same way), < 0 for a fatal one (the solve stops at
 * once). CVODE's RHS contract. */

/* The Jacobian of f for the implicit methods (rodas4, esdirk4):
 *   int jac(double t, const double *y, double *J, double *dfdt, void *ctx)
 * writes df/dy at (t, y) into J, dim x dim row-major (J[i*dim + j] =
 * df_i/dy_j), and, when dfdt is not NULL, df/dt into dfdt (dim values; the
 * Rosenbrock method asks for it unless the problem is autonomous). Returns
 * as f: 0, > 0 recoverable, < 0 fatal. It is asked at a step's start t: a
 * step that starts at a jump time lies after it in the sweep's direction,
 * and a jac whose values differ between the jump's sides must give that
 * side's. A problem without one gets a finite-difference Jacobian (dim + 1
 * evaluations of f, taken where the step's k_1 was: just past a jump): a
 * fallback for tests and small problems; the model layer gives the
 * analytic one. */
typedef int (*ode_jac_fn)(double t, const double *y, double *J, double *dfdt, void *ctx);

/* Polled before every step attempt: 0 = go on; otherwise an err_code
 * (ERR_ABORTED, ERR_DEADLINE, ...) with which the solve stops. */
typedef int (*ode_abort_fn)(void *ctx);

/* One accepted step, as the observer sees it (all pointers valid only during
 * the call). With the tableau this is everything a reverse sweep needs:
 * y1 = y0 + h sum_i b_i k_i, k_i = f(t + c_i h, y0 + h sum_j a_ij k_j).
 * For an explicit table, k is the solver's own array, and f wrote each row
 * in place (its dydt argument was the row: the latest call of f with that
 * dydt is the one whose value the row holds; a reverse sweep that kept what
 * each call left, model/grad_backprop.c, finds a stage's call so), except
 * k_1 when fresh_start is 0: a copy of the previous step's last stage (FSAL).
 * The stage arguments were formed by rk_stage_arg (step.h).
 * For an implicit table (rk_tableau_implicit) the rows of k are its
 * kernel's (implicit.h): y1 and the dense output follow from them the same
 * way, the stage relation above does not hold. */
struct ode_step_record {
    const struct rk_tableau *tab;
    size_t dim;
    double t, h;      /* the step goes from t to t + h (h < 0 backward) */
    const double *y0; /* state at t */
    const double *y1; /* state at t + h */
    const double *k;  /* n_k x dim, row-major: the stage derivatives k_i */
    int n_k;          /* tab->stages, + tab->dense_stages when the dense stages were computed */
    int fresh_start;  /* k_1 was evaluated afresh (first step of a span, or after a jump) */
    int ends_at_jump; /* t + h is a jump time: stages at t + h were taken just before it */
};

/* Called after every accepted step (after the outputs it covers are filled).
 * Return 0 to go on, or an err_code (e.g. ERR_NOMEM) to stop the solve. */
typedef int (*ode_observer_fn)(const struct ode_step_record *rec, void *ctx);

enum ode_controller {
    ODE_CONTROL_PI = 0, /* default: Hairer's DOPRI5 PI controller (Gustafsson) */
    ODE_CONTROL_I = 1,  /* classical: h *= safety * err^(-1/(q+1)); SciPy's choice */
};

/* An event: a root of g(t, y) = w . y - value in the integrated span.
 *
 * Detection: after each accepted step, g is sampled at the step's start, at
 * ODE_EVENT_SAMPLES interior points of the dense output (theta = j / (S+1))
 * and at its end. A sign change between two neighbouring samples is an
 * event, so a step that jumps over several roots finds each pair that at
 * least one sample separates: two roots closer than h / (S+1) to each other
 * may both be missed (g touches zero and turns back between two samples, as
 * a tangency does; SciPy looks at the step's ends only). Each root is then
 * found by the Illinois method on the interpolant, to a bracket of a few
 * ulps of t: the event time is exact for the interpolant, whose own error is
 * that of the solve (rtol, atol). The reported time is the bracket's end on
 * the far side of the crossing (g there already has its new sign, or is 0).
 *
 * Zeros: a zero of g at t0 is not an event; the sign before a crossing is
 * the last non-zero one, so the direction of the first crossing is judged
 * from the first non-zero sign after t0 (as SciPy's solve_ivp). A sample
 * where g is exactly 0 and after which g changes sign is the event's time
 * (the root is not searched); g that returns to its former sign after a
 * zero (a touch) is no event, nor is a zero at the end of the span.
 *
 * Several events in one step are reported in integration order (by time;
 * ties by event index). A terminal event ends its sweep at the event time:
 * outputs beyond it (in that direction) are left NAN in y_out, later events
 * are not reported, and ode_stats.t_stop_fwd / t_stop_bwd say where. The
 * two sweeps (times after t0, times before it) stop independently. Events
 * need options.groups = 1 (a shared-step batch would stop every
 * trajectory): the caller solves such batches per trajectory. */
#define ODE_EVENT_SAMPLES 4
enum ode_event_direction { ODE_EVENT_BOTH = 0, ODE_EVENT_RISING = 1, ODE_EVENT_FALLING = -1 };
struct ode_event {
    const double *w; /* dim weights */
    double value;
    int direction; /* enum ode_event_direction: the sign of dg/dt (in t, not in the sweep's order)
                    */
    int terminal;  /* 1: stop the sweep there */
};

/* Called for each event found, in each sweep's order (y: dim values, valid
 * during the call). Return 0 to go on, or an err_code to stop the solve. */
typedef int (*ode_event_fn)(size_t which, double t, const double *y, void *ctx);

/* Options. Fill with ode_options_init, then change what you need. */
struct ode_options {
    double rtol;                    /* relative tolerance (1e-3; raised to 100 eps if smaller) */
    double atol;                    /* absolute tolerance (1e-6) */
    const double *rtol_v, *atol_v;  /* per-component tolerances (NULL = use the scalar) */
    size_t rtol_len, atol_len;      /* length dim, or dim/groups (applied to each group) */
    enum ode_controller controller; /* ODE_CONTROL_PI */
    double safety;                  /* 0.9 */
    double min_factor;              /* 0.2: smallest factor h may shrink by in one step */
    double max_factor;              /* 10: largest factor h may grow by in one step */
    double pi_beta;                 /* 0.04: PI: weight of the previous error (0 = I on accept) */
    double first_step;              /* 0 = Hairer's automatic initial step */
    double min_step;                /* 0: fail ("step size underflow") below this |h| */
    double max_step;                /* 0 = unbounded */
    long max_steps;                 /* 100000: step attempts (accepted + rejected) per solve */
    double fixed_step;              /* > 0: fixed step of this size, no error control */
    long n_steps;                   /* > 0: fixed step |span| / n_steps per direction */
    size_t groups;                  /* 1: independent trajectories in the state (see above) */
    ode_abort_fn abort;             /* NULL, or polled before every step attempt */
    void *abort_ctx;
    ode_observer_fn observer; /* NULL, or called after every accepted step */
    void *observer_ctx;
};

void ode_options_init(struct ode_options *o);

/* The problem. */
struct ode_problem {
    ode_rhs_fn f;
    void *ctx; /* passed to f */
    size_t dim;
    double t0;
    const double *y0;    /* dim values */
    const double *t_out; /* n_out output times: any order, duplicates, either side */
    size_t n_out;
    const double *jump_times; /* n_jumps times where a step must end; any order; may be NULL */
    size_t n_jumps;
    const double *stop_times; /* n_stops times where a step must end, f continuous (see above) */
    size_t n_stops;
    ode_jac_fn jac; /* NULL, or df/dy for the implicit methods (see ode_jac_fn); ctx as f */
    /* 0: jac writes the dense dim x dim J. > 0: J is block diagonal (or
     * taken to be): jac writes jac_blocks blocks of jac_bsize x jac_bsize
     * (each row-major, one after another) down the diagonal from component
     * 0; the components past jac_blocks * jac_bsize have zero rows and
     * columns (the iteration matrix is I there). Each block is factored on
     * its own: a shared-step batch costs batch x dim^3, not (batch x dim)^3,
     * and the training adjoint's parameter components cost nothing. Needs
     * jac (no finite differences); dfdt stays dim values. */
    size_t jac_blocks, jac_bsize;
    /* 1: jac is an approximation of df/dy (a training adjoint's, which drops
     * a coupling block). esdirk4's simplified Newton converges to the exact
     * stage values with any iteration matrix close enough; rodas4's order
     * needs the exact J, so rodas4 and auto refuse such a problem
     * (ERR_INVALID, field "method"). */
    int jac_inexact;
    int autonomous; /* 1: f does not depend on t (no df/dt needed) */
    /* 0 (all), or n: f reads y[0, n) only; the components past n are
     * quadratures, integrated but never an argument of f (a training
     * adjoint's parameter cotangents). The explicit methods then form the
     * stage arguments (and the initial step's probe) of the first n
     * components alone; what f sees past n is unspecified. y_{n+1}, the
     * error norm and the dense output cover every component. */
    size_t n_read;
    const struct ode_event *events; /* n_events events (see struct ode_event); may be NULL */
    size_t n_events;
    ode_event_fn on_event; /* NULL, or called for each event found; ctx event_ctx */
    void *event_ctx;
};

/* Statistics of one solve (both directions together). */
struct ode_stats {
    long nfe;           /* evaluations of f (initial step selection and dense stages included) */
    long n_accepted;    /* accepted steps */
    long n_rejected;    /* rejected step attempts (error too large or f failed recoverably) */
    double t_fail;      /* where the solve failed (the last accepted time), NAN on success */
    double h_last;      /* size of the last accepted step, 0 if none */
    long n_jac;         /* Jacobian evaluations (implicit methods) */
    long n_lu;          /* LU factorisations of the iteration matrix (implicit methods) */
    long auto_steps[2]; /* "auto": accepted steps taken by dopri5 [0] and by rodas4 [1] */
    long n_switches;    /* "auto": switches between them */
    double t_stop_fwd, t_stop_bwd; /* where a terminal event ended a sweep, NAN if none */
    long n_newton; /* Newton iterations (the implicit symplectic methods: num/symplectic.h) */
};

/* "auto" (rk_auto): each sweep starts with dopri5 and switches to rodas4
 * when dopri5's stiffness test fires, and back when rodas4's steps would be
 * stable for dopri5 (the rule and its hysteresis: autoswitch.h and
 * docs/solvers.md). Switches happen between accepted steps: each step's
 * dense output is its own method's. Needs adaptive stepping and a Jacobian
 * as rodas4 does (else finite differences). */

/* A solver for `tab`, with workspaces sized for dim. NULL (and e filled) on
 * a bad argument or out of memory. */
ode_solver *ode_solver_new(const struct rk_tableau *tab, size_t dim, err *e);
void ode_solver_free(ode_solver *s);
const struct rk_tableau *ode_solver_tableau(const ode_solver *s);

/* Solve `p` with options `o` (NULL = defaults); y_out receives n_out x dim
 * values, row i for t_out[i]; stats may be NULL. Returns 0, ERR_INVALID on a
 * bad problem or option (field named), ERR_SOLVER ("step size underflow at
 * t=...", "max_steps (N) reached at t=...", "non-finite state at t=...",
 * "vector field failed at t=..."; the implicit methods' own: docs/solvers.md,
 * "Statistics and failures"), ERR_NOMEM, or the code an abort hook or
 * observer returned. On failure y_out is unspecified and stats->t_fail says
 * where. If f records its own error in the same err first, that one wins
 * and its code is returned. */
err_code ode_solve(ode_solver *s, const struct ode_problem *p, const struct ode_options *o,
                   double *y_out, struct ode_stats *stats, err *e);

#endif
