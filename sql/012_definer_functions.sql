-- 012: every SECURITY DEFINER function in schema milestone runs with a fixed search_path and
-- may be executed only by the roles that need to call it.
-- Generic on purpose: it covers whichever definer functions exist when it runs (002, 005, 008,
-- 010, ...). A later migration that adds one must do the same (tests/test_security_db.py checks).
--
-- Triggers need no EXECUTE grant: PostgreSQL checks it when the trigger is created, not when it
-- fires, and a definer trigger function calls its helpers (refresh_project_metrics) as the owner.
-- Only a definer function called from a SECURITY INVOKER function would need the invoking
-- roles to hold EXECUTE; those are granted to the two roles that write (milestone_app, xero_sync).
SET LOCAL search_path = milestone, public;

DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS sig, p.proname
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'milestone' AND p.prosecdef LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = milestone, pg_temp', f.sig);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f.sig);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM milestone_app, xero_sync, xero_reader', f.sig);
        IF EXISTS (SELECT 1 FROM pg_proc c JOIN pg_namespace cn ON cn.oid = c.pronamespace
                   WHERE cn.nspname = 'milestone' AND NOT c.prosecdef
                     AND c.prosrc ~ ('\m' || f.proname || '\s*\(')) THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO milestone_app, xero_sync', f.sig);
        END IF;
    END LOOP;
END
$$;
