/* num/evolve.c: one accepted step, with retries. See evolve.h.
 *
 * The loop mirrors Hairer's DOPRI5 and SciPy's RungeKutta._step_impl, so that
 * with the I controller our dopri5 takes the steps SciPy's RK45 takes: h is
 * capped by max_step and raised to the ulp floor before the first attempt,
 * clipped to end at t_stop, and the step fails when a rejection brings |h|
 * under max(min_step, 10 ulp(t)). */
#include "num/evolve.h"

#include "num/implicit.h"
#include "num/step.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#define NONFINITE_SHRINK 0.25 /* h factor after f failed recoverably */
#define NEWTON_SHRINK 0.5     /* h factor after Newton failed, or I - h gamma J was bad */
#define STOP_GUARD 1e-8       /* a step ending within this fraction of |h| of t_stop ends at it */

err_code ode_evolve_fail(ode_solver *s, double t, err_code code, const char *fmt, ...)
{
    if (s->st) s->st->t_fail = t;
    if (s->e && s->e->code != ERR_OK) return s->e->code; /* f said it first */
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(s->e, code, NULL, "%s", msg);
}

err_code ode_evolve_rhs_fail(ode_solver *s, double t, int rc, const char *where)
{
    if (rc == ODE_RC_NONFINITE)
        return ode_evolve_fail(s, t, ERR_SOLVER, "non-finite state at t=%.15g%s", t, where);
    if (rc == ODE_RC_JAC_NONFINITE)
        return ode_evolve_fail(s, t, ERR_SOLVER, "the Jacobian is not finite at t=%.15g%s", t,
                               where);
    if (rc > 0)
        return ode_evolve_fail(s, t, ERR_SOLVER,
                               "vector field failed (recoverable, code %d) at t=%.15g%s", rc, t,
                               where);
    return ode_evolve_fail(s, t, ERR_SOLVER, "vector field failed (code %d) at t=%.15g%s", rc, t,
                           where);
}

static err_code hook_fail(ode_solver *s, double t, int rc, const char *who)
{
    err_code code = rc > 0 && rc < ERR__COUNT ? (err_code)rc : ERR_ABORTED;
    if (code == ERR_DEADLINE) return ode_evolve_fail(s, t, code, "deadline exceeded at t=%.15g", t);
    if (code == ERR_ABORTED) return ode_evolve_fail(s, t, code, "aborted at t=%.15g", t);
    return ode_evolve_fail(s, t, code, "%s stopped the solve at t=%.15g", who, t);
}

/* Components the stage arguments need (ode_problem.n_read). */
static size_t stage_dim(const ode_solver *s)
{
    const size_t nr = s->p->n_read;
    return nr > 0 && nr < s->dim ? nr : s->dim;
}

err_code ode_evolve_initial_step(ode_solver *s, double t0, double dir, double *h)
{
    const struct ode_options *o = s->o;
    const size_t dim = s->dim;
    const double *y = s->y, *f0 = s->k;
    double *f1 = s->k + dim; /* row 1: free until the first stage */
    if (o->first_step > 0) {
        *h = dir * o->first_step;
        return ERR_OK;
    }
    double d0, d1;
    ode_control_norm2(&s->ctl, y, f0, y, &d0, &d1);
    const double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    for (size_t n = 0; n < stage_dim(s); n++)
        s->ytmp[n] = y[n] + dir * h0 * f0[n];
    int rc = rk_eval(s->p->f, s->p->ctx, dim, t0 + dir * h0, s->ytmp, f1, &s->st->nfe);
    if (rc < 0) return ode_evolve_rhs_fail(s, t0, rc, "");
    if (rc > 0) { /* let the step loop shrink from the cautious guess */
        *h = dir * h0;
        return ERR_OK;
    }
    for (size_t n = 0; n < dim; n++)
        s->ytmp[n] = f1[n] - f0[n];
    const double d2 = ode_control_norm(&s->ctl, s->ytmp, y) / h0;
    const double q = s->tab->err_order > 0 ? s->tab->err_order : s->tab->order;
    double h1;
    if (d1 <= 1e-15 && d2 <= 1e-15)
        h1 = fmax(1e-6, h0 * 1e-3);
    else
        h1 = pow(0.01 / fmax(d1, d2), 1.0 / (q + 1));
    *h = dir * fmin(100 * h0, h1);
    return ERR_OK;
}

