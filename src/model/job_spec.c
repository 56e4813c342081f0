/* model/job_spec.c: see job_spec.h. */
#include "model/job_spec.h"

#include <string.h>

#include "model/cde_path.h"
#include "num/sde.h"
#include "num/symplectic.h"
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

const char *job_fit_name(job_fit f)
{
    switch (f) {
    case JOB_FIT_DEFAULT:
        return "default";
    case JOB_FIT_HNN:
        return "hnn";
    case JOB_FIT_DERIVATIVE:
        return "derivative";
    case JOB_FIT_TRAJECTORY:
        return "trajectory";
    case JOB_FIT_LNN:
        return "lnn";
    }
    return "?";
}

const char *job_derivs_name(job_derivs d)
{
    switch (d) {
    case JOB_DERIVS_UNSET:
    case JOB_DERIVS_CHANNELS:
        return "channels";
    case JOB_DERIVS_CENTRAL:
        return "central_difference";
    case JOB_DERIVS_SPLINE:
        return "spline";
    }
    return "?";
}

job_fit job_spec_fit(const job_spec *s, model_kind k)
{
    if (s->fit == JOB_FIT_DEFAULT && k == MODEL_KIND_HAMILTONIAN) return JOB_FIT_HNN;
    if (s->fit == JOB_FIT_DEFAULT && k == MODEL_KIND_LAGRANGIAN) return JOB_FIT_LNN;
    return s->fit;
}

/* A lagrangian job: lnn (the derivative fit), mse, no target, no windows;
 * the trained model is served by an explicit Runge-Kutta method
 * (model/lagrangian.h), the one named or dopri5. */
static err_code lag_kind_check(const job_spec *s, err *e)
{
    if (job_spec_fit(s, MODEL_KIND_LAGRANGIAN) != JOB_FIT_LNN || s->loss != LOSS_MSE)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "a lagrangian job fits \"lnn\": the squared error of the "
                       "Euler-Lagrange field against observed derivatives");
    if (s->target != JOB_TARGET_AUTO)
        return err_set(e, ERR_INVALID, "objective.target", "a lagrangian job has no target");
    if (s->batch_time)
        return err_set(e, ERR_INVALID, "objective.batch_time",
                       "windows are for trajectory fits; lnn fits observed derivatives");
    if (s->step > 0)
        return err_set(e, ERR_INVALID, "solver.step",
                       "an lnn fit takes no steps; the model is served by an adaptive method");
    if (!s->method_default) {
        err me;
        err_clear(&me);
        if (model_lagrangian_method_check(s->method, &me))
            return err_set(e, ERR_INVALID, "solver.method", "%s", me.message);
    }
    return ERR_OK;
}

/* A hamiltonian job: hnn or trajectory, mse, no target; trajectory through
 * an explicit composition with a fixed step (the only methods whose steps
 * it backpropagates through). */
