-- 002 triggers: derived metrics kept exact in the writing transaction, row versions, audit trail.
SET LOCAL search_path = milestone, public;

-- The P&L definitions, once, in SQL. counted = Authorised or Paid; credit notes subtract.
CREATE FUNCTION signed_counted(status text, doc_type text, amount numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status IN ('Authorised', 'Paid')
                THEN CASE WHEN doc_type = 'credit_note' THEN -amount ELSE amount END
                ELSE 0 END
$$;

CREATE FUNCTION signed_outstanding(status text, doc_type text, amount_due numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status = 'Authorised'
                THEN CASE WHEN doc_type = 'credit_note' THEN -amount_due ELSE amount_due END
                ELSE 0 END
$$;

-- Recompute the metrics of the given projects from the raw tables.
-- Recounting only the touched projects keeps a 100k-row sync to one grouped query per
-- statement, and is right by construction (no running totals to drift).
CREATE FUNCTION refresh_project_metrics(ids uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    -- Lock the rows first, in a fixed order: a concurrent writer of the same project waits
    -- here, and the sums below (a new snapshot under READ COMMITTED) then include its rows.
    PERFORM 1 FROM project_metrics WHERE project_id = ANY (ids) ORDER BY project_id FOR UPDATE;

    INSERT INTO project_metrics AS m (project_id, revenue, costs, estimate_revenue, estimate_costs,
                                      outstanding, invoice_count, bill_count, updated_at)
    SELECT p.id, coalesce(i.revenue, 0), coalesce(b.costs, 0), coalesce(e.revenue, 0),
           coalesce(e.costs, 0), coalesce(i.outstanding, 0), coalesce(i.n, 0), coalesce(b.n, 0), now()
    FROM projects p
    LEFT JOIN (SELECT project_id,
                      sum(signed_counted(status, doc_type, subtotal)) AS revenue,
                      sum(signed_outstanding(status, doc_type, amount_due)) AS outstanding,
                      count(*) AS n
               FROM invoices WHERE project_id = ANY (ids) GROUP BY project_id) i ON i.project_id = p.id
    LEFT JOIN (SELECT project_id, sum(signed_counted(status, doc_type, subtotal)) AS costs, count(*) AS n
               FROM bills WHERE project_id = ANY (ids) GROUP BY project_id) b ON b.project_id = p.id
    LEFT JOIN (SELECT project_id,
                      sum(amount) FILTER (WHERE kind = 'revenue') AS revenue,
                      sum(amount) FILTER (WHERE kind = 'cost') AS costs
               FROM estimates WHERE project_id = ANY (ids) GROUP BY project_id) e ON e.project_id = p.id
    WHERE p.id = ANY (ids)
    ON CONFLICT (project_id) DO UPDATE SET
        revenue = EXCLUDED.revenue, costs = EXCLUDED.costs,
        estimate_revenue = EXCLUDED.estimate_revenue, estimate_costs = EXCLUDED.estimate_costs,
        outstanding = EXCLUDED.outstanding, invoice_count = EXCLUDED.invoice_count,
        bill_count = EXCLUDED.bill_count, updated_at = EXCLUDED.updated_at;

    DELETE FROM project_phase_metrics WHERE project_id = ANY (ids);
    INSERT INTO project_phase_metrics (project_id, build_phase_id, revenue, costs, estimate_revenue, estimate_costs)
    SELECT x.project_id, x.build_phase_id, sum(x.revenue), sum(x.costs), sum(x.est_revenue), sum(x.est_costs)
    FROM (
        SELECT project_id, build_phase_id, signed_counted(status, doc_type, subtotal) AS revenue,
               0 AS costs, 0 AS est_revenue, 0 AS est_costs
        FROM invoices WHERE project_id = ANY (ids)
        UNION ALL
        SELECT project_id, build_phase_id, 0, signed_counted(status, doc_type, subtotal), 0, 0
        FROM bills WHERE project_id = ANY (ids)
        UNION ALL
        SELECT project_id, build_phase_id, 0, 0,
               CASE WHEN kind = 'revenue' THEN amount ELSE 0 END,
               CASE WHEN kind = 'cost' THEN amount ELSE 0 END
        FROM estimates WHERE project_id = ANY (ids)
    ) x
    JOIN projects p ON p.id = x.project_id  -- a cascading project delete leaves nothing to insert
    GROUP BY x.project_id, x.build_phase_id;
END
$$;

CREATE FUNCTION metrics_after_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    PERFORM refresh_project_metrics(ARRAY(SELECT DISTINCT project_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION metrics_after_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    PERFORM refresh_project_metrics(ARRAY(SELECT project_id FROM new_rows
                                          UNION SELECT project_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION metrics_after_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    PERFORM refresh_project_metrics(ARRAY(SELECT DISTINCT project_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION metrics_after_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    PERFORM refresh_project_metrics(ARRAY(SELECT id FROM projects));
    RETURN NULL;
END
$$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoices', 'bills', 'estimates'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_metrics_ins AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION metrics_after_insert()', t);
        EXECUTE format('CREATE TRIGGER %1$s_metrics_upd AFTER UPDATE ON %1$I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION metrics_after_update()', t);
        EXECUTE format('CREATE TRIGGER %1$s_metrics_del AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION metrics_after_delete()', t);
        EXECUTE format('CREATE TRIGGER %1$s_metrics_trunc AFTER TRUNCATE ON %1$I
                        FOR EACH STATEMENT EXECUTE FUNCTION metrics_after_truncate()', t);
    END LOOP;
END
$$;

-- Every project has a metrics row from the moment it exists.
CREATE FUNCTION projects_after_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    INSERT INTO project_metrics (project_id) SELECT id FROM new_rows ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER projects_metrics_ins AFTER INSERT ON projects REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION projects_after_insert();

-- Optimistic concurrency: every update bumps the version the editor loaded.
CREATE FUNCTION bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER projects_version BEFORE UPDATE ON projects FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER estimates_version BEFORE UPDATE ON estimates FOR EACH ROW EXECUTE FUNCTION bump_version();

CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER invoices_touch BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER bills_touch BEFORE UPDATE ON bills FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Audit: who (app.current_user_id, set per transaction by the app; else the database login),
-- what, old and new row. SECURITY DEFINER: the app role can add to the log only this way.
CREATE FUNCTION audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
DECLARE
    who text := coalesce(nullif(current_setting('app.current_user_id', true), ''), 'db:' || session_user);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (table_name, operation, row_id, user_id, new_data)
        VALUES (TG_TABLE_NAME, TG_OP, NEW.id, who, to_jsonb(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        IF to_jsonb(NEW) - 'version' - 'updated_at' = to_jsonb(OLD) - 'version' - 'updated_at' THEN
            RETURN NULL;  -- nothing a person would call a change
        END IF;
        INSERT INTO audit_log (table_name, operation, row_id, user_id, old_data, new_data)
        VALUES (TG_TABLE_NAME, TG_OP, NEW.id, who, to_jsonb(OLD), to_jsonb(NEW));
    ELSE
        INSERT INTO audit_log (table_name, operation, row_id, user_id, old_data)
        VALUES (TG_TABLE_NAME, TG_OP, OLD.id, who, to_jsonb(OLD));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER projects_audit AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER estimates_audit AFTER INSERT OR UPDATE OR DELETE ON estimates
    FOR EACH ROW EXECUTE FUNCTION audit_row();
