-- The 06:00 check of ov_s3_reconcile: one row per company and day whose morning run had
-- not succeeded and for which a person was e-mailed (written in the transaction that
-- sends the e-mail, so a day's alert goes out once; a failed send records nothing).
CREATE TABLE IF NOT EXISTS data_general.morning_run_alerts (
    empresa    text        NOT NULL,
    day        date        NOT NULL,
    dag_id     text        NOT NULL,
    -- never started / queued / still running / failed, at the time of the alert
    state      text        NOT NULL,
    -- the ov_s3_reconcile run that sent it
    run_id     text        NOT NULL,
    alerted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (empresa, day)
);
