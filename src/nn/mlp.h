/* nn/mlp.h: multilayer perceptrons as vector fields: forward passes for one
 * state or a batch, vector–Jacobian products, the input Jacobian, a JVP.
 *
 * DESIGN. Two objects, split by who may touch them:
 *   mlp     the architecture (immutable after mlp_new) and the parameter
 *           vector. Every evaluation function takes `const mlp *`: any
 *           number of threads may evaluate one mlp concurrently, each with
 *           its own workspace. Writing the parameters (loading weights, an
 *           optimiser step) must not overlap an evaluation.
 *   mlp_ws  per-thread (per-solve) scratch memory and the forward "tape",
 *           sized once by mlp_ws_new for up to max_batch states. No
 *           evaluation allocates. A workspace serves every mlp with the same
 *           layer shapes (e.g. an mlp and its mlp_clone); one thread at a
 *           time.
 * The server caches one loaded mlp per model version and gives each request
 * a fresh mlp_ws; training keeps an mlp and a workspace per worker.
 *
 * NETWORK. A list of layers applied in order to the input u:
 *   linear       (in, out, act): u <- act(W u + b), W out x in row-major
 *                exactly as PyTorch's nn.Linear.weight, b = nn.Linear.bias;
 *   elementwise  (act): u <- act(u), no parameters, width unchanged
 *                (the `{"activation": "cube"}` layers of the model document).
 * With time_input, the input is u = [x; t] (t appended as the last
 * component, as torch.cat([x, t]) would), so the first linear layer has
 * in = state_dim + 1 and elementwise layers before it act on t too.
 *
 * PARAMETER LAYOUT (one contiguous vector of mlp_n_params doubles; training,
 * initialisation and the model store rely on it): for each linear layer in
 * layer order, W (out*in doubles, row-major: W[o][i] at o*in + i) then
 * b (out doubles). Elementwise layers own no parameters.
 * mlp_layer_offset gives where a layer's W starts.
 *
 * BATCHES are row-major n x dim: state k occupies x[k*dim .. k*dim+dim-1],
 * the way a solver's state vector holds a batch. One time t is shared by the
 * whole batch (shared-step batch mode); per-trajectory times use the
 * single-state calls.
 *
 * TAPE. mlp_forward / mlp_forward_batch keep in the workspace every layer's
 * input, pre-activation and output (copies: the caller's x may change
 * afterwards). mlp_vjp / mlp_vjp_batch / mlp_jvp then use the tape of the
 * most recent forward through that workspace, at the same batch size; the
 * parameters must not have changed in between. So a VJP at a new point is
 * "forward, then VJP", and the forward's output comes for free.
 *
 * ACCUMULATION. VJPs ADD into dx, dt and dtheta (+=), so gradients from
 * several stages, items or times sum without copies; zero them first for a
 * plain product. Any of them may be NULL to skip that part. */
#ifndef ODESERVE_NN_MLP_H
#define ODESERVE_NN_MLP_H

#include "core/err.h"
#include "nn/act.h"

#include <stdbool.h>
#include <stddef.h>

#define MLP_MAX_LAYERS 64
#define MLP_MAX_WIDTH 65536 /* per layer */
/* Batches of at least this many states go through cblas_dgemm; smaller ones
 * item by item through the single-state loops, which are faster there
 * (bench/bench_nn fwd_batch<n> lines, docs/nn.md). */
#define MLP_GEMM_MIN_BATCH 12

typedef enum mlp_layer_kind {
    MLP_LINEAR = 0,  /* W, b then the activation */
    MLP_ELEMENTWISE, /* the activation alone */
} mlp_layer_kind;

typedef struct mlp_layer {
    mlp_layer_kind kind;
    size_t in;    /* linear: in_features; elementwise: 0 (inferred) or the width */
    size_t out;   /* linear: out_features; elementwise: 0 (inferred) or the width */
    act_kind act; /* applied after W u + b (linear) or to u (elementwise) */
} mlp_layer;

typedef struct mlp_spec {
    size_t state_dim;        /* network input without t; >= 1 */
    bool time_input;         /* append t to the input */
    size_t n_layers;         /* 1 .. MLP_MAX_LAYERS, at least one linear */
    const mlp_layer *layers; /* borrowed; copied by mlp_new */
} mlp_spec;

typedef struct mlp mlp;
typedef struct mlp_ws mlp_ws;

/* Validate the spec and build the network with zero parameters.
 * Errors (ERR_INVALID) name the layer in `field` ("layers[1]") and say what
 * is wrong, e.g. "in = 3 does not match the width 2 of the layer before it". */
err_code mlp_new(mlp **out, const mlp_spec *spec, err *e);
/* Same shapes, copied parameters (e.g. a training snapshot). */
err_code mlp_clone(mlp **out, const mlp *m, err *e);
void mlp_free(mlp *m); /* NULL is a no-op */

size_t mlp_n_params(const mlp *m);
/* The vector described above, writable: drops the panels (mlp_pack), so
 * the writes that may follow cannot leave a stale copy in use. Write
 * through this pointer only until the next mlp_pack. */
