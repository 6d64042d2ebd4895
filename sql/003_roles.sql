-- 003 roles: least privilege for the app, read-only reporting, and the n8n Xero sync.
-- Roles are cluster-wide, so they are created only if missing (several databases may share them).
SET LOCAL search_path = milestone, public;

DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['milestone_app', 'xero_reader', 'xero_sync'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- The migrating login connects and then acts as milestone_app (db.make_engine sets the role),
-- so it must be a member of each role. A superuser is already; a plain owner is granted here.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT milestone_app, xero_reader, xero_sync TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA milestone TO milestone_app, xero_reader, xero_sync;

-- milestone_app: the application. DML on what people edit or import; read-only on derived
-- tables; audit_log only readable (rows are added by the SECURITY DEFINER audit trigger).
GRANT SELECT, INSERT, UPDATE, DELETE ON
    projects, estimates, invoices, bills, build_phases, app_users, user_preferences
    TO milestone_app;
GRANT SELECT, INSERT ON export_log TO milestone_app;
GRANT SELECT ON project_metrics, project_phase_metrics, audit_log, sync_runs, schema_migrations TO milestone_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA milestone TO milestone_app;

-- xero_reader: reporting tools; SELECT only, and never the password hashes.
GRANT SELECT ON projects, build_phases, invoices, bills, estimates, project_metrics,
    project_phase_metrics, sync_runs TO xero_reader;

-- xero_sync: the n8n job (docs/xero-sync.md). Invoices, bills, phases and its run log,
-- and only the Xero-owned columns of projects: never budgets, status or owners.
GRANT SELECT, INSERT, UPDATE, DELETE ON invoices, bills, build_phases, sync_runs TO xero_sync;
GRANT SELECT ON projects, project_metrics TO xero_sync;
GRANT INSERT (name, client_name, xero_tracking_id), UPDATE (name, client_name, xero_tracking_id)
    ON projects TO xero_sync;
