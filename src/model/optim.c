/* model/optim.c: sgd, rmsprop, adam, clipping. See optim.h. */
#include "model/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct optim {
    struct optim_config c;
    size_t n;      /* parameters */
    long t;        /* steps taken */
    size_t n_buf;  /* buffers of n doubles in state */
    double *state; /* n_buf * n: see the layout in optim.h */
    double *buf, *sq, *avg, *m, *v;
};

static const char *const kind_names[OPTIM__COUNT] = {"sgd", "rmsprop", "adam"};

void optim_config_init(struct optim_config *c, optim_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->lr = 1e-3;
    c->alpha = 0.99;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
}

err_code optim_kind_from_name(const char *name, optim_kind *out, err *e)
{
    for (int k = 0; name && k < OPTIM__COUNT; k++)
        if (!strcmp(name, kind_names[k])) {
            *out = (optim_kind)k;
            return ERR_OK;
        }
    return err_set(e, ERR_INVALID, "", "unknown optimizer \"%s\" (expected sgd, rmsprop or adam)",
                   name ? name : "(null)");
}

const char *optim_kind_name(optim_kind k)
{
    return (int)k >= 0 && k < OPTIM__COUNT ? kind_names[k] : "?";
}

static int in01(double x)
{
    return x >= 0 && x < 1;
}

err_code optim_config_validate(const struct optim_config *c, err *e)
{
    if ((int)c->kind < 0 || c->kind >= OPTIM__COUNT)
        return err_set(e, ERR_INVALID, "name", "unknown optimizer");
    if (!(c->lr > 0) || !isfinite(c->lr))
        return err_set(e, ERR_INVALID, "lr", "must be a finite number > 0");
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return err_set(e, ERR_INVALID, "weight_decay", "must be a finite number >= 0");
    if (!(c->momentum >= 0) || !isfinite(c->momentum))
        return err_set(e, ERR_INVALID, "momentum", "must be a finite number >= 0");
    if (c->kind == OPTIM_SGD) {
        if (!isfinite(c->dampening)) return err_set(e, ERR_INVALID, "dampening", "must be finite");
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return err_set(e, ERR_INVALID, "nesterov",
                           "needs momentum > 0 and zero dampening (as torch.optim.SGD)");
    }
    if (c->kind == OPTIM_RMSPROP && !in01(c->alpha))
        return err_set(e, ERR_INVALID, "alpha", "must lie in [0, 1)");
    if (c->kind == OPTIM_ADAM && !in01(c->beta1))
        return err_set(e, ERR_INVALID, "beta1", "must lie in [0, 1)");
    if (c->kind == OPTIM_ADAM && !in01(c->beta2))
        return err_set(e, ERR_INVALID, "beta2", "must lie in [0, 1)");
    if (c->kind != OPTIM_SGD && (!(c->eps > 0) || !isfinite(c->eps)))
        return err_set(e, ERR_INVALID, "eps", "must be a finite number > 0");
    return ERR_OK;
}

/* Lay the buffers out as optim.h says. */
static size_t layout(optim *o)
{
    const size_t n = o->n;
    double *p = o->state;
    size_t k = 0;
    o->buf = o->sq = o->avg = o->m = o->v = NULL;
    switch (o->c.kind) {
    case OPTIM_SGD:
        if (o->c.momentum != 0) o->buf = p + n * k++;
        break;
    case OPTIM_RMSPROP:
        o->sq = p + n * k++;
        if (o->c.momentum > 0) o->buf = p + n * k++;
        if (o->c.centered) o->avg = p + n * k++;
        break;
    case OPTIM_ADAM:
        o->m = p + n * k++;
        o->v = p + n * k++;
        break;
    default:
        break;
    }
    return k;
}

err_code optim_new(optim **out, const struct optim_config *c, size_t n_params, err *e)
{
    *out = NULL;
    err_code rc = optim_config_validate(c, e);
    if (rc) return rc;
    optim *o = calloc(1, sizeof *o);
    if (!o) return err_set(e, ERR_NOMEM, NULL, "out of memory for the optimizer");
    o->c = *c;
    o->n = n_params;
    o->state = calloc(3 * n_params + 1, sizeof *o->state); /* at most 3 buffers */
    if (!o->state) {
        free(o);
        return err_set(e, ERR_NOMEM, NULL, "out of memory for the optimizer state");
    }
    o->n_buf = layout(o);
    *out = o;
    return ERR_OK;
}

