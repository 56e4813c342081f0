-- 0004_jobs.sql: training jobs, their checkpoints and loss curves
-- (src/store/jobs.c, src/jobs/; docs/training-jobs.md).
--
--   jobs         one row per job: the submitted document (spec, JSON), the
--                state (queued -> running -> succeeded | failed | cancelled),
--                progress as of the last checkpoint, and the checkpoint
--                itself (parameters, best parameters, optimiser state, RNG
--                state; BLOBs of little-endian doubles / 64-bit words)
--   job_metrics  the loss curve, one row per iteration, written in the same
--                transaction as the checkpoint that covers it: after a crash
--                the curve ends exactly where the checkpoint does, and the
--                primary key refuses a duplicate iteration.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    model            TEXT NOT NULL,
    dataset          TEXT NOT NULL,
    spec             TEXT NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    iterations       INTEGER NOT NULL CHECK (iterations >= 1),
    iteration        INTEGER NOT NULL DEFAULT 0 CHECK (iteration >= 0),
    train_loss       REAL,
    val_loss         REAL,
    best_train_loss  REAL,
    best_val_loss    REAL,
    elapsed          REAL NOT NULL DEFAULT 0,
    result_version   INTEGER,
    error            TEXT,
    ckpt_params      BLOB,
    ckpt_best        BLOB,
    ckpt_optim       BLOB,
    ckpt_optim_steps INTEGER,
    ckpt_rng         BLOB CHECK (ckpt_rng IS NULL OR length(ckpt_rng) = 32)
) STRICT;
CREATE INDEX jobs_by_status ON jobs (status, id);

CREATE TABLE job_metrics (
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    iteration  INTEGER NOT NULL CHECK (iteration >= 1),
    train_loss REAL,
    val_loss   REAL,
    elapsed    REAL NOT NULL,
    PRIMARY KEY (job_id, iteration)
) STRICT, WITHOUT ROWID;
