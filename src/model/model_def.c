/* model/model_def.c: see model_def.h. */
#include "model/model_def.h"

#include "nn/mlp_grad.h"
#include "num/sde.h"
#include "num/symplectic.h"
#include "num/tableau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [MODEL_KIND_ODE] = "ode", [MODEL_KIND_CDE] = "cde", [MODEL_KIND_SDE] = "sde",
    [MODEL_KIND_HAMILTONIAN] = "hamiltonian", [MODEL_KIND_CNF] = "cnf",
    [MODEL_KIND_LAGRANGIAN] = "lagrangian", [MODEL_KIND_HYBRID] = "hybrid"};

static const char *const ham_form_names[MODEL_HAM__COUNT] = {
    [MODEL_HAM_GENERAL] = "hamiltonian", [MODEL_HAM_MASS] = "mass", [MODEL_HAM_KINETIC] = "kinetic"};

static const char *const interp_names[MODEL_INTERP__COUNT] = {
    [MODEL_INTERP_LINEAR] = "linear",
    [MODEL_INTERP_RECTILINEAR] = "rectilinear",
    [MODEL_INTERP_NATURAL_CUBIC] = "natural_cubic",
    [MODEL_INTERP_HERMITE_BDIFF] = "hermite_bdiff",
};

static const char *const ode_net_names[] = {"vector_field"};
static const char *const cde_net_names[] = {"initial", "vector_field", "readout"};
static const char *const sde_net_names[] = {"drift", "diffusion"};
static const char *const lag_net_names[] = {"lagrangian"};

void model_def_init(model_def *d)
{
    memset(d, 0, sizeof *d);
}

void model_def_free(model_def *d)
{
    if (!d) return;
    free(d->description);
    free(d->params);
    free(d->base_mean);
    free(d->base_scale);
    model_hybrid_free(d->hybrid);
    model_def_init(d);
}

const char *model_kind_name(model_kind k)
{
    if (k >= MODEL_KIND_ODE && k <= MODEL_KIND_HYBRID && kind_names[k]) return kind_names[k];
    return "?";
}

err_code model_kind_from_name(const char *name, model_kind *out, err *e)
{
    for (int k = MODEL_KIND_ODE; name && k <= MODEL_KIND_HYBRID; k++) {
        if (kind_names[k] && strcmp(name, kind_names[k]) == 0) {
            *out = (model_kind)k;
            return ERR_OK;
        }
    }
    return err_set(e, ERR_INVALID, "",
                   "unknown kind \"%s\" (expected \"ode\", \"cde\", \"sde\", \"hamiltonian\", "
                   "\"lagrangian\", \"cnf\" or \"hybrid\")",
                   name ? name : "");
}

const char *model_interp_name(model_interp i)
{
    if ((int)i >= 0 && i < MODEL_INTERP__COUNT) return interp_names[i];
    return "?";
}

err_code model_interp_from_name(const char *name, model_interp *out, err *e)
{
    for (int i = 0; name && i < MODEL_INTERP__COUNT; i++) {
        if (strcmp(name, interp_names[i]) == 0) {
            *out = (model_interp)i;
            return ERR_OK;
        }
    }
    return err_set(e, ERR_INVALID, "",
                   "unknown interpolation \"%s\" (expected linear, rectilinear, natural_cubic or "
                   "hermite_bdiff)",
                   name ? name : "");
}

size_t model_kind_n_nets(model_kind k)
{
    return k == MODEL_KIND_ODE           ? 1
           : k == MODEL_KIND_CDE         ? 3
           : k == MODEL_KIND_SDE         ? 2
           : k == MODEL_KIND_HAMILTONIAN ? 2
           : k == MODEL_KIND_CNF         ? 1
           : k == MODEL_KIND_LAGRANGIAN  ? 1
           : k == MODEL_KIND_HYBRID      ? 1
                                         : 0;
}

size_t model_def_n_nets(const model_def *d)
{
    if (d->kind == MODEL_KIND_HAMILTONIAN) return d->ham_form == MODEL_HAM_KINETIC ? 2 : 1;
    if (d->kind == MODEL_KIND_HYBRID) return d->n_nets ? 1 : 0; /* the network is optional */
    return model_kind_n_nets(d->kind);
}

