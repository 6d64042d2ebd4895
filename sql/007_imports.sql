-- 007 imports: the record of Xero CSV imports and of sync requests sent to the n8n webhook.
SET LOCAL search_path = milestone, public;

-- One row per confirmed CSV import (a dry run writes nothing, not even here).
CREATE TABLE import_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text        NOT NULL,
    file_name     text        NOT NULL,
    sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    rows_read     integer     NOT NULL CHECK (rows_read >= 0),
    created       integer     NOT NULL CHECK (created >= 0),
    updated       integer     NOT NULL CHECK (updated >= 0),
    unchanged     integer     NOT NULL CHECK (unchanged >= 0),
    imported_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_runs_at_idx ON import_runs (imported_at DESC);

-- One row per "Sync from Xero now" click that was allowed; the cooldown is read from here.
CREATE TABLE sync_requests (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    status        text        NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent', 'failed')),
    http_status   integer,
    error         text
);
CREATE INDEX sync_requests_at_idx ON sync_requests (requested_at DESC);

GRANT SELECT, INSERT ON import_runs TO milestone_app;
GRANT SELECT, INSERT, UPDATE ON sync_requests TO milestone_app;
GRANT SELECT ON import_runs, sync_requests TO xero_reader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA milestone TO milestone_app;

-- A document imported from a CSV without Xero's InvoiceID is keyed by what identifies it in the
-- file: an invoice (or credit note) by contact and number, which Xero keeps unique for sales; a
-- bill by supplier, number and date, because a supplier's reference can repeat. The n8n sync
-- (docs/xero-sync.md) and later imports that carry InvoiceIDs adopt such a row instead of
-- adding the document a second time.
CREATE FUNCTION csv_document_key(tbl text, party text, number text, doc_date date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'csv:' || tbl || ':'
           || md5(jsonb_build_array(party, number, CASE WHEN tbl = 'bills' THEN doc_date END)::text)
$$;
-- ... and matches existing documents by number.
CREATE INDEX invoices_number_idx ON invoices (number);
CREATE INDEX bills_number_idx ON bills (number);
