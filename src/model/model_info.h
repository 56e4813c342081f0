/* model/model_info.h: what is known of a stored model and of each of its
 * versions without loading them, as data: the rows store/models.h,
 * store/versions.h and store/aliases.h read, and codec/codec_catalog.h writes as the replies
 * of GET /v1/models and GET /v1/models/{name}.
 *
 * Plain fixed-size values: no ownership, no locks. */
#ifndef ODESERVE_MODEL_MODEL_INFO_H
#define ODESERVE_MODEL_MODEL_INFO_H

#include "model/model_def.h"
#include "model/model_name.h"

#include <stddef.h>

typedef struct model_info {
    char name[MODEL_NAME_MAX + 1];
    model_kind kind;  /* of the latest version */
    size_t state_dim; /* ode: state_dim; cde: hidden_dim, the size of the solved state z */
    /* cde only (0 for an ode), of the latest version: */
    size_t input_channels; /* channels of the path X, the added ones included */
    size_t data_channels;  /* channels a client sends per observation */
    size_t hidden_dim;     /* size of z */
    size_t output_dim;     /* width of the readout network's output */
    int latest_version;
    int n_versions;
    /* hybrid: the latest version, borrowed from the model cache by the
     * handler for the reply's state names, parameters and equations; NULL
     * when not loaded (the store leaves it NULL) */
    const model_def *def;
    char created_at[32]; /* ISO 8601 UTC, "2026-11-27T17:49:30.123Z" */
} model_info;

typedef struct model_version_info {
    int version;
    char created_at[32];
    char checksum[17]; /* 16 lowercase hex digits */
    size_t n_params;
    char description[256]; /* first 255 bytes of the description */
} model_version_info;

/* An alias and the version it names. */
typedef struct model_alias {
    char alias[MODEL_ALIAS_MAX + 1];
    int version;
    char updated_at[32];
} model_alias;

/* One change of an alias: created (from_version 0), moved, or removed
 * (to_version 0), by whom (a token's name, or "anonymous") and when. */
typedef struct model_alias_event {
    char alias[MODEL_ALIAS_MAX + 1];
    int from_version, to_version;
    char actor[MODEL_NAME_MAX + 1];
    char at[32];
} model_alias_event;

#endif
