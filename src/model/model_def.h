/* model/model_def.h: a model version as plain data: what is uploaded,
 * stored, exported and built into an executable model.
 *
 * The JSON model document (docs/model-format.md) is decoded into a model_def
 * by codec/, persisted by store/, and turned into something that solves by
 * the model layer's builders (ode_model, cde_model). model_def itself
 * has no behaviour beyond validation: it is the one shape every layer above
 * nn agrees on, so none of them needs JSON, SQL or a solver to hold a model.
 *
 * Networks. A kind has a fixed list of networks, each an MLP (nn/mlp.h):
 *   ode: [0] vector_field   in = state_dim + augment_dim (+1 with time_input)
 *                           out = state_dim + augment_dim
 *   cde: [0] initial        in = input_channels, out = hidden_dim
 *        [1] vector_field   in = hidden_dim, out = hidden_dim * input_channels
 *        [2] readout        in = hidden_dim, out >= 1
 *   sde: [0] drift          in = state_dim (+1 with time_input), out = state_dim
 *        [1] diffusion      in = state_dim (+1 with time_input); additive noise:
 *                           in = 1, the time alone (time_input false);
 *                           out = state_dim, or state_dim * brownian_dim
 *                           for general noise (row-major, docs/sde.md)
 *   hamiltonian (state_dim = 2 dof, the state [q; p]; docs/structured.md), by form:
 *     general: [0] hamiltonian  in = 2 dof, out = 1
 *     mass:    [0] potential    in = dof, out = 1   (H = p'M^-1 p / 2 + V(q))
 *     kinetic: [0] potential    in = dof, out = 1
 *              [1] kinetic      in = dof, out = 1   (H = T(p) + V(q))
 *     no time input; smooth activations only (nn/mlp_grad.h).
 *   cnf: [0] vector_field   in = state_dim (+1 with time_input), out = state_dim
 *                           (docs/cnf.md; state_dim is the document's "dim")
 *   lagrangian (state_dim = 2 dof, the state [q; dq/dt]; docs/structured.md):
 *        [0] lagrangian     in = 2 dof, out = 1; no time input, smooth
 *                           activations only (nn/mlp_grad.h)
 *   hybrid: none, or [0] network  in = state_dim (+1 with time_input), out = k >= 1
 *                           (its outputs are nn_0 .. nn_{k-1} in the equations;
 *                           the physical parameters' values follow its weights
 *                           in params: model_def_hybrid_values)
 * Parameters: one vector, the networks' parameter vectors (nn/mlp.h layout)
 * concatenated in network order; a hamiltonian of form mass appends its dof
 * masses (model_def_ham_mass), so they are stored, checksummed and
 * exported with the weights.
 *
 * Ownership: a model_def owns `description` and `params`; model_def_free
 * releases them. Not shared between threads while being written; read-only
 * sharing is fine. */
#ifndef ODESERVE_MODEL_MODEL_DEF_H
#define ODESERVE_MODEL_MODEL_DEF_H

#include "core/err.h"
#include "model/hybrid_def.h"
#include "nn/mlp.h"
#include "num/driver.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum model_kind {
    MODEL_KIND_ODE = 1, /* "ode": dh/dt = f(h, t) */
    MODEL_KIND_CDE = 2, /* "cde": dz/dt = f(z) dX/dt */
    MODEL_KIND_SDE = 3, /* "sde": dh = f(h, t) dt + g(h, t) dW (docs/sde.md) */
    MODEL_KIND_HAMILTONIAN = 4, /* "hamiltonian": dq/dt = dH/dp, dp/dt = -dH/dq */
    MODEL_KIND_CNF = 5, /* "cnf": dz/dt = f(z, t), z(0) ~ base (docs/cnf.md) */
    MODEL_KIND_LAGRANGIAN = 6, /* "lagrangian": Euler-Lagrange of a learned L(q, dq/dt) */
    MODEL_KIND_HYBRID = 7, /* "hybrid": dh_i/dt = equations[i] (docs/hybrid.md) */
} model_kind;

