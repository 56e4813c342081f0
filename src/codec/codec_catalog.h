/* codec/codec_catalog.h: the replies that describe stored models and their
 * versions (docs/api.md): GET /v1/models, GET /v1/models/{name}, and the
 * short answers of an upload and of a deletion.
 *
 * An ode model gives state_dim; a cde gives state_dim = hidden_dim (its
 * solved state z) and, spelled out, input_channels, data_channels (what a
 * client sends), hidden_dim and output_dim (the readout's width).
 *
 * Writers append to the caller's jbuf; no allocation beyond it, no state:
 * thread-safe. */
#ifndef ODESERVE_CODEC_CODEC_CATALOG_H
#define ODESERVE_CODEC_CODEC_CATALOG_H

#include "codec/jbuf.h"
#include "core/err.h"
#include "model/model_name.h"
#include "model/model_info.h"

#include <stddef.h>

/* {"models": [...]}: each model with its version count and creation time. */
void codec_catalog_list_encode(const model_info *list, size_t n, jbuf *b);
/* One model with its versions (ascending) and its aliases
 * ("aliases": {"stable": 3, ...}). */
void codec_catalog_model_encode(const model_info *m, const model_version_info *v, size_t n,
                                const model_alias *a, size_t n_aliases, jbuf *b);
/* {"name", "version"}: a version just stored. */
void codec_catalog_stored_encode(const char *name, int version, jbuf *b);
/* {"name", ["version",] "deleted": true}; version 0 = the whole model. */
void codec_catalog_deleted_encode(const char *name, int version, jbuf *b);

/* The body of PUT /v1/models/{name}/aliases/{alias}: {"version": v} with
 * v a number, "latest" or another alias (codec_request_version's rules).
 * ERR_INVALID naming the field; `doc` must be an object. */
err_code codec_catalog_alias_decode(const json_t *doc, model_version_ref *ref, err *e);
/* {"name", "alias", "version", "previous": v | null}: an alias set or
 * (version 0: "deleted": true instead of "version") removed. */
void codec_catalog_alias_encode(const char *name, const char *alias, int version, int previous,
                                jbuf *b);
/* {"name", "history": [{"alias", "from", "to", "by", "at"}, ...]}, oldest
 * first; from null = created, to null = removed. */
void codec_catalog_history_encode(const char *name, const model_alias_event *ev, size_t n,
                                  jbuf *b);

#endif
