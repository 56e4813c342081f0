/* nn/mlp.c: MLP construction, forward passes, VJPs, JVP and Jacobian. See
 * mlp.h. The layers' maths is nn/linear.c (batches, GEMM) and nn/panel.c
 * (the single-state kernels and their packed weights); the activations
 * nn/act.c. This file keeps the network, its workspace and tape, and the
 * order in which the layers are visited. */
#include "nn/mlp.h"

#include "nn/linear.h"
#include "nn/linear_pair.h"
#include "nn/panel.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MLP_MAX_PARAMS ((size_t)1 << 31)

_Static_assert(MLP_GEMM_MIN_BATCH == LINEAR_GEMM_MIN_BATCH, "mlp.h promises linear.h's threshold");

struct mlp {
    size_t state_dim; /* input without t */
    size_t in0;       /* state_dim + time_input */
    size_t out_dim;   /* width of the last layer */
    size_t max_width; /* widest input or output of any layer */
    size_t n_layers;
    size_t n_params;
    size_t first_linear; /* index of the first linear layer */
    bool time_input;
    uint64_t shape;                      /* hash of the layer list; workspaces check it */
    mlp_layer layer[MLP_MAX_LAYERS];     /* resolved: in/out set for every layer */
    size_t offset[MLP_MAX_LAYERS];       /* start of W in the parameter vector */
    double *own;                         /* the internal parameter vector */
    double *params;                      /* own, or bound by mlp_params_bind */
    double *panels;                      /* mlp_pack's copy of the weights; NULL: none */
    const double *panel[MLP_MAX_LAYERS]; /* layer i's panels in `panels`, or NULL */
};

struct mlp_ws {
    uint64_t shape; /* of the mlp it was made for */
    size_t max_batch;
    size_t tape_n;             /* batch size of the recorded forward; 0: none */
    double *mem;               /* one allocation holding every buffer below */
    double *in;                /* tape: network input [x; t], max_batch x in0 */
    double *z[MLP_MAX_LAYERS]; /* tape: pre-activations (elementwise: the layer's input) */
    double *a[MLP_MAX_LAYERS]; /* tape: outputs (== z when output_in_place) */
    double *g[2];              /* backward / tangent ping-pong, max_batch x max_width */
};

/* ---- construction ---------------------------------------------------- */

static uint64_t hash_mix(uint64_t h, uint64_t v)
{
    h ^= v;
    return h * 0x100000001b3ull; /* FNV-1a step */
}

/* Layer i of s, given the width of its input; at_input: no linear layer
 * before it (its input is the network input, maybe through elementwise
 * layers). Resolves in/out into *out and advances *width. */
static err_code layer_check(const mlp_spec *s, size_t i, bool at_input, size_t *width,
                            mlp_layer *out, err *e)
{
    mlp_layer L = s->layers[i];
    char f[32];
    snprintf(f, sizeof f, "layers[%zu]", i);
    if ((int)L.act < 0 || L.act >= ACT__COUNT)
        return err_set(e, ERR_INVALID, f, "unknown activation %d", (int)L.act);
    if (L.kind == MLP_ELEMENTWISE) {
        if ((L.in && L.in != *width) || (L.out && L.out != *width))
            return err_set(e, ERR_INVALID, f,
                           "elementwise layer of width %zu/%zu, but its input has width %zu", L.in,
                           L.out, *width);
        L.in = L.out = *width;
    } else if (L.kind == MLP_LINEAR) {
        if (L.in == 0 || L.out == 0 || L.in > MLP_MAX_WIDTH || L.out > MLP_MAX_WIDTH)
            return err_set(e, ERR_INVALID, f, "in = %zu, out = %zu: each must be 1 .. %d", L.in,
                           L.out, MLP_MAX_WIDTH);
        if (L.in != *width) {
            if (at_input)
                return err_set(e, ERR_INVALID, f,
                               "in = %zu, but the network input has %zu values (state_dim %zu%s)",
                               L.in, *width, s->state_dim, s->time_input ? " + time" : "");
            return err_set(e, ERR_INVALID, f,
                           "in = %zu does not match the width %zu of the layer before it", L.in,
                           *width);
        }
        *width = L.out;
    } else {
        return err_set(e, ERR_INVALID, f, "unknown layer kind %d", (int)L.kind);
    }
    *out = L;
    return ERR_OK;
}

