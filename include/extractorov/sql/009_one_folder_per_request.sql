-- One folder per request. A request first scraped without a real SGC is filed under
-- sin_sgc/{numero_radicado}/; when a later scrape brings its SGC, its registry rows take
-- the SGC's folder (s3_key) and their objects follow: copied to the new key, checked,
-- then deleted at the old one (the upload step, holding the company's writer exclusion).
ALTER TABLE data_general.s3_files_registry
    -- The key the file's object may still have while it moves to s3_key; NULL: not moving.
    ADD COLUMN IF NOT EXISTS moving_from text,
    -- The run that completed the move (its report counts it as s3_moved).
    ADD COLUMN IF NOT EXISTS moved_run_id text;
CREATE INDEX IF NOT EXISTS s3_files_registry_moving
    ON data_general.s3_files_registry (empresa, s3_bucket) WHERE moving_from IS NOT NULL;
-- Rows filed without a real SGC, by the numero_radicado their folder names: the rows a
-- newly learned SGC moves (registry.follow_sgc uses the same expression).
CREATE INDEX IF NOT EXISTS s3_files_registry_sin_sgc
    ON data_general.s3_files_registry
       (empresa, s3_bucket, (substring(s3_key from '/raw_data/sin_sgc/([^/]+)/[^/]*$')))
    WHERE numero_reclamo_sgc IS NULL;
ALTER TABLE data_general.post_processing_runs
    ADD COLUMN IF NOT EXISTS s3_moved integer NOT NULL DEFAULT 0;