const char *model_def_net_name(const model_def *d, size_t i)
{
    if (d->kind != MODEL_KIND_HAMILTONIAN) return model_net_name(d->kind, i);
    if (i >= model_def_n_nets(d)) return NULL;
    if (i == MODEL_NET_HAM_T) return "kinetic";
    return d->ham_form == MODEL_HAM_GENERAL ? "hamiltonian" : "potential";
}

const char *model_ham_form_name(model_ham_form f)
{
    if ((int)f >= 0 && f < MODEL_HAM__COUNT) return ham_form_names[f];
    return "?";
}

int model_ham_form_from_name(const char *name)
{
    for (int i = 0; name && i < MODEL_HAM__COUNT; i++)
        if (strcmp(name, ham_form_names[i]) == 0) return i;
    return -1;
}

const double *model_def_ham_mass(const model_def *d)
{
    if (d->kind != MODEL_KIND_HAMILTONIAN || d->ham_form != MODEL_HAM_MASS || !d->params)
        return NULL;
    return d->params + model_def_net_offset(d, model_def_n_nets(d));
}

bool model_method_symplectic(const char *method)
{
    return method && method[0] && symp_method_find(method) != NULL;
}

bool model_method_splitting(const char *method)
{
    const struct symp_method *m = method && method[0] ? symp_method_find(method) : NULL;
    return m && symp_method_explicit(m);
}

const char *model_net_name(model_kind k, size_t i)
{
    if (k == MODEL_KIND_ODE && i < 1) return ode_net_names[i];
    if (k == MODEL_KIND_CDE && i < 3) return cde_net_names[i];
    if (k == MODEL_KIND_SDE && i < 2) return sde_net_names[i];
    if (k == MODEL_KIND_CNF && i < 1) return ode_net_names[i];
    if (k == MODEL_KIND_LAGRANGIAN && i < 1) return lag_net_names[i];
    if (k == MODEL_KIND_HYBRID && i < 1) return "network";
    return NULL;
}

/* Walk the layers, resolving elementwise widths; *in_out gives the output
 * width. Errors name "layers[i]". */
static err_code net_chain(const model_net *n, size_t *n_params, size_t *out_dim, err *e)
{
    if (n->n_layers == 0 || n->n_layers > MLP_MAX_LAYERS)
        return err_set(e, ERR_INVALID, "layers", "must hold 1 to %d layers", MLP_MAX_LAYERS);
    size_t width = n->in_dim + (n->time_input ? 1 : 0), np = 0, linear = 0;
    char f[32];
    if (n->in_dim == 0 || n->in_dim >= MLP_MAX_WIDTH) /* nn/mlp.h's state_dim range */
        return err_set(e, ERR_INVALID, "layers[0]", "takes %zu inputs: must be 1..%d", n->in_dim,
                       MLP_MAX_WIDTH - 1);
    for (size_t i = 0; i < n->n_layers; i++) {
        const mlp_layer *l = &n->layers[i];
        snprintf(f, sizeof f, "layers[%zu]", i);
        if ((int)l->act < 0 || l->act >= ACT__COUNT)
            return err_set(e, ERR_INVALID, f, "unknown activation");
        if (l->kind == MLP_ELEMENTWISE) {
            if ((l->out != 0 && l->out != width) || (l->in != 0 && l->in != width))
                return err_set(e, ERR_INVALID, f,
                               "elementwise layer of width %zu/%zu after width %zu", l->in, l->out,
                               width);
            continue;
        }
        if (l->kind != MLP_LINEAR) return err_set(e, ERR_INVALID, f, "unknown layer kind");
        if (l->in != width)
            return err_set(e, ERR_INVALID, f, "takes %zu inputs but the layer before it gives %zu",
                           l->in, width);
        if (l->out == 0 || l->out > MLP_MAX_WIDTH)
            return err_set(e, ERR_INVALID, f, "width %zu out of range 1..%d", l->out,
                           MLP_MAX_WIDTH);
        np += l->in * l->out + l->out;
        width = l->out;
        linear++;
    }
    if (linear == 0) return err_set(e, ERR_INVALID, "layers", "needs at least one linear layer");
    if (n_params) *n_params = np;
    if (out_dim) *out_dim = width;
    return ERR_OK;
}

