-- One folder per request. A request's files are filed under its SGC's folder, or under
-- sin_sgc/{numero_radicado}/ while it has none. When a later scrape brings its SGC (or a
-- new one), its registry rows take the SGC's folder (s3_key) and their objects follow:
-- copied to the new key, checked, then deleted at the old one (the upload step, holding
-- the company's writer exclusion).
ALTER TABLE data_general.s3_files_registry
    -- The request a file belongs to: a request JSON's own, a document's request JSON's
    -- (NULL for a document filed only by an SGC some JSON named, or an object found in an
    -- SGC folder of the bucket).
    ADD COLUMN IF NOT EXISTS numero_radicado text,
    -- The key the file's object may still have while it moves to s3_key; NULL: not moving.
    ADD COLUMN IF NOT EXISTS moving_from text,
    -- The run that completed the move (its report counts it as s3_moved).
    ADD COLUMN IF NOT EXISTS moved_run_id text;
UPDATE data_general.s3_files_registry SET numero_radicado = metadata ->> 'numero_radicado'
WHERE numero_radicado IS NULL AND metadata ? 'numero_radicado';
UPDATE data_general.s3_files_registry
SET numero_radicado = substring(s3_key from '/raw_data/sin_sgc/([^/]+)/[^/]*$')
WHERE numero_radicado IS NULL AND numero_reclamo_sgc IS NULL;
UPDATE data_general.s3_files_registry d SET numero_radicado = j.numero_radicado
FROM data_general.s3_files_registry j
WHERE d.numero_radicado IS NULL AND d.metadata ? 'request_json' AND j.empresa = d.empresa
  AND j.s3_bucket = d.s3_bucket AND j.filename = d.metadata ->> 'request_json'
  AND j.numero_radicado IS NOT NULL;
CREATE INDEX IF NOT EXISTS s3_files_registry_radicado
    ON data_general.s3_files_registry (empresa, s3_bucket, numero_radicado)
    WHERE numero_radicado IS NOT NULL;
CREATE INDEX IF NOT EXISTS s3_files_registry_moving
    ON data_general.s3_files_registry (empresa, s3_bucket) WHERE moving_from IS NOT NULL;
ALTER TABLE data_general.post_processing_runs
    ADD COLUMN IF NOT EXISTS s3_moved integer NOT NULL DEFAULT 0;