/* The form of a hamiltonian model's H. */
typedef enum model_ham_form {
    MODEL_HAM_GENERAL = 0, /* "hamiltonian": one network H(q, p) */
    MODEL_HAM_MASS,        /* "mass": V(q) network, diagonal mass vector */
    MODEL_HAM_KINETIC,     /* "kinetic": V(q) and T(p) networks */
    MODEL_HAM__COUNT
} model_ham_form;

typedef enum model_interp {
    MODEL_INTERP_LINEAR = 0,    /* "linear" */
    MODEL_INTERP_RECTILINEAR,   /* "rectilinear" */
    MODEL_INTERP_NATURAL_CUBIC, /* "natural_cubic" */
    MODEL_INTERP_HERMITE_BDIFF, /* "hermite_bdiff" */
    MODEL_INTERP__COUNT
} model_interp;

#define MODEL_MAX_NETS 3
#define MODEL_METHOD_MAX 24 /* "implicit_midpoint" and its NUL fit */
#define MODEL_DESCRIPTION_MAX 4096

/* One network: an mlp_spec's content, owned inline. */
typedef struct model_net {
    size_t in_dim;   /* input without t */
    bool time_input; /* t appended to the input */
    size_t n_layers;
    mlp_layer layers[MLP_MAX_LAYERS];
} model_net;

/* Solver settings: a model's defaults, or a request's overrides of them.
 * Zero / empty means "not set" (the solver's own default applies). */
typedef struct model_solver {
    char method[MODEL_METHOD_MAX];         /* "dopri5", ...; "" = not set */
    double rtol, atol;                     /* > 0 when set */
    long max_steps;                        /* > 0 when set */
    double first_step, min_step, max_step; /* > 0 when set */
    double step;                           /* fixed-step methods: step size (> 0 when set) */
} model_solver;

typedef struct model_def {
    model_kind kind;
    char *description; /* owned, may be NULL; at most MODEL_DESCRIPTION_MAX bytes */
    /* ode */
    size_t state_dim;   /* reported state */
    size_t augment_dim; /* zeros appended to the state (Dupont et al. 2019) */
    /* cde */
    size_t input_channels; /* channels of X, including the added ones */
    size_t hidden_dim;
    bool channel_time;      /* time prepended as channel 0 */
    bool channel_intensity; /* cumulative observation count per data channel appended */
    model_interp interp;
    /* sde (and state_dim) */
    int sde_calculus;    /* enum sde_calculus (num/sde.h) */
    int sde_noise;       /* enum sde_noise */
    size_t brownian_dim; /* general noise: Brownian components; 0 otherwise */
    /* hamiltonian (and state_dim = 2 dof) */
    int ham_form; /* enum model_ham_form */
    /* cnf (and state_dim as its dim): the base N(base_mean, diag(base_scale)^2);
     * both NULL = standard normal, else both owned, state_dim values each */
    double *base_mean, *base_scale;
    /* hybrid (and state_dim): names, equations, parameter metadata; owned,
     * NULL for the other kinds */
    model_hybrid *hybrid;
    /* every kind */
    size_t n_nets; /* 1 (ode, cnf), 3 (cde), 2 (sde), 1 or 2 (hamiltonian: model_def_n_nets) */
    model_net nets[MODEL_MAX_NETS];
    model_solver solver;
    size_t n_params;
    double *params; /* owned, n_params values */
} model_def;

/* Network indices. */
enum { MODEL_NET_ODE_FIELD = 0 };
enum { MODEL_NET_CDE_INITIAL = 0, MODEL_NET_CDE_FIELD = 1, MODEL_NET_CDE_READOUT = 2 };
enum { MODEL_NET_SDE_DRIFT = 0, MODEL_NET_SDE_DIFFUSION = 1 };
enum { MODEL_NET_HAM_H = 0, MODEL_NET_HAM_V = 0, MODEL_NET_HAM_T = 1 };
enum { MODEL_NET_CNF_FIELD = 0 };
enum { MODEL_NET_LAG_L = 0 };
enum { MODEL_NET_HYBRID = 0 };

/* A hybrid's physical parameter values (the tail of params, hybrid->n_par
 * of them), and its network's outputs (0 without a network); NULL / 0 for
 * the other kinds. */
