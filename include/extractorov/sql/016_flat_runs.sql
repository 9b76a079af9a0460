-- A daily run costs what the day's files cost, not what the history holds.
--
-- extract asks the registry only about the names it scanned (s3_files_registry_empresa_
-- filename answers those) and, to pair a new document with a request JSON registered
-- earlier (perhaps gone from processed/ by retention), about the names that start with
-- the new documents' SGC parts: a range of this index per part ("{sgc}_",
-- "pqr_data_{sgc}_"), compared byte by byte (COLLATE "C": a prefix is one range whatever
-- the database's collation).
CREATE INDEX IF NOT EXISTS s3_files_registry_filename_prefix
    ON data_general.s3_files_registry (empresa, s3_bucket, filename COLLATE "C");
-- The run report counts the objects a run moved (moved_run_id): one index probe, not a
-- read of every row of the company.
CREATE INDEX IF NOT EXISTS s3_files_registry_moved_run
    ON data_general.s3_files_registry (empresa, moved_run_id) WHERE moved_run_id IS NOT NULL;