err_code model_net_n_params(const model_net *n, size_t *out, err *e)
{
    return net_chain(n, out, NULL, e);
}

size_t model_def_net_offset(const model_def *d, size_t i)
{
    size_t off = 0;
    for (size_t j = 0; j < i && j < d->n_nets; j++) {
        size_t np = 0;
        if (net_chain(&d->nets[j], &np, NULL, NULL) == ERR_OK) off += np;
    }
    return off;
}

/* One network against the dimensions its kind requires (0 = any). */
static err_code check_net(const model_def *d, size_t i, size_t want_in, size_t want_out, size_t *np,
                          err *e)
{
    const model_net *n = &d->nets[i];
    const char *name = model_def_net_name(d, i);
    size_t out_dim = 0;
    if (n->in_dim != want_in) {
        err_set(e, ERR_INVALID, "layers[0]", "takes %zu inputs (plus time: %s), expected %zu",
                n->in_dim, n->time_input ? "yes" : "no", want_in);
        err_prefix_field(e, name);
        return ERR_INVALID;
    }
    if (net_chain(n, np, &out_dim, e)) {
        err_prefix_field(e, name);
        return ERR_INVALID;
    }
    if (want_out && out_dim != want_out) {
        char f[32];
        snprintf(f, sizeof f, "layers[%zu]", n->n_layers - 1);
        err_set(e, ERR_INVALID, f, "gives %zu outputs, expected %zu", out_dim, want_out);
        err_prefix_field(e, name);
        return ERR_INVALID;
    }
    return ERR_OK;
}

err_code model_solver_validate(const model_solver *s, err *e)
{
    if (!memchr(s->method, '\0', sizeof s->method))
        return err_set(e, ERR_INVALID, "solver.method", "longer than %d characters",
                       MODEL_METHOD_MAX - 1);
    if (s->method[0] && !rk_tableau_find(s->method) && !sde_method_find(s->method) &&
        !symp_method_find(s->method))
        return err_set(e, ERR_INVALID, "solver.method",
                       "unknown method \"%s\" (expected euler, midpoint, rk4, bosh3, dopri5, "
                       "tsit5, dop853, rodas4 or esdirk4; for an sde model euler_maruyama, "
                       "milstein, euler_heun, reversible_heun or sra1; for a hamiltonian model "
                       "also leapfrog, yoshida4, yoshida6, kahan_li6, implicit_midpoint or gauss4)",
                       s->method);
    const struct {
        const char *name;
        double v;
    } pos[] = {{"solver.rtol", s->rtol},
               {"solver.atol", s->atol},
               {"solver.first_step", s->first_step},
               {"solver.min_step", s->min_step},
               {"solver.max_step", s->max_step},
               {"solver.step", s->step}};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (!isfinite(pos[i].v) || pos[i].v < 0)
            return err_set(e, ERR_INVALID, pos[i].name, "must be a positive finite number");
    if (s->max_steps < 0) return err_set(e, ERR_INVALID, "solver.max_steps", "must be positive");
    if (s->min_step > 0 && s->max_step > 0 && s->min_step > s->max_step)
        return err_set(e, ERR_INVALID, "solver.min_step", "is larger than solver.max_step");
    return ERR_OK;
}

/* Parameter i (of a model whose shapes are valid) is not finite: name it as
 * the document does, "vector_field.layers[1].weight[3][0]" or
 * "...layers[1].bias[3]". */
static err_code param_not_finite(const model_def *d, size_t i, err *e)
{
    size_t off = 0;
    char f[96];
    for (size_t k = 0; k < d->n_nets; k++) {
        const model_net *n = &d->nets[k];
        for (size_t l = 0; l < n->n_layers; l++) {
            const mlp_layer *L = &n->layers[l];
            if (L->kind != MLP_LINEAR) continue;
            const size_t nw = L->in * L->out;
            if (i < off + nw)
                snprintf(f, sizeof f, "%s.layers[%zu].weight[%zu][%zu]", model_def_net_name(d, k),
                         l, (i - off) / L->in, (i - off) % L->in);
            else if (i < off + nw + L->out)
                snprintf(f, sizeof f, "%s.layers[%zu].bias[%zu]", model_def_net_name(d, k), l,
                         i - off - nw);
            else {
                off += nw + L->out;
                continue;
            }
            return err_set(e, ERR_INVALID, f, "is not a finite number");
        }
    }
    if (model_def_ham_mass(d)) {
        snprintf(f, sizeof f, "mass[%zu]", i - off);
        return err_set(e, ERR_INVALID, f, "must be a positive finite number");
    }
    return err_set(e, ERR_INVALID, "", "parameter %zu is not finite", i);
}

