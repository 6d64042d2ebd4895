-- 011 security: server-side sessions, the app's own login, hardened SECURITY DEFINER functions
-- and an audit user that cannot be spoofed (docs/design-notes.md, "Sign-in and roles").
SET LOCAL search_path = milestone, public;

-- Sessions: the browser holds a 256-bit random token in an HttpOnly cookie; only its SHA-256
-- is stored, so a copy of this table signs nobody in.
CREATE TABLE sessions (
    token_hash      bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id         uuid        NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,  -- absolute: activity never extends past it
    revoked_at      timestamptz,
    user_agent      text        CHECK (length(user_agent) <= 300)
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO milestone_app;

-- The sign-in route throttles per client address as well as per username.
ALTER TABLE login_events ADD COLUMN address text;
ALTER TABLE login_events DROP CONSTRAINT login_events_reason_check;
ALTER TABLE login_events ADD CONSTRAINT login_events_reason_check
    CHECK (reason IN ('ok', 'bad_password', 'locked', 'disabled', 'throttled'));
CREATE INDEX login_events_address_at_idx ON login_events (address, at DESC) WHERE address IS NOT NULL;

-- The app's login: a member of milestone_app only (not of the owner, not a superuser), so its
-- connections cannot SET ROLE to anything with more rights. Cluster-wide, so only if missing; a
-- DBA may have created it already (docs/operations.md), then it is left as it is. Its password,
-- if any, is set by `python -m milestone migrate` from MILESTONE_APP_DB_PASSWORD, never here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'milestone_web') THEN
        CREATE ROLE milestone_web LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members
                   WHERE roleid = 'milestone_app'::regrole AND member = 'milestone_web'::regrole) THEN
        GRANT milestone_app TO milestone_web;
    END IF;
END
$$;

-- The audit user. Only the app's login names the person through app.current_user_id (the app
-- sets it per transaction); the schema owner may too (it can rewrite the log anyway: migrations,
-- seed). Any other login -- the n8n sync, a reporting tool, someone at psql -- is recorded as
-- itself, whatever it put in app.current_user_id.
CREATE FUNCTION audit_user() RETURNS text
LANGUAGE sql STABLE SET search_path = milestone, pg_temp AS $$
    SELECT CASE
        WHEN pg_has_role(session_user, (SELECT nspowner FROM pg_namespace WHERE nspname = 'milestone'), 'MEMBER')
          OR (pg_has_role(session_user, 'milestone_app', 'MEMBER')
              AND NOT pg_has_role(session_user, 'xero_sync', 'MEMBER')
              AND NOT pg_has_role(session_user, 'xero_reader', 'MEMBER'))
        THEN coalesce(nullif(current_setting('app.current_user_id', true), ''), 'db:' || session_user)
        ELSE 'db:' || session_user
    END
$$;

-- Every audit trigger function (002, 005, 008, and any later one that copied the same line)
-- takes its user from audit_user() instead of trusting app.current_user_id.
DO $$
DECLARE
    f record;
    old_expr constant text := $e$coalesce(nullif(current_setting('app.current_user_id', true), ''), 'db:' || session_user)$e$;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'milestone' AND p.prosrc LIKE '%' || old_expr || '%'
               AND p.proname <> 'audit_user' LOOP
        EXECUTE replace(pg_get_functiondef(f.oid), old_expr, 'audit_user()');
    END LOOP;
END
$$;

-- Nobody but the owner changes or removes audit rows (the triggers add them as the owner).
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC, milestone_app, xero_sync, xero_reader;
