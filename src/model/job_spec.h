/* model/job_spec.h: the training job document (POST /v1/jobs;
 * docs/training-jobs.md) as plain data.
 *
 * The jobs layer knows the document only as this struct: the JSON text is
 * decoded by the codec layer (codec/codec_job.h), which fills a job_spec. The
 * store keeps the text as submitted; the worker pool turns it back into a
 * job_spec through the decoder it was handed at creation (a job_spec_decode_fn
 * wired by the daemon), so there is one decoder and one format, and jobs/
 * needs no JSON library. An `init` is decoded into a model_def with seeded
 * parameters; a `from_version` is loaded by the worker.
 *
 * Ownership: a job_spec owns its model_def; job_spec_free releases it. */
#ifndef ODESERVE_MODEL_JOB_SPEC_H
#define ODESERVE_MODEL_JOB_SPEC_H

#include "core/err.h"
#include "model/grad_solve.h"
#include "model/init.h"
#include "model/loss.h"
#include "model/model_def.h"
#include "model/optim.h"
#include "model/dataset.h"
#include "model/cfm.h"
#include "model/cnf_model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a cde's mse / l1 loss compares the readout with. */
typedef enum job_target {
    JOB_TARGET_AUTO = 0, /* "label" when the dataset has labels, else "series" */
    JOB_TARGET_LABEL,    /* the series' label vector, at its last observation */
    JOB_TARGET_SERIES,   /* the series' own values, at every observation */
} job_target;

/* What a cnf job fits (docs/cnf-training.md). */
typedef enum job_cnf_objective {
    JOB_CNF_NONE = 0,          /* not a cnf objective (ode, cde, sde jobs) */
    JOB_CNF_FLOW_MATCHING,     /* "flow_matching": OT-CFM (model/cfm.h) */
    JOB_CNF_MAX_LIKELIHOOD,    /* "max_likelihood": the mean NLL (model/cnf_ml.h) */
} job_cnf_objective;

/* What a job fits when it is not the kind's own trajectory loss
 * (docs/training.md, "Objectives"; docs/structured.md, "Training"). */
typedef enum job_fit {
    JOB_FIT_DEFAULT = 0, /* the kind's own: trajectories (ode, cde), the transition
                            likelihood (sde), flow matching (cnf), hnn (hamiltonian) */
    JOB_FIT_HNN,         /* "hnn": hamiltonian, mean |J grad H(x) - xdot|^2 over observed pairs */
    JOB_FIT_DERIVATIVE,  /* "derivative": ode, mean |f(x, t) - xdot|^2 over observed pairs */
    JOB_FIT_TRAJECTORY,  /* "trajectory": hamiltonian, mse on observed trajectories through an
                            explicit symplectic method (backpropagation through its steps) */
    JOB_FIT_LNN,         /* "lnn": lagrangian, mean |f(x) - xdot|^2, f = [v; a(x)] from the
                            Euler-Lagrange equations (model/lag_fit.h) */
} job_fit;

/* Where the time derivatives of the hnn and derivative fits come from. */
typedef enum job_derivs {
    JOB_DERIVS_UNSET = 0,   /* not given: the dataset must carry them (as "channels") */
    JOB_DERIVS_CHANNELS,    /* "channels": the dataset's channels are [state; derivative] */
    JOB_DERIVS_CENTRAL,     /* "central_difference": three-point, second order, any spacing */
    JOB_DERIVS_SPLINE,      /* "spline": the natural cubic spline's derivative at each time */
} job_derivs;

const char *job_fit_name(job_fit f);
const char *job_derivs_name(job_derivs d);

#define JOB_SPEC_MAX_THREADS 64 /* a job's "threads" */
/* The most parameters a job's "init" may give its networks. Widths are
 * capped (4096) but not their product: 63 hidden layers of 4096 would be
 * 1e9 parameters, gigabytes allocated at the POST and several times that
 * once training (the trainer's copies, the optimiser's moments), enough for
 * the kernel to kill the daemon. 2^23 is about what a model upload can
 * carry in max_body_size's default 16M. */
#define JOB_SPEC_MAX_PARAMS ((size_t)1 << 23)

