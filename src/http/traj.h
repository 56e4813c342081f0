/* http/traj.h: the trajectory machinery of trajectory.c, for other wire
 * protocols. Private to the http layer.
 *
 * POST /v1/models/{name}/trajectory and the Open Inference Protocol's
 * POST /v2/models/{name}[/versions/{v}]/infer (oip.c) solve the same way:
 * one decode of the v1 body per model kind (codec_request.h, codec_cde.h),
 * the inline-or-pool decision, the limits, the solve and its statistics. A
 * protocol only says how its body becomes a v1 body and how the answer is
 * written. Its hooks may run on the HTTP thread or on the evaluation pool
 * (never both at once); they must not read request headers (handler.h).
 *
 * Ownership: traj_serve takes `ctx` (freed with p->ctx_free at the request's
 * completion, on every path). */
#ifndef ODESERVE_HTTP_TRAJ_H
#define ODESERVE_HTTP_TRAJ_H

#include <jansson.h>

#include "codec/codec_cde.h"
#include "codec/codec_ham.h"
#include "codec/codec_request.h"
#include "codec/codec_sde.h"
#include "codec/jbuf.h"
#include "http/handler.h"
#include "model/model_name.h"
#include "store/model_cache.h"

typedef struct traj_proto {
    /* Read the request: the version it names (a number, latest or an
     * alias; resolved by api_model_handle). Called first. */
    err_code (*open)(http_req *r, void *ctx, model_version_ref *ref, err *e);
    /* The v1 trajectory body (a new reference) for the model `h`. */
    err_code (*body)(void *ctx, const model_handle *h, json_t **out, err *e);
    /* Rename the field of an error of the v1 decoders or the solve to the
     * request's own (may be NULL). */
    void (*field_map)(void *ctx, model_kind kind, err *e);
    /* The answers, written into b. */
    void (*ode_reply)(jbuf *b, void *ctx, const model_handle *h, const codec_request_ode *q,
                      const double *y, size_t od, const struct ode_model_events *ev,
                      const codec_request_stats *st);
    void (*cde_reply)(jbuf *b, void *ctx, const model_handle *h, const codec_cde_req *q,
                      const double *readout, size_t readout_dim, const double *hidden,
                      size_t hidden_dim, const struct cde_model_events *ev,
                      const codec_request_stats *st);
    void (*ctx_free)(void *ctx);
    /* sde models' answer; NULL: the protocol does not serve them (422). */
    void (*sde_reply)(jbuf *b, void *ctx, const model_handle *h, const codec_sde_req *q,
                      const codec_sde_result *res, const codec_request_stats *st);
    /* hamiltonian and lagrangian models' answer (energy: H, or the
     * lagrangian's E, per row of y); NULL: the protocol does not serve
     * them (422). */
    void (*ham_reply)(jbuf *b, void *ctx, const model_handle *h, const codec_request_ode *q,
                      const double *y, size_t od, const double *energy,
                      const codec_request_stats *st);
} traj_proto;

/* Serve a trajectory request of protocol p (the handler's whole work: it
 * replies now or defers). The route's {name} is the model's name. */
void traj_serve(http_req *r, const traj_proto *p, void *ctx);

#endif
