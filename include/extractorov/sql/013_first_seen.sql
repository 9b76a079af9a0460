-- When the pipeline first saw a file that waits in processed/ (a PDF or attachment not
-- filed yet, a temporary file), written by extract and ov_s3_reconcile: the age
-- ov_orphan_after_hours counts (document_waiting, temp_file_stale), never the file's
-- modification time (a backlog copied with old times is new to the pipeline).
-- Only files waiting now have a row: each look drops the rows of the company's files that
-- were filed, quarantined, changed (another size: a new row) or are gone, so the table
-- follows the files waiting today, not the history of the folder.
CREATE TABLE IF NOT EXISTS data_general.landing_first_seen (
    empresa    text        NOT NULL,
    -- the file name as logs print it (extractorov.landing.printable)
    filename   text        NOT NULL,
    file_size  bigint      NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    -- for a document: what extract decided when it last looked ('waiting': no request
    -- JSON could own it yet, or one is still being written; 'undecided': which request
    -- owns it cannot be told for sure) and pairing's reason; NULL while only
    -- ov_s3_reconcile has seen it
    outcome    text,
    why        text,
    PRIMARY KEY (empresa, filename, file_size)
);
