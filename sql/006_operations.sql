-- 006 operations: the write rate limiter's ledger and the record of backups.
SET LOCAL search_path = milestone, public;

-- One row per write attempt that was allowed; old rows are pruned by the limiter itself.
-- A table (not process memory) keeps the limit correct across server processes and restarts.
CREATE TABLE rate_limit_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX rate_limit_events_user_at ON rate_limit_events (username, at);

CREATE TABLE backups (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name  text        NOT NULL,
    size_bytes bigint      NOT NULL,
    sha256     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, DELETE ON rate_limit_events TO milestone_app;
GRANT SELECT ON backups TO milestone_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA milestone TO milestone_app;
