-- Findings of the hourly S3 verification (DAG ov_s3_reconcile): one row per
-- disagreement found between the registry, the bucket and the request tables.
CREATE TABLE IF NOT EXISTS data_general.reconcile_findings (
    id          bigserial   PRIMARY KEY,
    run_id      text        NOT NULL,
    empresa     text        NOT NULL,
    kind        text        NOT NULL,
    s3_key      text,
    detail      text,
    repaired    boolean     NOT NULL,
    needs_human boolean     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS reconcile_findings_run
    ON data_general.reconcile_findings (run_id, empresa);
CREATE INDEX IF NOT EXISTS reconcile_findings_created
    ON data_general.reconcile_findings (empresa, created_at DESC);
