-- 0012_hybrid.sql: model kind 'hybrid' (docs/hybrid.md, docs/model-format.md).
--
-- A hybrid version has state_dim and no other kind's columns; its optional
-- network is named 'network' (net 0); its physical parameters' values are
-- the tail of params (after the network's weights), so they are checksummed
-- with them. Its state names and equations, and its parameters' names,
-- trainable flags and bounds, are rows of the new table model_hybrid_terms.
-- As 0010 did, model_versions and model_nets are rebuilt by SQLite's
-- documented procedure to change their CHECK constraints
-- (https://sqlite.org/lang_altertable.html#otheralter); ids are kept and the
-- immutability triggers are made again. The CREATE text of model_versions is
-- kept compact as 0007 asks (check_disk_full). The kind list and CHECK for
-- 'lagrangian' are 0011's, repeated so either order of the two applies.

CREATE TABLE model_versions_new (
id INTEGER PRIMARY KEY,
model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
version INTEGER NOT NULL CHECK (version >= 1),
created_at TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z'),
kind TEXT NOT NULL CHECK (kind IN ('ode', 'cde', 'sde', 'cnf', 'hamiltonian', 'lagrangian', 'hybrid')),
description TEXT CHECK (length(CAST(description AS BLOB)) <= 4096),
state_dim INTEGER CHECK (state_dim >= 1),
augment_dim INTEGER CHECK (augment_dim >= 0),
input_channels INTEGER CHECK (input_channels >= 1),
hidden_dim INTEGER CHECK (hidden_dim >= 1),
channel_time INTEGER CHECK (channel_time IN (0, 1)),
channel_intensity INTEGER CHECK (channel_intensity IN (0, 1)),
interpolation TEXT CHECK (interpolation IN ('linear', 'rectilinear', 'natural_cubic', 'hermite_bdiff')),
solver_method TEXT CHECK (length(solver_method) BETWEEN 1 AND 23 AND solver_method NOT GLOB '*[^a-z0-9_]*'),
solver_rtol REAL CHECK (solver_rtol > 0),
solver_atol REAL CHECK (solver_atol > 0),
solver_max_steps INTEGER CHECK (solver_max_steps > 0),
solver_first_step REAL CHECK (solver_first_step > 0),
solver_min_step REAL CHECK (solver_min_step > 0),
solver_max_step REAL CHECK (solver_max_step > 0),
solver_step REAL CHECK (solver_step > 0),
n_params INTEGER NOT NULL CHECK (n_params >= 1),
params BLOB NOT NULL CHECK (length(params) = 8 * n_params),
checksum TEXT NOT NULL CHECK (length(checksum) = 16 AND checksum NOT GLOB '*[^0-9a-f]*'),
calculus TEXT CHECK (calculus IN ('ito', 'stratonovich')),
noise TEXT CHECK (noise IN ('diagonal', 'scalar', 'additive', 'general')),
brownian_dim INTEGER CHECK (brownian_dim >= 1),
base BLOB CHECK (base IS NULL OR (kind = 'cnf' AND length(base) = 16 * state_dim)),
ham_form TEXT CHECK (ham_form IN ('hamiltonian', 'mass', 'kinetic')),
UNIQUE (model_id, version),
CHECK (kind <> 'ode' OR (state_dim IS NOT NULL AND augment_dim IS NOT NULL AND coalesce(input_channels, hidden_dim, channel_time, channel_intensity, interpolation, calculus, noise, brownian_dim) IS NULL)),
CHECK (kind <> 'cde' OR (input_channels IS NOT NULL AND hidden_dim IS NOT NULL AND channel_time IS NOT NULL AND channel_intensity IS NOT NULL AND interpolation IS NOT NULL AND coalesce(state_dim, augment_dim, calculus, noise, brownian_dim) IS NULL)),
CHECK (kind <> 'sde' OR (state_dim IS NOT NULL AND calculus IS NOT NULL AND noise IS NOT NULL AND (noise = 'general') = (brownian_dim IS NOT NULL) AND coalesce(augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, interpolation) IS NULL)),
CHECK (kind <> 'cnf' OR (state_dim IS NOT NULL AND coalesce(augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, interpolation, calculus, noise, brownian_dim) IS NULL)),
CHECK ((kind = 'hamiltonian') = (ham_form IS NOT NULL)),
CHECK (kind <> 'hamiltonian' OR (state_dim IS NOT NULL AND state_dim % 2 = 0 AND coalesce(augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, interpolation, calculus, noise, brownian_dim) IS NULL)),
CHECK (kind <> 'lagrangian' OR (state_dim IS NOT NULL AND state_dim % 2 = 0 AND coalesce(augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, interpolation, calculus, noise, brownian_dim, ham_form) IS NULL)),
CHECK (kind <> 'hybrid' OR (state_dim IS NOT NULL AND coalesce(augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, interpolation, calculus, noise, brownian_dim, ham_form) IS NULL))
) STRICT;

INSERT INTO model_versions_new (id, model_id, version, created_at, kind, description, state_dim, augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, interpolation, solver_method, solver_rtol, solver_atol, solver_max_steps, solver_first_step, solver_min_step, solver_max_step, solver_step, n_params, params, checksum, calculus, noise, brownian_dim, base, ham_form)
SELECT id, model_id, version, created_at, kind, description, state_dim, augment_dim, input_channels, hidden_dim, channel_time, channel_intensity, interpolation, solver_method, solver_rtol, solver_atol, solver_max_steps, solver_first_step, solver_min_step, solver_max_step, solver_step, n_params, params, checksum, calculus, noise, brownian_dim, base, ham_form
FROM model_versions;

DROP TABLE model_versions;
ALTER TABLE model_versions_new RENAME TO model_versions;

CREATE TABLE model_nets_new (
version_id INTEGER NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
net INTEGER NOT NULL CHECK (net BETWEEN 0 AND 2),
name TEXT NOT NULL CHECK (name IN ('vector_field', 'initial', 'readout', 'drift', 'diffusion', 'hamiltonian', 'potential', 'kinetic', 'lagrangian', 'network')),
in_dim INTEGER NOT NULL CHECK (in_dim >= 1),
time_input INTEGER NOT NULL CHECK (time_input IN (0, 1)),
PRIMARY KEY (version_id, net)
) STRICT, WITHOUT ROWID;

INSERT INTO model_nets_new SELECT version_id, net, name, in_dim, time_input FROM model_nets;
DROP TABLE model_nets;
ALTER TABLE model_nets_new RENAME TO model_nets;

-- One row per state (role 'state': its name and equation) and per physical
-- parameter (role 'parameter': name, trainable flag, bounds; NULL bound =
-- open), numbered from 0 in document order.
CREATE TABLE model_hybrid_terms (
version_id INTEGER NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
role TEXT NOT NULL CHECK (role IN ('state', 'parameter')),
idx INTEGER NOT NULL CHECK (idx >= 0),
name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
equation TEXT CHECK ((role = 'state') = (equation IS NOT NULL)),
trainable INTEGER CHECK (trainable IN (0, 1)),
lower REAL,
upper REAL,
CHECK ((role = 'parameter') = (trainable IS NOT NULL) AND (role = 'parameter' OR coalesce(lower, upper) IS NULL)),
PRIMARY KEY (version_id, role, idx)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON model_versions
BEGIN
    SELECT RAISE(ABORT, 'model versions are immutable');
END;
CREATE TRIGGER model_nets_immutable BEFORE UPDATE ON model_nets
BEGIN
    SELECT RAISE(ABORT, 'model versions are immutable');
END;
CREATE TRIGGER model_hybrid_terms_immutable BEFORE UPDATE ON model_hybrid_terms
BEGIN
    SELECT RAISE(ABORT, 'model versions are immutable');
END;
