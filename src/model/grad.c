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
    return err_set(e, ERR_INVALID, "", "unknown gradient \"%s\" (expected adjoint or backprop)",
                   name ? name : "(null)");
}

const char *grad_method_name(grad_method m)
{
    return m == GRAD_ADJOINT ? "adjoint" : m == GRAD_BACKPROP ? "backprop" : "?";
}

void grad_solve_options_init(struct grad_solve_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = GRAD_ADJOINT;
    o->tab = &rk_dopri5;
    ode_options_init(&o->ode);
}
