/* nn/mlp.c: MLP forward passes, VJPs, JVP and Jacobian. See mlp.h.
 *
 * Batches of MLP_GEMM_MIN_BATCH or more go through cblas_dgemm (row-major, each
 * state a row). A single state (and a small batch, item by item) goes
 * through hand loops rather than cblas_dgemv: for the small layers of a
 * vector field (2 -> 64 -> 64 -> 2) they are faster than the BLAS call
 * (bench/bench_nn measures both; docs/nn.md). The dot products of W u keep
 * 8 explicit partial sums, so their summation order is fixed by the source,
 * not by the vectoriser; results differ from the GEMM path's in the last
 * bits only. With AVX-512, eight rows are reduced together by a shuffle
 * tree in the same order (a scalar reduction per row was half the time of
 * a 8 -> 128 -> 24 network, the CDE field of bench W3), or, once mlp_pack
 * has stored them as panels (lane r = row r), by plain vector adds, again
 * in the same order: the same bits, and W3's field evaluation 466 -> 338
 * ns on Zen 4, where the shuffles across the halves of a 512-bit register
 * are dear. */
#include "nn/mlp.h"

#include "nn/simd.h"

#include <assert.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MLP_MAX_PARAMS ((size_t)1 << 31)

#if defined(__GNUC__) && !defined(__clang__)
#define NN_HAVE_V8D 1 /* GCC vector extensions: the eight-row kernels below */
#endif

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
static err_code check_layer(const mlp_spec *s, size_t i, bool at_input, size_t *width,
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

static err_code check_spec(const mlp_spec *s, mlp *m, err *e)
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
        err_code rc = check_layer(s, i, at_input, &width, &m->layer[i], e);
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
    err_code rc = check_spec(spec, m, e);
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

/* Panels of layer L: for in >= 8, blocks of eight rows, each laid out
 * [in][8], for the first out/8*8 rows, when the running code has the
 * AVX-512 or AVX2 kernels that read them (dot8p, dot4p); for in < 8, W
 * transposed, [in][out], read column by column by every variant. 0: none. */
static size_t panel_size(const mlp_layer *L)
{
    if (L->kind != MLP_LINEAR) return 0;
    if (L->in < 8) return L->in * L->out;
#if defined(NN_HAVE_V8D)
    if (simd_vector_doubles() >= 4) return L->out / 8 * 8 * L->in;
#endif
    return 0;
}

static void pack_layer(const mlp_layer *L, const double *W, double *p)
{
    size_t in = L->in, out = L->out;
    if (in < 8) {
        for (size_t i = 0; i < in; i++)
            for (size_t o = 0; o < out; o++)
                p[i * out + o] = W[o * in + i];
        return;
    }
    for (size_t o = 0; o + 8 <= out; o += 8, p += 8 * in) /* block o: [in][8] */
        for (size_t i = 0; i < in; i++)
            for (size_t r = 0; r < 8; r++)
                p[i * 8 + r] = W[(o + r) * in + i];
}

static void drop_panels(mlp *m)
{
    free(m->panels);
    m->panels = NULL;
    memset(m->panel, 0, sizeof m->panel);
}

err_code mlp_pack(mlp *m, err *e)
{
    drop_panels(m);
    size_t total = 0;
    for (size_t l = 0; l < m->n_layers; l++)
        total += round8(panel_size(&m->layer[l])); /* each layer's panels 64-byte aligned */
    if (total == 0) return ERR_OK;
    m->panels = aligned_alloc(64, total * sizeof(double));
    if (!m->panels)
        return err_set(e, ERR_NOMEM, NULL, "mlp_pack: out of memory (%zu doubles)", total);
    double *p = m->panels;
    for (size_t l = 0; l < m->n_layers; l++) {
        size_t n = panel_size(&m->layer[l]);
        if (n == 0) continue;
        pack_layer(&m->layer[l], m->params + m->offset[l], p);
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
    drop_panels(m); /* the caller may write: panels would go stale */
    return m->params;
}

const double *mlp_params_const(const mlp *m)
{
    return m->params;
}

void mlp_params_bind(mlp *m, double *p)
{
    drop_panels(m); /* packed from the vector being replaced */
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
    double *p = w->mem;
    w->in = p, p += round8(max_batch * m->in0);
    w->g[0] = p, p += round8(max_batch * m->max_width);
    w->g[1] = p, p += round8(max_batch * m->max_width);
    const double *prev = w->in;
    for (size_t i = 0; i < m->n_layers; i++) {
        const mlp_layer *L = &m->layer[i];
        size_t buf = round8(max_batch * L->out);
        if (L->kind == MLP_LINEAR) {
            w->z[i] = p, p += buf;
        } else {
            w->z[i] = (double *)prev;
        }
        if (!output_in_place(L)) {
            w->a[i] = p, p += buf;
        } else {
            w->a[i] = w->z[i];
        }
        prev = w->a[i];
    }
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

/* ---- kernels ----------------------------------------------------------- */

static inline __attribute__((always_inline)) double hsum8(const double *a)
{
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* W[0..3] . u: 8 explicit partial sums per row (one vector register; a
 * fixed summation order, not left to the vectoriser), each chunk of u
 * loaded once for the four rows. */
static inline __attribute__((always_inline)) void dot4(size_t in, const double *w0, const double *u,
                                                       double s[4])
{
    const double *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
    double a0[8] = {0}, a1[8] = {0}, a2[8] = {0}, a3[8] = {0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
        for (int j = 0; j < 8; j++) {
            double uj = u[i + j];
            a0[j] += w0[i + j] * uj;
            a1[j] += w1[i + j] * uj;
            a2[j] += w2[i + j] * uj;
            a3[j] += w3[i + j] * uj;
        }
    }
    s[0] = hsum8(a0), s[1] = hsum8(a1), s[2] = hsum8(a2), s[3] = hsum8(a3);
    for (; i < in; i++) {
        s[0] += w0[i] * u[i];
        s[1] += w1[i] * u[i];
        s[2] += w2[i] * u[i];
        s[3] += w3[i] * u[i];
    }
}

static inline __attribute__((always_inline)) double dot1(size_t in, const double *w,
                                                         const double *u)
{
    double a[8] = {0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8)
        for (int j = 0; j < 8; j++)
            a[j] += w[i + j] * u[i + j];
    double s = hsum8(a);
    for (; i < in; i++)
        s += w[i] * u[i];
    return s;
}

#if defined(NN_HAVE_V8D)
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));
#define SHUF(a, b, ...) __builtin_shuffle((a), (b), (v8i){__VA_ARGS__})

/* Unaligned load; a macro, since a function returning v8d changes the ABI
 * (-Wpsabi) in the clones without AVX-512. */
#define LOAD8(dst, p) memcpy(&(dst), (p), sizeof(v8d))

/* The eight horizontal sums of p[0..7], in lanes 0..7, each in hsum8's
 * order ((0+4)+(1+5)) + ((2+6)+(3+7)), so results equal dot4's bit for bit.
 * A shuffle tree instead of eight scalar reductions: 7 vector adds. */
static inline __attribute__((always_inline)) void hsum8x8(const v8d p[8], double out[8])
{
    v8d q[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        q[k] = SHUF(p[2 * k], p[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
               SHUF(p[2 * k], p[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    v8d x =
        SHUF(q[0], q[1], 0, 2, 4, 6, 8, 10, 12, 14) + SHUF(q[0], q[1], 1, 3, 5, 7, 9, 11, 13, 15);
    v8d y =
        SHUF(q[2], q[3], 0, 2, 4, 6, 8, 10, 12, 14) + SHUF(q[2], q[3], 1, 3, 5, 7, 9, 11, 13, 15);
    v8d s = SHUF(x, y, 0, 2, 4, 6, 8, 10, 12, 14) + SHUF(x, y, 1, 3, 5, 7, 9, 11, 13, 15);
    memcpy(out, &s, sizeof s);
}

/* z[0..7] = b[0..7] (or 0) + W[0..7] . u: the same partial sums and order as
 * dot4, eight rows at a time, reduced together and stored as one vector. */
static inline __attribute__((always_inline)) void dot8(size_t in, const double *w0, const double *b,
                                                       const double *u, double *z)
{
    v8d a[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        a[r] = (v8d){0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
        v8d uv, wv;
        LOAD8(uv, u + i);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            LOAD8(wv, w0 + r * in + i);
            a[r] += wv * uv;
        }
    }
    double s[8] __attribute__((aligned(64)));
    hsum8x8(a, s);
    if (i < in) {
        for (; i < in; i++)
            for (int r = 0; r < 8; r++)
                s[r] += w0[r * in + i] * u[i];
    }
    v8d sv, bv = {0};
    memcpy(&sv, s, sizeof sv);
    if (b) LOAD8(bv, b);
    sv = bv + sv;
    memcpy(z, &sv, sizeof sv);
}

/* dot8 for k = 1..3 consecutive blocks of eight rows from their panels
 * (mlp_pack; block q at P + q*8*in, laid out [in][8], P[i*8 + r] = W[r][i]):
 * lane r of every vector is row r, so partial sum j of eight rows is one
 * vector, a[q][j], and the reduction is plain vector adds in hsum8's
 * order; the tail likewise. Each lane performs dot8's IEEE operations in
 * dot8's order (0 + the first product included), so the result is the
 * same bit for bit, without the shuffle tree, which cost more than the
 * products for in = 8 (AVX-512 is double-pumped on Zen 4). Each u[i] is
 * broadcast once for the k blocks: one block per broadcast was slower than
 * dot8 for in >= 32 (24 accumulators still fit the 32 registers). */
static inline __attribute__((always_inline)) void dot8p(int k, size_t in, const double *P,
                                                        const double *b, const double *u, double *z)
{
    v8d a[3][8];
#pragma GCC unroll 3
    for (int q = 0; q < k; q++)
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++)
            a[q][j] = (v8d){0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            double uj = u[i + j];
#pragma GCC unroll 3
            for (int q = 0; q < k; q++) {
                v8d pv;
                LOAD8(pv, P + q * 8 * in + (i + j) * 8);
                a[q][j] += pv * uj;
            }
        }
    }
#pragma GCC unroll 3
    for (int q = 0; q < k; q++) {
        v8d s = ((a[q][0] + a[q][4]) + (a[q][1] + a[q][5])) +
                ((a[q][2] + a[q][6]) + (a[q][3] + a[q][7]));
        for (size_t t = i; t < in; t++) {
            v8d pv;
            LOAD8(pv, P + q * 8 * in + t * 8);
            s += pv * u[t];
        }
        v8d bv = {0};
        if (b) LOAD8(bv, b + 8 * q);
        s = bv + s;
        memcpy(z + 8 * q, &s, sizeof s);
    }
}

/* The AVX2 clone's dot8p: four rows (half a block: P at the block's
 * panel + 0 or + 4, stride 8) per 256-bit vector, lane r = row r, with
 * dot4's IEEE operations in dot4's order (0 + the first product, hsum8's
 * tree, the tail, b + s), so the same bits. dot4 reduces each row with
 * scalar adds; this was 2.5-7.6x faster than it for W3's and W1's layers
 * in a microbenchmark (-mavx2), with 8 accumulators of the 16 registers. */
typedef double v4d __attribute__((vector_size(32)));
#define LOAD4(dst, p) memcpy(&(dst), (p), sizeof(v4d))

static inline __attribute__((always_inline)) void dot4p(size_t in, const double *P, const double *b,
                                                        const double *u, double *z)
{
    v4d a[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        a[j] = (v4d){0};
    size_t i = 0;
    for (; i + 8 <= in; i += 8) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            v4d pv;
            LOAD4(pv, P + (i + j) * 8);
            a[j] += pv * u[i + j];
        }
    }
    v4d s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    for (; i < in; i++) {
        v4d pv;
        LOAD4(pv, P + i * 8);
        s += pv * u[i];
    }
    v4d bv = {0};
    if (b) LOAD4(bv, b);
    s = bv + s;
    memcpy(z, &s, sizeof s);
}
#undef LOAD4

/* z = b (or +0) + W u for in < 8 from W transposed (P[i*out + o] =
 * W[o][i]), eight rows per vector, each z[o] added column after column in
 * order as the column loop of matvec_loops does, but in a register. */
static inline __attribute__((always_inline)) void colp(size_t out, size_t in, const double *P,
                                                       const double *b, const double *u, double *z)
{
    size_t o = 0;
    for (; o + 8 <= out; o += 8) {
        v8d s = {0}, pv;
        if (b) LOAD8(s, b + o);
        for (size_t i = 0; i < in; i++) {
            LOAD8(pv, P + i * out + o);
            s += pv * u[i];
        }
        memcpy(z + o, &s, sizeof s);
    }
    for (; o < out; o++) {
        double s = b ? b[o] : 0.0;
        for (size_t i = 0; i < in; i++)
            s += P[i * out + o] * u[i];
        z[o] = s;
    }
}
#undef SHUF
#undef LOAD8
#endif

/* z = W u (+ b if b): W out x in row-major. Narrow inputs go column by
 * column (vectorised over the rows); wider ones eight or four rows at a
 * time. P, if not NULL, is mlp_pack's copy of W (panel_size): W
 * transposed for in < 8, else panels of the first out/8*8 rows, which
 * only the AVX-512 and AVX2 clones are given. */
SIMD_CLONES static void matvec_loops(size_t out, size_t in, const double *W, const double *P,
                                     const double *b, const double *u, double *z)
{
    if (in < 8) {
#if defined(NN_HAVE_V8D)
        if (P && simd_vector_doubles() >= 8) {
            colp(out, in, P, b, u, z);
            return;
        }
#endif
        if (b) /* z = b or +0 */
            memcpy(z, b, out * sizeof *z);
        else
            memset(z, 0, out * sizeof *z);
        for (size_t i = 0; i < in; i++) {
            double ui = u[i];
            if (P) { /* column i of W, contiguous */
                const double *w = P + i * out;
#pragma omp simd
                for (size_t o = 0; o < out; o++)
                    z[o] += w[o] * ui;
            } else {
                const double *w = W + i;
#pragma omp simd
                for (size_t o = 0; o < out; o++)
                    z[o] += w[o * in] * ui;
            }
        }
        return;
    }
    size_t o = 0;
#if defined(NN_HAVE_V8D)
    if (simd_vector_doubles() >= 8) {
        if (P) {
            for (; o + 24 <= out; o += 24)
                dot8p(3, in, P + o * in, b ? b + o : NULL, u, z + o);
            /* 0, 1 or 2 blocks left; k a constant in each call */
            if (out - o >= 16) {
                dot8p(2, in, P + o * in, b ? b + o : NULL, u, z + o);
                o += 16;
            } else if (out - o >= 8) {
                dot8p(1, in, P + o * in, b ? b + o : NULL, u, z + o);
                o += 8;
            }
        }
        for (; o + 8 <= out; o += 8)
            dot8(in, W + o * in, b ? b + o : NULL, u, z + o);
    } else if (P && simd_vector_doubles() >= 4) {
        for (; o + 8 <= out; o += 8) {
            dot4p(in, P + o * in, b ? b + o : NULL, u, z + o);
            dot4p(in, P + o * in + 4, b ? b + o + 4 : NULL, u, z + o + 4);
        }
    }
#endif
    for (; o + 4 <= out; o += 4) {
        double s[4];
        dot4(in, W + o * in, u, s);
        for (int r = 0; r < 4; r++)
            z[o + r] = (b ? b[o + r] : 0.0) + s[r];
    }
    for (; o < out; o++)
        z[o] = (b ? b[o] : 0.0) + dot1(in, W + o * in, u);
}

/* z = W u (+ b if b). The four-row loops keep 32 partial sums, which need
 * wide vectors: at SSE2 width (the baseline clone, CPUs without AVX2) they
 * spill and are 3x slower than OpenBLAS's dgemv, which picks its own kernel
 * for the CPU; use it there (different summation order, same contract). */
static void matvec(size_t out, size_t in, const double *W, const double *P, const double *b,
                   const double *u, double *z)
{
    if (in < 8 || simd_vector_doubles() >= 4) {
        matvec_loops(out, in, W, P, b, u, z);
        return;
    }
    if (b)
        memcpy(z, b, out * sizeof *z);
    else
        memset(z, 0, out * sizeof *z); /* beta = 0 need not clear a NaN left in z */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)in, 1.0, W, (int)in, u, 1, 1.0, z, 1);
}

/* gp = W^T g (in values), four rows of W per pass over gp. */
SIMD_CLONES static void matvec_t(size_t out, size_t in, const double *W, const double *g,
                                 double *gp)
{
    memset(gp, 0, in * sizeof *gp);
    size_t o = 0;
    for (; o + 4 <= out; o += 4) {
        const double *w0 = W + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
        double g0 = g[o], g1 = g[o + 1], g2 = g[o + 2], g3 = g[o + 3];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            gp[i] += (g0 * w0[i] + g1 * w1[i]) + (g2 * w2[i] + g3 * w3[i]);
    }
    for (; o < out; o++) {
        const double *w = W + o * in;
        double go = g[o];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            gp[i] += go * w[i];
    }
}

/* dW += g u^T (out x in), db += g. */
SIMD_CLONES static void outer_acc(size_t out, size_t in, const double *g, const double *u,
                                  double *dW, double *db)
{
    for (size_t o = 0; o < out; o++) {
        double *d = dW + o * in;
        double go = g[o];
#pragma omp simd
        for (size_t i = 0; i < in; i++)
            d[i] += go * u[i];
        db[o] += go;
    }
}

/* y += x */
static void add_to(size_t n, const double *x, double *y)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

static const double *layer_input(const mlp_ws *ws, size_t l)
{
    return l == 0 ? ws->in : ws->a[l - 1];
}

/* ---- forward ----------------------------------------------------------- */

static void load_input(const mlp *m, mlp_ws *ws, size_t n, const double *x, double t)
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

static void linear_forward(const mlp *m, mlp_ws *ws, size_t l, size_t n)
{
    const mlp_layer *L = &m->layer[l];
    const double *W = m->params + m->offset[l];
    const double *b = W + L->out * L->in;
    const double *u = layer_input(ws, l);
    double *z = ws->z[l];
    if (n < MLP_GEMM_MIN_BATCH) {
        for (size_t k = 0; k < n; k++)
            matvec(L->out, L->in, W, m->panel[l], b, u + k * L->in, z + k * L->out);
        return;
    }
    for (size_t k = 0; k < n; k++)
        memcpy(z + k * L->out, b, L->out * sizeof *b);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)L->out, (int)L->in, 1.0, u,
                (int)L->in, W, (int)L->in, 1.0, z, (int)L->out);
}

