-- Counts per run, not per try: what each try of a step did, written in the transaction
-- that commits the step's work (extract: with its registry rows; load_db: with the
-- table rows). A try that runs again after its commit (a retry after the worker died)
-- finds its record and returns it instead of doing the work again, and the run report
-- adds up the records of the run, never the XCom of its last try.
CREATE TABLE IF NOT EXISTS data_general.run_steps (
    run_id      text        NOT NULL,
    empresa     text        NOT NULL,
    -- 'extract' or 'load_db'
    step        text        NOT NULL,
    -- extract: its try number; load_db: the extract try whose manifest it loaded
    attempt     text        NOT NULL,
    counts      jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, empresa, step, attempt)
);
