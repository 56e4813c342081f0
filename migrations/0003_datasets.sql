-- 0003_datasets.sql: uploaded time-series datasets (src/store/datasets.c).
--
--   datasets         one row per dataset name, with its summary (what
--                    GET /v1/datasets/{name} reports, computed on upload)
--   dataset_series   the series of a dataset, in upload order: times and
--                    values as BLOBs of little-endian IEEE 754 doubles;
--                    y is n_points x channels row-major, NaN = missing
--
-- A dataset is written in one transaction and never modified; DELETE
-- removes it with its series (ON DELETE CASCADE).
CREATE TABLE datasets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE
               CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
    created_at TEXT NOT NULL,
    channels   INTEGER NOT NULL CHECK (channels >= 1),
    n_series   INTEGER NOT NULL CHECK (n_series >= 1),
    n_points   INTEGER NOT NULL CHECK (n_points >= 1),
    n_missing  INTEGER NOT NULL CHECK (n_missing >= 0),
    t_min      REAL NOT NULL,
    t_max      REAL NOT NULL,
    label_kind TEXT NOT NULL CHECK (label_kind IN ('none', 'class', 'vector')),
    label_dim  INTEGER NOT NULL CHECK (label_dim >= 0)
) STRICT;

-- label_class for 'class' labels, label (label_dim doubles) for 'vector'.
CREATE TABLE dataset_series (
    dataset_id  INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    n_points    INTEGER NOT NULL CHECK (n_points >= 1),
    t           BLOB NOT NULL CHECK (length(t) = 8 * n_points),
    y           BLOB NOT NULL,
    label_class INTEGER,
    label       BLOB,
    PRIMARY KEY (dataset_id, idx)
) STRICT, WITHOUT ROWID;