/* A hamiltonian network: a scalar of the positions, momenta or both, no
 * time input, smooth activations (its Hessian drives the implicit solvers). */
static err_code ham_net(const model_def *d, size_t i, size_t in, size_t *np, err *e)
{
    const model_net *n = &d->nets[i];
    const char *name = model_def_net_name(d, i);
    char f[64];
    if (n->time_input) {
        snprintf(f, sizeof f, "%s.time_input", name);
        return err_set(e, ERR_INVALID, f, "a %s model's %s does not depend on time (energy is "
                       "conserved)", model_kind_name(d->kind),
                       d->kind == MODEL_KIND_LAGRANGIAN ? "L" : "H");
    }
    if (check_net(d, i, in, 1, np, e)) return ERR_INVALID;
    for (size_t l = 0; l < n->n_layers; l++)
        if (!mlp_grad_act_smooth(n->layers[l].act)) {
            snprintf(f, sizeof f, "%s.layers[%zu].activation", name, l);
            return err_set(e, ERR_INVALID, f, "%s is refused: %s", act_name(n->layers[l].act),
                           mlp_grad_act_why(n->layers[l].act));
        }
    return ERR_OK;
}

static err_code ham_validate(const model_def *d, size_t *np, err *e)
{
    if (d->state_dim < 2 || d->state_dim % 2)
        return err_set(e, ERR_INVALID, "dof", "must be at least 1 (the state is [q; p], 2 dof)");
    if (d->augment_dim) return err_set(e, ERR_INVALID, "augment_dim", "a hamiltonian has none");
    if (d->ham_form < 0 || d->ham_form >= MODEL_HAM__COUNT)
        return err_set(e, ERR_INVALID, "hamiltonian", "unknown form");
    const size_t n = d->state_dim / 2;
    if (d->ham_form == MODEL_HAM_GENERAL) return ham_net(d, MODEL_NET_HAM_H, 2 * n, &np[0], e);
    if (ham_net(d, MODEL_NET_HAM_V, n, &np[0], e)) return ERR_INVALID;
    if (d->ham_form == MODEL_HAM_KINETIC) return ham_net(d, MODEL_NET_HAM_T, n, &np[1], e);
    np[1] = n; /* the masses */
    return ERR_OK;
}

/* A hamiltonian's default method: an ODE solver or a symplectic one that
 * fits its form. */
static err_code ham_solver_check(const model_def *d, err *e)
{
    const char *m = d->solver.method;
    if (!m[0] || rk_tableau_find(m)) return ERR_OK;
    if (!model_method_symplectic(m))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an sde method; a hamiltonian model needs an ODE or a symplectic "
                       "solver",
                       m);
    if (model_method_splitting(m) && d->ham_form == MODEL_HAM_GENERAL)
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an explicit splitting: it needs a separable H (a \"potential\" with "
                       "\"mass\" or \"kinetic\"); for a general H use implicit_midpoint or gauss4",
                       m);
    return ERR_OK;
}

/* A lagrangian: one scalar network L of [q; dq/dt], as a general H. */
static err_code lag_validate(const model_def *d, size_t *np, err *e)
{
    if (d->state_dim < 2 || d->state_dim % 2)
        return err_set(e, ERR_INVALID, "dof",
                       "must be at least 1 (the state is [q; dq/dt], 2 dof)");
    if (d->augment_dim) return err_set(e, ERR_INVALID, "augment_dim", "a lagrangian has none");
    return ham_net(d, MODEL_NET_LAG_L, d->state_dim, &np[0], e);
}

