-- Base objects shared by every company. Applied once, recorded in
-- data_general.schema_migrations; later changes go in a new numbered file.
CREATE SCHEMA IF NOT EXISTS data_general;

-- One row per file the pipeline knows, keyed by where it lives in S3.
CREATE TABLE IF NOT EXISTS data_general.s3_files_registry (
    id                 bigserial PRIMARY KEY,
    filename           text        NOT NULL,
    local_path         text,
    s3_bucket          text        NOT NULL,
    s3_key             text        NOT NULL,
    s3_url             text,
    numero_reclamo_sgc text,
    empresa            text        NOT NULL,
    file_size          bigint,
    file_type          text,
    content_type       text,
    file_hash          text,
    upload_status      text        NOT NULL DEFAULT 'pending'
        CHECK (upload_status IN ('pending', 'uploaded', 'pre_existing', 'error')),
    upload_source      text        NOT NULL DEFAULT 'bot'
        CHECK (upload_source IN ('bot', 'manual', 'pre_existing')),
    attempts           integer     NOT NULL DEFAULT 0,
    last_error         text,
    uploaded_at        timestamptz,
    -- For request JSON files: when the record reached the company table.
    -- A JSON registered but not loaded is picked up again by the next extract.
    db_loaded_at       timestamptz,
    -- The DAG run that last tried to upload the file: per-run upload counts
    -- stay exact across task retries.
    last_run_id        text,
    metadata           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT s3_files_registry_bucket_key UNIQUE (s3_bucket, s3_key)
);
CREATE INDEX IF NOT EXISTS s3_files_registry_empresa_status
    ON data_general.s3_files_registry (empresa, upload_status);
CREATE INDEX IF NOT EXISTS s3_files_registry_empresa_filename
    ON data_general.s3_files_registry (empresa, filename);
CREATE INDEX IF NOT EXISTS s3_files_registry_last_run
    ON data_general.s3_files_registry (empresa, last_run_id);
CREATE INDEX IF NOT EXISTS s3_files_registry_sgc
    ON data_general.s3_files_registry (empresa, numero_reclamo_sgc);

-- One row per DAG run and company, written by report_stats.
CREATE TABLE IF NOT EXISTS data_general.post_processing_runs (
    run_id              text        NOT NULL,
    empresa             text        NOT NULL,
    dag_id              text        NOT NULL,
    logical_date        timestamptz,
    data_interval_start timestamptz,
    data_interval_end   timestamptz,
    database_only       boolean     NOT NULL,
    status              text        NOT NULL,
    files_found         integer     NOT NULL DEFAULT 0,
    files_new           integer     NOT NULL DEFAULT 0,
    files_quarantined   integer     NOT NULL DEFAULT 0,
    files_in_progress   integer     NOT NULL DEFAULT 0,
    files_registered    integer     NOT NULL DEFAULT 0,
    records_found       integer     NOT NULL DEFAULT 0,
    records_superseded  integer     NOT NULL DEFAULT 0,
    db_inserted         integer     NOT NULL DEFAULT 0,
    db_updated          integer     NOT NULL DEFAULT 0,
    db_duplicates       integer     NOT NULL DEFAULT 0,
    db_errors           integer     NOT NULL DEFAULT 0,
    s3_skipped          boolean     NOT NULL DEFAULT false,
    s3_uploaded         integer     NOT NULL DEFAULT 0,
    s3_pre_existing     integer     NOT NULL DEFAULT 0,
    s3_errors           integer     NOT NULL DEFAULT 0,
    s3_bytes            bigint      NOT NULL DEFAULT 0,
    extract_seconds     double precision,
    load_seconds        double precision,
    upload_seconds      double precision,
    task_states         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, empresa)
);
CREATE INDEX IF NOT EXISTS post_processing_runs_empresa_date
    ON data_general.post_processing_runs (empresa, logical_date DESC);