const double *model_def_hybrid_values(const model_def *d);
size_t model_def_hybrid_nn_out(const model_def *d);

/* Zero everything (kind unset). */
void model_def_init(model_def *d);
void model_def_free(model_def *d); /* frees the owned members, then re-inits */

/* Document names: "ode" / "cde" / "sde" / "cnf", "vector_field", "hermite_bdiff". */
const char *model_kind_name(model_kind k);
err_code model_kind_from_name(const char *name, model_kind *out, err *e);
const char *model_interp_name(model_interp i);
err_code model_interp_from_name(const char *name, model_interp *out, err *e);
/* Name of network i of kind k ("vector_field"), NULL when out of range. */
const char *model_net_name(model_kind k, size_t i);

/* Number of networks a kind has (1, 3 or 2; hamiltonian: 2, the most its
 * forms have; model_def_n_nets gives a def's own). */
size_t model_kind_n_nets(model_kind k);

/* Networks of this def's kind and form; its network i's document name
 * ("vector_field", "potential"), NULL when out of range. */
size_t model_def_n_nets(const model_def *d);
const char *model_def_net_name(const model_def *d, size_t i);

/* "hamiltonian" / "mass" / "kinetic"; -1 for an unknown name. */
const char *model_ham_form_name(model_ham_form f);
int model_ham_form_from_name(const char *name);

/* A hamiltonian of form mass: its dof masses (the tail of params); NULL
 * for the other kinds and forms. */
const double *model_def_ham_mass(const model_def *d);

/* Whether `method` names a symplectic method (num/symplectic.h), and
 * whether it is one of the explicit splittings (separable H only). */
bool model_method_symplectic(const char *method);
bool model_method_splitting(const char *method);

/* A lagrangian model's method (docs/structured.md): "" or an explicit
 * Runge-Kutta method; anything else is ERR_INVALID on "solver.method",
 * saying why (symplectic methods need canonical [q; p]; the implicit ones
 * need a Jacobian of the acceleration, which is not built). */
err_code model_lagrangian_method_check(const char *method, err *e);

/* Parameter count of one network (nn/mlp.h layout). ERR_INVALID (field
 * "layers[i]") when its layers do not chain. */
err_code model_net_n_params(const model_net *n, size_t *out, err *e);

/* Check everything: kind, dimensions > 0, each network's shapes against
 * the kind's rules above, n_params equal to the networks' total, every
 * parameter finite, solver settings in range and the method known. The
 * field names the offending part as the document spells it
 * ("vector_field.layers[1]", "solver.rtol", "augment_dim"). */
err_code model_def_validate(const model_def *d, err *e);

/* Offset of network i's parameters in d->params. */
size_t model_def_net_offset(const model_def *d, size_t i);

/* `out` = `base` with every field that is set in `over` replacing it (a
 * request's solver overrides on a model's defaults). */
void model_solver_merge(const model_solver *base, const model_solver *over, model_solver *out);

/* Validate a request's overrides, lay them on a model's defaults and fill
 * num's options and method: the one mapping from model_solver to the solver,
 * shared by every model kind. Unset fields keep num's defaults
 * (ode_options_init); the method defaults to dopri5. Adaptive methods
 * ignore solver.step. A fixed-step method uses solver.step, else
 * `fixed_n_steps` equal steps per direction when that is > 0, else it is
 * ERR_INVALID on "solver.step". Fields are named "solver.*". */
err_code model_solver_options(const model_solver *base, const model_solver *over,
                              long fixed_n_steps, const struct rk_tableau **tab,
                              struct ode_options *o, err *e);

/* Check solver settings alone (fields "solver.rtol", ...). */
err_code model_solver_validate(const model_solver *s, err *e);

/* Deep copy. */
err_code model_def_copy(model_def *dst, const model_def *src, err *e);

/* 64-bit FNV-1a of the parameter bytes (little-endian doubles): the
 * checksum stored with a version and shown to clients as 16 hex digits. */
unsigned long long model_def_checksum(const model_def *d);

#endif
