-- Removing one request everywhere (DAG ov_remove_request; Ley 1581 de 2012, "supresión"):
-- the audit of every removal asked, and what was removed, so no later run brings it back.
--
-- One row per removal asked: who asked and decided, when, why, what the approval form
-- showed, what was found and removed. Counts, S3 keys, file names, row ids: never a field
-- value of the request.
CREATE TABLE IF NOT EXISTS data_general.request_removals (
    id              bigserial   PRIMARY KEY,
    empresa         text        NOT NULL,
    numero_radicado text        NOT NULL,
    -- approved: waits for its company's writer exclusion; removing: started (a rerun, or
    -- the next approved run of the same request, finishes it); completed; rejected (or no
    -- answer in time): nothing removed
    status          text        NOT NULL
        CHECK (status IN ('approved', 'removing', 'completed', 'rejected')),
    -- the param `reason` of the run that asked ("captured by mistake", "orden judicial N° …")
    reason          text        NOT NULL,
    -- the Airflow user who triggered the run that asked, and the one who approved or
    -- rejected it in Required actions (NULL: nobody answered in time)
    requested_by    text,
    decided_by      text,
    decided_at      timestamptz,
    -- the run that asked, and every run that worked on it (a removal cut short and finished
    -- by a later approved run of the same request has both)
    run_id          text        NOT NULL,
    runs            text[]      NOT NULL,
    -- every approval of it: run, user, time, reason (a resumed removal adds one)
    approvals       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    -- what the approval form showed (counts, keys, paths)
    shown           jsonb       NOT NULL,
    -- what was found to remove, written before anything is removed (each attempt adds
    -- what it found); once completed, what was removed
    planned         jsonb,
    removed         jsonb,
    -- found and kept: objects of its SGC folder not tied to it, the runs that filed it
    kept            jsonb,
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz
);
-- One unfinished removal per request: a second approval resumes it (one audit row).
CREATE UNIQUE INDEX IF NOT EXISTS request_removals_unfinished
    ON data_general.request_removals (empresa, numero_radicado)
    WHERE status IN ('approved', 'removing');
CREATE INDEX IF NOT EXISTS request_removals_request
    ON data_general.request_removals (empresa, numero_radicado, id);
-- The file names and S3 keys of removed requests, written before anything is removed and
-- kept: extract never registers a file of these names again (one left in processed/ or
-- quarantine/, a copy put back), and ov_s3_reconcile never registers an object at these
-- keys again. A re-scrape by the bot writes new names (new time stamps): filed as usual.
CREATE TABLE IF NOT EXISTS data_general.removed_files (
    empresa    text   NOT NULL,
    filename   text   NOT NULL,
    removal_id bigint NOT NULL REFERENCES data_general.request_removals (id),
    PRIMARY KEY (empresa, filename)
);
CREATE TABLE IF NOT EXISTS data_general.removed_objects (
    s3_bucket  text   NOT NULL,
    s3_key     text   NOT NULL,
    empresa    text   NOT NULL,
    removal_id bigint NOT NULL REFERENCES data_general.request_removals (id),
    PRIMARY KEY (s3_bucket, s3_key)
);
CREATE INDEX IF NOT EXISTS removed_objects_empresa
    ON data_general.removed_objects (empresa, s3_bucket);
