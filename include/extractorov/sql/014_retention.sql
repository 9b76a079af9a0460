-- Retention of what has been delivered (extractorov.retention, the company DAG's task
-- `retention`). A local file whose object is verified in the bucket (the local bytes
-- have the registry's SHA-256 and S3's own checksum, ETag or our file-hash metadata
-- agrees, checked when it is removed) leaves processed/ once ov_local_retention_days
-- have passed since its upload: moved to archive/YYYY-MM/ or deleted (Variable
-- ov_local_retention); an archived copy is deleted ov_local_archive_days later.
-- Every removal is crash-atomic: the intent is recorded (archiving / deleting) before the
-- file moves, the outcome (archived / deleted) after; the next run completes or undoes a
-- removal a kill interrupted. local_path always says where the local copy is (its
-- archive path once archived, NULL once deleted), so every reader of it (upload,
-- reconcile, review) finds the copy or knows there is none.
ALTER TABLE data_general.s3_files_registry
    -- NULL: the local copy is where extract found it (local_path), or there is none.
    -- 'archiving' / 'deleting': a removal is under way (local_path: the file it moves or
    -- deletes; local_archive_path: where an archiving one goes).
    -- 'archived': local_path = local_archive_path (archive/YYYY-MM/…);
    -- 'deleted': no local copy any more (local_path NULL).
    ADD COLUMN IF NOT EXISTS local_removal text
        CHECK (local_removal IN ('archiving', 'archived', 'deleting', 'deleted')),
    -- When the local copy left processed/ (archived or deleted), and the path it left.
    ADD COLUMN IF NOT EXISTS local_removed_at    timestamptz,
    ADD COLUMN IF NOT EXISTS local_removed_from  text,
    ADD COLUMN IF NOT EXISTS local_archive_path  text,
    -- When the last local copy was deleted (from processed/, or its archive copy).
    ADD COLUMN IF NOT EXISTS local_deleted_at    timestamptz,
    -- The run whose retention step recorded the last removal (its report counts it).
    ADD COLUMN IF NOT EXISTS local_removal_run_id text,
    -- A file due for removal that was kept (not verified: the object is missing or
    -- differs, the local file changed or is missing…): when, and why. It is looked at
    -- again a day later, after the files never looked at (no backlog of them starves
    -- the others).
    ADD COLUMN IF NOT EXISTS local_retention_held_at timestamptz,
    ADD COLUMN IF NOT EXISTS local_retention_note    text;

-- Files in processed/ by age since their upload: what is due, oldest first.
CREATE INDEX IF NOT EXISTS s3_files_registry_retention_due
    ON data_general.s3_files_registry (empresa, s3_bucket, uploaded_at, id)
    WHERE local_path IS NOT NULL AND local_removal IS NULL
      AND local_retention_held_at IS NULL;
-- Archived copies by when they were archived (ov_local_archive_days).
CREATE INDEX IF NOT EXISTS s3_files_registry_retention_archived
    ON data_general.s3_files_registry (empresa, s3_bucket, local_removed_at, id)
    WHERE local_removal = 'archived' AND local_retention_held_at IS NULL;
-- Files kept at their last look, longest ago first.
CREATE INDEX IF NOT EXISTS s3_files_registry_retention_held
    ON data_general.s3_files_registry (empresa, s3_bucket, local_retention_held_at, id)
    WHERE local_retention_held_at IS NOT NULL;
-- What a run looks at first: removals a kill interrupted, and deleted rows whose file
-- extract registered again (the same name back in processed/).
CREATE INDEX IF NOT EXISTS s3_files_registry_retention_unfinished
    ON data_general.s3_files_registry (empresa, s3_bucket)
    WHERE local_removal IN ('archiving', 'deleting')
       OR (local_removal = 'deleted' AND local_path IS NOT NULL);

-- Per run (the retention step's counts, every try added up from run_steps).
ALTER TABLE data_general.post_processing_runs
    ADD COLUMN IF NOT EXISTS local_archived     integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS local_deleted      integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS local_held         integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS manifests_removed  integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS reasons_removed    integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS retention_seconds  double precision;