static void forward_tape(const mlp *m, mlp_ws *ws, size_t n, const double *x, double t)
{
    assert(ws->shape == m->shape && n >= 1 && n <= ws->max_batch);
    load_input(m, ws, n, x, t);
    for (size_t l = 0; l < m->n_layers; l++) {
        const mlp_layer *L = &m->layer[l];
        if (L->kind == MLP_LINEAR) linear_forward(m, ws, l, n);
        if (L->act != ACT_IDENTITY) act_apply(L->act, n * L->out, ws->z[l], ws->a[l]);
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

/* Parameter gradient of linear layer l from its output cotangent g (n x out). */
static void linear_param_grad(const mlp *m, const mlp_ws *ws, size_t l, size_t n, const double *g,
                              double *dtheta)
{
    const mlp_layer *L = &m->layer[l];
    double *dW = dtheta + m->offset[l];
    double *db = dW + L->out * L->in;
    const double *u = layer_input(ws, l);
    if (n < MLP_GEMM_MIN_BATCH) {
        for (size_t k = 0; k < n; k++)
            outer_acc(L->out, L->in, g + k * L->out, u + k * L->in, dW, db);
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)L->out, (int)L->in, (int)n, 1.0, g,
                (int)L->out, u, (int)L->in, 1.0, dW, (int)L->in);
    for (size_t k = 0; k < n; k++)
        add_to(L->out, g + k * L->out, db);
}

/* gp (n x in) = g (n x out) W. */
static void linear_input_grad(const mlp *m, size_t l, size_t n, const double *g, double *gp)
{
    const mlp_layer *L = &m->layer[l];
    const double *W = m->params + m->offset[l];
    if (n < MLP_GEMM_MIN_BATCH) {
        for (size_t k = 0; k < n; k++)
            matvec_t(L->out, L->in, W, g + k * L->out, gp + k * L->in);
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)L->in, (int)L->out, 1.0, g,
                (int)L->out, W, (int)L->in, 0.0, gp, (int)L->in);
}

