/* model/grad.h: the vocabulary of the gradient engine (grad_solve.h has
 * the whole story): the two methods, the batched vector field with its VJP,
 * the options and the work counters, and the engine's handle. Kept apart so
 * the engine's lower files (grad_core.h, grad_backprop.h, grad_adjoint.h)
 * speak it without including the engine that sits on top of them.
 *
 * Ownership and threads: plain types and pure functions; a grad_field's
 * ctx is the caller's. */
#ifndef ODESERVE_MODEL_GRAD_H
#define ODESERVE_MODEL_GRAD_H

#include "core/err.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum grad_method {
    GRAD_ADJOINT = 0, /* "adjoint" */
    GRAD_BACKPROP,    /* "backprop" */
    GRAD_ADJOINT_CKPT, /* "adjoint_checkpointed" (grad_ckpt.c) */
    GRAD_REVERSIBLE,   /* "reversible": reversible Heun (grad_reversible.c) */
} grad_method;

err_code grad_method_from_name(const char *name, grad_method *out, err *e);
const char *grad_method_name(grad_method m);

/* A batched vector field with its vector-Jacobian product. */
struct grad_field {
    size_t dim;      /* state values per item */
    size_t n_params; /* length of the parameter gradient (theta) */
    /* dydt = g(t, y) for the n items item0 .. item0+n-1 (y and dydt n x dim,
     * row-major); keeps what vjp needs. Returns 0, > 0 (recoverable: the
     * solver shrinks the step) or < 0 (fatal), as ode_rhs_fn. */
    int (*eval)(void *ctx, double t, size_t item0, size_t n, const double *y, double *dydt);
    /* After the latest eval, same items: dy += v^T dg/dy per item (n x dim)
     * and dtheta += the sum over items of v^T dg/dtheta. Both accumulate. */
    void (*vjp)(void *ctx, size_t item0, size_t n, const double *v, double *dy, double *dtheta);
    /* dg/dy of each item at (t, y): n blocks of dim x dim, one per item,
     * row-major (J[(b*dim + i)*dim + j] = dg_i/dy_j of item b), and, when
     * dfdt is not NULL, dg/dt (n x dim). What the implicit methods (rodas4,
     * esdirk4, auto) and the implicit adjoint need; NULL = they are refused
     * (field "method"). May overwrite what eval kept for vjp (the engine
     * never calls it between an eval and its vjp). At a jump time the
     * engine passes t nudged one ulp into the step being taken (after it
     * forward, before it backward), so a one-sided field reads the step's
     * own side. Returns as eval. */
    int (*jac)(void *ctx, double t, size_t item0, size_t n, const double *y, double *J,
               double *dfdt);
    /* Optional (NULL: backprop's sweep runs eval again before each vjp).
     * keep_doubles(ctx, n): doubles that hold what an eval of n items keeps
     * for its vjp; keep(ctx, n, mem): the evals that follow keep it in mem
     * (that many doubles, 64-byte aligned), and the vjps that follow use
     * what mem holds, as if the eval that filled it were the latest (same
     * n); mem NULL: back to the field's own memory, no eval kept. */
    size_t (*keep_doubles)(void *ctx, size_t n);
    void (*keep)(void *ctx, size_t n, double *mem);
    void *ctx;
    const double *jump_times; /* times where g jumps in t (CDE knots); may be NULL */
    size_t n_jumps;
    const double *stop_times; /* times where steps end, g continuous (ode_problem); may be NULL */
    size_t n_stops;
};

struct grad_solve_options {
    grad_method method;
    /* NULL = dopri5. The implicit ones (rodas4, esdirk4, auto) need the
     * field's jac and the adjoint (grad_adjoint.c says how it solves
     * backwards after them). */
    const struct rk_tableau *tab;
    /* rtol, atol, max_steps, fixed_step / n_steps, first/min/max_step,
     * controller, abort hook. Its observer and groups are the engine's. */
    struct ode_options ode;
    bool per_item_norm; /* forward error norm: max over items (else RMS over the batch) */
    /* Adjoint only. The backward solve's tolerances: 0 = the forward's
     * rtol/atol. They apply to every component of [h, a, w] (torchdiffeq's
     * default), RMS over the augmented state; with adjoint_seminorm the w
     * components are left out of the error norm (Kidger, Chen, Lyons,
     * "Hey, that's not an ODE", 2021), the RMS taken over [h, a] alone. A
     * forward n_steps becomes a fixed step |t_last - t0| / n_steps. */
    double adjoint_rtol, adjoint_atol;
    bool adjoint_seminorm;
    /* Backprop with a field that has keep: the forward keeps what each
     * accepted step's evaluations leave for the VJPs, up to this many bytes
     * (counted in the engine's memory), so that the sweep differentiates
     * them without evaluating the field again (the same answers, bit for
     * bit); steps past the budget are evaluated again. 0: keep none. */
    size_t keep_bytes;
};

/* grad_solve_options_init's keep_bytes */
#define GRAD_KEEP_BYTES_DEFAULT ((size_t)32 << 20)

/* Defaults: adjoint, dopri5, ode_options_init, norm over the batch. */
void grad_solve_options_init(struct grad_solve_options *o);

/* Work counters of the latest forward + backward. */
struct grad_stats {
    long fwd_steps, fwd_rejected, fwd_nfe; /* forward solve */
    long bwd_steps, bwd_rejected, bwd_nfe; /* adjoint solves, or the reverse sweep's VJPs (nfe) */
    long bwd_kept;                         /* backprop: VJPs of kept evaluations (no eval) */
    size_t tape_bytes;                     /* backprop: bytes of the recorded steps */
    long ckpt_n;                /* adjoint_checkpointed: checkpoints kept, steps per segment */
    long ckpt_every;
    long bwd_resolve_nfe;       /* adjoint_checkpointed: the segments' forward re-solves */
    long fwd_jac, fwd_lu;       /* implicit forward: Jacobians, LU factorisations */
    long fwd_stiff_steps;       /* accepted steps of the implicit method (all of them, or
                                   auto's rodas4 steps) */
    long bwd_jac, bwd_lu;       /* implicit adjoint (esdirk4): the same */
};

typedef struct grad_solver grad_solver;

#endif
