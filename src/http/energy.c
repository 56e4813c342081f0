/* http/energy.c: POST /v1/models/{name}/energy: the energy and its
 * gradient at given states of a hamiltonian model (H) or a lagrangian one
 * (E = v . dL/dv - L; codec/codec_ham.h). Deferred to the
 * evaluation pool like an export: parse, find the model, evaluate, reply.
 * A model of another kind is a 422 naming "name". */
#include "codec/codec_ham.h"
#include "codec/codec_json.h"
#include "core/log.h"
#include "http/api.h"
#include "http/handlers.h"
#include "model/served_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void energy_work(http_req *r)
{
    const char *name = http_req_param(r, "name");
    err e;
    err_clear(&e);
    json_t *body = NULL;
    const model_handle *h = NULL;
    double *y = NULL, *hv = NULL, *grad = NULL;
    size_t n = 0;
    bool batched = false;
    model_version_ref ref;
    if (api_body_parse(r, &body, &e) != ERR_OK) goto fail;
    if (!json_is_object(body)) {
        err_set(&e, ERR_INVALID, "", "the request must be a JSON object, got %s",
                codec_json_type_name(body));
        goto fail;
    }
    if (codec_request_version(body, &ref, &e) != ERR_OK ||
        api_model_handle(r, name, &ref, &h, &e) != ERR_OK)
        goto fail;
    const served_model *m = h->built;
    if (m->kind != MODEL_KIND_HAMILTONIAN && m->kind != MODEL_KIND_LAGRANGIAN) {
        err_set(&e, ERR_INVALID, "name",
                "model %s is a%s %s model; /energy answers lagrangian and hamiltonian models "
                "only",
                name, m->kind == MODEL_KIND_ODE ? "n" : "", model_kind_name(m->kind));
        goto fail;
    }
    const size_t d = 2 * (m->ham ? hamiltonian_model_dof(m->ham) : lagrangian_model_dof(m->lag));
    if (codec_ham_energy_decode(body, d, &y, &n, &batched, &e) != ERR_OK) goto fail;
    if (!(hv = malloc(n * sizeof *hv)) || !(grad = malloc(n * d * sizeof *grad))) {
        err_set(&e, ERR_NOMEM, NULL, "out of memory for the energies");
        goto fail;
    }
    if ((m->ham ? hamiltonian_model_energy(m->ham, n, y, hv, grad, &e)
                : lagrangian_model_energy(m->lag, n, y, hv, grad, &e)) != ERR_OK)
        goto fail;
    /* a reply never carries a non-finite number (it would be written null) */
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j <= d; j++)
            if (!isfinite(j < d ? grad[k * d + j] : hv[k])) {
                char f[32] = "y";
                if (batched) snprintf(f, sizeof f, "y[%zu]", k);
                err_set(&e, ERR_INVALID, f,
                        "the %s at this state is not finite: it overflows a double",
                        j < d ? "energy's gradient" : "energy");
                goto fail;
            }
    jbuf b;
    jbuf_init(&b);
    codec_ham_energy_reply(&b, h->name, h->version, n, batched, hv, grad, d);
    api_reply_jbuf(r, 200, &b);
    goto out;
fail:
    http_reply_error(r, &e);
out:
    if (h) model_cache_release(http_req_app(r)->models, h);
    json_decref(body);
    free(y);
    free(hv);
    free(grad);
}

void h_energy(http_req *r)
{
    if (!api_model_name(r, 0) || !api_require_json(r)) return;
    http_req_defer(r, energy_work);
}