void mlp_vjp_batch(const mlp *m, mlp_ws *ws, size_t n, const double *v, double *dx, double *dt,
                   double *dtheta)
{
    assert(ws->shape == m->shape && ws->tape_n == n && n >= 1);
    bool want_input = dx || (dt && m->time_input);
    size_t stop = want_input ? 0 : m->first_linear; /* lowest layer to visit */
    int cur = 0;
    double *g = ws->g[cur];
    memcpy(g, v, n * m->out_dim * sizeof *v);
    for (size_t l = m->n_layers; l-- > stop;) {
        const mlp_layer *L = &m->layer[l];
        act_grad(L->act, n * L->out, ws->z[l], ws->a[l], g);
        if (L->kind != MLP_LINEAR) continue;
        if (dtheta) linear_param_grad(m, ws, l, n, g, dtheta);
        if (l == stop && !want_input) break; /* no one needs the input cotangent */
        cur ^= 1;
        linear_input_grad(m, l, n, g, ws->g[cur]);
        g = ws->g[cur];
    }
    if (!want_input) return;
    size_t sd = m->state_dim, in0 = m->in0;
    for (size_t k = 0; k < n; k++) {
        if (dx) add_to(sd, g + k * in0, dx + k * sd);
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
            matvec(L->out, L->in, m->params + m->offset[l], m->panel[l], NULL, d, ws->g[cur]);
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
