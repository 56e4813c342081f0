/* model/grad_solve_impl.h (private to grad_solve*.c): the body of
 * grad_solver, shared by the forward (grad_solve.c), the reverse sweep
 * (grad_backprop.c) and the adjoint (grad_adjoint.c). Ownership and threads
 * as grad_solver (grad_solve.h): it owns these buffers; one thread at a
 * time. */
#ifndef ODESERVE_MODEL_GRAD_SOLVE_IMPL_H
#define ODESERVE_MODEL_GRAD_SOLVE_IMPL_H

#include "model/grad_solve.h"

/* A growable buffer whose bytes are counted in the solver. */
struct gbuf {
    void *p;
    size_t bytes;
};

/* One accepted step of the forward solve, as the reverse sweep needs it. */
struct bp_step {
    double t, h;       /* from t, size h (the driver's h_used) */
    double t_new;      /* the driver's end time (the next step's t; the last output time) */
    size_t off;        /* y_n then n_k rows of k in the tape, N doubles each */
    int n_k;           /* stage rows recorded (dense stages included when computed) */
    int k1_after_jump; /* k_1 was evaluated just after a jump (at nextafter(t, +dir)) */
    int ends_at_jump;  /* stages with c_i == 1 were evaluated at nextafter(t_new, t) */
};

/* Where an observation time was answered. */
struct bp_obs {
    long step;    /* index into steps; -1: at t0 (y0 itself) */
    int at_end;   /* the step's y_{n+1} (weights b) */
    double theta; /* else dense output at theta in (0, 1) */
};

struct grad_solver {
    size_t mem_now, mem_peak; /* bytes held by the buffers below */
    ode_solver *ode;          /* num's solver for the latest table */

    /* the problem of the latest forward (borrowed) */
    const struct grad_field *g;
    const struct grad_solve_options *o;
    const struct rk_tableau *tab;
    size_t item0, n, dim, N, n_t; /* N = n * dim: the solved system */
    double t0;
    int ready; /* a forward succeeded: backward may run */

    struct gbuf times; /* n_t: the observation times (copy) */
    struct gbuf yt;    /* n_t x N: forward states, time-major */
    struct gbuf ybt;   /* n_t x N: dL/dy(t_i), time-major */
    struct gbuf y0;    /* N: the initial state (copy) */

    /* backprop */
    struct gbuf steps; /* struct bp_step[steps_n] */
    size_t steps_n;
    struct gbuf tape; /* doubles: tape_n used */
    size_t tape_n;
    struct gbuf obs; /* struct bp_obs[n_t] */
    size_t obs_next; /* first observation not yet given a step */
    err_code obs_rc; /* allocation failure inside the observer */
    struct gbuf kbar, nz, lam, y0b, ys, arg, scratch, w;

    /* adjoint */
    struct gbuf aug, aug_out, negv, rtol_v, atol_v;

    struct grad_stats st;
};

/* Make buf hold at least `bytes` (grows to max(bytes, 2 x old)). */
err_code grad_buf_reserve(grad_solver *s, struct gbuf *b, size_t bytes, err *e);
void grad_buf_release(grad_solver *s, struct gbuf *b);

/* The reverse sweep / the adjoint solves, after the forward; ybt filled. */
err_code grad_backprop_backward(grad_solver *s, double *y0bar, double *dtheta, err *e);
err_code grad_adjoint_backward(grad_solver *s, double *y0bar, double *dtheta, err *e);

/* The backprop observer and the bookkeeping after the forward solve. */
int grad_backprop_observe(const struct ode_step_record *rec, void *ctx);
void grad_backprop_begin(grad_solver *s);
err_code grad_backprop_finish(grad_solver *s, err *e);

#endif
