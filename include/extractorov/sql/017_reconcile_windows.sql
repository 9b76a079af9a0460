-- The hourly check compares the bucket and the registry one slice of keys at a time, so a
-- check costs what its slice costs, not what a year of history holds: each check lists at
-- most ov_reconcile_keys_per_check keys after where the previous one stopped, and the
-- next check goes on from there (the last slice of a pass starts the next pass).
--
-- One row per check: the slice it compared (after_key exclusive, upto_key inclusive; NULL:
-- from the first key, to the last). A retried check compares its own slice again.
CREATE TABLE IF NOT EXISTS data_general.reconcile_windows (
    empresa text NOT NULL,
    s3_bucket text NOT NULL,
    run_id text NOT NULL,
    after_key text,
    upto_key text,
    keys_listed integer NOT NULL DEFAULT 0,
    checked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (empresa, s3_bucket, run_id)
);
CREATE INDEX IF NOT EXISTS reconcile_windows_latest
    ON data_general.reconcile_windows (empresa, s3_bucket, checked_at DESC);
-- A slice of the registry by key, compared byte by byte as S3 lists keys (COLLATE "C":
-- the listing's order, whatever the database's collation).
CREATE INDEX IF NOT EXISTS s3_files_registry_key_bytes
    ON data_general.s3_files_registry (s3_bucket, s3_key COLLATE "C");
