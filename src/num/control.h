/* num/control.h (internal to num): error norm and step-size control. GSL
 * odeiv2's control.c.
 *
 * Error norm (Hairer-Norsett-Wanner I, II.4, (4.11)): for each component
 *   sc_i = atol_i + rtol_i * max(|y_n,i|, |y_{n+1},i|),
 *   err  = sqrt(mean_i (est_i / sc_i)^2)     (RMS),
 * where est = h sum e_j k_j is the step's error estimate. With `groups` > 1
 * the state is that many independent trajectories and err is the maximum of
 * the per-group RMS norms. DOP853 combines its 5th- and 3rd-order estimates
 * as Hairer's code does: err = |h| E5^2 / sqrt(n (E5^2 + 0.01 E3^2)), E5 and
 * E3 the sums of squares of the scaled (unmultiplied by h) estimates.
 *
 * Step-size factors, q = the table's err_order, accepted when err <= 1:
 * - I controller:  fac = safety * err^(-1/(q+1)) (SciPy's RK45/DOP853).
 * - PI controller (default; Hairer's DOPRI5, after Gustafsson 1991):
 *   fac = safety * err^(-alpha) * err_prev^beta, alpha = 1/(q+1) - 0.75 beta,
 *   err_prev the previous accepted step's err (at least 1e-4).
 * Both clamp fac to [min_factor, max_factor]; after a rejection the factor
 * is max(min_factor, safety * err^(-alpha)) (alpha = 1/(q+1) for I), and the
 * step that is finally accepted after a rejection may not grow.
 *
 * Ownership and threads: a struct ode_control lives inside its ode_solver
 * and borrows the options' tolerance arrays for the solve; one thread at a
 * time, as the solver (driver.h). */
#ifndef ODESERVE_NUM_CONTROL_H
#define ODESERVE_NUM_CONTROL_H

#include "num/driver.h"

struct ode_control {
    enum ode_controller kind;
    double safety, min_factor, max_factor;
    double alpha;              /* exponent of err on accept */
    double alpha_reject;       /* exponent of err on reject */
    double beta;               /* exponent of the previous error (PI) */
    double err_prev;           /* PI memory: last accepted err, >= 1e-4 */
    size_t groups, gdim;       /* groups x gdim = dim */
    const double *rtol, *atol; /* scalar or vector */
    size_t rtol_sg, rtol_sm;   /* index of component m of group g: g*sg + m*sm */
    size_t atol_sg, atol_sm;
    double rtol_scalar, atol_scalar; /* storage the pointers use for scalars */
};

/* The error control's scale of component n (of the whole state) for a
 * magnitude ymax: atol_n + rtol_n ymax. */
double ode_control_scale(const struct ode_control *c, size_t n, double ymax);

/* Set up from validated options for a dim-dimensional state. */
void ode_control_init(struct ode_control *c, const struct ode_options *o,
                      const struct rk_tableau *tab, size_t dim);

/* Forget the PI memory (start of a span, after a jump). */
void ode_control_reset(struct ode_control *c);

/* Error norm of a trial step (see above). */
double ode_control_err(const struct ode_control *c, const struct rk_tableau *tab, double h,
                       const double *y0, const double *y1, const double *k);

/* sqrt(mean((v/(atol + rtol |y|))^2)), max over groups: the norm of Hairer's
 * initial step selection. */
double ode_control_norm(const struct ode_control *c, const double *v, const double *y);

/* The norms of v and of w (when w is not NULL) with the scales of y, in one
 * pass: *nv, *nw are ode_control_norm(c, v, y), ode_control_norm(c, w, y). */
void ode_control_norm2(const struct ode_control *c, const double *v, const double *w,
                       const double *y, double *nv, double *nw);

/* Factor for the next step after accepting one with error norm en;
 * `rejected` = this step was rejected before. Updates the PI memory. */
double ode_control_accept(struct ode_control *c, double en, int rejected);

/* Factor (< 1) for the retry after rejecting a step with error norm en. */
double ode_control_reject(const struct ode_control *c, double en);

#endif