static err_code spec_check(const mlp_spec *s, mlp *m, err *e)
{
    if (!s || (!s->layers && s->n_layers))
        return err_set(e, ERR_INVALID, "layers", "no layers given");
    if (s->state_dim == 0 || s->state_dim >= MLP_MAX_WIDTH)
        return err_set(e, ERR_INVALID, "state_dim", "must be 1 .. %d", MLP_MAX_WIDTH - 1);
    if (s->n_layers == 0 || s->n_layers > MLP_MAX_LAYERS)
        return err_set(e, ERR_INVALID, "layers", "%zu layers: must be 1 .. %d", s->n_layers,
                       MLP_MAX_LAYERS);
    size_t width = s->state_dim + s->time_input;
    m->max_width = width;
    m->first_linear = s->n_layers;
    for (size_t i = 0; i < s->n_layers; i++) {
        bool at_input = m->first_linear == s->n_layers;
        err_code rc = layer_check(s, i, at_input, &width, &m->layer[i], e);
        if (rc) return rc;
        m->offset[i] = m->n_params;
        if (m->layer[i].kind == MLP_LINEAR) {
            if (m->first_linear == s->n_layers) m->first_linear = i;
            m->n_params += m->layer[i].out * (m->layer[i].in + 1);
            if (m->n_params > MLP_MAX_PARAMS) {
                char f[32];
                snprintf(f, sizeof f, "layers[%zu]", i);
                return err_set(e, ERR_INVALID, f, "more than %zu parameters", MLP_MAX_PARAMS);
            }
        }
        if (width > m->max_width) m->max_width = width;
    }
    if (m->first_linear == s->n_layers)
        return err_set(e, ERR_INVALID, "layers", "at least one linear layer is required");
    m->out_dim = width;
    return ERR_OK;
}

err_code mlp_new(mlp **out, const mlp_spec *spec, err *e)
{
    *out = NULL;
    mlp *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_NOMEM, NULL, "mlp_new: out of memory");
    err_code rc = spec_check(spec, m, e);
    if (rc) goto fail;
    m->state_dim = spec->state_dim;
    m->time_input = spec->time_input;
    m->in0 = m->state_dim + m->time_input;
    m->n_layers = spec->n_layers;
    uint64_t h = 0xcbf29ce484222325ull;
    h = hash_mix(hash_mix(h, m->state_dim), m->time_input);
    for (size_t i = 0; i < m->n_layers; i++) {
        const mlp_layer *L = &m->layer[i];
        h = hash_mix(hash_mix(hash_mix(hash_mix(h, L->kind), L->in), L->out), L->act);
    }
    m->shape = h;
    m->own = calloc(m->n_params, sizeof *m->own);
    if (!m->own) {
        rc = err_set(e, ERR_NOMEM, NULL, "mlp_new: out of memory (%zu parameters)", m->n_params);
        goto fail;
    }
    m->params = m->own;
    *out = m;
    return ERR_OK;
fail:
    mlp_free(m);
    return rc;
}

err_code mlp_clone(mlp **out, const mlp *m, err *e)
{
    *out = NULL;
    mlp *c = malloc(sizeof *c);
    if (!c) return err_set(e, ERR_NOMEM, NULL, "mlp_clone: out of memory");
    *c = *m;
    c->own = malloc(m->n_params * sizeof *c->own);
    if (!c->own) {
        free(c);
        return err_set(e, ERR_NOMEM, NULL, "mlp_clone: out of memory");
    }
    memcpy(c->own, m->params, m->n_params * sizeof *c->own);
    c->params = c->own;
    c->panels = NULL;
    memset(c->panel, 0, sizeof c->panel);
    if (m->panels) { /* packed from the same parameters: the same panels */
        err_code rc = mlp_pack(c, e);
        if (rc) {
            mlp_free(c);
            return rc;
        }
    }
    *out = c;
    return ERR_OK;
}

