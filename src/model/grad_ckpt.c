/* model/grad_ckpt.c: adjoint_checkpointed, the continuous adjoint that
 * never solves the state backwards (SciML's InterpolatingAdjoint with
 * checkpointing; diffrax's RecursiveCheckpointAdjoint is its discrete
 * cousin).
 *
 * DESIGN. The forward solve keeps checkpoints: the start (t, y, h) of every
 * `every`-th accepted step, in a list of at most `cap` entries. When the
 * list is full, either every other checkpoint is dropped (every doubles)
 * or the list doubles, whichever keeps the two terms of the memory
 *     cap x N  (checkpoints)  +  every x (rows + 1) x N  (one segment's steps)
 * closer to equal; both then grow like sqrt(steps x rows) x N, the optimum
 * of a two-level scheme, at the price of one extra forward solve (each
 * segment is re-solved once). A binomial (revolve) schedule would bound the
 * memory by a fixed number of checkpoints at the price of re-solving the
 * segments several times, and needs the step count in advance, which an
 * adaptive solve does not know; docs/training.md has the comparison.
 *
 * Backward, segment by segment from the last: the segment [t_a, t_b] is
 * re-solved forward from its checkpoint with the forward's method and
 * options (first step: the one the forward took there), its accepted steps
 * recorded with their stage rows (grad_adjoint_record: the methods' own
 * dense output), and [a, w] is integrated from t_b down to t_a against
 * h(t) read from that record (grad_adjoint_interp_solve), stopping at the
 * observation times inside to add dL/dy(t_i) to a. The state is only ever
 * solved forwards, so a strongly contracting field (whose backward flow
 * blows up) costs nothing in accuracy: the gradient is that of the
 * continuous adjoint to the solver's tolerances. */
#include "model/grad_ckpt.h"

#include "model/grad_adjoint.h"
#include "model/grad_core.h"

#include <string.h>

struct ck {
    double t, h;
};

#define CKPT_CAP0 16

static err_code push(grad_solver *s, double t, double h, const double *y, err *e)
{
    const size_t N = s->N;
    if (s->ckpt_n == s->ckpt_cap) {
        const size_t rows = (size_t)(s->tab->stages + s->tab->dense_stages) + 1;
        if (s->ckpt_every * rows < s->ckpt_cap) { /* thin: keep steps 0, 2e, 4e, ... */
            struct ck *c = s->ckpt.p;
            double *cy = s->ckpt_y.p;
            size_t k = 0;
            for (size_t j = 0; j < s->ckpt_n; j += 2, k++) {
                c[k] = c[j];
                if (k != j) memcpy(cy + k * N, cy + j * N, N * sizeof *cy);
            }
            s->ckpt_n = k;
            s->ckpt_every *= 2;
            if (s->ckpt_step % s->ckpt_every) return ERR_OK;
        } else {
            s->ckpt_cap *= 2;
        }
    }
    if (grad_core_buf_reserve(s, &s->ckpt, s->ckpt_cap * sizeof(struct ck), e) ||
        grad_core_buf_reserve(s, &s->ckpt_y, s->ckpt_cap * N * sizeof(double), e))
        return ERR_NOMEM;
    ((struct ck *)s->ckpt.p)[s->ckpt_n] = (struct ck){t, h};
    memcpy((double *)s->ckpt_y.p + s->ckpt_n * N, y, N * sizeof(double));
    s->ckpt_n++;
    return ERR_OK;
}

err_code grad_ckpt_begin(grad_solver *s, err *e)
{
    s->ckpt_n = 0;
    s->ckpt_cap = CKPT_CAP0;
    s->ckpt_every = 1;
    s->ckpt_step = 0;
    if (grad_core_buf_reserve(s, &s->ckpt, s->ckpt_cap * sizeof(struct ck), e) ||
        grad_core_buf_reserve(s, &s->ckpt_y, s->ckpt_cap * s->N * sizeof(double), e))
        return ERR_NOMEM;
    return ERR_OK;
}

