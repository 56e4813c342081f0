/* model/hybrid_def.h: the part of a model_def that only the "hybrid" kind
 * has (docs/hybrid.md): state names, one equation per state, the physical
 * parameters' names, trainable flags and bounds. The parameters' values are
 * the tail of model_def.params, after the optional network's weights, so
 * they are stored, checksummed and exported with the weights.
 *
 * Variable slots, the order hybrid_expr.h and model/hybrid.h agree on:
 * the states, then the parameters, then nn_0 .. nn_{k-1}, then t.
 *
 * Ownership: a model_hybrid owns every array and string in it;
 * model_hybrid_free releases them. Plain data, like model_def. */
#ifndef ODESERVE_MODEL_HYBRID_DEF_H
#define ODESERVE_MODEL_HYBRID_DEF_H

#include "core/err.h"

#include <stddef.h>

typedef struct model_hybrid {
    size_t n_state;     /* = the def's state_dim */
    char **state_names; /* n_state */
    char **equations;   /* n_state: d state_i / dt */
    size_t n_par;
    char **par_names;         /* n_par */
    unsigned char *trainable; /* n_par flags */
    double *lo, *hi;          /* n_par bounds; -inf / +inf where open */
} model_hybrid;

/* Zeroed arrays for n_state states and n_par parameters (bounds open). */
model_hybrid *model_hybrid_new(size_t n_state, size_t n_par);
void model_hybrid_free(model_hybrid *h); /* NULL is a no-op */
model_hybrid *model_hybrid_copy(const model_hybrid *h); /* NULL on out of memory */

/* The variable names in slot order (states, parameters, nn_0.., t) into
 * *names (malloc'd array; the nn_k and t strings live in *store, also
 * malloc'd); *n gets the count. -1 on out of memory. */
int model_hybrid_vars(const model_hybrid *h, size_t nn_out, char ***names, char **store, size_t *n);

/* Names and bounds against the parameter values: a name that is not an
 * identifier or is used twice ("state_names[i]", "parameters.<name>"),
 * bounds that exclude the value ("bounds.<name>"), then the equations
 * compiled with their derivatives ("equations[i]", ERR_TOO_LARGE over a
 * limit). nn_out: the network's outputs (0 without one). */
err_code model_hybrid_validate(const model_hybrid *h, const double *values, size_t nn_out, err *e);

#endif
