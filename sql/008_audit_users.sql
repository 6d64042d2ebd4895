-- 008: audit changes to users (role, disabled, name, email, password resets) with who made them.
-- The password hash never reaches the audit log: it is replaced by "password_changed": true when
-- it changed. Sign-outs (sessions_valid_after) are not changes a person would audit.
SET LOCAL search_path = milestone, public;

CREATE FUNCTION audit_data(row_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT row_data - 'password_hash' - 'sessions_valid_after' $$;

CREATE OR REPLACE FUNCTION audit_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
DECLARE
    who text := coalesce(nullif(current_setting('app.current_user_id', true), ''), 'db:' || session_user);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (table_name, operation, row_id, user_id, new_data)
        SELECT TG_TABLE_NAME, TG_OP, n.id, who, audit_data(to_jsonb(n)) FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (table_name, operation, row_id, user_id, old_data, new_data)
        SELECT TG_TABLE_NAME, TG_OP, n.id, who, audit_data(to_jsonb(o)),
               audit_data(to_jsonb(n)) || CASE WHEN to_jsonb(n) ->> 'password_hash' IS DISTINCT FROM
                                                    to_jsonb(o) ->> 'password_hash'
                                               THEN '{"password_changed": true}'::jsonb ELSE '{}'::jsonb END
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        -- nothing a person would call a change: only the version and timestamp moved
        WHERE audit_data(to_jsonb(n)) - 'version' - 'updated_at' <> audit_data(to_jsonb(o)) - 'version' - 'updated_at'
           OR to_jsonb(n) ->> 'password_hash' IS DISTINCT FROM to_jsonb(o) ->> 'password_hash';
    ELSE
        INSERT INTO audit_log (table_name, operation, row_id, user_id, old_data)
        SELECT TG_TABLE_NAME, TG_OP, o.id, who, audit_data(to_jsonb(o)) FROM old_rows o;
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
