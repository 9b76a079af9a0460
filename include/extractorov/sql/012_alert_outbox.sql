-- Every alert e-mail goes through this outbox (extractorov.outbox): the alert is written
-- here, once per logical alert (dedup_key), BEFORE any send is tried; then whoever wrote it
-- tries to deliver it, and while it is owed the hourly ov_s3_reconcile task deliver_alerts
-- tries again (backoff 1, 5, 15, 60 min). A row is claimed with FOR UPDATE SKIP LOCKED and
-- marked sent in the same transaction, only after the SMTP server accepted the message.
-- Ids, links, counts and kinds only: never request data (names, ID numbers, customers'
-- e-mails, phones); last_error never holds a password or an address.
CREATE TABLE IF NOT EXISTS data_general.alert_outbox (
    id              bigserial   PRIMARY KEY,
    -- run_failed / morning_run / open_findings_reminder
    kind            text        NOT NULL,
    -- one logical alert, e.g. run_failed:{dag_id}:{run_id}:{clear_number},
    -- morning_run:{empresa}:{day}, open_findings_reminder:{day}
    dedup_key       text        NOT NULL UNIQUE,
    subject         text        NOT NULL,
    html_body       text        NOT NULL,
    -- Variable ov_alert_emails when the alert was written
    recipients      text[]      NOT NULL,
    -- who wrote it: the run (dag_id/run_id) it is about or that checked
    recorded_by     text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- delivery tries, the one that succeeded included
    attempts        integer     NOT NULL DEFAULT 0,
    -- why the last try failed (error type and text, addresses and secrets removed)
    last_error      text,
    last_attempt_at timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    -- who delivered it: 'dag-processor', or the run of the task that sent it
    sent_by         text
);
-- What is still owed, oldest first (deliver_alerts, the stats page, the morning check).
CREATE INDEX IF NOT EXISTS alert_outbox_owed
    ON data_general.alert_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL;
