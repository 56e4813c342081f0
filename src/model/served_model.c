/* model/served_model.c: see served_model.h. */
#include "model/served_model.h"

#include <stdlib.h>

void *served_model_build(const model_def *def, err *e)
{
    served_model *m = calloc(1, sizeof *m);
    if (!m) {
        err_set(e, ERR_NOMEM, NULL, "out of memory building a model");
        return NULL;
    }
    m->kind = def->kind;
    solve_cost_init(&m->cost);
    if (def->kind == MODEL_KIND_ODE && ode_model_new(&m->ode, def, e) != ERR_OK) {
        free(m);
        return NULL;
    }
    if (def->kind == MODEL_KIND_CDE && cde_model_new(&m->cde, def, e) != ERR_OK) {
        free(m);
        return NULL;
    }
    if (def->kind == MODEL_KIND_SDE && sde_model_new(&m->sde, def, e) != ERR_OK) {
        free(m);
        return NULL;
    }
    if ((def->kind == MODEL_KIND_HAMILTONIAN && hamiltonian_model_new(&m->ham, def, e) != ERR_OK) ||
        (def->kind == MODEL_KIND_CNF && cnf_model_new(&m->cnf, def, e) != ERR_OK) ||
        (def->kind == MODEL_KIND_LAGRANGIAN && lagrangian_model_new(&m->lag, def, e) != ERR_OK) ||
        (def->kind == MODEL_KIND_HYBRID && hybrid_model_new(&m->hyb, def, e) != ERR_OK)) {
        free(m);
        return NULL;
    }
    return m;
}

void served_model_free(void *built)
{
    served_model *m = built;
    if (!m) return;
    ode_model_free(m->ode);
    cde_model_free(m->cde);
    sde_model_free(m->sde);
    hamiltonian_model_free(m->ham);
    cnf_model_free(m->cnf);
    lagrangian_model_free(m->lag);
    hybrid_model_free(m->hyb);
    free(m);
}
