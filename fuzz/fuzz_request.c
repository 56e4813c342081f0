/* fuzz_request: trajectory request bodies, for an ode model of state_dim
 * 1 to 4, a cde model of 1 to 4 data channels and an sde model of state_dim
 * 1 to 4 with a cap of 1,000 samples (the first byte chooses); a cde body
 * also goes through the cde gradient request's decoder (codec_grad_cde.h).
 * Properties: never a crash, no leak (the replay test runs under valgrind
 * and ASan); a decoded request holds what the decoder promises: at least
 * one time and one state, finite values, an error names its field. */
#include "fuzz/fuzz.h"

#include <math.h>
#include <string.h>

#include "codec/codec_cde.h"
#include "codec/codec_grad_cde.h"
#include "codec/codec_parse.h"
#include "codec/codec_request.h"
#include "codec/codec_sde.h"

FUZZ_ENTRY(request)
{
    if (size < 1) return 0;
    size_t dim = 1 + (data[0] & 3);
    int cde = (data[0] >> 2) & 1, sde = (data[0] >> 3) & 1;
    err e;
    err_clear(&e);
    json_t *body = NULL;
    if (codec_parse((const char *)data + 1, size - 1, &body, &e) != ERR_OK) return 0;
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    model_version_ref ref;
    if (codec_request_version(body, &ref, &e) != ERR_OK) FUZZ_ASSERT(strcmp(e.field, "version") == 0);
    err_clear(&e);
    if (sde) {
        codec_sde_req q;
        memset(&q, 0, sizeof q);
        if (codec_sde_req_decode(body, dim, 1000, &q, &e) == ERR_OK) {
            FUZZ_ASSERT(q.n_t >= 1 && q.batch >= 1 && q.samples >= 1 && q.samples <= 1000);
            FUZZ_ASSERT(q.output >= CODEC_SDE_SUMMARY && q.output <= CODEC_SDE_BOTH);
            FUZZ_ASSERT(q.nq <= CODEC_SDE_MAX_QUANTILES);
            for (size_t i = 0; i < q.nq; i++)
                FUZZ_ASSERT(q.quantiles[i] > 0 && q.quantiles[i] < 1);
            for (size_t i = 0; i < q.batch * dim; i++)
                FUZZ_ASSERT(isfinite(q.y0[i]));
            for (size_t i = 0; i < q.n_t; i++)
                FUZZ_ASSERT(isfinite(q.t[i]));
        } else {
            FUZZ_ASSERT(e.code != ERR_OK && (e.code == ERR_NOMEM || e.field[0] != '\0'));
        }
        codec_sde_req_free(&q);
    } else if (cde) {
        codec_cde_req q;
        memset(&q, 0, sizeof q);
        const codec_cde_dims dims = {.n_data = dim, .hidden_dim = dim, .readout_dim = 1};
        if (codec_cde_req_decode(body, &dims, &q, &e) == ERR_OK) {
            FUZZ_ASSERT(q.batch >= 1 && q.series != NULL);
        } else {
            FUZZ_ASSERT(e.code != ERR_OK);
        }
        codec_cde_req_free(&q);
        codec_grad_cde_req g;
        err_clear(&e);
        if (codec_grad_cde_decode(body, &dims, &g, &e) == ERR_OK) {
            FUZZ_ASSERT(g.rows >= 1 && g.target != NULL && (g.width == dim || g.width == 1));
            for (size_t b = 0; b < g.cde.batch; b++)
                for (size_t i = 1; i < g.cde.series[b].n_t; i++)
                    FUZZ_ASSERT(g.cde.series[b].t[i] >= g.cde.series[b].t[i - 1]);
        } else {
            FUZZ_ASSERT(e.code != ERR_OK);
        }
        codec_grad_cde_req_free(&g);
    } else {
        codec_request_ode q;
        memset(&q, 0, sizeof q);
        if (codec_request_ode_decode(body, dim, &q, &e) == ERR_OK) {
            FUZZ_ASSERT(q.n_t >= 1 && q.batch >= 1);
            for (size_t i = 0; i < q.batch * dim; i++)
                FUZZ_ASSERT(isfinite(q.y0[i]));
            for (size_t i = 0; i < q.n_t; i++)
                FUZZ_ASSERT(isfinite(q.t[i]));
        } else {
            FUZZ_ASSERT(e.code != ERR_OK);
        }
        codec_request_ode_free(&q);
    }
    json_decref(body);
    return 0;
}
