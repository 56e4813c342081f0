/* codec/codec_ham.h: the JSON of hamiltonian models' requests and replies
 * (docs/structured.md, docs/api.md).
 *
 * Trajectories are asked exactly as for an ode model (codec_request.h:
 * y0, t, t0, version, solver; per-state grids), with state_dim = 2 dof
 * values [q; p] per state; "events" and "augmented" are refused (field
 * named). The reply is the ode reply with "energy" before "stats": H at
 * every row of y, nested as y is (a list per state for a batched request).
 *
 * POST /v1/models/{name}/energy takes {"y": [..] | [[..], ..], "version": ..}
 * and answers {"model", "version", "energy": h | [h, ..], "gradient":
 * [dH/dq; dH/dp] | [[..], ..]}, nested as y was sent.
 *
 * Stateless and thread-safe; replies are written into a jbuf. */
#ifndef ODESERVE_CODEC_CODEC_HAM_H
#define ODESERVE_CODEC_CODEC_HAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "codec/codec_request.h"
#include "codec/jbuf.h"
#include "core/err.h"

/* At most this many states per energy request. */
#define CODEC_HAM_MAX_STATES 100000

/* A trajectory request: codec_request_ode_decode for 2 dof values per state,
 * then the ode keys a hamiltonian does not serve refused. */
err_code codec_ham_traj_decode(const json_t *body, size_t state_dim, codec_request_ode *q, err *e);

/* The trajectory reply (energy: one value per row of y). */
void codec_ham_traj_reply(jbuf *b, const char *model, int version, const codec_request_ode *q,
                          const double *y, size_t od, const double *energy,
                          const codec_request_stats *st);

/* An energy request: n states into *y (malloc'd, n x state_dim; the
 * caller frees), *batched whether "y" was a list of states. */
err_code codec_ham_energy_decode(const json_t *body, size_t state_dim, double **y, size_t *n,
                                 bool *batched, err *e);

void codec_ham_energy_reply(jbuf *b, const char *model, int version, size_t n, bool batched,
                            const double *h, const double *grad, size_t state_dim);

#endif