typedef struct job_spec {
    char model[65], dataset[65];
    int from_version;   /* > 0: warm start from that version of model; 0: init */
    model_def init_def; /* init: the new model (ode or cde), parameters seeded */
    struct init_config init_scheme;
    size_t val_every;        /* validate every N iterations; 0 = never */
    double holdout_fraction; /* of the series, held out for validation; 0 = validate on all */
    loss_kind loss;
    job_target target; /* cde mse / l1 only */
    size_t batch_size; /* 0 = every window / series */
    size_t batch_time; /* ODE windows of this many observations; 0 = whole series */
    struct optim_config optim;
    double clip_norm; /* 0 = no clipping */
    long iterations;
    grad_method gradient;
    char method[MODEL_METHOD_MAX]; /* "dopri5"; an sde job: "euler_maruyama" */
    bool method_default; /* the document named no method ("dopri5" stands in) */
    double step;         /* sde: the largest Euler-Maruyama sub-step; reversible: the fixed step
                            (solver.step); 0 = not given */
    bool sde_constant_diffusion; /* init.diffusion.constant: the diffusion's weight held at 0 */
    double rtol, atol;
    long max_steps; /* 0 = the solver's default */
    uint64_t seed;
    int threads; /* 1 .. JOB_SPEC_MAX_THREADS; 0 = not given (the daemon's train_threads) */
    /* cnf jobs (objective.loss "flow_matching", coupling, sigma_min) */
    job_cnf_objective cnf_objective;
    cfm_coupling coupling;
    double sigma_min; /* >= 0: the noise around the linear path */
    bool cfm_keys;    /* the document gave coupling or sigma_min */
    /* max_likelihood: the training solve's trace (objective.trace, probes, noise) */
    bool ml_trace_given; /* objective.trace given; else exact up to CNF_ML_EXACT_DIM */
    cnf_trace ml_trace;
    size_t ml_probes;  /* hutchinson: probes per point (1) */
    cnf_noise ml_noise;
    bool ml_keys;      /* the document gave trace, probes or noise */
    bool gradient_default; /* the document named no gradient (max_likelihood: backprop) */
    /* derivative and symplectic fits (objective.loss "hnn", "derivative",
     * "trajectory"; objective.derivatives) */
    job_fit fit;
    job_derivs derivs;
} job_spec;

void job_spec_init(job_spec *s);
void job_spec_free(job_spec *s); /* NULL is a no-op */

/* Decode a job document's text into s (job_spec_init'ed first; on failure
 * it is left freed). ERR_BAD_JSON / ERR_INVALID with the field
 * ("optimizer.lr", "init.vector_field.layers[1].out"). The codec layer
 * provides one (codec_job_decode); the worker pool is handed it. */
typedef err_code (*job_spec_decode_fn)(const char *text, size_t len, job_spec *s, err *e);

const char *job_target_name(job_target t);

/* The rules that depend on the model's kind: cross_entropy and
 * objective.target are for cde models, batch_time for ode models; an sde
 * job fits the Euler-Maruyama transition likelihood (model/sde_lik.h):
 * solver.method euler_maruyama (or none), solver.step required, no
 * objective.loss other than the default, no target or batch_time; a
 * solver.step or an sde method in an ode or cde job is refused. A cnf job
 * fits by flow matching or maximum likelihood: no other objective.loss, no
 * target, batch_time or solver.step, an explicit adaptive method (its
 * held-out NLL and the served model solve with it); flow_matching,
 * max_likelihood, coupling and sigma_min are for cnf jobs only, coupling and
 * sigma_min for flow matching, trace, probes and noise for max_likelihood.
 * A hamiltonian job fits "hnn" (the default) or "trajectory" (an explicit
 * symplectic method named in solver.method, with solver.step) with the mse
 * loss and no target; an ode job may fit "derivative";
 * objective.derivatives is for the hnn and derivative fits; symplectic
 * methods are for hamiltonian models. A lagrangian job fits "lnn" (the
 * default; observed derivatives, objective.derivatives as hnn) with the mse
 * loss, no target or batch_time, and an explicit Runge-Kutta method if any.
 * ERR_INVALID naming the field. */
err_code job_spec_kind_check(const job_spec *s, model_kind k, err *e);

/* The fit a job of kind k runs (JOB_FIT_DEFAULT resolved: lnn for a
 * lagrangian, hnn for a
 * hamiltonian, the kind's own otherwise). */
job_fit job_spec_fit(const job_spec *s, model_kind k);

/* The model against the dataset's shape (channels, label kind, label_dim):
 *   ode  the dataset's channels are the first components of the state;
 *   cde  the dataset's channels are the path's data channels
 *        (input_channels = [1] + d + [d]); cross_entropy needs class labels;
 *        mse / l1 compare the readout with a vector label (its width the
 *        label's) or, without labels or with target "series", with the
 *        series' values (its width the channels);
 *   sde  the dataset's channels are the whole state (state_dim); Ito, or
 *        Stratonovich with additive noise (where they agree);
 *   cnf  a point set (ds_kind DATASET_KIND_POINTS) of the model's dim; every
 *        other kind trains on time series;
 *   hnn, derivative  the channels are the state (D = state_dim) with
 *        derivatives by a rule, or [state; derivative] (2 D, "channels", the
 *        default); an ode without augmentation; 422 on objective.derivatives
 *        when the data have no derivatives and no rule is given;
 *   trajectory  the channels are the whole state [q; p]; a separable H
 *        (an explicit splitting needs one: solver.method).
 * *target (may be NULL) receives the resolved target. Fields: "dataset",
 * "objective.loss", "objective.target", and `model_field` ("init.readout"
 * or "from_version") for a readout of the wrong width. */
err_code job_spec_data_check(const job_spec *s, const model_def *d, const char *model_field,
                             dataset_kind ds_kind, size_t channels, dataset_label_kind label_kind,
                             size_t label_dim, job_target *target, err *e);

#endif
