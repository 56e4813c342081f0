/* model/grad_backprop.c: discretise-then-optimise, the exact gradient of
 * the numerical solution by a reverse sweep through the recorded steps.
 *
 * DESIGN. The forward solve's observer copies each accepted step (y_n, the
 * stage derivatives k_i, t, h, flags) to a tape that grows by doubling.
 * The observation times are matched to the steps that answered them with
 * the driver's own rule (num/driver.c): a time equal to t0 is y0; otherwise
 * the first step whose end t_new is >= it; at t_new exactly (or at t + h)
 * it is y_{n+1}, else the dense output at theta = (t_obs - t) / h. t_new is
 * only known at the next step (or, for the last one, it is the last
 * observation time: the solve ends there), so the matching lags one step.
 *
 * One step, y_{n+1} = y_n + h sum_j b_j k_j, k_i = g(T_i, Y_i),
 * Y_i = y_n + h sum_{j<i} a_ij k_j, and an observation inside it,
 * y(t_obs) = y_n + h sum_j b_j(theta) k_j, are run backwards with the
 * cotangent lam of y_{n+1} and those of the observations:
 *   ybar_n = lam + sum_obs ybar_obs,  kbar_j = h b_j lam + sum_obs h b_j(theta) ybar_obs,
 *   then for i = last stage .. 1st: Ybar_i = kbar_i^T dg/dy (Y_i),
 *        thetabar += kbar_i^T dg/dtheta (Y_i),
 *        ybar_n += Ybar_i,  kbar_j += h a_ij Ybar_i (j < i),
 * and ybar_n is the lam of the step before. Y_i is recomputed from the tape
 * with the arithmetic of num/step.c (so g is differentiated at the very
 * point the forward evaluated), and at the time the forward used (the
 * driver's one-sided times at jumps). Stages whose cotangent is zero by
 * structure (dopri5's FSAL stage, b_7 = 0, outside steps with a dense
 * output) are skipped: about one forward + one VJP per stage and step.
 * FSAL is not a special case: the next step's k_1 is differentiated as
 * g(t_{n+1}, y_{n+1}) of that step, this step's last stage as its own.
 *
 * KEPT EVALUATIONS. With a field that can keep what an eval leaves for its
 * VJP (grad_field.keep: an MLP's layer activations) the forward's
 * right-hand side gives each evaluation a slot: its time, the row of num's
 * k it writes (f's dydt) and the field's kept tape. num's stepper also
 * evaluates trial steps that it then rejects, and other points (the first
 * step's size), so when a step is accepted its stage rows are matched to
 * the evaluations since the previous accepted step by that row: num's k
 * row i holds what the latest evaluation into it wrote (num/driver.h,
 * ode_step_record), the FSAL k_1 of a step that is not a fresh start
 * excepted, which is the previous step's last stage and its slot. That
 * evaluation's argument is the stage argument the sweep would recompute
 * (num computes it with rk_stage_arg, as the sweep does). The matched slots
 * stay, the rest go back to a free list for the next evaluations (nothing
 * is moved). The sweep then runs the VJP on a kept slot whose time is the
 * stage's time, and evaluates again (as without keeping) any stage without
 * one: the tape is a deterministic function of (t, Y, theta), so the
 * gradient is the same bit for bit (tests/check_grad_keep). Memory: one
 * slot per kept stage, capped by keep_bytes; stages past the cap are
 * evaluated again.
 * References: Hairer-Norsett-Wanner I, II.1 (the scheme), Griewank &
 * Walther, "Evaluating Derivatives" (the reverse mode of a loop). */
#include "model/grad_backprop.h"

#include "model/grad_core.h"
#include "num/step.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

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

#define NO_SLOT SIZE_MAX

/* A slot: its header (the evaluation's time, the address of the k row it
 * wrote, the next slot in its list), padded to 64 bytes, then the tape. */