/* Place the trial step: returns the signed h and sets ev->t_new/hit_stop. */
static double place_step(struct ode_evolve_state *ev, double habs)
{
    const double h = ev->dir * habs;
    double t_new = ev->fixed ? ev->t_base + (double)(ev->n_since + 1) * h : ev->t + h;
    ev->hit_stop = ev->dir * (t_new - ev->t_stop) >= -STOP_GUARD * habs;
    if (ev->hit_stop) t_new = ev->t_stop;
    ev->t_new = t_new;
    return t_new - ev->t;
}

err_code ode_evolve_apply(ode_solver *s, struct ode_evolve_state *ev)
{
    const struct ode_options *o = s->o;
    const struct ode_problem *p = s->p;
    const double t = ev->t;
    const double hmin = fmax(o->min_step, 10 * fabs(nextafter(t, ev->dir * INFINITY) - t));
    double habs = fabs(ev->h);
    if (!ev->fixed) {
        if (o->max_step > 0 && habs > o->max_step) habs = o->max_step;
        if (habs < hmin) habs = hmin;
    }
    int rejected = 0, first = 1;
    for (;;) {
        if (o->abort) {
            int rc = o->abort(o->abort_ctx);
            if (rc) return hook_fail(s, t, rc, "the abort hook");
        }
        if (s->attempts >= o->max_steps)
            return ode_evolve_fail(s, t, ERR_SOLVER, "max_steps (%ld) reached at t=%.15g",
                                   o->max_steps, t);
        s->attempts++;
        const double h = place_step(ev, habs);
        const double t_last =
            ev->hit_stop && ev->stop_is_jump ? nextafter(ev->t_new, t) : ev->t_new;
        int rc = s->tab->kind != RK_EXPLICIT
                     ? ode_implicit_trial(s, t, h, t_last, first)
                     : rk_step_trial(s->tab, s->dim, stage_dim(s), p->f, p->ctx, t, h, t_last, s->y,
                                     s->k, s->y1, s->ytmp, &s->st->nfe);
        first = 0;
        if (rc == ODE_RC_NEWTON || rc == ODE_RC_SINGULAR || rc == ODE_RC_PAST_POLE) {
            const char *what = rc == ODE_RC_NEWTON     ? "Newton iteration did not converge"
                               : rc == ODE_RC_SINGULAR ? "singular iteration matrix"
                                                       : "step past the pole of the stability "
                                                         "function (Re(h gamma lambda) >= 1 on "
                                                         "a growing mode)";
            if (ev->fixed) return ode_evolve_fail(s, t, ERR_SOLVER, "%s at t=%.15g", what, t);
            s->st->n_rejected++;
            rejected = 1;
            habs = fabs(h) * NEWTON_SHRINK;
            if (habs < hmin)
                return ode_evolve_fail(s, t, ERR_SOLVER, "%s at t=%.15g (step size underflow)",
                                       what, t);
            continue;
        }
        /* J at the step's start does not depend on h: a smaller step would
         * meet the same non-finite Jacobian */
        if (rc < 0 || (rc > 0 && ev->fixed) || rc == ODE_RC_JAC_NONFINITE)
            return ode_evolve_rhs_fail(s, t, rc, "");
        if (rc > 0) {
            s->st->n_rejected++;
            rejected = 1;
            habs = fabs(h) * NONFINITE_SHRINK;
            if (habs < hmin) return ode_evolve_rhs_fail(s, t, rc, " (step size underflow)");
            continue;
        }
        ev->h_used = h;
        if (ev->fixed) {
            ev->n_since++;
            return ERR_OK;
        }
        const double en = ode_control_err(&s->ctl, s->tab, h, s->y, s->y1, s->k);
        if (en <= 1) {
            ev->h = ev->dir * fabs(h) * ode_control_accept(&s->ctl, en, rejected);
            return ERR_OK;
        }
        s->st->n_rejected++;
        rejected = 1;
        habs = fabs(h) * (en == en ? ode_control_reject(&s->ctl, en) : NONFINITE_SHRINK);
        if (habs < hmin)
            return ode_evolve_fail(s, t, ERR_SOLVER, "step size underflow at t=%.15g", t);
    }
}
