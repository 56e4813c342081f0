/* model/model_rows.h: a model_def as flat rows of names and numbers, the
 * form a table store keeps (store/versions.c, store/nets.c; the tables are
 * migrations/0002_models.sql): one version row of scalars, one row per
 * network, one per layer, and the parameters as little-endian bytes with
 * their checksum. No SQL here, and no nn type in the rows: the store binds
 * and reads plain text and integers, and everything that knows what a
 * layer, an activation or a width is stays in this file.
 *
 * Encoding cannot fail on a def that model_rows_check accepted. Decoding is
 * defensive: a row that cannot be what encoding wrote (a hand-edited or
 * damaged database) gives back a short phrase saying what is wrong, which
 * the store turns into its "version N is damaged: ..." error.
 *
 * Ownership: rows borrow their text (from the def when encoding, from the
 * caller when decoding; decoding copies what it keeps). Thread safety: pure
 * functions of their arguments. */
#ifndef ODESERVE_MODEL_MODEL_ROWS_H
#define ODESERVE_MODEL_MODEL_ROWS_H

#include "core/err.h"
#include "model/model_def.h"

#include <stdbool.h>
#include <stddef.h>

/* The version's scalar fields. Integers: -1 = NULL (a field of the other
 * kind, or not set); when decoding, also a value that is not an integer.
 * Doubles: 0 = not set (NULL). Text: NULL = NULL. */
typedef struct model_version_row {
    const char *kind; /* "ode" | "cde" | "sde" | "hamiltonian" | "cnf" | "lagrangian" */
    const char *description;                                               /* NULL = none */
    long long state_dim, augment_dim;                                      /* ode */
    long long input_channels, hidden_dim, channel_time, channel_intensity; /* cde (flags 0/1) */
    const char *interpolation;                                             /* cde */
    const char *calculus, *noise; /* sde: "ito", "diagonal", ...; NULL for the others */
    long long brownian_dim;       /* sde with general noise */
    const char *form; /* hamiltonian: "hamiltonian" | "mass" | "kinetic"; NULL for the others */
    size_t base_bytes; /* cnf with a base: 16 * state_dim (model_rows_base_encode); 0 = none */
    const char *solver_method;                                             /* NULL = not set */
    double solver_rtol, solver_atol, solver_first_step, solver_min_step, solver_max_step,
        solver_step;
    long long solver_max_steps; /* encoding: -1 = not set; decoding: as stored, 0 for NULL */
} model_version_row;

/* One network: `net` its index in the def, `name` the kind's name for it. */
typedef struct model_net_row {
    long long net;
    const char *name;
    long long in_dim;
    bool time_input;
} model_net_row;

/* One layer of network `net`, numbered `layer` from 0. */
typedef struct model_layer_row {
    long long net, layer;
    const char *kind; /* "linear" | "elementwise" */
    long long in_dim, out_dim;
    const char *activation; /* an activation's name, "tanh" */
} model_layer_row;

/* Can `def` be stored? model_def_validate, a solver method that fits, and
 * no field of the other kind set (an ode's hidden_dim, a cde's state_dim,
 * ...: only a kind's own fields are stored, so what is stored loads back
 * field for field): ERR_INVALID with the field. */
err_code model_rows_check(const model_def *def, err *e);

/* ---- encoding (def checked by model_rows_check) ---- */

void model_rows_version_encode(const model_def *def, model_version_row *r);
void model_rows_net_encode(const model_def *def, size_t net, model_net_row *r);
void model_rows_layer_encode(const model_def *def, size_t net, size_t layer, model_layer_row *r);
/* def->params as 8 * n_params little-endian bytes into dst, whatever the
 * host's byte order (the bytes model_def_checksum hashes), so a database
 * file moves between machines. */
void model_rows_params_encode(const model_def *def, unsigned char *dst);
/* A cnf's base as 16 * state_dim little-endian bytes: the mean, then the
 * scale (def->base_mean set; r->base_bytes says how many). */
void model_rows_base_encode(const model_def *def, unsigned char *dst);
/* model_def_checksum as stored: 16 lowercase hex digits. */
void model_rows_checksum(const model_def *def, char out[17]);

/* ---- decoding, into a def that model_def_init'ed and then filled row by
 * row; each returns NULL when the row is sound, else what is wrong ---- */

/* The scalar fields; *nomem when an allocation failed (the description). */
const char *model_rows_version_decode(const model_version_row *r, model_def *def, bool *nomem);
/* A cnf's stored base (after the version row; n bytes, src NULL = none):
 * NULL when sound, else what is wrong; *nomem when allocation failed. */
const char *model_rows_base_decode(const unsigned char *src, size_t n, model_def *def, bool *nomem);
/* The next network, in order (after the version row). */
const char *model_rows_net_decode(const model_net_row *r, model_def *def);
/* Every network there? (after the last network row) */
const char *model_rows_nets_done(const model_def *def);
/* The next layer, in network then layer order (after the networks). */
const char *model_rows_layer_decode(const model_layer_row *r, model_def *def);
/* Every network has layers? (after the last layer row) */
const char *model_rows_layers_done(const model_def *def);
/* def->params holds def->n_params doubles as stored (little-endian bytes):
 * converted in place to the host's doubles and checked against the stored
 * checksum (NULL: none stored). */
const char *model_rows_params_decode(model_def *def, const char *checksum);

/* What a client sends per observation of a cde whose path has
 * input_channels channels, given the added time and intensity channels. */
size_t model_rows_data_channels(size_t input_channels, bool channel_time, bool channel_intensity);

#endif