err_code model_lagrangian_method_check(const char *m, err *e)
{
    if (!m || !m[0]) return ERR_OK;
    const struct rk_tableau *tab = rk_tableau_find(m);
    if (tab && tab->kind == RK_EXPLICIT) return ERR_OK;
    if (model_method_symplectic(m))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is a symplectic method: it needs a hamiltonian model (it integrates "
                       "canonical [q; p]; a lagrangian model's [q; dq/dt] are not canonical "
                       "coordinates, docs/structured.md): use dopri5, tsit5 or dop853",
                       m);
    if (tab)
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s needs the Jacobian of the field, which for a lagrangian model takes "
                       "third derivatives of L and is not built: use an explicit method (dopri5, "
                       "tsit5, dop853, bosh3, rk4, ...)",
                       tab->name);
    return err_set(e, ERR_INVALID, "solver.method",
                   "%s is an sde method; a lagrangian model needs an explicit ODE solver", m);
}

/* An sde's dimensions and networks (docs/sde.md, "Noise types"). */
static err_code sde_validate(const model_def *d, size_t *np, err *e)
{
    if (d->state_dim == 0) return err_set(e, ERR_INVALID, "state_dim", "must be at least 1");
    if (d->augment_dim) return err_set(e, ERR_INVALID, "augment_dim", "an sde has no augment_dim");
    if (d->sde_calculus < 0 || d->sde_calculus >= SDE_CALCULUS__COUNT)
        return err_set(e, ERR_INVALID, "calculus", "must be \"ito\" or \"stratonovich\"");
    if (d->sde_noise < 0 || d->sde_noise >= SDE_NOISE__COUNT)
        return err_set(e, ERR_INVALID, "noise",
                       "must be \"diagonal\", \"scalar\", \"additive\" or \"general\"");
    const bool general = d->sde_noise == SDE_NOISE_GENERAL;
    if (general && (d->brownian_dim == 0 || d->brownian_dim > MLP_MAX_WIDTH))
        return err_set(e, ERR_INVALID, "brownian_dim", "general noise needs brownian_dim in 1..%d",
                       MLP_MAX_WIDTH);
    if (!general && d->brownian_dim)
        return err_set(e, ERR_INVALID, "brownian_dim", "is for general noise only");
    const size_t n = d->state_dim, g_out = general ? n * d->brownian_dim : n;
    if (check_net(d, MODEL_NET_SDE_DRIFT, n, n, &np[0], e)) return ERR_INVALID;
    if (d->sde_noise == SDE_NOISE_ADDITIVE) {
        if (d->nets[MODEL_NET_SDE_DIFFUSION].time_input)
            return err_set(e, ERR_INVALID, "diffusion.time_input",
                           "with additive noise the diffusion network's one input is the time");
        return check_net(d, MODEL_NET_SDE_DIFFUSION, 1, g_out, &np[1], e);
    }
    return check_net(d, MODEL_NET_SDE_DIFFUSION, n, g_out, &np[1], e);
}

/* An sde's solver defaults: an sde method that fits the noise and
 * calculus; the step may be left to the request. */
static err_code sde_solver_check(const model_def *d, err *e)
{
    if (!d->solver.method[0]) return ERR_OK;
    const struct sde_method *me = sde_method_find(d->solver.method);
    if (!me)
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is an %s solver; an sde model needs euler_maruyama, milstein, "
                       "euler_heun, reversible_heun or sra1",
                       d->solver.method,
                       model_method_symplectic(d->solver.method) ? "symplectic" : "ODE");
    return sde_method_check(me, (sde_calculus)d->sde_calculus, (sde_noise)d->sde_noise, e);
}

/* A cnf's dimension, base and network (docs/cnf.md). */
static err_code cnf_validate(const model_def *d, size_t *np, err *e)
{
    if (d->state_dim == 0) return err_set(e, ERR_INVALID, "dim", "must be at least 1");
    if (d->augment_dim) return err_set(e, ERR_INVALID, "augment_dim", "a cnf has no augment_dim");
    if (!d->base_mean != !d->base_scale)
        return err_set(e, ERR_INVALID, "base", "needs both mean and scale");
    char f[48];
    for (size_t i = 0; d->base_mean && i < d->state_dim; i++) {
        if (!isfinite(d->base_mean[i])) {
            snprintf(f, sizeof f, "base.mean[%zu]", i);
            return err_set(e, ERR_INVALID, f, "is not a finite number");
        }
        if (!isfinite(d->base_scale[i]) || !(d->base_scale[i] > 0)) {
            snprintf(f, sizeof f, "base.scale[%zu]", i);
            return err_set(e, ERR_INVALID, f, "must be a positive finite number");
        }
    }
    return check_net(d, MODEL_NET_CNF_FIELD, d->state_dim, d->state_dim, &np[0], e);
}

