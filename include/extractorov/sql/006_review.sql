-- Human review of reconcile findings (DAG ov_review_findings, Airflow's Required actions).
-- A finding that needs a human is one question, named by (empresa, kind, subject, cause):
-- every hourly row of the same question shares its answer, and a later check asks again
-- only when the cause changes (another size, hash, row, modification time...) or after
-- the finding was gone for a check (cleared) and came back.
ALTER TABLE data_general.reconcile_findings
    -- What the finding is about (S3 key, file name, numero_radicado) and the state that
    -- makes it (sizes, hashes, registry row, modification time): the question's identity.
    ADD COLUMN IF NOT EXISTS subject      text,
    ADD COLUMN IF NOT EXISTS cause        text,
    -- Still to be dealt with: waiting for an answer, or answered "Leave open".
    ADD COLUMN IF NOT EXISTS open         boolean NOT NULL DEFAULT false,
    -- The choice (its label in the form), who chose it (Airflow user), when, and what
    -- applying it did.
    ADD COLUMN IF NOT EXISTS answer       text,
    ADD COLUMN IF NOT EXISTS answered_by  text,
    ADD COLUMN IF NOT EXISTS answered_at  timestamptz,
    ADD COLUMN IF NOT EXISTS outcome      text,
    -- The review run asking it now (a question is asked by one run at a time).
    ADD COLUMN IF NOT EXISTS asked_run_id text,
    ADD COLUMN IF NOT EXISTS asked_at     timestamptz,
    -- When a later check no longer found it.
    ADD COLUMN IF NOT EXISTS cleared_at   timestamptz;
CREATE INDEX IF NOT EXISTS reconcile_findings_question
    ON data_general.reconcile_findings (empresa, kind, subject, cause)
    WHERE needs_human;
CREATE INDEX IF NOT EXISTS reconcile_findings_open
    ON data_general.reconcile_findings (empresa, id)
    WHERE needs_human AND cleared_at IS NULL;
-- One row per question still open (the latest check's row): the to-do list.
CREATE OR REPLACE VIEW data_general.open_findings AS
SELECT DISTINCT ON (empresa, kind, subject, cause)
       id, run_id, empresa, kind, subject, s3_key, detail, answer, answered_by, answered_at,
       outcome, asked_run_id, created_at
FROM data_general.reconcile_findings
WHERE needs_human AND open AND cleared_at IS NULL
ORDER BY empresa, kind, subject, cause, id DESC;
