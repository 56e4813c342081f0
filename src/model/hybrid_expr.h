/* model/hybrid_expr.h: the expression language of hybrid models
 * (docs/hybrid.md): parsing with limits, exact derivatives, and a small
 * stack bytecode that evaluates the equations and their partial derivatives.
 *
 * PIPELINE. Each equation is read by this file's own iterative parser
 * (shunting-yard: no recursion, so no input can overflow the C stack), which
 * enforces the limits below before anything else sees the text, names the
 * position of a syntax error and resolves every identifier against the
 * caller's variable names. The parsed equation is then handed, as a fully
 * parenthesised string over neutral names (v<slot> for variables, k<i> for
 * numeric literals), to GNU libmatheval, which differentiates it
 * symbolically; its derivative strings are parsed back by the same parser,
 * the structural zeros of the chain rule folded away, and compiled to
 * bytecode. Derivatives are exact: no finite differences anywhere.
 *
 * LIMITS (config keys hybrid_max_expr_len, hybrid_max_nodes,
 * hybrid_max_depth): the length of an equation in bytes, its number of
 * tokens (numbers, names, operators, function calls), and its parenthesis
 * nesting. Over a limit is ERR_TOO_LARGE naming the equation.
 *
 * Ownership and threads: libmatheval keeps parser state in globals, so every
 * call into it holds one process-wide mutex, and it is called only by
 * hybrid_sys_new (at upload and model build, never per request). A
 * hybrid_sys is immutable once built; evaluations take the caller's scratch
 * (hybrid_sys_scratch doubles), so any number of threads may evaluate one
 * system at once. hybrid_expr_limits_set is for start-up, before threads. */
#ifndef ODESERVE_MODEL_HYBRID_EXPR_H
#define ODESERVE_MODEL_HYBRID_EXPR_H

#include "core/err.h"

#include <stddef.h>

#define HYBRID_EXPR_MAX_LEN_DEFAULT 4096
#define HYBRID_EXPR_MAX_NODES_DEFAULT 1000
#define HYBRID_EXPR_MAX_DEPTH_DEFAULT 64
#define HYBRID_NAME_MAX 64 /* bytes of a state or parameter name */

void hybrid_expr_limits_set(size_t max_len, size_t max_nodes, size_t max_depth);
void hybrid_expr_limits_get(size_t *max_len, size_t *max_nodes, size_t *max_depth);

/* Whether `name` may name a state or parameter: [A-Za-z_][A-Za-z0-9_]*, at
 * most HYBRID_NAME_MAX bytes, not t, not nn_<digits>, not a function. */
int hybrid_expr_name_ok(const char *name);

typedef struct hybrid_sys hybrid_sys;

/* A system of n_eq equations over n_vars variables; vars[j] is the name of
 * slot j. Names of the form nn_<k> not among them are refused as "nn_<k>
 * beyond the network's outputs" (nn_max of them exist). Errors name
 * "<field>[i]" (field "equations"). */
struct hybrid_sys_spec {
    size_t n_eq;
    const char *const *eq;
    size_t n_vars;
    const char *const *vars;
    size_t nn_max;
    const char *field;
};

/* Parse, differentiate and compile. */
err_code hybrid_sys_new(hybrid_sys **out, const struct hybrid_sys_spec *s, err *e);
void hybrid_sys_free(hybrid_sys *s); /* NULL is a no-op */

/* Doubles of scratch one evaluation needs. */
size_t hybrid_sys_scratch(const hybrid_sys *s);
/* Whether equation values depend on slot j at all (a nonzero partial). */
int hybrid_sys_uses(const hybrid_sys *s, size_t slot);

/* out[i] = equation i at vars (n_vars values). */
void hybrid_sys_eval(const hybrid_sys *s, const double *vars, double *out, double *scratch);
/* D[i * n_vars + j] = d equation_i / d var_j at vars (0 where the partial
 * is structurally zero). */
void hybrid_sys_partials(const hybrid_sys *s, const double *vars, double *D, double *scratch);

#endif