int grad_ckpt_record(const struct ode_step_record *rec, void *ctx)
{
    grad_solver *s = ctx;
    err_code rc = ERR_OK;
    if (s->ckpt_step % s->ckpt_every == 0) rc = push(s, rec->t, rec->h, rec->y0, NULL);
    s->ckpt_step++;
    return (int)rc;
}

/* Re-solve [t_a, t_b] forward from checkpoint j, recording its steps. */
static err_code resolve(grad_solver *s, size_t j, double t_b, err *e)
{
    const struct ck *c = (const struct ck *)s->ckpt.p + j;
    const struct grad_field *g = s->g;
    struct ode_options oo = s->o->ode;
    oo.groups = s->o->per_item_norm ? s->n : 1;
    oo.observer = grad_adjoint_record;
    oo.observer_ctx = s;
    if (oo.n_steps > 0) { /* the forward's step, not the segment's share */
        const double span = ((const double *)s->times.p)[s->n_t - 1] - s->t0;
        oo.fixed_step = span / (double)oo.n_steps;
        oo.n_steps = 0;
    }
    if (oo.fixed_step <= 0) oo.first_step = c->h;
    struct ode_problem p = {
        .f = grad_core_fwd_rhs,
        .ctx = s,
        .dim = s->N,
        .t0 = c->t,
        .y0 = (const double *)s->ckpt_y.p + j * s->N,
        .t_out = &t_b,
        .n_out = 1,
        .jump_times = g->jump_times,
        .n_jumps = g->n_jumps,
        .stop_times = g->stop_times,
        .n_stops = g->n_stops,
    };
    if (rk_tableau_implicit(s->tab)) {
        p.jac = grad_core_fwd_jac;
        p.jac_blocks = s->n;
        p.jac_bsize = s->dim;
    }
    grad_adjoint_record_begin(s);
    struct ode_stats os;
    err_code rc = ode_solve(s->ode, &p, &oo, s->gout.p, &os, e);
    s->st.bwd_resolve_nfe += os.nfe;
    if (rc) err_prefix_field(e, "adjoint_checkpointed");
    return rc;
}

/* a += dL/dy(t_i) for the observation times >= t_hi not yet taken. */
static void jumps(grad_solver *s, size_t *left, double t_hi)
{
    const double *t = s->times.p, *ybt = s->ybt.p;
    double *a = s->aug.p;
    for (; *left > 0 && t[*left - 1] >= t_hi; (*left)--)
        for (size_t k = 0; k < s->N; k++)
            a[k] += ybt[(*left - 1) * s->N + k];
}

err_code grad_ckpt_backward(grad_solver *s, double *y0bar, double *dtheta, err *e)
{
    struct grad_adjoint_run r;
    err_code rc = grad_adjoint_interp_begin(s, &r, e);
    if (rc) return rc;
    const size_t N = s->N, P = s->g->n_params;
    const double *t = s->times.p;
    const struct ck *c = s->ckpt.p;
    size_t left = s->n_t;
    s->st.ckpt_n = (long)s->ckpt_n;
    s->st.ckpt_every = (long)s->ckpt_every;
    for (size_t j = s->ckpt_n; j-- > 0;) {
        const double t_a = c[j].t, t_b = j + 1 < s->ckpt_n ? c[j + 1].t : t[s->n_t - 1];
        if ((rc = resolve(s, j, t_b, e))) return rc;
        double t_hi = t_b;
        jumps(s, &left, t_hi);
        while (left > 0 && t[left - 1] > t_a) {
            if ((rc = grad_adjoint_interp_solve(s, &r, t_hi, t[left - 1], e))) return rc;
            t_hi = t[left - 1];
            jumps(s, &left, t_hi);
        }
        if (t_hi > t_a && (rc = grad_adjoint_interp_solve(s, &r, t_hi, t_a, e))) return rc;
    }
    jumps(s, &left, s->t0); /* the observations at t0 */
    const double *z = s->aug.p;
    if (y0bar) memcpy(y0bar, z, N * sizeof *y0bar);
    if (dtheta)
        for (size_t k = 0; k < P; k++)
            dtheta[k] += z[N + k];
    return ERR_OK;
}