enum { SLOT_T = 0, SLOT_AT = 1, SLOT_NEXT = 2, SLOT_HEAD = 8 };
_Static_assert(sizeof(size_t) >= sizeof(uintptr_t), "a slot header field holds an address");

static size_t round8(size_t n)
{
    return (n + 7) / 8 * 8;
}

static double *slot_at(const grad_solver *s, size_t j)
{
    return (double *)s->act.p + j * s->slot_d;
}

static size_t slot_get(const grad_solver *s, size_t j, int field)
{
    size_t v;
    memcpy(&v, slot_at(s, j) + field, sizeof v);
    return v;
}

static void slot_set(grad_solver *s, size_t j, int field, size_t v)
{
    memcpy(slot_at(s, j) + field, &v, sizeof v);
}

static int stage_rows(const grad_solver *s)
{
    return s->tab->stages + s->tab->dense_stages;
}

err_code grad_backprop_reserve(grad_solver *s, err *e)
{
    return grad_core_buf_reserve(s, &s->obs, s->n_t * sizeof(struct bp_obs), e);
}

void grad_backprop_begin(grad_solver *s)
{
    const struct grad_field *g = s->g;
    s->keeping = 0;
    s->act_keep = s->act_n = 0;
    s->kpend = s->kfree = NO_SLOT;
    if (s->o->keep_bytes && g->keep && g->keep_doubles) {
        s->slot_d = SLOT_HEAD + round8(g->keep_doubles(g->ctx, s->n));
        s->act_max = s->o->keep_bytes / (s->slot_d * sizeof(double));
        s->keeping = s->act_max > 0;
    }
    s->steps_n = 0;
    s->tape_n = 0;
    s->obs_rc = ERR_OK;
    struct bp_obs *obs = s->obs.p;
    const double *t = s->times.p;
    size_t i = 0;
    for (; i < s->n_t && t[i] == s->t0; i++)
        obs[i] = (struct bp_obs){.step = -1};
    s->obs_next = i;
}

/* Give step m (its t_new now known) the observations it answered. */
static void assign_obs(grad_solver *s, size_t m)
{
    const struct bp_step *st = (const struct bp_step *)s->steps.p + m;
    struct bp_obs *obs = s->obs.p;
    const double *t = s->times.p;
    for (; s->obs_next < s->n_t && t[s->obs_next] <= st->t_new; s->obs_next++) {
        const double to = t[s->obs_next];
        struct bp_obs *ob = &obs[s->obs_next];
        ob->step = (long)m;
        ob->at_end = to == st->t_new || to == st->t + st->h;
        ob->theta = (to - st->t) / st->h;
    }
}

/* A slot for the next evaluation: a free one, else a new one within the
 * budget; NO_SLOT when none is left. */
static size_t take_slot(grad_solver *s)
{
    const size_t j = s->kfree;
    if (j != NO_SLOT) {
        s->kfree = slot_get(s, j, SLOT_NEXT);
        return j;
    }
    const size_t d = s->slot_d * sizeof(double);
    if (s->act_n >= s->act_max ||
        grad_core_buf_reserve_upto(s, &s->act, (s->act_n + 1) * d, s->act_max * d, NULL))
        return NO_SLOT;
    return s->act_n++;
}

int grad_backprop_fwd_rhs(double t, const double *y, double *dydt, void *ctx)
{
    grad_solver *s = ctx;
    const struct grad_field *g = s->g;
    const size_t j = take_slot(s);
    if (j == NO_SLOT) {
        g->keep(g->ctx, s->n, NULL); /* not kept: the sweep evaluates it again */
        return g->eval(g->ctx, t, s->item0, s->n, y, dydt);
    }
    double *slot = slot_at(s, j);
    slot[SLOT_T] = t;
    slot_set(s, j, SLOT_AT, (size_t)(uintptr_t)dydt);
    g->keep(g->ctx, s->n, slot + SLOT_HEAD);
    int rc = g->eval(g->ctx, t, s->item0, s->n, y, dydt);
    size_t *list = rc == 0 ? &s->kpend : &s->kfree;
    slot_set(s, j, SLOT_NEXT, *list);
    *list = j;
    return rc;
}

