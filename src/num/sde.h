/* num/sde.h: fixed-step solvers of stochastic differential equations
 *
 *   dy = f(t, y) dt + g(t, y) dW   (Ito)   or   f dt + g o dW   (Stratonovich),
 *
 * driven by the Brownian motion of num/brownian.h, so that sample k of a
 * seed is the same path whatever is asked of it.
 *
 * Noise types (the shape of g, as torchsde's noise_type):
 *   diagonal  g has dim values, dy_i = f_i dt + g_i dW_i (m = dim);
 *   scalar    g has dim values, one Brownian motion: dy = f dt + g dW (m = 1);
 *   additive  as diagonal, g a function of t alone (m = dim);
 *   general   g is dim x m, row-major: dy_i = f_i dt + sum_j g_ij dW_j.
 *
 * Methods (a table, sde_methods[]; docs/sde.md has the formulas):
 *   euler_maruyama  Ito; any noise; strong order 0.5 (1 for additive)
 *   milstein        Ito or Stratonovich; diagonal, scalar or additive noise;
 *                   strong order 1; needs the Milstein term (diffusion_d)
 *   euler_heun      Stratonovich; any noise; strong order 0.5
 *   reversible_heun Stratonovich; any noise (Kidger et al., "Efficient and
 *                   accurate gradients for neural SDEs", NeurIPS 2021)
 *   sra1            additive noise, either calculus (they agree); weak order
 *                   2 (Roessler, SIAM J. Numer. Anal. 48 (2010)); its
 *                   space-time Levy area is drawn per step (docs/sde.md)
 * For additive noise Ito and Stratonovich coincide, so every method fits.
 *
 * Time grid: steps end at t0 + k h (k = 1, 2, ...) whatever the output
 * times are. An output time between grid points is answered by one extra
 * step from the grid point before it, which the path does not continue
 * from: an output value depends on its own time, the grid and the path
 * only, never on the other output times asked for. An output time within
 * rounding of a grid point (16 DBL_EPSILON (|t0| + |t|), at most 2^-20 h)
 * is that grid point. The Brownian path is the grid's (num/brownian.h,
 * brownian_cursor_grid).
 *
 * Ownership and threads: an sde_ws is one thread's scratch (sized once by
 * sde_ws_new, no allocation in sde_solve); the problem's callbacks are
 * called on the solving thread only. */
#ifndef ODESERVE_NUM_SDE_H
#define ODESERVE_NUM_SDE_H

#include "core/err.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sde_noise {
    SDE_NOISE_DIAGONAL = 0,
    SDE_NOISE_SCALAR,
    SDE_NOISE_ADDITIVE,
    SDE_NOISE_GENERAL,
    SDE_NOISE__COUNT
} sde_noise;

typedef enum sde_calculus { SDE_ITO = 0, SDE_STRATONOVICH, SDE_CALCULUS__COUNT } sde_calculus;

typedef enum sde_kernel {
    SDE_KERNEL_EULER = 0,   /* euler_maruyama */
    SDE_KERNEL_MILSTEIN,    /* milstein */
    SDE_KERNEL_HEUN,        /* euler_heun */
    SDE_KERNEL_REVERSIBLE,  /* reversible_heun */
    SDE_KERNEL_SRA,         /* additive-noise stochastic Runge-Kutta tables (sra1) */
} sde_kernel;

#define SDE_SRA_MAX_STAGES 2

/* Roessler's SRA tableau (c0, c1, A0, B0, alpha, beta1, beta2). */
struct sde_sra_tableau {
    int stages;
    double c0[SDE_SRA_MAX_STAGES], c1[SDE_SRA_MAX_STAGES];
    double A0[SDE_SRA_MAX_STAGES][SDE_SRA_MAX_STAGES], B0[SDE_SRA_MAX_STAGES][SDE_SRA_MAX_STAGES];
    double alpha[SDE_SRA_MAX_STAGES], beta1[SDE_SRA_MAX_STAGES], beta2[SDE_SRA_MAX_STAGES];
};

struct sde_method {
    const char *name;
    sde_kernel kernel;
    unsigned calculus_mask;   /* bit c: calculus c allowed (additive noise: any) */
    unsigned noise_mask;      /* bit n: noise type n allowed */
    double strong_order, weak_order; /* for the noise types it fits, non-additive */
    const struct sde_sra_tableau *sra; /* SDE_KERNEL_SRA */
};

