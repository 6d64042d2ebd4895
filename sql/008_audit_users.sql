-- 008: audit changes to users (role, disabled, name, email, password resets) with who made them.
-- The password hash never reaches the audit log: it is replaced by "password_changed": true when
-- it changed. Sign-outs (sessions_valid_after) are not changes a person would audit.
SET LOCAL search_path = milestone, public;

CREATE FUNCTION audit_data(row_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT row_data - 'password_hash' - 'sessions_valid_after' $$;

-- The statements are dynamic (EXECUTE): a cached plan made for a 1-row statement joined the
-- transition tables by nested loop, which made a later 500-row save's audit 4x slower in the same
-- session (docs/performance.md). Planned per call, the join follows the real row counts.
CREATE OR REPLACE FUNCTION audit_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
DECLARE
    who text := coalesce(nullif(current_setting('app.current_user_id', true), ''), 'db:' || session_user);
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE 'INSERT INTO audit_log (table_name, operation, row_id, user_id, new_data)
                 SELECT $1, $2, n.id, $3, audit_data(to_jsonb(n)) FROM new_rows n'
            USING TG_TABLE_NAME, TG_OP, who;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE $sql$
            INSERT INTO audit_log (table_name, operation, row_id, user_id, old_data, new_data)
            SELECT $1, $2, n.id, $3, audit_data(to_jsonb(o)),
                   audit_data(to_jsonb(n)) || CASE WHEN to_jsonb(n) ->> 'password_hash' IS DISTINCT FROM
                                                        to_jsonb(o) ->> 'password_hash'
                                                   THEN '{"password_changed": true}'::jsonb ELSE '{}'::jsonb END
            FROM new_rows n JOIN old_rows o ON o.id = n.id
            -- nothing a person would call a change: only the version and timestamp moved
            WHERE audit_data(to_jsonb(n)) - 'version' - 'updated_at' <> audit_data(to_jsonb(o)) - 'version' - 'updated_at'
               OR to_jsonb(n) ->> 'password_hash' IS DISTINCT FROM to_jsonb(o) ->> 'password_hash'
        $sql$ USING TG_TABLE_NAME, TG_OP, who;
    ELSE
        EXECUTE 'INSERT INTO audit_log (table_name, operation, row_id, user_id, old_data)
                 SELECT $1, $2, o.id, $3, audit_data(to_jsonb(o)) FROM old_rows o'
            USING TG_TABLE_NAME, TG_OP, who;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER app_users_audit_ins AFTER INSERT ON app_users REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
CREATE TRIGGER app_users_audit_upd AFTER UPDATE ON app_users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
CREATE TRIGGER app_users_audit_del AFTER DELETE ON app_users REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