void optim_free(optim *o)
{
    if (!o) return;
    free(o->state);
    free(o);
}

static void sgd_step(optim *o, double *p, const double *grad)
{
    const struct optim_config *c = &o->c;
    for (size_t i = 0; i < o->n; i++) {
        double g = grad[i] + c->weight_decay * p[i];
        if (o->buf) {
            double *b = &o->buf[i];
            *b = o->t == 1 ? g : c->momentum * *b + (1 - c->dampening) * g;
            g = c->nesterov ? g + c->momentum * *b : *b;
        }
        p[i] -= c->lr * g;
    }
}

static void rmsprop_step(optim *o, double *p, const double *grad)
{
    const struct optim_config *c = &o->c;
    const double a = c->alpha;
    for (size_t i = 0; i < o->n; i++) {
        const double g = grad[i] + c->weight_decay * p[i];
        o->sq[i] = a * o->sq[i] + (1 - a) * g * g;
        double den;
        if (o->avg) {
            o->avg[i] = a * o->avg[i] + (1 - a) * g;
            den = sqrt(o->sq[i] - o->avg[i] * o->avg[i]) + c->eps;
        } else {
            den = sqrt(o->sq[i]) + c->eps;
        }
        if (o->buf) {
            o->buf[i] = c->momentum * o->buf[i] + g / den;
            p[i] -= c->lr * o->buf[i];
        } else {
            p[i] -= c->lr * g / den;
        }
    }
}

static void adam_step(optim *o, double *p, const double *grad)
{
    const struct optim_config *c = &o->c;
    const double b1 = c->beta1, b2 = c->beta2;
    const double bc1 = 1 - pow(b1, (double)o->t), bc2 = 1 - pow(b2, (double)o->t);
    const double step = c->lr / bc1, sbc2 = sqrt(bc2);
    for (size_t i = 0; i < o->n; i++) {
        const double g = grad[i] + c->weight_decay * p[i];
        o->m[i] = b1 * o->m[i] + (1 - b1) * g;
        o->v[i] = b2 * o->v[i] + (1 - b2) * g * g;
        p[i] -= step * o->m[i] / (sqrt(o->v[i]) / sbc2 + c->eps);
    }
}

void optim_step(optim *o, double *params, const double *grad)
{
    o->t++;
    switch (o->c.kind) {
    case OPTIM_SGD:
        sgd_step(o, params, grad);
        break;
    case OPTIM_RMSPROP:
        rmsprop_step(o, params, grad);
        break;
    case OPTIM_ADAM:
        adam_step(o, params, grad);
        break;
    default:
        break;
    }
}

size_t optim_n_params(const optim *o)
{
    return o->n;
}

long optim_steps(const optim *o)
{
    return o->t;
}

const struct optim_config *optim_config_get(const optim *o)
{
    return &o->c;
}

size_t optim_state_len(const optim *o)
{
    return o->n_buf * o->n;
}

void optim_state_get(const optim *o, double *state)
{
    if (o->n_buf) memcpy(state, o->state, o->n_buf * o->n * sizeof *state);
}

err_code optim_state_set(optim *o, long steps, const double *state, size_t len, err *e)
{
    if (len != optim_state_len(o))
        return err_set(e, ERR_INVALID, "state", "%zu values; this optimizer keeps %zu", len,
                       optim_state_len(o));
    if (steps < 0) return err_set(e, ERR_INVALID, "steps", "must be >= 0");
    for (size_t i = 0; i < len; i++)
        if (!isfinite(state[i]))
            return err_set(e, ERR_INVALID, "state", "value %zu is not finite", i);
    if (len) memcpy(o->state, state, len * sizeof *state);
    o->t = steps;
    return ERR_OK;
}

double optim_clip_grad_norm(double *g, size_t n, double max_norm)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += g[i] * g[i];
    const double norm = sqrt(ss);
    if (max_norm <= 0 || !isfinite(norm)) return norm;
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1)
        for (size_t i = 0; i < n; i++)
            g[i] *= coef;
    return norm;
}
