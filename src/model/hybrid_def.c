/* model/hybrid_def.c: see hybrid_def.h. */
#include "model/hybrid_def.h"

#include "model/hybrid_expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

model_hybrid *model_hybrid_new(size_t n_state, size_t n_par)
{
    model_hybrid *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->n_state = n_state;
    h->n_par = n_par;
    h->state_names = calloc(n_state + 1, sizeof *h->state_names);
    h->equations = calloc(n_state + 1, sizeof *h->equations);
    h->par_names = calloc(n_par + 1, sizeof *h->par_names);
    h->trainable = calloc(n_par + 1, 1);
    h->lo = malloc((n_par + 1) * sizeof *h->lo);
    h->hi = malloc((n_par + 1) * sizeof *h->hi);
    if (!h->state_names || !h->equations || !h->par_names || !h->trainable || !h->lo || !h->hi) {
        model_hybrid_free(h);
        return NULL;
    }
    for (size_t i = 0; i < n_par; i++) {
        h->lo[i] = -INFINITY;
        h->hi[i] = INFINITY;
    }
    return h;
}

void model_hybrid_free(model_hybrid *h)
{
    if (!h) return;
    for (size_t i = 0; h->state_names && i < h->n_state; i++)
        free(h->state_names[i]);
    for (size_t i = 0; h->equations && i < h->n_state; i++)
        free(h->equations[i]);
    for (size_t i = 0; h->par_names && i < h->n_par; i++)
        free(h->par_names[i]);
    free(h->state_names);
    free(h->equations);
    free(h->par_names);
    free(h->trainable);
    free(h->lo);
    free(h->hi);
    free(h);
}

static int dup_all(char **dst, char *const *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (src[i] && !(dst[i] = strdup(src[i]))) return -1;
    return 0;
}

model_hybrid *model_hybrid_copy(const model_hybrid *h)
{
    model_hybrid *c = model_hybrid_new(h->n_state, h->n_par);
    if (!c) return NULL;
    if (dup_all(c->state_names, h->state_names, h->n_state) ||
        dup_all(c->equations, h->equations, h->n_state) ||
        dup_all(c->par_names, h->par_names, h->n_par)) {
        model_hybrid_free(c);
        return NULL;
    }
    memcpy(c->trainable, h->trainable, h->n_par);
    memcpy(c->lo, h->lo, h->n_par * sizeof *c->lo);
    memcpy(c->hi, h->hi, h->n_par * sizeof *c->hi);
    return c;
}

int model_hybrid_vars(const model_hybrid *h, size_t nn_out, char ***names, char **store, size_t *n)
{
    const size_t total = h->n_state + h->n_par + nn_out + 1;
    char **v = malloc(total * sizeof *v);
    char *s = malloc(nn_out * 24 + 2);
    if (!v || !s) {
        free(v);
        free(s);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < h->n_state; i++)
        v[k++] = h->state_names[i];
    for (size_t i = 0; i < h->n_par; i++)
        v[k++] = h->par_names[i];
    char *at = s;
    for (size_t i = 0; i < nn_out; i++) {
        v[k++] = at;
        at += sprintf(at, "nn_%zu", i) + 1;
    }
    strcpy(at, "t");
    v[k++] = at;
    *names = v;
    *store = s;
    *n = total;
    return 0;
}

err_code model_hybrid_validate(const model_hybrid *h, const double *values, size_t nn_out, err *e)
{
    char f[ERR_FIELD_MAX];
    if (h->n_state == 0) return err_set(e, ERR_INVALID, "state_dim", "must be at least 1");
    for (size_t i = 0; i < h->n_state + h->n_par; i++) {
        const int st = i < h->n_state;
        const char *name = st ? h->state_names[i] : h->par_names[i - h->n_state];
        if (st)
            snprintf(f, sizeof f, "state_names[%zu]", i);
        else
            snprintf(f, sizeof f, "parameters.%.64s", name ? name : "");
        if (!name || !hybrid_expr_name_ok(name))
            return err_set(e, ERR_INVALID, f, "\"%.64s\" is not a name: letters, digits and _, "
                           "not starting with a digit, at most %d bytes, not t, nn_<k> or a "
                           "function", name ? name : "", HYBRID_NAME_MAX);
        for (size_t j = 0; j < i; j++) {
            const char *other = j < h->n_state ? h->state_names[j] : h->par_names[j - h->n_state];
            if (strcmp(other, name) == 0)
                return err_set(e, ERR_INVALID, f, "\"%s\" is used twice (as a %s already)", name,
                               j < h->n_state ? "state" : "parameter");
        }
    }
    for (size_t i = 0; i < h->n_par; i++) {
        snprintf(f, sizeof f, "bounds.%.64s", h->par_names[i]);
        if (isnan(h->lo[i]) || isnan(h->hi[i]) || h->lo[i] > h->hi[i])
            return err_set(e, ERR_INVALID, f, "is not an interval [lower, upper]");
        if (!(values[i] >= h->lo[i] && values[i] <= h->hi[i]))
            return err_set(e, ERR_INVALID, f, "[%.17g, %.17g] excludes the starting value %.17g",
                           h->lo[i], h->hi[i], values[i]);
    }
    for (size_t i = 0; i < h->n_state; i++)
        if (!h->equations[i]) {
            snprintf(f, sizeof f, "equations[%zu]", i);
            return err_set(e, ERR_INVALID, f, "missing");
        }
    char **names, *store;
    size_t n;
    if (model_hybrid_vars(h, nn_out, &names, &store, &n))
        return err_set(e, ERR_NOMEM, NULL, "out of memory");
    struct hybrid_sys_spec sp = {h->n_state, (const char *const *)h->equations, n,
                                 (const char *const *)names, nn_out, "equations"};
    hybrid_sys *s = NULL;
    err_code rc = hybrid_sys_new(&s, &sp, e);
    hybrid_sys_free(s);
    free(names);
    free(store);
    return rc;
}
