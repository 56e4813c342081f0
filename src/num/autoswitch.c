/* num/autoswitch.c: the "auto" method's switching. See autoswitch.h. */
#include "num/autoswitch.h"

#include "num/control.h"
#include "num/implicit.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define STIFF_HLAMBDA 3.0 /* below dopri5.f's 3.25: see autoswitch.h */
#define STIFF_STEPS 15     /* consecutive-ish stiff steps that switch to rodas4 (dopri5.f) */
#define CALM_RESET 6       /* non-stiff steps in a row that clear that count (dopri5.f) */
#define CALM_HRHO (STIFF_HLAMBDA / 2) /* rodas4 steps must be this far inside */
#define CALM_STEPS 15      /* rodas4 steps in a row inside it that switch back */
#define POWER_ITERS 4      /* power iterations per rodas4 step */
#define GROW_SHARE 0.5     /* a step growing the state e^(this h lambda) is not stiff */

static void pow_v_init(ode_solver *s)
{
    for (size_t i = 0; i < s->dim; i++) /* uneven, so no eigenvector is likely orthogonal */
        s->pow_v[i] = 1.0 + 0.1 * (double)(i % 7);
}

static void use(ode_solver *s, const struct rk_tableau *tab)
{
    s->tab = tab;
    ode_dense_retable(s->dense, tab);
    ode_control_init(&s->ctl, s->o, tab, s->dim);
    s->stiff_hits = s->calm_hits = 0;
}

void ode_auto_start(ode_solver *s)
{
    use(s, &rk_dopri5);
    s->pow_fresh = 1;
}

err_code ode_auto_switch(ode_solver *s, double t)
{
    const int to_implicit = s->tab == &rk_dopri5;
    if (to_implicit) {
        if (s->pow_cap < s->dim) { /* the vector, and ode_implicit_rho's two */
            double *v = realloc(s->pow_v, 3 * s->dim * sizeof *v);
            if (!v) return ode_evolve_fail(s, t, ERR_NOMEM, "out of memory for rodas4");
            s->pow_v = v;
            s->pow_cap = s->dim;
        }
        if (ode_implicit_reserve(s, s->cap, ode_implicit_jac_len(s->p), s->e))
            return ode_evolve_fail(s, t, ERR_NOMEM, "out of memory for rodas4");
        if (s->pow_fresh) pow_v_init(s); /* else the last stiff stretch's vector */
        s->pow_fresh = 0;
    }
    use(s, to_implicit ? &rk_rodas4 : &rk_dopri5);
    if (to_implicit) ode_implicit_reset(s);
    s->st->n_switches++;
    return ERR_OK;
}

/* Component m of dopri5's two differences over the error control's scale
 * (atol + rtol max(|y_n|, |y_{n+1}|), the weights of the error norm):
 * *dk = (k_7 - k_6) / sc, *dy = (y_{n+1} - Y_6) / sc. Y_6 = y_n + h sum_j
 * a_6j k_j, so y_{n+1} - Y_6 = h sum_j (b_j - a_6j) k_j without storing Y_6
 * (b_7 = 0, a_66 = 0). */
static void dopri5_diffs(const ode_solver *s, double h, size_t m, double *dk, double *dy)
{
    const struct rk_tableau *tab = s->tab;
    const size_t n = s->dim;
    const int st = tab->stages, i6 = st - 2;
    const double *a6 = tab->a + (size_t)i6 * (size_t)(st + tab->dense_stages);
    double d = 0;
    for (int j = 0; j <= i6; j++)
        d += (tab->b[j] - a6[j]) * s->k[(size_t)j * n + m];
    const double sc = ode_control_scale(&s->ctl, m, fmax(fabs(s->y[m]), fabs(s->y1[m])));
    *dy = h * d / sc;
    *dk = (s->k[(size_t)(st - 1) * n + m] - s->k[(size_t)i6 * n + m]) / sc;
}

/* dopri5's h lambda = |h| ||k_7 - k_6|| / ||y_{n+1} - Y_6||, both norms
 * weighted as the error norm is. The quotient of weighted norms is the
 * quotient for W J W^-1 (W the weights), which has J's eigenvalues, and it
 * does not change when the state and atol are scaled together, or one
 * component is measured in other units: dopri5.f's plain Euclidean norms
 * did, through their squares, which overflowed (inf / inf) or underflowed
 * (0 / 0) for states near 1e200 or 1e-200, so auto never switched there
 * (tests/check_num_stiff.c, auto_scale_invariant). The sums are taken over
 * the largest term of each when the plain ones are not usable. */
static double dopri5_hlambda(const ode_solver *s, double h)
{
    const size_t n = s->dim;
    double num = 0, den = 0, mk = 0, my = 0;
    for (size_t m = 0; m < n; m++) {
        double dk, dy;
        dopri5_diffs(s, h, m, &dk, &dy);
        mk = fmax(mk, fabs(dk));
        my = fmax(my, fabs(dy));
        num += dk * dk;
        den += dy * dy;
    }
    if (!(my > 0) || !(mk < INFINITY) || !(my < INFINITY)) return my > 0 ? INFINITY : 0;
    if (isfinite(num) && den >= DBL_MIN && (num >= DBL_MIN || mk == 0))
        return fabs(h) * sqrt(num / den);
    num = den = 0; /* a square overflowed or lost its bits: over the largest terms */
    for (size_t m = 0; m < n; m++) {
        double dk, dy;
        dopri5_diffs(s, h, m, &dk, &dy);
        if (mk > 0) num += (dk / mk) * (dk / mk);
        den += (dy / my) * (dy / my);
    }
    return fabs(h) * (mk / my) * sqrt(num / den);
}

/* Whether the step grew the state by more than e^(GROW_SHARE h lambda)
 * (max norms): then the mode that sets h lambda is growing in the
 * direction of integration, and accuracy, not stability, holds dopri5's
 * step. A stiff problem's state changes little over a stability-bound
 * step; a quotient along the step's direction would not do (on a
 * non-normal J, a decaying oscillation's turns it positive half the time). */
static int state_grew(const ode_solver *s, double hl)
{
    double a = 0, b = 0;
    for (size_t m = 0; m < s->dim; m++)
        a = fmax(a, fabs(s->y[m])), b = fmax(b, fabs(s->y1[m]));
    return b > a * exp(GROW_SHARE * hl);
}

int ode_auto_after_step(ode_solver *s, double h)
{
    if (s->tab == &rk_dopri5) {
        s->st->auto_steps[0]++;
        const double hl = dopri5_hlambda(s, h);
        /* a mode growing this fast limits dopri5's step by accuracy, not
         * stability: rodas4 would take the same steps at greater cost
         * (tests/check_num_stiff.c, auto_growing_is_dopri5); such a step
         * counts neither way */
        if (hl > STIFF_HLAMBDA && state_grew(s, hl)) return 0;
        if (hl > STIFF_HLAMBDA) {
            s->calm_hits = 0;
            return ++s->stiff_hits >= STIFF_STEPS;
        }
        if (++s->calm_hits >= CALM_RESET) s->stiff_hits = 0;
        return 0;
    }
    s->st->auto_steps[1]++;
    double rho = ode_implicit_rho(s, s->pow_v, POWER_ITERS);
    if (rho == 0) pow_v_init(s); /* J v vanished: start afresh next time */
    if (rho < 0 || fabs(h) * rho > CALM_HRHO) {
        s->calm_hits = 0;
        return 0;
    }
    return ++s->calm_hits >= CALM_STEPS;
}
