-- 0002_models.sql: models and their immutable, numbered versions.
--
-- A model is a name with versions 1, 2, ... (src/store/models.c). A version
-- is a model_def (src/model/model_def.h) spread over three tables, readable
-- with the sqlite3 shell:
--
--   models          one row per model name
--   model_versions  one row per version: kind, dimensions, solver defaults,
--                   and the parameter vector as a BLOB
--   model_nets      the version's networks (ode: 1, cde: 3)
--   model_layers    each network's layers, in order
--
-- e.g. the layers of every version of "spiral":
--   SELECT v.version, n.name, l.layer, l.kind, l.in_dim, l.out_dim, l.activation
--     FROM models m JOIN model_versions v ON v.model_id = m.id
--     JOIN model_nets n ON n.version_id = v.id
--     JOIN model_layers l ON l.version_id = n.version_id AND l.net = n.net
--    WHERE m.name = 'spiral' ORDER BY v.version, n.net, l.layer;
--
-- Deleting a models row deletes its versions, networks and layers (ON DELETE
-- CASCADE; foreign keys are enforced on every connection). Versions are
-- immutable: triggers refuse UPDATE on them. Tables are STRICT (SQLite >=
-- 3.37): a value of the wrong type is an error, not silently stored.

-- next_version is the number the next upload gets. It only grows, so a
-- deleted version's number is never given again while the model exists
-- (deleting a model's last version deletes the model itself).
CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE
                 CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
    created_at   TEXT NOT NULL                      -- UTC, ISO 8601, the first version's
                 CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'),
    next_version INTEGER NOT NULL DEFAULT 1 CHECK (next_version >= 1)
) STRICT;

-- Fields that belong to the other kind are NULL: an ode has state_dim and
-- augment_dim; a cde has input_channels, hidden_dim, the two channel flags
-- and interpolation. Solver settings are NULL when not set (the solver's
-- own default applies). params holds n_params IEEE 754 doubles,
-- little-endian, in the nn/mlp.h layout of each network, networks in order;
-- checksum is their 64-bit FNV-1a (model_def_checksum) in 16 hex digits,
-- verified on every load.
CREATE TABLE model_versions (
    id                INTEGER PRIMARY KEY,
    model_id          INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version           INTEGER NOT NULL CHECK (version >= 1),
    created_at        TEXT NOT NULL
                      CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'),
    kind              TEXT NOT NULL CHECK (kind IN ('ode', 'cde')),
    description       TEXT CHECK (length(CAST(description AS BLOB)) <= 4096),
    -- ode
    state_dim         INTEGER CHECK (state_dim >= 1),
    augment_dim       INTEGER CHECK (augment_dim >= 0),
    -- cde
    input_channels    INTEGER CHECK (input_channels >= 1),
    hidden_dim        INTEGER CHECK (hidden_dim >= 1),
    channel_time      INTEGER CHECK (channel_time IN (0, 1)),
    channel_intensity INTEGER CHECK (channel_intensity IN (0, 1)),
    interpolation     TEXT CHECK (interpolation IN ('linear', 'rectilinear', 'natural_cubic',
                                                    'hermite_bdiff')),
    -- solver defaults
    solver_method     TEXT CHECK (length(solver_method) BETWEEN 1 AND 15
                                  AND solver_method NOT GLOB '*[^a-z0-9_]*'),
    solver_rtol       REAL CHECK (solver_rtol > 0),
    solver_atol       REAL CHECK (solver_atol > 0),
    solver_max_steps  INTEGER CHECK (solver_max_steps > 0),
    solver_first_step REAL CHECK (solver_first_step > 0),
    solver_min_step   REAL CHECK (solver_min_step > 0),
    solver_max_step   REAL CHECK (solver_max_step > 0),
    solver_step       REAL CHECK (solver_step > 0),
    -- parameters
    n_params          INTEGER NOT NULL CHECK (n_params >= 1),
    params            BLOB NOT NULL CHECK (length(params) = 8 * n_params),
    checksum          TEXT NOT NULL
                      CHECK (length(checksum) = 16 AND checksum NOT GLOB '*[^0-9a-f]*'),
    UNIQUE (model_id, version),
    CHECK (kind <> 'ode' OR (state_dim IS NOT NULL AND augment_dim IS NOT NULL
                             AND coalesce(input_channels, hidden_dim, channel_time,
                                          channel_intensity, interpolation) IS NULL)),
    CHECK (kind <> 'cde' OR (input_channels IS NOT NULL AND hidden_dim IS NOT NULL
                             AND channel_time IS NOT NULL AND channel_intensity IS NOT NULL
                             AND interpolation IS NOT NULL
                             AND coalesce(state_dim, augment_dim) IS NULL))
) STRICT;

-- The networks of a version: net 0 of an ode is its vector_field; a cde has
-- initial (0), vector_field (1) and readout (2). in_dim excludes time; with
-- time_input, t is appended to the input.
CREATE TABLE model_nets (
    version_id INTEGER NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    net        INTEGER NOT NULL CHECK (net BETWEEN 0 AND 2),
    name       TEXT NOT NULL CHECK (name IN ('vector_field', 'initial', 'readout')),
    in_dim     INTEGER NOT NULL CHECK (in_dim >= 1),
    time_input INTEGER NOT NULL CHECK (time_input IN (0, 1)),
    PRIMARY KEY (version_id, net)
) STRICT, WITHOUT ROWID;

-- The layers of a network, applied in order (layer 0 first). linear:
-- act(W u + b) with W out_dim x in_dim; elementwise: act(u), no
-- parameters, in_dim = out_dim = the width or 0 (inferred), as uploaded.
-- activation is an nn/act.h name ('tanh', 'cube', ...), checked on load.
CREATE TABLE model_layers (
    version_id INTEGER NOT NULL,
    net        INTEGER NOT NULL,
    layer      INTEGER NOT NULL CHECK (layer BETWEEN 0 AND 63),
    kind       TEXT NOT NULL CHECK (kind IN ('linear', 'elementwise')),
    in_dim     INTEGER NOT NULL CHECK (in_dim >= 0),
    out_dim    INTEGER NOT NULL CHECK (out_dim >= 0),
    activation TEXT NOT NULL
               CHECK (length(activation) BETWEEN 1 AND 32 AND activation NOT GLOB '*[^a-z0-9_]*'),
    PRIMARY KEY (version_id, net, layer),
    FOREIGN KEY (version_id, net) REFERENCES model_nets (version_id, net) ON DELETE CASCADE,
    CHECK (kind = 'elementwise' OR (in_dim >= 1 AND out_dim >= 1))
) STRICT, WITHOUT ROWID;

-- A version, once written, is never modified (only deleted).
CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON model_versions
BEGIN
    SELECT RAISE(ABORT, 'model versions are immutable');
END;
CREATE TRIGGER model_nets_immutable BEFORE UPDATE ON model_nets
BEGIN
    SELECT RAISE(ABORT, 'model versions are immutable');
END;
CREATE TRIGGER model_layers_immutable BEFORE UPDATE ON model_layers
BEGIN
    SELECT RAISE(ABORT, 'model versions are immutable');
END;