double *mlp_params(mlp *m);
const double *mlp_params_const(const mlp *m);
/* Evaluate with caller-owned parameters p (mlp_n_params doubles, laid out
 * as above, outliving every use) instead of the internal vector, e.g. a
 * slice of a model's combined parameter vector; NULL returns to the
 * internal vector. Drops the panels. Not thread-safe with evaluations of m. */
void mlp_params_bind(mlp *m, double *p);

/* PANELS. A derived copy of the weights, rearranged for the single-state
 * kernels (mlp_forward, a batch below MLP_GEMM_MIN_BATCH, mlp_jvp,
 * mlp_jacobian): with AVX-512 or AVX2, blocks of eight rows stored column
 * by column, which need no horizontal sums; on every CPU, layers with
 * fewer than 8 inputs transposed, read column by column. Results are the same
 * bit for bit with or without them; only the speed differs (bench/bench_nn,
 * bench/bench_cde). mlp_pack builds them from the current parameters
 * (ERR_NOMEM on failure; m stays usable, unpacked); mlp_params and
 * mlp_params_bind drop them, mlp_clone packs the clone if m was packed,
 * mlp_free frees them. So pack only a network whose parameters are final
 * (a loaded model), never one being trained. Packing is a write, like a
 * parameter write: not concurrent with evaluations of m. */
err_code mlp_pack(mlp *m, err *e);
bool mlp_packed(const mlp *m); /* whether m currently has panels */

size_t mlp_state_dim(const mlp *m); /* input size without t */
size_t mlp_output_dim(const mlp *m);
bool mlp_time_input(const mlp *m);
size_t mlp_max_width(const mlp *m); /* widest layer input or output */
size_t mlp_n_layers(const mlp *m);
/* Layer i with in/out resolved (elementwise: in = out = width). */
mlp_layer mlp_layer_at(const mlp *m, size_t i);
/* Offset of layer i's W in the parameter vector (b at + out*in); for an
 * elementwise layer, the offset where the next linear layer starts. */
size_t mlp_layer_offset(const mlp *m, size_t i);

/* Workspace for up to max_batch states (>= 1). */
err_code mlp_ws_new(mlp_ws **out, const mlp *m, size_t max_batch, err *e);
void mlp_ws_free(mlp_ws *ws); /* NULL is a no-op */
size_t mlp_ws_max_batch(const mlp_ws *ws);

/* KEPT TAPES. The tape of a batch of n states fits in mlp_tape_doubles(m,
 * n) doubles. mlp_ws_tape_bind points the workspace's tape at caller memory
 * `tape` (that many doubles, 64-byte aligned, outliving its use): the
 * forwards that follow record there, and the VJPs read there, as if a
 * forward of n states had just been recorded (so a tape kept by an earlier
 * forward can be differentiated without running it again; the answers are
 * those of a fresh forward, bit for bit). tape NULL returns to the
 * workspace's own memory, with no forward recorded. */
size_t mlp_tape_doubles(const mlp *m, size_t n);
void mlp_ws_tape_bind(mlp_ws *ws, const mlp *m, double *tape, size_t n);

/* y = f(x, t) for one state: x has state_dim values, y output_dim. t is
 * ignored without time_input. Records the tape. */
void mlp_forward(const mlp *m, mlp_ws *ws, const double *x, double t, double *y);

/* Y = f(X, t) for n <= max_batch states, X n x state_dim, Y n x output_dim.
 * Records the tape. */
void mlp_forward_batch(const mlp *m, mlp_ws *ws, size_t n, const double *x, double t, double *y);

/* After mlp_forward: dx += v^T df/dx (state_dim), *dt += v^T df/dt (only
 * with time_input), dtheta += v^T df/dtheta (mlp_n_params). v has
 * output_dim values. */
void mlp_vjp(const mlp *m, mlp_ws *ws, const double *v, double *dx, double *dt, double *dtheta);

/* After mlp_forward_batch with the same n: per item k, dx[k] += v[k]^T
 * df/dx and dt[k] += v[k]^T df/dt (dt has n values); dtheta += the sum over
 * the batch of v[k]^T df/dtheta. v is n x output_dim. */
void mlp_vjp_batch(const mlp *m, mlp_ws *ws, size_t n, const double *v, double *dx, double *dt,
                   double *dtheta);

/* After mlp_forward: yd = (df/dx) u + (df/dt) ut (ut ignored without
 * time_input). Forward-mode, one pass. */
void mlp_jvp(const mlp *m, mlp_ws *ws, const double *u, double ut, double *yd);

/* J = df/dx at (x, t), output_dim x state_dim row-major (J[o][i] at
 * o*state_dim + i); jt = df/dt (output_dim; may be NULL; zero without
 * time_input); y = f(x, t) (may be NULL). Records the tape at x. */
void mlp_jacobian(const mlp *m, mlp_ws *ws, const double *x, double t, double *y, double *jac,
                  double *jt);

#endif
