/* model/job_spec.c: see job_spec.h. */
#include "model/job_spec.h"

#include <string.h>

#include "model/cde_path.h"
#include "num/sde.h"
#include "num/tableau.h"

void job_spec_init(job_spec *s)
{
    memset(s, 0, sizeof *s);
    model_def_init(&s->init_def);
}

void job_spec_free(job_spec *s)
{
    if (!s) return;
    model_def_free(&s->init_def);
    job_spec_init(s);
}

const char *job_target_name(job_target t)
{
    switch (t) {
    case JOB_TARGET_AUTO:
        return "auto";
    case JOB_TARGET_LABEL:
        return "label";
    case JOB_TARGET_SERIES:
        return "series";
    }
    return "?";
}

static err_code sde_kind_check(const job_spec *s, err *e)
{
    if (s->loss != LOSS_MSE)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "an sde job fits the transition likelihood (docs/sde.md); leave loss out");
    if (s->target != JOB_TARGET_AUTO)
        return err_set(e, ERR_INVALID, "objective.target",
                       "an sde job fits the observed transitions; there is no target");
    if (s->batch_time)
        return err_set(e, ERR_INVALID, "objective.batch_time",
                       "windows are for ode models; an sde job fits every transition");
    if (!s->method_default && strcmp(s->method, "euler_maruyama") != 0)
        return err_set(e, ERR_INVALID, "solver.method",
                       "an sde job fits the transition likelihood of euler_maruyama; %s is not "
                       "supported for training",
                       s->method);
    if (!(s->step > 0))
        return err_set(e, ERR_INVALID, "solver.step",
                       "required for an sde job: the largest Euler-Maruyama sub-step between "
                       "observations");
    return ERR_OK;
}

static err_code cnf_kind_check(const job_spec *s, err *e)
{
    if (s->loss != LOSS_MSE)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "a cnf job fits by \"flow_matching\" (the default for cnf models)");
    if (s->target != JOB_TARGET_AUTO)
        return err_set(e, ERR_INVALID, "objective.target", "a cnf job has no target");
    if (s->batch_time)
        return err_set(e, ERR_INVALID, "objective.batch_time",
                       "windows are for ode models; a cnf trains on points");
    if (s->step > 0)
        return err_set(e, ERR_INVALID, "solver.step",
                       "a fixed step is for sde jobs; a cnf solves with an adaptive method");
    const struct rk_tableau *tab = rk_tableau_find(s->method);
    if (!tab || rk_tableau_implicit(tab))
        return err_set(e, ERR_INVALID, "solver.method",
                       "a cnf solves its log-density with an explicit adaptive method (e.g. "
                       "dopri5); %s is not one",
                       s->method);
    return ERR_OK;
}

err_code job_spec_kind_check(const job_spec *s, model_kind k, err *e)
{
    if (k == MODEL_KIND_CNF) return cnf_kind_check(s, e);
    if (s->cnf_objective != JOB_CNF_NONE)
        return err_set(e, ERR_INVALID, "objective.loss", "flow_matching is for cnf models");
    if (s->cfm_keys)
        return err_set(e, ERR_INVALID, "objective",
                       "coupling and sigma_min are for cnf models (flow matching)");
    if (k == MODEL_KIND_SDE) return sde_kind_check(s, e);
    if (k ==
        MODEL_KIND_HAMILTONIAN) /* its trainer (HNN loss, Hessian in the parameters) is to come */
        return err_set(e, ERR_INVALID, s->from_version ? "from_version" : "init.kind",
                       "hamiltonian models cannot be trained yet; upload a trained one");
    if (s->gradient == GRAD_REVERSIBLE && k != MODEL_KIND_ODE)
        return err_set(e, ERR_INVALID, "gradient",
                       "reversible is for ode jobs (a cde's path has knots it would step over)");
    if (s->gradient == GRAD_REVERSIBLE && !(s->step > 0))
        return err_set(e, ERR_INVALID, "solver.step",
                       "required with \"gradient\": \"reversible\": the fixed step of "
                       "reversible Heun");
    if (s->step > 0 && s->gradient != GRAD_REVERSIBLE)
        return err_set(e, ERR_INVALID, "solver.step",
                       "a fixed step is for sde jobs and the reversible gradient; ode and cde "
                       "jobs use adaptive methods");
    if (!rk_tableau_find(s->method))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an sde method; %s jobs use adaptive methods (e.g. dopri5)", s->method,
                       model_kind_name(k));
    if (k == MODEL_KIND_ODE && s->loss == LOSS_CROSS_ENTROPY)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "cross_entropy needs a cde model; ode jobs use mse or l1");
    if (k == MODEL_KIND_ODE && s->target != JOB_TARGET_AUTO)
        return err_set(e, ERR_INVALID, "objective.target",
                       "ode jobs compare the state with the series' values");
    if (k == MODEL_KIND_CDE && s->batch_time)
        return err_set(e, ERR_INVALID, "objective.batch_time",
                       "windows are for ode models; a cde trains on whole series");
    return ERR_OK;
}