void mlp_free(mlp *m)
{
    if (!m) return;
    free(m->panels);
    free(m->own);
    free(m);
}

/* ---- panels -------------------------------------------------------------- */

static size_t round8(size_t n) /* keep every buffer 64-byte aligned */
{
    return (n + 7) & ~(size_t)7;
}

/* Doubles of layer L's panels; 0: none. */
static size_t layer_panel_size(const mlp_layer *L)
{
    return L->kind == MLP_LINEAR ? panel_size(L->out, L->in) : 0;
}

static void panels_drop(mlp *m)
{
    free(m->panels);
    m->panels = NULL;
    memset(m->panel, 0, sizeof m->panel);
}

err_code mlp_pack(mlp *m, err *e)
{
    panels_drop(m);
    size_t total = 0;
    for (size_t l = 0; l < m->n_layers; l++)
        total += round8(layer_panel_size(&m->layer[l])); /* each layer's panels 64-byte aligned */
    if (total == 0) return ERR_OK;
    m->panels = aligned_alloc(64, total * sizeof(double));
    if (!m->panels)
        return err_set(e, ERR_NOMEM, NULL, "mlp_pack: out of memory (%zu doubles)", total);
    double *p = m->panels;
    for (size_t l = 0; l < m->n_layers; l++) {
        const mlp_layer *L = &m->layer[l];
        size_t n = layer_panel_size(L);
        if (n == 0) continue;
        panel_pack(L->out, L->in, m->params + m->offset[l], p);
        m->panel[l] = p;
        p += round8(n);
    }
    return ERR_OK;
}

bool mlp_packed(const mlp *m)
{
    return m->panels != NULL;
}

size_t mlp_n_params(const mlp *m)
{
    return m->n_params;
}

double *mlp_params(mlp *m)
{
    panels_drop(m); /* the caller may write: panels would go stale */
    return m->params;
}

const double *mlp_params_const(const mlp *m)
{
    return m->params;
}

void mlp_params_bind(mlp *m, double *p)
{
    panels_drop(m); /* packed from the vector being replaced */
    m->params = p ? p : m->own;
}

size_t mlp_state_dim(const mlp *m)
{
    return m->state_dim;
}

size_t mlp_output_dim(const mlp *m)
{
    return m->out_dim;
}

bool mlp_time_input(const mlp *m)
{
    return m->time_input;
}

size_t mlp_max_width(const mlp *m)
{
    return m->max_width;
}

size_t mlp_n_layers(const mlp *m)
{
    return m->n_layers;
}

mlp_layer mlp_layer_at(const mlp *m, size_t i)
{
    assert(i < m->n_layers);
    return m->layer[i];
}

size_t mlp_layer_offset(const mlp *m, size_t i)
{
    assert(i < m->n_layers);
    return m->offset[i];
}

/* ---- workspace --------------------------------------------------------- */

/* Whether layer L's output overwrites its pre-activation in the tape: the
 * identity always; a linear layer whose activation's derivative needs only
 * the output (tanh, sigmoid, relu, elu). Saves a buffer and a pass. An
 * elementwise layer's pre-activation is the previous layer's output, which
 * that layer still needs: never in place. */
static bool output_in_place(const mlp_layer *L)
{
    return L->act == ACT_IDENTITY || (L->kind == MLP_LINEAR && act_deriv_from_output(L->act));
}

size_t mlp_tape_doubles(const mlp *m, size_t n)
{
    size_t total = round8(n * m->in0);
    for (size_t i = 0; i < m->n_layers; i++) {
        size_t buf = round8(n * m->layer[i].out);
        total += (m->layer[i].kind == MLP_LINEAR) * buf + !output_in_place(&m->layer[i]) * buf;
    }
    return total;
}

