-- 0009_points.sql: point datasets (docs/training-jobs.md, "Point datasets").
--
-- A dataset is time series ('series', every dataset before this migration)
-- or a point set ('points'): samples of a distribution without time, stored
-- as one dataset_series row whose t holds the row indices 0, 1, ... and
-- whose y holds the points (model/dataset.h).
ALTER TABLE datasets ADD COLUMN kind TEXT NOT NULL DEFAULT 'series' CHECK (kind IN ('series', 'points'));
