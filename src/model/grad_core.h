/* model/grad_core.h (private to grad_*.c): the body of grad_solver and its
 * counted buffers, the layer under the forward solve (grad_solve.c), the
 * reverse sweep (grad_backprop.c) and the adjoint (grad_adjoint.c). The
 * arrows run one way: grad_solve.c calls grad_backprop.h and grad_adjoint.h,
 * and all three use this; nothing here calls up.
 *
 * Ownership and threads as grad_solver (grad_solve.h): it owns these
 * buffers; one thread at a time. */
#ifndef ODESERVE_MODEL_GRAD_CORE_H
#define ODESERVE_MODEL_GRAD_CORE_H

#include "model/grad.h"

/* A growable buffer whose bytes are counted in the solver. */
struct grad_core_buf {
    void *p;
    size_t bytes;
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

    struct grad_core_buf times; /* n_t: the observation times (copy) */
    struct grad_core_buf yt;    /* n_t x N: forward states, time-major */
    struct grad_core_buf ybt;   /* n_t x N: dL/dy(t_i), time-major */
    struct grad_core_buf y0;    /* N: the initial state (copy) */

    /* backprop */
    struct grad_core_buf steps; /* grad_backprop.c's step records, steps_n of them */
    size_t steps_n;
    struct grad_core_buf tape; /* doubles: tape_n used */
    size_t tape_n;
    struct grad_core_buf obs; /* grad_backprop.c's observation records, n_t of them */
    size_t obs_next;          /* first observation not yet given a step */
    err_code obs_rc;          /* allocation failure inside the observer */
    struct grad_core_buf kbar, nz, lam, y0b, ys, arg, scratch, w;
    /* backprop's kept evaluations (grad_backprop.c): act_n slots of
     * slot_d doubles, 64-byte aligned (at most act_max); act_keep of them
     * belong to accepted steps, the others to the evaluations since the
     * latest one (a list, latest first, from kpend) or are free (a list
     * from kfree; SIZE_MAX ends a list); kslot: per step and stage row, the
     * slot of its evaluation or SIZE_MAX */
    struct grad_core_buf act, kslot;
    size_t slot_d, act_keep, act_n, act_max, kpend, kfree;
    int keeping; /* this forward keeps evaluations */

    /* adjoint */
    struct grad_core_buf aug, aug_out, negv, rtol_v, atol_v;
    ode_solver *ode_bwd; /* the backward's own method after an implicit forward (else NULL) */
    int fwd_stiff;       /* the latest forward took implicit steps */
    /* the interpolating adjoint (grad_adjoint.c): the forward's steps */
    struct grad_core_buf dsteps, dtape, hcur, gout;
    size_t dsteps_n, dtape_n, dhint;

    /* adjoint_checkpointed (grad_ckpt.c): checkpoints every ckpt_every-th
     * accepted step, ckpt_n of them (ckpt_cap fit); the step counter */
    struct grad_core_buf ckpt, ckpt_y;
    size_t ckpt_n, ckpt_cap, ckpt_every, ckpt_step;

    /* reversible (grad_reversible.c): y, z = y-hat, f(z) at the end of
     * the forward, and the backward's cotangents of the three */
    struct grad_core_buf rv_y, rv_z, rv_f, rv_yb, rv_zb, rv_fb;
    double rv_h;   /* the nominal step */
    long rv_steps; /* steps of the forward */

    struct grad_stats st;
};

/* The forward field as num's right-hand side and Jacobian (ctx = the
 * grad_solver of the current problem). */
int grad_core_fwd_rhs(double t, const double *y, double *dydt, void *ctx);
int grad_core_fwd_jac(double t, const double *y, double *J, double *dfdt, void *ctx);

/* Make buf hold at least `bytes` (grows to max(bytes, 2 x old), by a copy;
 * 64-byte aligned, counted as the bytes asked for). */
err_code grad_core_buf_reserve(grad_solver *s, struct grad_core_buf *b, size_t bytes, err *e);
void grad_core_buf_release(grad_solver *s, struct grad_core_buf *b);
/* The same, counted in whole 64-byte lines. */
err_code grad_core_buf_reserve_aligned(grad_solver *s, struct grad_core_buf *b, size_t bytes,
                                       err *e);
/* The same, growing to at most `cap` bytes (>= bytes): a buffer whose
 * largest size is known never doubles past it. */
err_code grad_core_buf_reserve_upto(grad_solver *s, struct grad_core_buf *b, size_t bytes,
                                    size_t cap, err *e);

#endif