/* The tape's buffers laid out from p for batches of up to `batch` states,
 * as mlp_ws_new lays them out in its own memory. */
static void tape_layout(const mlp *m, mlp_ws *ws, double *p, size_t batch)
{
    ws->in = p, p += round8(batch * m->in0);
    const double *prev = ws->in;
    for (size_t i = 0; i < m->n_layers; i++) {
        const mlp_layer *L = &m->layer[i];
        size_t buf = round8(batch * L->out);
        if (L->kind == MLP_LINEAR) {
            ws->z[i] = p, p += buf;
        } else {
            ws->z[i] = (double *)prev;
        }
        if (!output_in_place(L)) {
            ws->a[i] = p, p += buf;
        } else {
            ws->a[i] = ws->z[i];
        }
        prev = ws->a[i];
    }
}

err_code mlp_ws_new(mlp_ws **out, const mlp *m, size_t max_batch, err *e)
{
    *out = NULL;
    if (max_batch == 0 || max_batch > (size_t)INT32_MAX / m->max_width)
        return err_set(e, ERR_INVALID, "batch", "batch size %zu: must be 1 .. %zu", max_batch,
                       (size_t)INT32_MAX / m->max_width);
    size_t total = round8(max_batch * m->in0) + 2 * round8(max_batch * m->max_width);
    for (size_t i = 0; i < m->n_layers; i++) {
        size_t buf = round8(max_batch * m->layer[i].out);
        total += (m->layer[i].kind == MLP_LINEAR) * buf + !output_in_place(&m->layer[i]) * buf;
    }
    mlp_ws *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_NOMEM, NULL, "mlp_ws_new: out of memory");
    w->mem = aligned_alloc(64, total * sizeof(double));
    if (!w->mem) {
        free(w);
        return err_set(e, ERR_NOMEM, NULL, "mlp_ws_new: out of memory (%zu doubles)", total);
    }
    w->shape = m->shape;
    w->max_batch = max_batch;
    /* the tape first (mlp_ws_tape_bind lays it out the same way), then the
     * backward's buffers */
    tape_layout(m, w, w->mem, max_batch);
    double *p = w->mem + mlp_tape_doubles(m, max_batch);
    w->g[0] = p, p += round8(max_batch * m->max_width);
    w->g[1] = p, p += round8(max_batch * m->max_width);
    assert((size_t)(p - w->mem) == total);
    *out = w;
    return ERR_OK;
}

void mlp_ws_free(mlp_ws *ws)
{
    if (!ws) return;
    free(ws->mem);
    free(ws);
}

size_t mlp_ws_max_batch(const mlp_ws *ws)
{
    return ws->max_batch;
}

void mlp_ws_tape_bind(mlp_ws *ws, const mlp *m, double *tape, size_t n)
{
    assert(ws->shape == m->shape && n >= 1 && n <= ws->max_batch);
    if (tape) {
        tape_layout(m, ws, tape, n);
        ws->tape_n = n;
        return;
    }
    tape_layout(m, ws, ws->mem, ws->max_batch);
    ws->tape_n = 0;
}

static const double *layer_input(const mlp_ws *ws, size_t l)
{
    return l == 0 ? ws->in : ws->a[l - 1];
}

/* ---- forward ----------------------------------------------------------- */

static void input_load(const mlp *m, mlp_ws *ws, size_t n, const double *x, double t)
{
    size_t sd = m->state_dim;
    if (!m->time_input) {
        memcpy(ws->in, x, n * sd * sizeof *x);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        memcpy(ws->in + k * (sd + 1), x + k * sd, sd * sizeof *x);
        ws->in[k * (sd + 1) + sd] = t;
    }
}

/* Whether the last two layers, linear and back to back (the top one
 * without activation), take nn/linear_pair.h's fused forward at batch n:
 * the same bits, and the same tape, as layer by layer. */
