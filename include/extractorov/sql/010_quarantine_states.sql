-- Files extract could not move to quarantine/ (the landing volume was full: they stay in
-- processed/ and the task fails), and files in quarantine/ whose reason file is lost
-- (listed as 'reason lost'). Both are the state the run's last try found, not summed.
ALTER TABLE data_general.post_processing_runs
    ADD COLUMN IF NOT EXISTS files_quarantine_failed integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS files_reason_lost       integer NOT NULL DEFAULT 0;
