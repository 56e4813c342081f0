-- 0011_placeholder.sql: holds number 0011 for the lagrangian migration
-- (0011_lagrangian.sql, another branch) so that this branch's 0012 applies
-- in order. Drop this file when 0011_lagrangian.sql is merged.
SELECT 1;
