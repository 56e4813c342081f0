-- 0006_tokens.sql: API tokens (src/store/tokens.c, src/http/auth.c;
-- docs/api.md#authentication).
--
--   tokens  one row per token ever made. A client presents
--           "ods_<id>_<secret>": `id` is the public half and the key of the
--           lookup; of the secret only SHA-256(salt || secret) is kept, with
--           a random salt per token (model/api_token.c). `scopes` is a set of
--           bits (read 1, write 2, train 4, admin 8). Revoking sets
--           revoked_at and keeps the row, so a failure with a revoked token
--           is still logged under its name; an active name is unique.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY CHECK (length(id) = 16),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    scopes       INTEGER NOT NULL CHECK (scopes BETWEEN 1 AND 15),
    salt         BLOB NOT NULL CHECK (length(salt) = 16),
    hash         BLOB NOT NULL CHECK (length(hash) = 32),
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;
