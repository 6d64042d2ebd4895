-- 013: pnl_practice, the practice's figures per (phase, month, overhead or not), for the
-- dashboard's unfiltered reads (monthly series, phase breakdown, Unallocated): their cost then
-- follows the number of phases and months, not the number of projects or lines.
--
-- It is pnl_monthly summed over projects, kept as a journal of differences: a statement trigger
-- on pnl_monthly inserts, for each key a statement changed, the new sums minus the old. Writers
-- only ever INSERT here, so two saves of different projects in the same month never wait for
-- each other on a shared row (a table updated in place would serialise every write of the
-- practice and deadlock writers that touch two months in opposite orders). Readers sum the
-- rows of a key. compact_pnl_practice() folds the journal into one row per key; the trigger
-- calls it every 500th statement, and it never waits (it skips when another compaction runs).
--
-- receivables_practice does the same for the unfiltered receivables ageing: the amounts due of
-- Authorised invoices per (issue month, due date), journalled by a statement trigger on invoices.
SET LOCAL search_path = milestone, public;

CREATE TABLE pnl_practice (
    build_phase_id   uuid,  -- no foreign key: a deleted phase's rows net to zero through the trigger
    month            date NOT NULL,
    overhead         boolean NOT NULL,  -- true: lines with no project (Unallocated)
    revenue          numeric NOT NULL DEFAULT 0,
    costs            numeric NOT NULL DEFAULT 0,
    estimate_revenue numeric NOT NULL DEFAULT 0,
    estimate_costs   numeric NOT NULL DEFAULT 0,
    outstanding      numeric NOT NULL DEFAULT 0
);
CREATE INDEX pnl_practice_month_idx ON pnl_practice (month);

CREATE TABLE receivables_practice (
    issue_month date NOT NULL,
    due         date NOT NULL,     -- the due date, or the issue date when there is none
    amount      numeric NOT NULL,  -- signed_outstanding: credit notes negative
    invoices    bigint NOT NULL    -- Authorised invoices with something due
);
CREATE INDEX receivables_practice_month_idx ON receivables_practice (issue_month);
CREATE SEQUENCE pnl_practice_writes;

CREATE FUNCTION compact_pnl_practice() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    -- One compaction at a time, and none waits: the rows it deletes are never updated, and a
    -- row inserted after this statement's snapshot (by a writer in flight) is left for the next.
    IF NOT pg_try_advisory_xact_lock(hashtext('milestone.compact_pnl_practice')) THEN
        RETURN;
    END IF;
    WITH gone AS (DELETE FROM pnl_practice RETURNING *)
    INSERT INTO pnl_practice (build_phase_id, month, overhead, revenue, costs, estimate_revenue,
                              estimate_costs, outstanding)
    SELECT build_phase_id, month, overhead, sum(revenue), sum(costs), sum(estimate_revenue),
           sum(estimate_costs), sum(outstanding)
    FROM gone GROUP BY build_phase_id, month, overhead
    HAVING (sum(revenue), sum(costs), sum(estimate_revenue), sum(estimate_costs), sum(outstanding))
           <> (0, 0, 0, 0, 0);
    WITH gone AS (DELETE FROM receivables_practice RETURNING *)
    INSERT INTO receivables_practice (issue_month, due, amount, invoices)
    SELECT issue_month, due, sum(amount), sum(invoices) FROM gone GROUP BY issue_month, due
    HAVING (sum(amount), sum(invoices)) <> (0, 0);
END
$$;