/* Step m (just recorded): its stage rows' slots; the slots of the
 * evaluations since the previous step that no row uses are freed. */
static void keep_stages(grad_solver *s, size_t m, const struct ode_step_record *rec)
{
    const int rows = stage_rows(s);
    size_t *ks = (size_t *)s->kslot.p + m * (size_t)rows;
    for (int i = 0; i < rows; i++) {
        ks[i] = NO_SLOT;
        if (i >= rec->n_k) continue;
        if (i == 0 && !rec->fresh_start) { /* FSAL: the previous step's last stage */
            if (m > 0) ks[0] = ks[s->tab->stages - 1 - rows];
            continue;
        }
        const size_t at = (size_t)(uintptr_t)(rec->k + (size_t)i * rec->dim);
        for (size_t j = s->kpend; j != NO_SLOT; j = slot_get(s, j, SLOT_NEXT))
            if (slot_get(s, j, SLOT_AT) == at) {
                ks[i] = j;
                break;
            }
    }
    for (size_t j = s->kpend, next; j != NO_SLOT; j = next) {
        next = slot_get(s, j, SLOT_NEXT);
        int used = 0;
        for (int i = 0; i < rows; i++)
            used |= ks[i] == j;
        if (used) {
            s->act_keep++;
        } else {
            slot_set(s, j, SLOT_NEXT, s->kfree);
            s->kfree = j;
        }
    }
    s->kpend = NO_SLOT;
}

int grad_backprop_observe(const struct ode_step_record *rec, void *ctx)
{
    grad_solver *s = ctx;
    struct bp_step *steps = s->steps.p;
    int after_jump = 0;
    if (s->steps_n > 0) {
        steps[s->steps_n - 1].t_new = rec->t;
        assign_obs(s, s->steps_n - 1);
        after_jump = steps[s->steps_n - 1].ends_at_jump;
    }
    const size_t N = rec->dim, add = (size_t)(1 + rec->n_k) * N;
    if (grad_core_buf_reserve(s, &s->steps, (s->steps_n + 1) * sizeof *steps, NULL) ||
        grad_core_buf_reserve(s, &s->tape, (s->tape_n + add) * sizeof(double), NULL) ||
        (s->keeping &&
         grad_core_buf_reserve(s, &s->kslot,
                               (s->steps_n + 1) * (size_t)stage_rows(s) * sizeof(size_t), NULL))) {
        s->obs_rc = ERR_NOMEM;
        return ERR_NOMEM;
    }
    if (s->keeping) keep_stages(s, s->steps_n, rec);
    steps = s->steps.p;
    double *dst = (double *)s->tape.p + s->tape_n;
    memcpy(dst, rec->y0, N * sizeof *dst);
    memcpy(dst + N, rec->k, (size_t)rec->n_k * N * sizeof *dst);
    steps[s->steps_n++] = (struct bp_step){
        .t = rec->t,
        .h = rec->h,
        .t_new = rec->t + rec->h,
        .off = s->tape_n,
        .n_k = rec->n_k,
        .k1_after_jump = rec->fresh_start && after_jump,
        .ends_at_jump = rec->ends_at_jump,
    };
    s->tape_n += add;
    return 0;
}

err_code grad_backprop_finish(grad_solver *s, err *e)
{
    if (s->steps_n > 0) {
        struct bp_step *last = (struct bp_step *)s->steps.p + s->steps_n - 1;
        last->t_new = ((const double *)s->times.p)[s->n_t - 1];
        assign_obs(s, s->steps_n - 1);
    }
    if (s->obs_next != s->n_t)
        return err_set(e, ERR_INTERNAL, NULL, "backprop: %zu observation times not matched",
                       s->n_t - s->obs_next);
    s->st.tape_bytes = s->tape_n * sizeof(double) + s->steps_n * sizeof(struct bp_step);
    if (s->keeping)
        s->st.tape_bytes += s->act_keep * s->slot_d * sizeof(double) +
                            s->steps_n * (size_t)stage_rows(s) * sizeof(size_t);
    return ERR_OK;
}

