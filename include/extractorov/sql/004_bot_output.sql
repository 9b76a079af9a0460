-- The bot's real output: documents that wait for their request JSON, files re-admitted
-- from quarantine, records loaded with blank fields (counted by field name).
ALTER TABLE data_general.post_processing_runs
    ADD COLUMN IF NOT EXISTS files_waiting      integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS files_readmitted   integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS records_incomplete integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS incomplete_fields  jsonb   NOT NULL DEFAULT '{}'::jsonb,
    -- An older extraction with other content than the row: not applied (newest wins).
    ADD COLUMN IF NOT EXISTS db_stale           integer NOT NULL DEFAULT 0,
    -- Counts of each extract try of the run (a cleared run adds a try): the row's
    -- counts are their sum, so clearing a run never wipes what it did.
    ADD COLUMN IF NOT EXISTS attempts           jsonb   NOT NULL DEFAULT '{}'::jsonb;