-- Append, per key, the sums of the new rows minus those of the old.
CREATE FUNCTION pnl_practice_add(added pnl_monthly[], removed pnl_monthly[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
    INSERT INTO pnl_practice (build_phase_id, month, overhead, revenue, costs, estimate_revenue,
                              estimate_costs, outstanding)
    SELECT build_phase_id, month, overhead, sum(revenue), sum(costs), sum(estimate_revenue),
           sum(estimate_costs), sum(outstanding)
    FROM (
        SELECT build_phase_id, month, project_id IS NULL AS overhead, revenue, costs, estimate_revenue,
               estimate_costs, outstanding
        FROM unnest(added)
        UNION ALL
        SELECT build_phase_id, month, project_id IS NULL, -revenue, -costs, -estimate_revenue,
               -estimate_costs, -outstanding
        FROM unnest(removed)
    ) d
    GROUP BY build_phase_id, month, overhead
    HAVING (sum(revenue), sum(costs), sum(estimate_revenue), sum(estimate_costs), sum(outstanding))
           <> (0, 0, 0, 0, 0);
$$;

CREATE FUNCTION pnl_practice_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pnl_practice_add(ARRAY(SELECT ROW(n.*)::pnl_monthly FROM new_rows n), '{}');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pnl_practice_add('{}', ARRAY(SELECT ROW(o.*)::pnl_monthly FROM old_rows o));
    ELSE
        PERFORM pnl_practice_add(ARRAY(SELECT ROW(n.*)::pnl_monthly FROM new_rows n),
                                 ARRAY(SELECT ROW(o.*)::pnl_monthly FROM old_rows o));
    END IF;
    IF nextval('pnl_practice_writes') % 500 = 0 THEN
        PERFORM compact_pnl_practice();
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER pnl_monthly_practice_ins AFTER INSERT ON pnl_monthly REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_practice_after();
CREATE TRIGGER pnl_monthly_practice_upd AFTER UPDATE ON pnl_monthly
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_practice_after();
CREATE TRIGGER pnl_monthly_practice_del AFTER DELETE ON pnl_monthly REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_practice_after();

-- Invoices changed: append, per (issue month, due), what is due now minus what was due before.
CREATE FUNCTION receivables_practice_add(added invoices[], removed invoices[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
    INSERT INTO receivables_practice (issue_month, due, amount, invoices)
    SELECT issue_month, due, sum(amount), sum(n)
    FROM (
        SELECT date_trunc('month', issue_date)::date AS issue_month, coalesce(due_date, issue_date) AS due,
               signed_outstanding(status, doc_type, amount_due) AS amount, 1 AS n
        FROM unnest(added) WHERE status = 'Authorised' AND amount_due <> 0
        UNION ALL
        SELECT date_trunc('month', issue_date)::date, coalesce(due_date, issue_date),
               -signed_outstanding(status, doc_type, amount_due), -1
        FROM unnest(removed) WHERE status = 'Authorised' AND amount_due <> 0
    ) d
    GROUP BY issue_month, due
    HAVING (sum(amount), sum(n)) <> (0, 0);
$$;

CREATE FUNCTION receivables_practice_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM receivables_practice_add(ARRAY(SELECT ROW(n.*)::invoices FROM new_rows n), '{}');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM receivables_practice_add('{}', ARRAY(SELECT ROW(o.*)::invoices FROM old_rows o));
    ELSE
        PERFORM receivables_practice_add(ARRAY(SELECT ROW(n.*)::invoices FROM new_rows n),
                                         ARRAY(SELECT ROW(o.*)::invoices FROM old_rows o));
    END IF;
    IF nextval('pnl_practice_writes') % 500 = 0 THEN
        PERFORM compact_pnl_practice();
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER invoices_receivables_ins AFTER INSERT ON invoices REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION receivables_practice_after();
CREATE TRIGGER invoices_receivables_upd AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION receivables_practice_after();
CREATE TRIGGER invoices_receivables_del AFTER DELETE ON invoices REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION receivables_practice_after();

-- Everything from the base tables: 010's recount of pnl_monthly and the project totals, kept as
-- it is under a new name, then both journals rebuilt from the result (one row per key), so a
-- bulk load with the triggers off ends exact too. Callers (the seed, TRUNCATE) keep the name.
ALTER FUNCTION refresh_pnl_monthly() RENAME TO refresh_pnl_monthly_and_totals;
CREATE FUNCTION refresh_pnl_monthly() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    PERFORM refresh_pnl_monthly_and_totals();
    LOCK TABLE pnl_practice IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM pnl_practice;
    INSERT INTO pnl_practice (build_phase_id, month, overhead, revenue, costs, estimate_revenue,
                              estimate_costs, outstanding)
    SELECT build_phase_id, month, project_id IS NULL, sum(revenue), sum(costs), sum(estimate_revenue),
           sum(estimate_costs), sum(outstanding)
    FROM pnl_monthly GROUP BY build_phase_id, month, project_id IS NULL;
    LOCK TABLE receivables_practice IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM receivables_practice;
    INSERT INTO receivables_practice (issue_month, due, amount, invoices)
    SELECT date_trunc('month', issue_date)::date, coalesce(due_date, issue_date),
           sum(signed_outstanding(status, doc_type, amount_due)), count(*)
    FROM invoices WHERE status = 'Authorised' AND amount_due <> 0
    GROUP BY 1, 2;
END
$$;

-- Each check's two sides must be equal; a row with ok = false is a bug to report (010's checks,
-- plus pnl_practice against pnl_monthly).
CREATE OR REPLACE VIEW ledger_reconciliation AS
WITH lines AS (
    SELECT coalesce(sum(signed_counted(i.status, i.doc_type, l.line_amount)), 0) AS revenue,
           coalesce(sum(signed_counted(i.status, i.doc_type, l.line_amount)) FILTER (WHERE l.project_id IS NULL), 0) AS unallocated
    FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
), blines AS (
    SELECT coalesce(sum(signed_counted(b.status, b.doc_type, l.line_amount)), 0) AS costs,
           coalesce(sum(signed_counted(b.status, b.doc_type, l.line_amount)) FILTER (WHERE l.project_id IS NULL), 0) AS unallocated
    FROM bill_lines l JOIN bills b ON b.id = l.bill_id
), docs AS (
    SELECT (SELECT coalesce(sum(signed_counted(status, doc_type, subtotal)), 0) FROM invoices) AS revenue,
           (SELECT coalesce(sum(signed_counted(status, doc_type, subtotal)), 0) FROM bills) AS costs,
           (SELECT coalesce(sum(signed_outstanding(status, doc_type, amount_due)), 0) FROM invoices) AS outstanding
), rollup AS (
    SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(costs), 0) AS costs,
           coalesce(sum(outstanding), 0) AS outstanding,
           coalesce(sum(revenue) FILTER (WHERE project_id IS NULL), 0) AS unallocated_revenue,
           coalesce(sum(costs) FILTER (WHERE project_id IS NULL), 0) AS unallocated_costs
    FROM pnl_monthly
), practice AS (
    SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(costs), 0) AS costs,
           coalesce(sum(outstanding), 0) AS outstanding,
           coalesce(sum(revenue) FILTER (WHERE overhead), 0) AS unallocated_revenue,
           coalesce(sum(costs) FILTER (WHERE overhead), 0) AS unallocated_costs
    FROM pnl_practice
), receivables AS (
    SELECT coalesce(sum(amount), 0) AS outstanding FROM receivables_practice
), projects_sum AS (
    SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(costs), 0) AS costs,
           coalesce(sum(outstanding), 0) AS outstanding
    FROM project_metrics
)
SELECT c.* , c.expected = c.actual AS ok
FROM lines, blines, docs, rollup, practice, receivables, projects_sum,
LATERAL (VALUES
    ('revenue: counted invoice lines = counted invoice subtotals', docs.revenue, lines.revenue),
    ('costs: counted bill lines = counted bill subtotals', docs.costs, blines.costs),
    ('revenue: projects + unallocated = all invoice lines', lines.revenue, projects_sum.revenue + rollup.unallocated_revenue),
    ('costs: projects + unallocated = all bill lines', blines.costs, projects_sum.costs + rollup.unallocated_costs),
    ('revenue: pnl_monthly = all invoice lines', lines.revenue, rollup.revenue),
    ('costs: pnl_monthly = all bill lines', blines.costs, rollup.costs),
    ('unallocated revenue: pnl_monthly = untracked invoice lines', lines.unallocated, rollup.unallocated_revenue),
    ('unallocated costs: pnl_monthly = untracked bill lines', blines.unallocated, rollup.unallocated_costs),
    ('outstanding: pnl_monthly = authorised amounts due', docs.outstanding, rollup.outstanding),
    ('revenue: pnl_practice = pnl_monthly', rollup.revenue, practice.revenue),
    ('costs: pnl_practice = pnl_monthly', rollup.costs, practice.costs),
    ('outstanding: pnl_practice = pnl_monthly', rollup.outstanding, practice.outstanding),
    ('unallocated revenue: pnl_practice = pnl_monthly', rollup.unallocated_revenue, practice.unallocated_revenue),
    ('unallocated costs: pnl_practice = pnl_monthly', rollup.unallocated_costs, practice.unallocated_costs),
    ('outstanding: receivables_practice = authorised amounts due', docs.outstanding, receivables.outstanding)
) AS c(check_name, expected, actual);

-- Definer functions: a fixed search_path (above) and no EXECUTE for anyone (012's rule; the
-- trigger and refresh_pnl_monthly call them as the owner).
REVOKE EXECUTE ON FUNCTION refresh_pnl_monthly(), compact_pnl_practice(), pnl_practice_add(pnl_monthly[], pnl_monthly[]),
    pnl_practice_after(), receivables_practice_add(invoices[], invoices[]), receivables_practice_after()
    FROM PUBLIC;
GRANT SELECT ON pnl_practice, receivables_practice TO milestone_app, xero_reader;

SELECT refresh_pnl_monthly();
