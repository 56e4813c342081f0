-- 0013_job_parameters.sql: a hybrid job's physical parameters over the
-- iterations (docs/hybrid.md, "Training"). Each loss-curve row of a hybrid
-- job carries the parameters' values after that iteration, as n_par
-- doubles in the model's parameter order (the names are the model's);
-- NULL for every other kind. A column, so the row and its values are
-- written in the one checkpoint transaction.
ALTER TABLE job_metrics ADD COLUMN parameters BLOB CHECK (parameters IS NULL OR (length(parameters) >= 8 AND length(parameters) % 8 = 0));
