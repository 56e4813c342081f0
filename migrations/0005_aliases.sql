-- 0005_aliases.sql: version aliases ("stable", "canary") and their history.
--
-- An alias names one version of one model; every endpoint that takes a
-- version takes an alias too (src/store/aliases.c). Moving or removing an
-- alias writes a row to model_alias_history in the same transaction, and
-- that table is append-only: triggers refuse UPDATE and DELETE, so the audit
-- trail outlives the model it describes (it keeps the model's name, not its
-- id).
--
-- A version an alias points to cannot be deleted (the store answers 409
-- naming the alias); deleting the whole model deletes its aliases (ON DELETE
-- CASCADE) after recording each removal.

CREATE TABLE model_aliases (
    model_id   INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    alias      TEXT NOT NULL
               CHECK (length(alias) BETWEEN 1 AND 32 AND alias GLOB '[a-z]*'
                      AND alias NOT GLOB '*[^a-z0-9_-]*' AND alias <> 'latest'),
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (model_id, alias)
) STRICT;

-- from_version NULL: the alias was created; to_version NULL: removed.
CREATE TABLE model_alias_history (
    id           INTEGER PRIMARY KEY,
    model        TEXT NOT NULL,
    alias        TEXT NOT NULL,
    from_version INTEGER CHECK (from_version >= 1),
    to_version   INTEGER CHECK (to_version >= 1),
    actor        TEXT NOT NULL,           -- the token's name, or "anonymous"
    at           TEXT NOT NULL
) STRICT;
CREATE INDEX model_alias_history_by_model ON model_alias_history (model, id);

CREATE TRIGGER model_alias_history_no_update BEFORE UPDATE ON model_alias_history
BEGIN
    SELECT RAISE(ABORT, 'model_alias_history is append-only');
END;
CREATE TRIGGER model_alias_history_no_delete BEFORE DELETE ON model_alias_history
BEGIN
    SELECT RAISE(ABORT, 'model_alias_history is append-only');
END;