/* ---- the reverse sweep --------------------------------------------------------- */

static err_code reserve_sweep(grad_solver *s, err *e)
{
    const size_t N = s->N, rows = (size_t)(s->tab->stages + s->tab->dense_stages);
    const size_t d = sizeof(double);
    if (grad_core_buf_reserve(s, &s->kbar, rows * N * d, e) ||
        grad_core_buf_reserve(s, &s->nz, rows * sizeof(int), e) ||
        grad_core_buf_reserve(s, &s->lam, N * d, e) ||
        grad_core_buf_reserve(s, &s->y0b, N * d, e) || grad_core_buf_reserve(s, &s->ys, N * d, e) ||
        grad_core_buf_reserve(s, &s->arg, N * d, e) ||
        grad_core_buf_reserve(s, &s->scratch, N * d, e) ||
        grad_core_buf_reserve(s, &s->w, rows * d, e))
        return ERR_NOMEM;
    return ERR_OK;
}

static void axpy(size_t n, double a, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* nz[j] = 1 for the j < i with a[j] != 0: the rows rk_stage_arg_vjp adds to. */
static void mark_rows(const double *a, int i, int *nz)
{
    for (int j = 0; j < i; j++)
        if (a[j] != 0.0) nz[j] = 1;
}

/* The time at which the forward evaluated stage i of step st. */
static double stage_time(const struct rk_tableau *tab, const struct bp_step *st, int i)
{
    const double dir = st->h > 0 ? INFINITY : -INFINITY;
    if (i == 0) return st->k1_after_jump ? nextafter(st->t, dir) : st->t;
    if (i >= tab->stages) return st->t + tab->c[i] * st->h;
    if (tab->c[i] == 1.0) return st->ends_at_jump ? nextafter(st->t_new, st->t) : st->t_new;
    return st->t + tab->c[i] * st->h;
}

/* Cotangents of the observations answered by step m (indices *j down to
 * the first with another step) into lam (at the end) or y0b and kbar. */
static err_code seed_obs(grad_solver *s, long m, const struct bp_step *st, size_t *j, err *e)
{
    const struct bp_obs *obs = s->obs.p;
    const size_t N = s->N;
    const int rows = s->tab->stages + s->tab->dense_stages;
    double *kbar = s->kbar.p, *w = s->w.p;
    int *nz = s->nz.p;
    for (; *j > 0 && obs[*j - 1].step == m; (*j)--) {
        const struct bp_obs *ob = &obs[*j - 1];
        const double *yb = (const double *)s->ybt.p + (*j - 1) * N;
        if (ob->at_end) {
            axpy(N, 1.0, yb, s->lam.p);
            continue;
        }
        rk_tableau_dense_weights(s->tab, ob->theta, w);
        for (int i = st->n_k; i < rows; i++)
            if (w[i] != 0.0)
                return err_set(e, ERR_INTERNAL, NULL, "backprop: dense stage %d not recorded", i);
        rk_stage_arg_vjp(N, w, rows, st->h, yb, s->y0b.p, kbar);
        mark_rows(w, rows, nz);
    }
    return ERR_OK;
}

/* Run step m backwards: on entry lam = dL/dy_{n+1}; on exit dL/dy_n. */
static err_code sweep_step(grad_solver *s, long m, size_t *j, double *dtheta, err *e)
{
    const struct rk_tableau *tab = s->tab;
    const struct grad_field *g = s->g;
    const struct bp_step *st = (const struct bp_step *)s->steps.p + m;
    const size_t N = s->N;
    const int S = tab->stages, lda = S + tab->dense_stages;
    const double h = st->h;
    const double *y = (const double *)s->tape.p + st->off, *k = y + N;
    double *kbar = s->kbar.p, *lam = s->lam.p, *y0b = s->y0b.p, *ys = s->ys.p;
    int *nz = s->nz.p;
    memset(kbar, 0, (size_t)st->n_k * N * sizeof *kbar);
    memset(nz, 0, (size_t)lda * sizeof *nz);
    memset(y0b, 0, N * sizeof *y0b);
    err_code rc = seed_obs(s, m, st, j, e);
    if (rc) return rc;
    /* y_{n+1} = y_n + h sum_j brow_j k_j (FSAL tables: the last row of a) */
    const double *brow = tab->fsal ? tab->a + (size_t)(S - 1) * lda : tab->b;
    rk_stage_arg_vjp(N, brow, S, h, lam, y0b, kbar);
    mark_rows(brow, S, nz);
    const size_t *ks = s->keeping ? (const size_t *)s->kslot.p + (size_t)m * lda : NULL;
    for (int i = st->n_k - 1; i >= 0; i--) {
        if (!nz[i]) continue;
        const double *arow = tab->a + (size_t)i * lda;
        const double ti = stage_time(tab, st, i);
        double *slot = ks && ks[i] != NO_SLOT ? slot_at(s, ks[i]) : NULL;
        if (slot && memcmp(slot + SLOT_T, &ti, sizeof ti) == 0) {
            g->keep(g->ctx, s->n, slot + SLOT_HEAD);
            s->st.bwd_kept++;
        } else {
            if (ks) g->keep(g->ctx, s->n, NULL);
            const double *Y = y;
            if (i > 0) {
                rk_stage_arg(N, N, arow, i, h, y, k, s->arg.p);
                Y = s->arg.p;
            }
            int frc = g->eval(g->ctx, ti, s->item0, s->n, Y, s->scratch.p);
            if (frc)
                return err_set(e, ERR_SOLVER, NULL,
                               "backprop: the vector field failed (code %d) at t=%.15g, where "
                               "the forward solve succeeded",
                               frc, ti);
        }
        memset(ys, 0, N * sizeof *ys);
        g->vjp(g->ctx, s->item0, s->n, kbar + (size_t)i * N, ys, dtheta);
        s->st.bwd_nfe++;
        rk_stage_arg_vjp(N, arow, i, h, ys, y0b, kbar);
        mark_rows(arow, i, nz);
    }
    memcpy(lam, y0b, N * sizeof *lam);
    return ERR_OK;
}

err_code grad_backprop_backward(grad_solver *s, double *y0bar, double *dtheta, err *e)
{
    err_code rc = reserve_sweep(s, e);
    if (rc) return rc;
    const size_t N = s->N;
    double *lam = s->lam.p;
    memset(lam, 0, N * sizeof *lam);
    size_t j = s->n_t; /* observations not yet seeded: [0, j) */
    s->st.bwd_kept = 0;
    for (long m = (long)s->steps_n - 1; m >= 0 && !rc; m--) {
        rc = sweep_step(s, m, &j, dtheta, e);
        if (!rc) s->st.bwd_steps++;
    }
    if (s->keeping) s->g->keep(s->g->ctx, s->n, NULL);
    if (rc) return rc;
    const struct bp_obs *obs = s->obs.p;
    for (; j > 0; j--) { /* observations at t0: y0 itself */
        if (obs[j - 1].step != -1)
            return err_set(e, ERR_INTERNAL, NULL, "backprop: observation %zu left over", j - 1);
        axpy(N, 1.0, (const double *)s->ybt.p + (j - 1) * N, lam);
    }
    if (y0bar) {
        const size_t n = s->n, dim = s->dim;
        for (size_t b = 0; b < n; b++)
            memcpy(y0bar + b * dim, lam + b * dim, dim * sizeof *y0bar);
    }
    return ERR_OK;
}
