-- Answers bound to what was shown (DAG ov_review_findings) and one message per question.
ALTER TABLE data_general.reconcile_findings
    -- The facts the form showed when the question was last asked (registry row, bucket
    -- object, local file, request JSONs that could own a document...), written by the
    -- review run that asks it: an answer is applied only while they still hold.
    ADD COLUMN IF NOT EXISTS shown          jsonb,
    -- The answer (answer, answered_by, answered_at) is recorded but not applied yet: the
    -- company was being written when it arrived. The company's next reconcile_{empresa}
    -- applies it, under the company's writer exclusion, if what was shown still holds.
    ADD COLUMN IF NOT EXISTS answer_waiting boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS reconcile_findings_answer_waiting
    ON data_general.reconcile_findings (empresa, id)
    WHERE answer_waiting;
-- One row per day on which the reminder of the questions still waiting for an answer was
-- e-mailed (written in the transaction that sends it: at most one reminder a day).
CREATE TABLE IF NOT EXISTS data_general.open_findings_reminders (
    day       date        PRIMARY KEY,
    -- questions waiting for an answer (or for their answer to be applied) it listed
    questions integer     NOT NULL,
    -- the ov_s3_reconcile run that sent it
    run_id    text        NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now()
);
-- The open list, now also saying which answers wait to be applied and what was shown.
CREATE OR REPLACE VIEW data_general.open_findings AS
SELECT DISTINCT ON (empresa, kind, subject, cause)
       id, run_id, empresa, kind, subject, s3_key, detail, answer, answered_by, answered_at,
       outcome, asked_run_id, created_at, answer_waiting, shown
FROM data_general.reconcile_findings
WHERE needs_human AND open AND cleared_at IS NULL
ORDER BY empresa, kind, subject, cause, id DESC;
