-- 004 auth: every sign-in attempt (never the password), for throttling and for admins to read.
SET LOCAL search_path = milestone, public;

CREATE TABLE login_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username  text NOT NULL,  -- as typed (lower-cased): the account may not exist
    at        timestamptz NOT NULL DEFAULT now(),
    success   boolean NOT NULL,
    reason    text NOT NULL CHECK (reason IN ('ok', 'bad_password', 'locked', 'disabled'))
);
CREATE INDEX login_events_user_at_idx ON login_events (username, at DESC);
CREATE INDEX login_events_at_idx ON login_events (at DESC);

GRANT SELECT, INSERT ON login_events TO milestone_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA milestone TO milestone_app;

-- Signing out (or an admin disabling / resetting) invalidates cookies issued before this time.
ALTER TABLE app_users ADD COLUMN sessions_valid_after timestamptz NOT NULL DEFAULT 'epoch';