const double *model_def_hybrid_values(const model_def *d)
{
    if (d->kind != MODEL_KIND_HYBRID || !d->hybrid || !d->params) return NULL;
    return d->params + model_def_net_offset(d, d->n_nets);
}

size_t model_def_hybrid_nn_out(const model_def *d)
{
    size_t out = 0;
    if (d->kind != MODEL_KIND_HYBRID || !d->n_nets ||
        net_chain(&d->nets[MODEL_NET_HYBRID], NULL, &out, NULL) != ERR_OK)
        return 0;
    return out;
}

/* A hybrid: the optional network, then names, bounds and equations
 * (model_hybrid_validate, which needs the parameter values). */
static err_code hybrid_validate(const model_def *d, size_t *np, err *e)
{
    if (!d->hybrid || d->hybrid->n_state != d->state_dim)
        return err_set(e, ERR_INVALID, "state_names", "must hold state_dim names");
    if (d->augment_dim) return err_set(e, ERR_INVALID, "augment_dim", "a hybrid has no augment_dim");
    if (d->n_nets && check_net(d, MODEL_NET_HYBRID, d->state_dim, 0, &np[0], e))
        return ERR_INVALID;
    if (np[0] + d->hybrid->n_par != d->n_params || !d->params)
        return err_set(e, ERR_INVALID, "parameters",
                       d->n_params ? "has %zu values, the network and parameters need %zu"
                                   : "a hybrid model needs at least one parameter or a network",
                       d->n_params, np[0] + d->hybrid->n_par);
    np[1] = d->hybrid->n_par;
    return ERR_OK;
}