static err_code ham_kind_check(const job_spec *s, err *e)
{
    const job_fit f = job_spec_fit(s, MODEL_KIND_HAMILTONIAN);
    if (f != JOB_FIT_HNN && f != JOB_FIT_TRAJECTORY)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "a hamiltonian job fits \"hnn\" (observed derivatives) or \"trajectory\" "
                       "(observed trajectories through a symplectic method)");
    if (s->loss != LOSS_MSE)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "a hamiltonian job fits \"hnn\" or \"trajectory\" (both squared errors)");
    if (s->target != JOB_TARGET_AUTO)
        return err_set(e, ERR_INVALID, "objective.target", "a hamiltonian job has no target");
    if (!s->method_default && !symp_method_find(s->method) && !rk_tableau_find(s->method))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an sde method; a hamiltonian model is served by a symplectic or an "
                       "ODE method",
                       s->method);
    if (f == JOB_FIT_HNN) {
        if (s->batch_time)
            return err_set(e, ERR_INVALID, "objective.batch_time",
                           "windows are for trajectory fits; hnn fits observed derivatives");
        return ERR_OK;
    }
    if (s->derivs != JOB_DERIVS_UNSET)
        return err_set(e, ERR_INVALID, "objective.derivatives",
                       "a trajectory fit compares states; derivatives are for hnn fits");
    const struct symp_method *sm = s->method_default ? NULL : symp_method_find(s->method);
    if (!symp_method_explicit(sm) && !(sm && sm->kind == SYMP_MIDPOINT))
        return err_set(e, ERR_INVALID, "solver.method",
                       "a trajectory fit backpropagates through the steps of a symplectic "
                       "method: leapfrog, yoshida4, yoshida6, kahan_li6 (separable H) or "
                       "implicit_midpoint (%s is not trainable this way)",
                       s->method_default ? "none given" : s->method);
    if (!(s->step > 0))
        return err_set(e, ERR_INVALID, "solver.step",
                       "required for a trajectory fit: the symplectic method's fixed step");
    return ERR_OK;
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
                       "a cnf job fits by \"flow_matching\" (the default for cnf models) or "
                       "\"max_likelihood\"");
    if (s->cnf_objective == JOB_CNF_MAX_LIKELIHOOD && s->cfm_keys)
        return err_set(e, ERR_INVALID, "objective",
                       "coupling and sigma_min are for flow_matching, not max_likelihood");
    if (s->cnf_objective != JOB_CNF_MAX_LIKELIHOOD && s->ml_keys)
        return err_set(e, ERR_INVALID, "objective",
                       "trace, probes and noise are for max_likelihood, not flow_matching");
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
        return err_set(e, ERR_INVALID, "objective.loss", "%s is for cnf models",
                       s->cnf_objective == JOB_CNF_MAX_LIKELIHOOD ? "max_likelihood"
                                                                  : "flow_matching");
    if (s->ml_keys)
        return err_set(e, ERR_INVALID, "objective",
                       "trace, probes and noise are for cnf models (max_likelihood)");
    if (s->cfm_keys)
        return err_set(e, ERR_INVALID, "objective",
                       "coupling and sigma_min are for cnf models (flow matching)");
    if (k == MODEL_KIND_HAMILTONIAN) return ham_kind_check(s, e);
    if (k == MODEL_KIND_LAGRANGIAN) return lag_kind_check(s, e);
    if (s->fit == JOB_FIT_LNN)
        return err_set(e, ERR_INVALID, "objective.loss", "lnn is for lagrangian models");
    if (s->fit == JOB_FIT_HNN || s->fit == JOB_FIT_TRAJECTORY)
        return err_set(e, ERR_INVALID, "objective.loss", "%s is for hamiltonian models",
                       job_fit_name(s->fit));
    if (s->fit == JOB_FIT_DERIVATIVE && k != MODEL_KIND_ODE)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "derivative fits an ode model's field; a %s model has its own objective",
                       model_kind_name(k));
    if (s->derivs != JOB_DERIVS_UNSET && s->fit != JOB_FIT_DERIVATIVE)
        return err_set(e, ERR_INVALID, "objective.derivatives",
                       "derivatives are for the hnn and derivative fits");
    if (!s->method_default && symp_method_find(s->method))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is a symplectic method: it is for hamiltonian models", s->method);
    if (k == MODEL_KIND_SDE) return sde_kind_check(s, e);
    if (k == MODEL_KIND_HYBRID && s->loss == LOSS_CROSS_ENTROPY)
        return err_set(e, ERR_INVALID, "objective.loss",
                       "cross_entropy needs a cde model; hybrid jobs use mse or l1");
    if (k == MODEL_KIND_HYBRID && s->target != JOB_TARGET_AUTO)
        return err_set(e, ERR_INVALID, "objective.target",
                       "hybrid jobs compare the state with the series' values");
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
    if (s->fit == JOB_FIT_DERIVATIVE && s->loss != LOSS_MSE)
        return err_set(e, ERR_INVALID, "objective.loss", "derivative is a squared error");
    if (s->fit == JOB_FIT_DERIVATIVE && s->batch_time)
        return err_set(e, ERR_INVALID, "objective.batch_time",
                       "windows are for trajectory fits; derivative fits observed derivatives");
    return ERR_OK;
}

/* The hnn and derivative fits: the state of width dim, with derivatives in
 * the data or by the document's rule. */
static err_code check_deriv_data(const job_spec *s, size_t dim, size_t channels, err *e)
{
    if (s->derivs == JOB_DERIVS_CENTRAL || s->derivs == JOB_DERIVS_SPLINE) {
        if (channels != dim)
            return err_set(e, ERR_INVALID, "dataset",
                           "dataset \"%s\" has %zu channels; derivatives by %s need the state "
                           "alone (%zu channels)",
                           s->dataset, channels, job_derivs_name(s->derivs), dim);
        return ERR_OK;
    }
    if (channels == dim)
        return err_set(e, ERR_INVALID, "objective.derivatives",
                       "dataset \"%s\" has %zu channels, the state without its time "
                       "derivatives: give \"central_difference\" or \"spline\", or upload "
                       "%zu channels [state; derivative]",
                       s->dataset, channels, 2 * dim);
    if (channels != 2 * dim)
        return err_set(e, ERR_INVALID, "dataset",
                       "dataset \"%s\" has %zu channels; this model takes [state; derivative], "
                       "%zu channels (or the %zu of the state with a derivatives rule)",
                       s->dataset, channels, 2 * dim, dim);
    return ERR_OK;
}

static err_code check_ham_data(const job_spec *s, const model_def *d, size_t channels, err *e)
{
    if (d->ham_form == MODEL_HAM_GENERAL && !s->method_default &&
        symp_method_explicit(symp_method_find(s->method)))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an explicit splitting: it needs a separable H (\"potential\" with "
                       "\"mass\" or \"kinetic\"); a general H is served and fitted through "
                       "implicit_midpoint or gauss4",
                       s->method);
    if (job_spec_fit(s, d->kind) == JOB_FIT_HNN)
        return check_deriv_data(s, d->state_dim, channels, e);
    if (channels != d->state_dim)
        return err_set(e, ERR_INVALID, "dataset",
                       "dataset \"%s\" has %zu channels; a trajectory fit observes the whole "
                       "state [q; p] (%zu)",
                       s->dataset, channels, d->state_dim);
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
    if (d->kind == MODEL_KIND_HAMILTONIAN) return check_ham_data(s, d, channels, e);
    if (d->kind == MODEL_KIND_LAGRANGIAN) return check_deriv_data(s, d->state_dim, channels, e);
    if (s->fit == JOB_FIT_DERIVATIVE) {
        if (d->augment_dim)
            return err_set(e, ERR_INVALID, model_field[0] == 'f' ? "from_version" : "init.augment_dim",
                           "a derivative fit observes the whole field: no augmentation");
        return check_deriv_data(s, d->state_dim, channels, e);
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
