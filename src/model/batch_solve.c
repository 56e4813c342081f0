/* model/batch_solve.c: see batch_solve.h. */
#include "model/batch_solve.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void stats_add(struct ode_stats *sum, const struct ode_stats *os)
{
    sum->nfe += os->nfe;
    sum->n_accepted += os->n_accepted;
    sum->n_rejected += os->n_rejected;
    sum->n_jac += os->n_jac;
    sum->n_lu += os->n_lu;
    sum->auto_steps[0] += os->auto_steps[0];
    sum->auto_steps[1] += os->auto_steps[1];
    sum->n_switches += os->n_switches;
    sum->n_newton += os->n_newton;
    if (!isnan(os->t_fail)) sum->t_fail = os->t_fail;
}

err_code model_batch_solve(ode_solver *s, struct ode_problem *p, const struct ode_options *o,
                           const struct model_batch *b, double *y_out, struct ode_stats *sum,
                           err *e)
{
    memset(sum, 0, sizeof *sum);
    sum->t_fail = sum->t_stop_fwd = sum->t_stop_bwd = NAN;
    const size_t d = p->dim;
    err_code rc = ERR_OK;
    for (size_t i = 0, off = 0; i < b->batch && rc == ERR_OK; i++) {
        const size_t nt = b->t_len ? b->t_len[i] : b->n_t;
        const size_t row = b->t_len ? off : i * b->n_t;
        off += nt;
        if (!nt) continue;
        p->y0 = b->y0 + i * d;
        p->t_out = b->t_len ? b->t + row : b->t;
        p->n_out = nt;
        struct ode_stats os;
        rc = ode_solve(s, p, o, y_out + row * d, &os, e);
        stats_add(sum, &os);
        if (rc) model_batch_name_failure(e, i, b->batch);
    }
    return rc;
}

void model_batch_name_failure(err *e, size_t i, size_t batch)
{
    if (!e || e->code != ERR_SOLVER || e->field[0]) return;
    if (batch > 1)
        snprintf(e->field, sizeof e->field, "y0[%zu]", i);
    else
        snprintf(e->field, sizeof e->field, "y0");
}

void model_traj_stats_clear(struct model_traj_stats *st)
{
    memset(st, 0, sizeof *st);
    st->t_fail = NAN;
}

void model_traj_stats_add(struct model_traj_stats *st, const struct ode_stats *os)
{
    st->nfe += os->nfe;
    st->steps += os->n_accepted;
    st->rejected += os->n_rejected;
    st->n_jac += os->n_jac;
    st->n_lu += os->n_lu;
    st->auto_steps[0] += os->auto_steps[0];
    st->auto_steps[1] += os->auto_steps[1];
    st->n_switches += os->n_switches;
    if (!isnan(os->t_fail)) st->t_fail = os->t_fail;
}

struct model_batch model_traj_batch(const struct model_traj_query *q)
{
    return (struct model_batch){
        .batch = q->batch, .y0 = q->y0, .t = q->t, .n_t = q->n_t, .t_len = q->t_len};
}
