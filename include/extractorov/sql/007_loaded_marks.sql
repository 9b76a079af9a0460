-- Which request JSONs reached their company table, in a narrow table of its own.
-- It was db_loaded_at in the registry: marking 100,000 JSONs loaded then wrote a new
-- version of 100,000 wide registry rows (six indexes) inside load_db's transaction, more
-- than the rows themselves cost; one narrow insert per file costs a fraction of that
-- (docs/performance.md, section 3). Keyed like the registry's reads of it: a file name
-- of one company and bucket. No foreign key (a check per inserted row is what this
-- avoids): a registry row inserted for a name clears its mark (registry.register_pending,
-- delete_bucket_row), so a mark only ever speaks for the row registered now.
-- No load may mark or read db_loaded_at while the marks move (held to the commit).
LOCK TABLE data_general.s3_files_registry IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE IF NOT EXISTS data_general.s3_files_loaded (
    empresa   text        NOT NULL,
    s3_bucket text        NOT NULL,
    filename  text        NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (empresa, s3_bucket, filename)
);
INSERT INTO data_general.s3_files_loaded (empresa, s3_bucket, filename, loaded_at)
SELECT empresa, s3_bucket, filename, min(db_loaded_at)
FROM data_general.s3_files_registry
WHERE db_loaded_at IS NOT NULL
GROUP BY empresa, s3_bucket, filename
ON CONFLICT DO NOTHING;
ALTER TABLE data_general.s3_files_registry DROP COLUMN IF EXISTS db_loaded_at;