static err_code check_cde_data(const job_spec *s, const model_def *d, const char *model_field,
                               size_t channels, dataset_label_kind lk, size_t label_dim,
                               job_target *target, err *e)
{
    const struct cde_path_channels ch = cde_path_channels_of(d);
    const model_net *ro = &d->nets[MODEL_NET_CDE_READOUT];
    size_t out = 0;
    for (size_t i = 0; i < ro->n_layers; i++)
        if (ro->layers[i].kind == MLP_LINEAR) out = ro->layers[i].out;
    if (ch.n_data != channels)
        return err_set(e, ERR_INVALID, "dataset",
                       "dataset \"%s\" has %zu channels; the model's input_channels %zu take %zu "
                       "data channels",
                       s->dataset, channels, d->input_channels, ch.n_data);
    job_target t = s->target;
    if (s->loss == LOSS_CROSS_ENTROPY) {
        if (lk != DATASET_LABEL_CLASS)
            return err_set(e, ERR_INVALID, "objective.loss",
                           "cross_entropy needs a dataset with class labels; \"%s\" has %s labels",
                           s->dataset, dataset_label_kind_name(lk));
        if (out < 2)
            return err_set(e, ERR_INVALID, model_field,
                           "the readout gives the class logits: it needs 2 or more outputs");
        t = JOB_TARGET_LABEL;
    } else {
        if (t == JOB_TARGET_AUTO)
            t = lk == DATASET_LABEL_VECTOR ? JOB_TARGET_LABEL : JOB_TARGET_SERIES;
        if (t == JOB_TARGET_LABEL && lk != DATASET_LABEL_VECTOR)
            return err_set(e, ERR_INVALID, "objective.target",
                           "target \"label\" with %s needs vector labels; dataset \"%s\" has %s",
                           loss_name(s->loss), s->dataset, dataset_label_kind_name(lk));
        size_t want = t == JOB_TARGET_LABEL ? label_dim : channels;
        if (out != want)
            return err_set(e, ERR_INVALID, model_field,
                           "the readout has %zu outputs; the %s it is compared with has %zu", out,
                           t == JOB_TARGET_LABEL ? "label" : "series' data", want);
    }
    if (target) *target = t;
    return ERR_OK;
}

err_code job_spec_data_check(const job_spec *s, const model_def *d, const char *model_field,
                             dataset_kind ds_kind, size_t channels, dataset_label_kind label_kind,
                             size_t label_dim, job_target *target, err *e)
{
    if (job_spec_kind_check(s, d->kind, e) != ERR_OK) return e->code;
    if (target) *target = JOB_TARGET_SERIES;
    if ((d->kind == MODEL_KIND_CNF) != (ds_kind == DATASET_KIND_POINTS))
        return err_set(e, ERR_INVALID, "dataset",
                       ds_kind == DATASET_KIND_POINTS
                           ? "dataset \"%s\" is a point set; a %s model trains on time series"
                           : "dataset \"%s\" holds time series; a %s model trains on a point set "
                             "(\"kind\": \"points\")",
                       s->dataset, model_kind_name(d->kind));
    if (d->kind == MODEL_KIND_CNF) {
        if (channels != d->state_dim)
            return err_set(e, ERR_INVALID, "dataset",
                           "dataset \"%s\" has points of %zu values; the model's dim is %zu",
                           s->dataset, channels, d->state_dim);
        return ERR_OK;
    }
    if (d->kind == MODEL_KIND_CDE)
        return check_cde_data(s, d, model_field, channels, label_kind, label_dim, target, e);
    if (d->kind == MODEL_KIND_SDE) {
        if (channels != d->state_dim)
            return err_set(e, ERR_INVALID, "dataset",
                           "dataset \"%s\" has %zu channels; an sde model observes its whole "
                           "state (state_dim %zu)",
                           s->dataset, channels, d->state_dim);
        if (d->sde_calculus != SDE_ITO && d->sde_noise != SDE_NOISE_ADDITIVE)
            return err_set(e, ERR_INVALID, s->from_version ? "from_version" : "init.calculus",
                           "the transition likelihood is Euler-Maruyama's (Ito): a Stratonovich "
                           "model trains only with additive noise");
        if (target) *target = JOB_TARGET_SERIES;
        return ERR_OK;
    }
    if (channels > d->state_dim)
        return err_set(e, ERR_INVALID, "dataset",
                       "dataset \"%s\" has %zu channels, more than the model's state_dim %zu",
                       s->dataset, channels, d->state_dim);
    if (target) *target = JOB_TARGET_SERIES;
    return ERR_OK;
}