err_code model_def_validate(const model_def *d, err *e)
{
    size_t np[MODEL_MAX_NETS] = {0}, total = 0;
    if (d->kind != MODEL_KIND_ODE && d->kind != MODEL_KIND_CDE && d->kind != MODEL_KIND_SDE &&
        d->kind != MODEL_KIND_HAMILTONIAN && d->kind != MODEL_KIND_CNF &&
        d->kind != MODEL_KIND_LAGRANGIAN && d->kind != MODEL_KIND_HYBRID)
        return err_set(e, ERR_INVALID, "kind",
                       "must be \"ode\", \"cde\", \"sde\", \"hamiltonian\", \"lagrangian\", "
                       "\"cnf\" or \"hybrid\"");
    if (d->description && strlen(d->description) > MODEL_DESCRIPTION_MAX)
        return err_set(e, ERR_INVALID, "description", "longer than %d bytes",
                       MODEL_DESCRIPTION_MAX);
    if (d->n_nets != model_def_n_nets(d))
        return err_set(e, ERR_INVALID, "", "a %s model has %zu networks, not %zu",
                       model_kind_name(d->kind), model_def_n_nets(d), d->n_nets);
    if (d->kind == MODEL_KIND_ODE) {
        if (d->state_dim == 0) return err_set(e, ERR_INVALID, "state_dim", "must be at least 1");
        size_t dim = d->state_dim + d->augment_dim;
        if (check_net(d, MODEL_NET_ODE_FIELD, dim, dim, &np[0], e)) return ERR_INVALID;
    } else if (d->kind == MODEL_KIND_SDE) {
        if (sde_validate(d, np, e)) return ERR_INVALID;
    } else if (d->kind == MODEL_KIND_HAMILTONIAN) {
        if (ham_validate(d, np, e)) return ERR_INVALID;
    } else if (d->kind == MODEL_KIND_CNF) {
        if (cnf_validate(d, np, e)) return ERR_INVALID;
    } else if (d->kind == MODEL_KIND_LAGRANGIAN) {
        if (lag_validate(d, np, e)) return ERR_INVALID;
    } else if (d->kind == MODEL_KIND_HYBRID) {
        if (hybrid_validate(d, np, e)) return ERR_INVALID;
    } else {
        if (d->input_channels == 0)
            return err_set(e, ERR_INVALID, "input_channels", "must be at least 1");
        if (d->hidden_dim == 0) return err_set(e, ERR_INVALID, "hidden_dim", "must be at least 1");
        if ((int)d->interp < 0 || d->interp >= MODEL_INTERP__COUNT)
            return err_set(e, ERR_INVALID, "interpolation", "unknown interpolation");
        size_t added = d->channel_time ? 1 : 0;
        if (d->channel_intensity) {
            /* data channels c: input_channels = added_time + c + c */
            if ((d->input_channels - added) % 2 != 0 || d->input_channels <= added)
                return err_set(e, ERR_INVALID, "input_channels",
                               "with channels.intensity, input_channels - %zu must be even "
                               "(one intensity channel per data channel)",
                               added);
        } else if (d->input_channels <= added) {
            return err_set(e, ERR_INVALID, "input_channels",
                           "must count at least one data channel besides time");
        }
        if (d->nets[MODEL_NET_CDE_INITIAL].time_input || d->nets[MODEL_NET_CDE_FIELD].time_input ||
            d->nets[MODEL_NET_CDE_READOUT].time_input)
            return err_set(e, ERR_INVALID, "time_input",
                           "a cde's networks take no time input (use channels.time)");
        if (check_net(d, MODEL_NET_CDE_INITIAL, d->input_channels, d->hidden_dim, &np[0], e) ||
            check_net(d, MODEL_NET_CDE_FIELD, d->hidden_dim, d->hidden_dim * d->input_channels,
                      &np[1], e) ||
            check_net(d, MODEL_NET_CDE_READOUT, d->hidden_dim, 0, &np[2], e))
            return ERR_INVALID;
    }
    for (size_t i = 0; i < MODEL_MAX_NETS; i++)
        total += np[i];
    if (total != d->n_params || (total && !d->params))
        return err_set(e, ERR_INVALID, "", "has %zu parameters, the networks need %zu", d->n_params,
                       total);
    for (size_t i = 0; i < d->n_params; i++)
        if (!isfinite(d->params[i])) return param_not_finite(d, i, e);
    const double *mass = model_def_ham_mass(d);
    for (size_t i = 0; mass && i < d->state_dim / 2; i++)
        if (!(mass[i] > 0)) {
            char f[32];
            snprintf(f, sizeof f, "mass[%zu]", i);
            return err_set(e, ERR_INVALID, f, "must be positive, got %.17g", mass[i]);
        }
    if (d->kind == MODEL_KIND_HYBRID &&
        model_hybrid_validate(d->hybrid, model_def_hybrid_values(d), model_def_hybrid_nn_out(d), e))
        return e->code;
    if (model_solver_validate(&d->solver, e)) return ERR_INVALID;
    if (d->kind == MODEL_KIND_SDE) return sde_solver_check(d, e);
    if (d->kind == MODEL_KIND_HAMILTONIAN) return ham_solver_check(d, e);
    if (d->kind == MODEL_KIND_LAGRANGIAN) return model_lagrangian_method_check(d->solver.method, e);
    if (model_method_symplectic(d->solver.method))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is a symplectic method: it needs a hamiltonian model (the field of a "
                       "%s model is not the symplectic gradient of an energy)",
                       d->solver.method, model_kind_name(d->kind));
    if (d->solver.method[0] && !rk_tableau_find(d->solver.method))
        return err_set(e, ERR_INVALID, "solver.method", "%s is an sde method; a %s model needs "
                       "an ODE solver", d->solver.method, model_kind_name(d->kind));
    /* An ODE's fixed-step default is a number of steps over the query's
     * span; a CDE's span is the path's parameter, which says nothing of a
     * sensible step, so its document must give one (else every query would
     * have to). */
    const struct rk_tableau *tab = d->solver.method[0] ? rk_tableau_find(d->solver.method) : NULL;
    if (d->kind == MODEL_KIND_CDE && tab && !rk_tableau_adaptive(tab) && !(d->solver.step > 0))
        return err_set(e, ERR_INVALID, "solver.step",
                       "a cde model with the fixed-step method %s needs solver.step", tab->name);
    return ERR_OK;
}