static bool pair_forward_fused(const mlp *m, size_t n)
{
    if (m->n_layers < 2) return false;
    const mlp_layer *A = &m->layer[m->n_layers - 2], *B = &m->layer[m->n_layers - 1];
    return A->kind == MLP_LINEAR && B->kind == MLP_LINEAR && B->act == ACT_IDENTITY &&
           linear_pair_forward_fits(n, A->in, A->out, B->out, A->act);
}

static void forward_tape(const mlp *m, mlp_ws *ws, size_t n, const double *x, double t)
{
    assert(ws->shape == m->shape && n >= 1 && n <= ws->max_batch);
    input_load(m, ws, n, x, t);
    const bool pair = pair_forward_fused(m, n);
    const size_t top = m->n_layers - 2 * pair; /* layers below it go one by one */
    for (size_t l = 0; l < top; l++) {
        const mlp_layer *L = &m->layer[l];
        if (L->kind == MLP_LINEAR) {
            const double *W = m->params + m->offset[l];
            linear_forward(n, L->out, L->in, W, m->panel[l], W + L->out * L->in, layer_input(ws, l),
                           ws->z[l]);
        }
        if (L->act != ACT_IDENTITY) act_apply(L->act, n * L->out, ws->z[l], ws->a[l]);
    }
    if (pair) { /* both outputs in place (tanh or identity, then identity) */
        const mlp_layer *A = &m->layer[top], *B = &m->layer[top + 1];
        const double *Wa = m->params + m->offset[top], *Wb = m->params + m->offset[top + 1];
        linear_pair_forward(n, A->in, A->out, B->out, A->act, Wa, Wa + A->out * A->in, Wb,
                            Wb + B->out * B->in, layer_input(ws, top), ws->a[top],
                            ws->a[top + 1]);
    }
    ws->tape_n = n;
}

void mlp_forward_batch(const mlp *m, mlp_ws *ws, size_t n, const double *x, double t, double *y)
{
    forward_tape(m, ws, n, x, t);
    memcpy(y, ws->a[m->n_layers - 1], n * m->out_dim * sizeof *y);
}

void mlp_forward(const mlp *m, mlp_ws *ws, const double *x, double t, double *y)
{
    mlp_forward_batch(m, ws, 1, x, t, y);
}

/* ---- reverse mode -------------------------------------------------------- */

/* Whether the last two layers, linear and back to back (the top one
 * without activation), take nn/linear_pair.h's fused reverse pass at
 * batch n: the same bits as the layer-by-layer loop below. */
static bool pair_fused(const mlp *m, size_t n)
{
    if (m->n_layers < 2) return false;
    const mlp_layer *A = &m->layer[m->n_layers - 2], *B = &m->layer[m->n_layers - 1];
    return A->kind == MLP_LINEAR && B->kind == MLP_LINEAR && B->act == ACT_IDENTITY &&
           linear_pair_fits(n, A->in, A->out, B->out, A->act);
}