extern const struct sde_method sde_methods[];
extern const size_t sde_n_methods;

const char *sde_noise_name(sde_noise n);     /* "diagonal", ... */
const char *sde_calculus_name(sde_calculus c); /* "ito", "stratonovich" */
/* -1 when unknown. */
int sde_noise_from_name(const char *s);
int sde_calculus_from_name(const char *s);

/* NULL when unknown. */
const struct sde_method *sde_method_find(const char *name);

/* Whether a method fits a noise type and calculus: ERR_INVALID on
 * "solver.method" saying why, else ERR_OK. */
err_code sde_method_check(const struct sde_method *me, sde_calculus c, sde_noise n, err *e);

/* The system. Callbacks return 0, or non-zero to stop the solve (that
 * value comes back as the err_code). */
typedef struct sde_problem {
    size_t dim;            /* state */
    size_t m;              /* Brownian components: general noise's m (others: set by sde_problem_m) */
    sde_noise noise;
    sde_calculus calculus;
    int (*drift)(void *ctx, double t, const double *y, double *f);    /* f: dim */
    int (*diffusion)(void *ctx, double t, const double *y, double *g); /* g: dim, or dim x m */
    /* milstein only: g and the Milstein vector q, dim values: diagonal
     * q_i = g_i dg_i/dy_i; scalar q = (dg/dy) g; additive unused. */
    int (*diffusion_d)(void *ctx, double t, const double *y, double *g, double *q);
    void *ctx;
} sde_problem;

/* Brownian components a problem of this noise and size is driven by. */
size_t sde_problem_m(sde_noise n, size_t dim, size_t general_m);

typedef struct sde_ws sde_ws;
err_code sde_ws_new(sde_ws **out, size_t dim, size_t m, err *e);
void sde_ws_free(sde_ws *ws); /* NULL is a no-op */

struct sde_stats {
    long steps;  /* grid steps taken (extra output steps included) */
    long nfe;    /* drift evaluations */
    double t_fail; /* NAN unless the state stopped being finite: the step end where it did */
};

/* One sample path: y(t[i]) for n_t output times, each >= t0 and at most
 * t0 + 2^BROWNIAN_MAX_EXP (ERR_INVALID "t[i]" else), into y_out (n_t x dim,
 * in the caller's order). order: indices of t in ascending time (NULL when
 * t is ascending already). h > 0: the step. The Brownian path is (seed,
 * sample)'s. A non-finite state is ERR_SOLVER with stats->t_fail; abort
 * (may be NULL) is polled every few dozen steps. */
err_code sde_solve(const sde_problem *p, const struct sde_method *me, double h, uint64_t seed,
                   uint32_t sample, double t0, const double *y0, const double *t, size_t n_t,
                   const size_t *order, double *y_out, sde_ws *ws, ode_abort_fn abort,
                   void *abort_ctx, struct sde_stats *stats, err *e);

/* K samples in lockstep, for a model that evaluates K states in one call
 * faster than one at a time (nn/panel.h panel_matvec_n). The workspace is
 * sde_ws_new_block's for (dim, m, K); p is the block's problem: dim and m
 * K times the sample's, its callbacks get the K states one after the other
 * (K x dim) and answer K x dim values. Only where sde_block_fits: steps act
 * element by element there, so sample sample0 + s comes out the same bit
 * for bit as sde_solve's, into y_out + s * out_stride (n_t x dim each; y0
 * is every sample's start). Returns non-zero, with no error record, for
 * anything but a clean finish (an invalid argument, a failing callback, a
 * non-finite state, an abort): solve those samples with sde_solve, which
 * reports what sde_solve reports. */
err_code sde_ws_new_block(sde_ws **out, size_t dim, size_t m, size_t k, err *e);
bool sde_block_fits(const struct sde_method *me, sde_noise noise);
err_code sde_solve_block(const sde_problem *p, const struct sde_method *me, double h,
                         uint64_t seed, uint32_t sample0, double t0, const double *y0,
                         const double *t, size_t n_t, const size_t *order, double *y_out,
                         size_t out_stride, sde_ws *w, ode_abort_fn abort, void *abort_ctx,
                         struct sde_stats *st);

#endif