err_code model_def_copy(model_def *dst, const model_def *src, err *e)
{
    model_def tmp = *src;
    tmp.description = NULL;
    tmp.params = NULL;
    tmp.base_mean = tmp.base_scale = NULL;
    tmp.hybrid = NULL;
    if (src->hybrid && !(tmp.hybrid = model_hybrid_copy(src->hybrid))) goto nomem;
    if (src->base_mean) {
        size_t nb = src->state_dim * sizeof(double);
        if (!(tmp.base_mean = malloc(nb)) || !(tmp.base_scale = malloc(nb))) goto nomem;
        memcpy(tmp.base_mean, src->base_mean, nb);
        memcpy(tmp.base_scale, src->base_scale, nb);
    }
    if (src->description && !(tmp.description = strdup(src->description))) goto nomem;
    if (src->n_params) {
        tmp.params = malloc(src->n_params * sizeof *tmp.params);
        if (!tmp.params) goto nomem;
        memcpy(tmp.params, src->params, src->n_params * sizeof *tmp.params);
    }
    *dst = tmp;
    return ERR_OK;
nomem:
    free(tmp.description);
    free(tmp.params);
    free(tmp.base_mean);
    free(tmp.base_scale);
    model_hybrid_free(tmp.hybrid);
    return err_set(e, ERR_NOMEM, NULL, "out of memory copying a model");
}

unsigned long long model_def_checksum(const model_def *d)
{
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < d->n_params; i++) {
        unsigned long long bits;
        memcpy(&bits, &d->params[i], sizeof bits);
        for (int b = 0; b < 8; b++) { /* little-endian byte order on every host */
            h ^= (bits >> (8 * b)) & 0xffu;
            h *= 1099511628211ull;
        }
    }
    return h;
}

void model_solver_merge(const model_solver *base, const model_solver *over, model_solver *out)
{
    model_solver r = *base;
    if (over->method[0]) memcpy(r.method, over->method, sizeof r.method);
    if (over->rtol > 0) r.rtol = over->rtol;
    if (over->atol > 0) r.atol = over->atol;
    if (over->max_steps > 0) r.max_steps = over->max_steps;
    if (over->first_step > 0) r.first_step = over->first_step;
    if (over->min_step > 0) r.min_step = over->min_step;
    if (over->max_step > 0) r.max_step = over->max_step;
    if (over->step > 0) r.step = over->step;
    *out = r;
}

err_code model_solver_options(const model_solver *base, const model_solver *over,
                              long fixed_n_steps, const struct rk_tableau **tab,
                              struct ode_options *o, err *e)
{
    model_solver s;
    /* merging drops unset (non-positive) overrides, so check them first */
    if (model_solver_validate(over, e)) return ERR_INVALID;
    model_solver_merge(base, over, &s);
    if (model_solver_validate(&s, e)) return ERR_INVALID;
    *tab = rk_tableau_find(s.method[0] ? s.method : "dopri5");
    if (!*tab && model_method_symplectic(s.method))
        return err_set(e, ERR_INVALID, "solver.method",
                       "%s is a symplectic method: it needs a hamiltonian model (this model's "
                       "field is not the symplectic gradient of an energy)",
                       s.method);
    if (!*tab) return err_set(e, ERR_INVALID, "solver.method", "unknown method");
    ode_options_init(o);
    if (s.rtol > 0) o->rtol = s.rtol;
    if (s.atol > 0) o->atol = s.atol;
    if (s.max_steps > 0) o->max_steps = s.max_steps;
    o->first_step = s.first_step;
    o->min_step = s.min_step;
    o->max_step = s.max_step;
    if (!rk_tableau_adaptive(*tab)) {
        if (s.step > 0)
            o->fixed_step = s.step;
        else if (fixed_n_steps > 0)
            o->n_steps = fixed_n_steps;
        else
            return err_set(e, ERR_INVALID, "solver.step",
                           "method %s has no error estimate: give solver.step", (*tab)->name);
    }
    return ERR_OK;
}
