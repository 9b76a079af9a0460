-- A document's request is its request JSON's: when that JSON is registered after the
-- document (a JSON quarantined, then re-admitted or re-scraped), the document's row takes
-- the JSON's numero_radicado then, so follow_sgc, split_requests and a removal see it.
-- The rows still waiting for their request, by the JSON they name: one probe per JSON.
CREATE INDEX IF NOT EXISTS s3_files_registry_request_json_untied
    ON data_general.s3_files_registry (empresa, s3_bucket, (metadata ->> 'request_json'))
    WHERE numero_radicado IS NULL AND metadata ? 'request_json';