void mlp_vjp_batch(const mlp *m, mlp_ws *ws, size_t n, const double *v, double *dx, double *dt,
                   double *dtheta)
{
    assert(ws->shape == m->shape && ws->tape_n == n && n >= 1);
    bool want_input = dx || (dt && m->time_input);
    size_t stop = want_input ? 0 : m->first_linear; /* lowest layer to visit */
    int cur = 0;
    double *g = ws->g[cur];
    size_t top = m->n_layers; /* layers below it are left to visit */
    if (pair_fused(m, n)) {   /* the last two layers in one pass: nn/linear_pair.h */
        const size_t la = top - 2, lb = top - 1;
        const mlp_layer *A = &m->layer[la], *B = &m->layer[lb];
        const bool need_gu = la != stop || want_input;
        cur = 1;
        g = ws->g[cur];
        linear_pair_vjp(n, A->in, A->out, B->out, A->act, m->params + m->offset[la],
                        m->params + m->offset[lb], layer_input(ws, la), ws->a[la], v,
                        dtheta ? dtheta + m->offset[la] : NULL,
                        dtheta ? dtheta + m->offset[lb] : NULL, need_gu ? g : NULL);
        if (!need_gu) return;
        top = la;
    } else {
        memcpy(g, v, n * m->out_dim * sizeof *v);
    }
    for (size_t l = top; l-- > stop;) {
        const mlp_layer *L = &m->layer[l];
        act_grad(L->act, n * L->out, ws->z[l], ws->a[l], g);
        if (L->kind != MLP_LINEAR) continue;
        if (dtheta) {
            double *dW = dtheta + m->offset[l];
            linear_param_grad(n, L->out, L->in, g, layer_input(ws, l), dW, dW + L->out * L->in);
        }
        if (l == stop && !want_input) break; /* no one needs the input cotangent */
        cur ^= 1;
        linear_input_grad(n, L->out, L->in, m->params + m->offset[l], g, ws->g[cur]);
        g = ws->g[cur];
    }
    if (!want_input) return;
    size_t sd = m->state_dim, in0 = m->in0;
    if (!m->time_input) { /* the batch's rows back to back: one loop, the same adds */
#pragma omp simd
        for (size_t i = 0; i < n * sd; i++)
            dx[i] += g[i];
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (dx) {
            const double *gk = g + k * in0;
            double *d = dx + k * sd;
#pragma omp simd
            for (size_t i = 0; i < sd; i++)
                d[i] += gk[i];
        }
        if (dt && m->time_input) dt[k] += g[k * in0 + sd];
    }
}

void mlp_vjp(const mlp *m, mlp_ws *ws, const double *v, double *dx, double *dt, double *dtheta)
{
    mlp_vjp_batch(m, ws, 1, v, dx, dt, dtheta);
}

/* ---- forward mode -------------------------------------------------------- */

/* Push the tangent preloaded in ws->g[0] (in0 values) through the layers;
 * returns the buffer holding the output tangent. */
static const double *tangent_forward(const mlp *m, mlp_ws *ws)
{
    int cur = 0;
    double *d = ws->g[cur];
    for (size_t l = 0; l < m->n_layers; l++) {
        const mlp_layer *L = &m->layer[l];
        if (L->kind == MLP_LINEAR) {
            cur ^= 1;
            linear_forward(1, L->out, L->in, m->params + m->offset[l], m->panel[l], NULL, d,
                           ws->g[cur]);
            d = ws->g[cur];
        }
        act_grad(L->act, L->out, ws->z[l], ws->a[l], d);
    }
    return d;
}

void mlp_jvp(const mlp *m, mlp_ws *ws, const double *u, double ut, double *yd)
{
    assert(ws->shape == m->shape && ws->tape_n == 1);
    memcpy(ws->g[0], u, m->state_dim * sizeof *u);
    if (m->time_input) ws->g[0][m->state_dim] = ut;
    memcpy(yd, tangent_forward(m, ws), m->out_dim * sizeof *yd);
}

void mlp_jacobian(const mlp *m, mlp_ws *ws, const double *x, double t, double *y, double *jac,
                  double *jt)
{
    size_t sd = m->state_dim, od = m->out_dim;
    forward_tape(m, ws, 1, x, t);
    if (y) memcpy(y, ws->a[m->n_layers - 1], od * sizeof *y);
    if (jt && !m->time_input) memset(jt, 0, od * sizeof *jt);
    size_t cols = (jt && m->time_input) ? m->in0 : sd;
    for (size_t i = 0; i < cols; i++) { /* column i = J e_i, one forward tangent each */
        memset(ws->g[0], 0, m->in0 * sizeof(double));
        ws->g[0][i] = 1.0;
        const double *d = tangent_forward(m, ws);
        if (i < sd) {
            for (size_t o = 0; o < od; o++)
                jac[o * sd + i] = d[o];
        } else {
            memcpy(jt, d, od * sizeof *jt);
        }
    }
}
