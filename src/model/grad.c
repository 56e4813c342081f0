/* model/grad.c: see grad.h. */
#include "model/grad.h"

#include "num/tableau.h"

#include <string.h>

err_code grad_method_from_name(const char *name, grad_method *out, err *e)
{
    if (name && !strcmp(name, "adjoint")) {
        *out = GRAD_ADJOINT;
        return ERR_OK;
    }
    if (name && !strcmp(name, "backprop")) {
        *out = GRAD_BACKPROP;
        return ERR_OK;
    }
    if (name && !strcmp(name, "adjoint_checkpointed")) {
        *out = GRAD_ADJOINT_CKPT;
        return ERR_OK;
    }
    if (name && !strcmp(name, "reversible")) {
        *out = GRAD_REVERSIBLE;
        return ERR_OK;
    }
    return err_set(e, ERR_INVALID, "",
                   "unknown gradient \"%s\" (expected backprop, adjoint, adjoint_checkpointed "
                   "or reversible)",
                   name ? name : "(null)");
}

const char *grad_method_name(grad_method m)
{
    switch (m) {
    case GRAD_ADJOINT:
        return "adjoint";
    case GRAD_BACKPROP:
        return "backprop";
    case GRAD_ADJOINT_CKPT:
        return "adjoint_checkpointed";
    case GRAD_REVERSIBLE:
        return "reversible";
    }
    return "?";
}

void grad_solve_options_init(struct grad_solve_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = GRAD_ADJOINT;
    o->tab = &rk_dopri5;
    ode_options_init(&o->ode);
    o->keep_bytes = GRAD_KEEP_BYTES_DEFAULT;
}
