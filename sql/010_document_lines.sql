-- 010 ledger by line item: invoice_lines and bill_lines carry the project and phase (Xero tracks
-- them per line), a deferred check keeps each document's lines equal to its subtotal, and
-- pnl_monthly (project, phase, month) is kept exact by statement-level triggers. project_metrics
-- and project_phase_metrics are now projections of pnl_monthly, recounted in the same triggers.
-- Existing documents become one line each (their old project and phase). docs/design-notes.md,
-- "Ledger by line item", explains the choices.
SET LOCAL search_path = milestone, public;

-- ------------------------------------------------------------------------------- the lines
-- Xero's LineAmountTypes: how the document's line amounts were entered. Lines are stored ex tax
-- whatever this says (an Inclusive line is stored as its amount less its tax).
ALTER TABLE invoices ADD COLUMN line_amount_types text NOT NULL DEFAULT 'Exclusive'
    CHECK (line_amount_types IN ('Exclusive', 'Inclusive', 'NoTax'));
ALTER TABLE bills ADD COLUMN line_amount_types text NOT NULL DEFAULT 'Exclusive'
    CHECK (line_amount_types IN ('Exclusive', 'Inclusive', 'NoTax'));
-- Targets of the lines' (document, date) foreign keys: a line carries its document's date.
ALTER TABLE invoices ADD CONSTRAINT invoices_id_issue_date_key UNIQUE (id, issue_date);
ALTER TABLE bills ADD CONSTRAINT bills_id_date_key UNIQUE (id, date);

-- Two tables, each with a real foreign key to its document (one document_lines table with a
-- kind could not reference two parents). doc_date is the document's date (issue_date / date),
-- kept equal by the composite key ON UPDATE CASCADE: a line knows its month without its header,
-- even while the header is being deleted. A writer may leave it out (filled from the header).
CREATE TABLE invoice_lines (
    invoice_id     uuid NOT NULL,
    line_number    integer NOT NULL CHECK (line_number >= 1),
    doc_date       date NOT NULL,
    description    text,
    account_code   text,
    quantity       numeric(18,4),
    unit_amount    numeric(18,4),
    line_amount    numeric(14,2) NOT NULL,            -- ex tax, base currency; may be negative (a discount)
    tax_amount     numeric(14,2) NOT NULL DEFAULT 0,
    project_id     uuid REFERENCES projects (id) ON DELETE SET NULL,        -- null: Unallocated (overheads)
    build_phase_id uuid REFERENCES build_phases (id) ON DELETE SET NULL,    -- null: Unassigned
    PRIMARY KEY (invoice_id, line_number),
    CONSTRAINT invoice_lines_document_fkey FOREIGN KEY (invoice_id, doc_date)
        REFERENCES invoices (id, issue_date) ON UPDATE CASCADE ON DELETE CASCADE
);
-- A project's (or the overheads') lines by date; what the rollup's recount and the document
-- counts read is in the index, so they are index-only scans once the table is vacuumed.
CREATE INDEX invoice_lines_project_date_idx ON invoice_lines (project_id, doc_date)
    INCLUDE (build_phase_id, line_amount, invoice_id, line_number);

CREATE TABLE bill_lines (
    bill_id        uuid NOT NULL,
    line_number    integer NOT NULL CHECK (line_number >= 1),
    doc_date       date NOT NULL,
    description    text,
    account_code   text,
    quantity       numeric(18,4),
    unit_amount    numeric(18,4),
    line_amount    numeric(14,2) NOT NULL,
    tax_amount     numeric(14,2) NOT NULL DEFAULT 0,
    project_id     uuid REFERENCES projects (id) ON DELETE SET NULL,
    build_phase_id uuid REFERENCES build_phases (id) ON DELETE SET NULL,
    PRIMARY KEY (bill_id, line_number),
    CONSTRAINT bill_lines_document_fkey FOREIGN KEY (bill_id, doc_date)
        REFERENCES bills (id, date) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX bill_lines_project_date_idx ON bill_lines (project_id, doc_date)
    INCLUDE (build_phase_id, line_amount, bill_id, line_number);

CREATE FUNCTION fill_line_doc_date() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'invoice_lines' THEN
        NEW.doc_date := (SELECT issue_date FROM invoices WHERE id = NEW.invoice_id);
    ELSE
        NEW.doc_date := (SELECT date FROM bills WHERE id = NEW.bill_id);
    END IF;
    RETURN NEW;  -- a line of no document keeps null and is refused by NOT NULL
END
$$;
CREATE TRIGGER invoice_lines_doc_date BEFORE INSERT ON invoice_lines
    FOR EACH ROW WHEN (NEW.doc_date IS NULL) EXECUTE FUNCTION fill_line_doc_date();
CREATE TRIGGER bill_lines_doc_date BEFORE INSERT ON bill_lines
    FOR EACH ROW WHEN (NEW.doc_date IS NULL) EXECUTE FUNCTION fill_line_doc_date();

-- Existing documents: one line each, with the document's subtotal, tax, project and phase.
INSERT INTO invoice_lines (invoice_id, line_number, doc_date, line_amount, tax_amount, project_id, build_phase_id)
SELECT id, 1, issue_date, subtotal, total_tax, project_id, build_phase_id FROM invoices;
INSERT INTO bill_lines (bill_id, line_number, doc_date, line_amount, tax_amount, project_id, build_phase_id)
SELECT id, 1, date, subtotal, total_tax, project_id, build_phase_id FROM bills;

-- ------------------------------------------------------------------- what the lines replace
DO $$
DECLARE t text; op text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoices', 'bills', 'estimates'] LOOP
        FOREACH op IN ARRAY ARRAY['ins', 'upd', 'del', 'trunc'] LOOP
            EXECUTE format('DROP TRIGGER %I ON %I', t || '_metrics_' || op, t);
        END LOOP;
    END LOOP;
END
$$;
DROP FUNCTION metrics_after_insert(), metrics_after_update(), metrics_after_delete(), metrics_after_truncate();
-- Drops invoices_project_date_idx, invoices_unpaid_idx and bills_project_date_idx with them.
ALTER TABLE invoices DROP COLUMN project_id, DROP COLUMN build_phase_id;
ALTER TABLE bills DROP COLUMN project_id, DROP COLUMN build_phase_id;
CREATE INDEX invoices_issue_date_idx ON invoices (issue_date);
CREATE INDEX invoices_unpaid_idx ON invoices (due_date) INCLUDE (amount_due, doc_type) WHERE status = 'Authorised';
CREATE INDEX bills_date_idx ON bills (date);

-- ------------------------------------------------------------- a document adds up to its lines
-- Deferred to commit, so a writer inserts the document and then its lines (or edits both) in one
-- transaction. A document with no lines is allowed only with subtotal 0 and nothing due (a
-- draft shell that counts nothing); any other document must have lines that add up.
CREATE FUNCTION check_document_lines() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
DECLARE
    doc uuid;
    docs uuid[];
    d record;
BEGIN
    IF TG_TABLE_NAME IN ('invoices', 'bills') THEN
        docs := ARRAY[NEW.id];
    ELSIF TG_TABLE_NAME = 'invoice_lines' THEN
        docs := CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.invoice_id] WHEN 'DELETE' THEN ARRAY[OLD.invoice_id]
                ELSE ARRAY[NEW.invoice_id, OLD.invoice_id] END;
    ELSE
        docs := CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.bill_id] WHEN 'DELETE' THEN ARRAY[OLD.bill_id]
                ELSE ARRAY[NEW.bill_id, OLD.bill_id] END;
    END IF;
    FOREACH doc IN ARRAY docs LOOP
        IF TG_TABLE_NAME IN ('invoices', 'invoice_lines') THEN
            SELECT 'invoice' AS kind, i.number, i.xero_id, i.subtotal, i.amount_due,
                   (SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.id) AS n,
                   (SELECT coalesce(sum(l.line_amount), 0) FROM invoice_lines l WHERE l.invoice_id = i.id) AS lines
            INTO d FROM invoices i WHERE i.id = doc;
        ELSE
            SELECT 'bill' AS kind, b.number, b.xero_id, b.subtotal, b.amount_due,
                   (SELECT count(*) FROM bill_lines l WHERE l.bill_id = b.id) AS n,
                   (SELECT coalesce(sum(l.line_amount), 0) FROM bill_lines l WHERE l.bill_id = b.id) AS lines
            INTO d FROM bills b WHERE b.id = doc;
        END IF;
        CONTINUE WHEN NOT FOUND;  -- the document was deleted (its lines went with it)
        IF d.lines <> d.subtotal THEN
            RAISE EXCEPTION '% % (xero_id %): its lines add up to % but its subtotal is %',
                d.kind, coalesce(d.number, '(no number)'), d.xero_id, d.lines, d.subtotal
                USING ERRCODE = 'check_violation', CONSTRAINT = 'document_lines_add_up';
        END IF;
        IF d.n = 0 AND d.amount_due <> 0 THEN
            RAISE EXCEPTION '% % (xero_id %) has no lines but % due: a document with no lines must have nothing due',
                d.kind, coalesce(d.number, '(no number)'), d.xero_id, d.amount_due
                USING ERRCODE = 'check_violation', CONSTRAINT = 'document_lines_add_up';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER invoices_lines_add_up AFTER INSERT OR UPDATE OF subtotal, amount_due ON invoices
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_document_lines();
CREATE CONSTRAINT TRIGGER bills_lines_add_up AFTER INSERT OR UPDATE OF subtotal, amount_due ON bills
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_document_lines();
CREATE CONSTRAINT TRIGGER invoice_lines_add_up AFTER INSERT OR UPDATE OF line_amount, invoice_id OR DELETE
    ON invoice_lines DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_document_lines();
CREATE CONSTRAINT TRIGGER bill_lines_add_up AFTER INSERT OR UPDATE OF line_amount, bill_id OR DELETE
    ON bill_lines DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_document_lines();

-- ----------------------------------------------------------- outstanding, allocated to lines
-- An Authorised invoice's amount_due split over its lines in proportion to their line amounts,
-- in whole pence: each line gets the floor of its exact share, and the pence left over (fewer
-- than the number of lines) go one each to the lines with the largest remainders, ties to the
-- lower line number (largest remainder method). The parts add up to amount_due exactly. If the
-- line amounts add up to zero or less (all zero, or discounts cancelling), the lines share
-- equally. Credit notes are allocated the same way and then negated. ids null = every invoice.
CREATE VIEW invoice_line_outstanding AS
    WITH w AS (
        SELECT l.invoice_id, l.line_number, l.project_id, l.build_phase_id, l.doc_date, i.doc_type,
               i.amount_due * 100 AS due,
               l.line_amount * 100 AS weight,
               sum(l.line_amount * 100) OVER (PARTITION BY l.invoice_id) AS total,
               count(*) OVER (PARTITION BY l.invoice_id) AS n
        FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id
        WHERE i.status = 'Authorised' AND i.amount_due <> 0
    ), e AS (  -- equal shares when the weights cannot be used
        SELECT w.*, CASE WHEN total > 0 THEN weight ELSE 1 END AS wt, CASE WHEN total > 0 THEN total ELSE n END AS tt
        FROM w
    ), f AS (  -- exact floor of due * wt / tt in pence (tt > 0)
        SELECT e.*, div(due * wt, tt) - CASE WHEN mod(due * wt, tt) < 0 THEN 1 ELSE 0 END AS q
        FROM e
    ), r AS (  -- the pence left over go to the largest remainders due * wt - q * tt, ties to lower line numbers
        SELECT f.*, due - sum(q) OVER (PARTITION BY f.invoice_id) AS left_over,
               row_number() OVER (PARTITION BY f.invoice_id ORDER BY due * wt - q * tt DESC, f.line_number) AS rank
        FROM f
    )
    SELECT r.invoice_id, r.line_number, r.project_id, r.build_phase_id, r.doc_date,
           (CASE WHEN r.doc_type = 'credit_note' THEN -1 ELSE 1 END
            * (r.q + CASE WHEN r.rank <= r.left_over THEN 1 ELSE 0 END) / 100)::numeric(14,2) AS outstanding
    FROM r;

-- The same for some invoices only (the filter reaches the index: every window is per invoice).
CREATE FUNCTION invoice_outstanding_shares(ids uuid[])
RETURNS SETOF invoice_line_outstanding
LANGUAGE sql STABLE AS $$
    SELECT * FROM invoice_line_outstanding WHERE invoice_id = ANY (ids)
$$;

-- ----------------------------------------------------------------------- the monthly rollup
-- One row per (project, phase, month): project null = Unallocated (overhead lines), phase null =
-- Unassigned. A row exists exactly for the keys where one of the five figures is not zero.
CREATE TABLE pnl_monthly (
    project_id       uuid REFERENCES projects (id) ON DELETE CASCADE,
    build_phase_id   uuid REFERENCES build_phases (id) ON DELETE CASCADE,
    month            date NOT NULL CHECK (month = date_trunc('month', month)::date),
    revenue          numeric(14,2) NOT NULL DEFAULT 0,
    costs            numeric(14,2) NOT NULL DEFAULT 0,
    estimate_revenue numeric(14,2) NOT NULL DEFAULT 0,
    estimate_costs   numeric(14,2) NOT NULL DEFAULT 0,
    outstanding      numeric(14,2) NOT NULL DEFAULT 0,
    CONSTRAINT pnl_monthly_key UNIQUE NULLS NOT DISTINCT (project_id, build_phase_id, month)
);
-- Reads by period across projects (the dashboard's monthly series).
CREATE INDEX pnl_monthly_month_idx ON pnl_monthly (month, project_id);
-- The triggers find a key's row with nulls coded as the zero uuid (no project/phase has it).
CREATE INDEX pnl_monthly_recount_idx ON pnl_monthly (
    coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid),
    coalesce(build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid), month);

CREATE TYPE pnl_key AS (project_id uuid, build_phase_id uuid, month date);
CREATE TYPE pnl_line AS (doc_id uuid, project_id uuid, build_phase_id uuid, doc_date date);

-- project_metrics and project_phase_metrics: sums of pnl_monthly (money) for the given projects,
-- plus the number of documents with a line on the project (any status). ids null = every project.
CREATE FUNCTION refresh_project_totals(ids uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF ids IS NULL THEN  -- every project: whole-table aggregates (hash joins), for bulk loads
        INSERT INTO project_metrics (project_id) SELECT id FROM projects ORDER BY id ON CONFLICT DO NOTHING;
        PERFORM 1 FROM project_metrics ORDER BY project_id FOR UPDATE;
        UPDATE project_metrics m SET
            revenue = coalesce(s.revenue, 0), costs = coalesce(s.costs, 0),
            estimate_revenue = coalesce(s.estimate_revenue, 0), estimate_costs = coalesce(s.estimate_costs, 0),
            outstanding = coalesce(s.outstanding, 0), invoice_count = coalesce(ic.n, 0), bill_count = coalesce(bc.n, 0),
            updated_at = now()
        FROM projects p
        LEFT JOIN (SELECT project_id, sum(revenue) AS revenue, sum(costs) AS costs,
                          sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs,
                          sum(outstanding) AS outstanding
                   FROM pnl_monthly WHERE project_id IS NOT NULL GROUP BY project_id) s ON s.project_id = p.id
        LEFT JOIN (SELECT project_id, count(*) AS n
                   FROM (SELECT DISTINCT project_id, invoice_id FROM invoice_lines WHERE project_id IS NOT NULL) d
                   GROUP BY project_id) ic ON ic.project_id = p.id
        LEFT JOIN (SELECT project_id, count(*) AS n
                   FROM (SELECT DISTINCT project_id, bill_id FROM bill_lines WHERE project_id IS NOT NULL) d
                   GROUP BY project_id) bc ON bc.project_id = p.id
        WHERE m.project_id = p.id;
        DELETE FROM project_phase_metrics;
        INSERT INTO project_phase_metrics (project_id, build_phase_id, revenue, costs, estimate_revenue, estimate_costs)
        SELECT project_id, build_phase_id, sum(revenue), sum(costs), sum(estimate_revenue), sum(estimate_costs)
        FROM pnl_monthly WHERE project_id IS NOT NULL
        GROUP BY project_id, build_phase_id
        HAVING sum(revenue) <> 0 OR sum(costs) <> 0 OR sum(estimate_revenue) <> 0 OR sum(estimate_costs) <> 0;
        RETURN;
    END IF;
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    -- Some projects (a trigger's): joins with unnest(ids), not "= ANY (ids)", so a key set of
    -- any size plans as a loop over the given projects' index entries.
    INSERT INTO project_metrics (project_id)
    SELECT p.id FROM projects p JOIN unnest(ids) AS k(id) ON k.id = p.id ORDER BY p.id ON CONFLICT DO NOTHING;
    -- Lock first, in a fixed order; the sums below (a new snapshot) then include the rows of any
    -- writer of the same project that committed while we waited.
    PERFORM 1 FROM project_metrics m JOIN unnest(ids) AS k(id) ON k.id = m.project_id
    ORDER BY m.project_id FOR UPDATE OF m;
    UPDATE project_metrics m SET
        revenue = coalesce(s.revenue, 0), costs = coalesce(s.costs, 0),
        estimate_revenue = coalesce(s.estimate_revenue, 0), estimate_costs = coalesce(s.estimate_costs, 0),
        outstanding = coalesce(s.outstanding, 0), invoice_count = coalesce(ic.n, 0), bill_count = coalesce(bc.n, 0),
        updated_at = now()
    FROM (SELECT DISTINCT id FROM unnest(ids) AS k(id)) k
    LEFT JOIN (SELECT p.project_id, sum(p.revenue) AS revenue, sum(p.costs) AS costs,
                      sum(p.estimate_revenue) AS estimate_revenue, sum(p.estimate_costs) AS estimate_costs,
                      sum(p.outstanding) AS outstanding
               FROM pnl_monthly p JOIN (SELECT DISTINCT id FROM unnest(ids) AS k(id)) k ON k.id = p.project_id
               GROUP BY p.project_id) s ON s.project_id = k.id
    LEFT JOIN (SELECT l.project_id, count(DISTINCT l.invoice_id) AS n
               FROM invoice_lines l JOIN (SELECT DISTINCT id FROM unnest(ids) AS k(id)) k ON k.id = l.project_id
               GROUP BY l.project_id) ic ON ic.project_id = k.id
    LEFT JOIN (SELECT l.project_id, count(DISTINCT l.bill_id) AS n
               FROM bill_lines l JOIN (SELECT DISTINCT id FROM unnest(ids) AS k(id)) k ON k.id = l.project_id
               GROUP BY l.project_id) bc ON bc.project_id = k.id
    WHERE m.project_id = k.id;

    DELETE FROM project_phase_metrics m USING unnest(ids) AS k(id) WHERE m.project_id = k.id;
    INSERT INTO project_phase_metrics (project_id, build_phase_id, revenue, costs, estimate_revenue, estimate_costs)
    SELECT p.project_id, p.build_phase_id, sum(p.revenue), sum(p.costs), sum(p.estimate_revenue), sum(p.estimate_costs)
    FROM pnl_monthly p JOIN (SELECT DISTINCT id FROM unnest(ids) AS k(id)) k ON k.id = p.project_id
    GROUP BY p.project_id, p.build_phase_id
    HAVING sum(p.revenue) <> 0 OR sum(p.costs) <> 0 OR sum(p.estimate_revenue) <> 0 OR sum(p.estimate_costs) <> 0;
END
$$;

-- Recount the given keys from the base tables, then the totals of their projects.
CREATE FUNCTION pnl_recount(keys pnl_key[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF keys IS NULL OR cardinality(keys) = 0 THEN
        RETURN;
    END IF;
    -- Create or lock each key's row, in one fixed order (no deadlock between two recounts). A
    -- writer of the same key waits here; the sums below, a new snapshot, then include its rows.
    INSERT INTO pnl_monthly AS m (project_id, build_phase_id, month)
    SELECT k.project_id, k.build_phase_id, k.month
    FROM (SELECT DISTINCT * FROM unnest(keys)) k
    WHERE (k.project_id IS NULL OR EXISTS (SELECT 1 FROM projects p WHERE p.id = k.project_id))
      AND (k.build_phase_id IS NULL OR EXISTS (SELECT 1 FROM build_phases b WHERE b.id = k.build_phase_id))
    ORDER BY k.project_id NULLS FIRST, k.build_phase_id NULLS FIRST, k.month
    ON CONFLICT ON CONSTRAINT pnl_monthly_key DO UPDATE SET month = m.month;

    WITH k AS (
        SELECT DISTINCT coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid) AS kp,
               coalesce(build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) AS kph,
               month, (month + interval '1 month')::date AS next_month
        FROM unnest(keys)
    ), il AS (  -- invoice lines of the keys (projects through the index, overheads likewise)
        SELECT k.kp, k.kph, k.month, l.invoice_id, l.line_number, l.line_amount
        FROM k JOIN invoice_lines l ON l.project_id = k.kp AND l.doc_date >= k.month AND l.doc_date < k.next_month
        WHERE k.kp <> '00000000-0000-0000-0000-000000000000'::uuid
          AND coalesce(l.build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.kph
        UNION ALL
        SELECT k.kp, k.kph, k.month, l.invoice_id, l.line_number, l.line_amount
        FROM k JOIN invoice_lines l ON l.project_id IS NULL AND l.doc_date >= k.month AND l.doc_date < k.next_month
        WHERE k.kp = '00000000-0000-0000-0000-000000000000'::uuid
          AND coalesce(l.build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.kph
    ), bl AS (
        SELECT k.kp, k.kph, k.month, l.bill_id, l.line_amount
        FROM k JOIN bill_lines l ON l.project_id = k.kp AND l.doc_date >= k.month AND l.doc_date < k.next_month
        WHERE k.kp <> '00000000-0000-0000-0000-000000000000'::uuid
          AND coalesce(l.build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.kph
        UNION ALL
        SELECT k.kp, k.kph, k.month, l.bill_id, l.line_amount
        FROM k JOIN bill_lines l ON l.project_id IS NULL AND l.doc_date >= k.month AND l.doc_date < k.next_month
        WHERE k.kp = '00000000-0000-0000-0000-000000000000'::uuid
          AND coalesce(l.build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.kph
    ), shares AS (
        SELECT * FROM invoice_outstanding_shares(ARRAY(SELECT DISTINCT invoice_id FROM il))
    ), x AS (
        SELECT il.kp, il.kph, il.month, signed_counted(i.status, i.doc_type, il.line_amount) AS revenue,
               0::numeric AS costs, 0::numeric AS estimate_revenue, 0::numeric AS estimate_costs,
               coalesce(s.outstanding, 0) AS outstanding
        FROM il JOIN invoices i ON i.id = il.invoice_id
        LEFT JOIN shares s ON s.invoice_id = il.invoice_id AND s.line_number = il.line_number
        UNION ALL
        SELECT bl.kp, bl.kph, bl.month, 0, signed_counted(b.status, b.doc_type, bl.line_amount), 0, 0, 0
        FROM bl JOIN bills b ON b.id = bl.bill_id
        UNION ALL
        SELECT k.kp, k.kph, k.month, 0, 0,
               CASE WHEN e.kind = 'revenue' THEN e.amount ELSE 0 END,
               CASE WHEN e.kind = 'cost' THEN e.amount ELSE 0 END, 0
        FROM k JOIN estimates e ON e.project_id = k.kp AND e.date >= k.month AND e.date < k.next_month
        WHERE coalesce(e.build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.kph
    ), agg AS (
        SELECT k.kp, k.kph, k.month,
               coalesce(sum(x.revenue), 0) AS revenue, coalesce(sum(x.costs), 0) AS costs,
               coalesce(sum(x.estimate_revenue), 0) AS estimate_revenue,
               coalesce(sum(x.estimate_costs), 0) AS estimate_costs,
               coalesce(sum(x.outstanding), 0) AS outstanding
        FROM k LEFT JOIN x ON (x.kp, x.kph, x.month) = (k.kp, k.kph, k.month)
        GROUP BY k.kp, k.kph, k.month
    )
    UPDATE pnl_monthly m SET revenue = a.revenue, costs = a.costs, estimate_revenue = a.estimate_revenue,
                             estimate_costs = a.estimate_costs, outstanding = a.outstanding
    FROM agg a
    WHERE coalesce(m.project_id, '00000000-0000-0000-0000-000000000000'::uuid) = a.kp
      AND coalesce(m.build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) = a.kph
      AND m.month = a.month
      AND (m.revenue, m.costs, m.estimate_revenue, m.estimate_costs, m.outstanding)
          IS DISTINCT FROM (a.revenue, a.costs, a.estimate_revenue, a.estimate_costs, a.outstanding);

    -- A row exists only while one of its figures is not zero (as refresh_pnl_monthly builds it).
    -- Safe with concurrent writers: their upsert above retries if the row it waited for is gone.
    DELETE FROM pnl_monthly m
    USING (SELECT DISTINCT coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid) AS kp,
                  coalesce(build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) AS kph, month
           FROM unnest(keys)) k
    WHERE coalesce(m.project_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.kp
      AND coalesce(m.build_phase_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.kph
      AND m.month = k.month
      AND m.revenue = 0 AND m.costs = 0 AND m.estimate_revenue = 0 AND m.estimate_costs = 0 AND m.outstanding = 0;

    PERFORM refresh_project_totals(ARRAY(SELECT DISTINCT project_id FROM unnest(keys)
                                         WHERE project_id IS NOT NULL ORDER BY 1));
END
$$;

-- Everything, from the base tables (after a bulk load, a TRUNCATE, or to check by hand).
CREATE FUNCTION refresh_pnl_monthly() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    -- Waits for writers in flight and holds new ones until commit.
    LOCK TABLE pnl_monthly IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM pnl_monthly;
    INSERT INTO pnl_monthly (project_id, build_phase_id, month, revenue, costs, estimate_revenue,
                             estimate_costs, outstanding)
    SELECT project_id, build_phase_id, month, sum(revenue), sum(costs), sum(estimate_revenue),
           sum(estimate_costs), sum(outstanding)
    FROM (
        SELECT l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date AS month,
               signed_counted(i.status, i.doc_type, l.line_amount) AS revenue, 0::numeric AS costs,
               0::numeric AS estimate_revenue, 0::numeric AS estimate_costs, 0::numeric AS outstanding
        FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
        UNION ALL
        SELECT s.project_id, s.build_phase_id, date_trunc('month', s.doc_date)::date, 0, 0, 0, 0, s.outstanding
        FROM invoice_line_outstanding s
        UNION ALL
        SELECT l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date, 0,
               signed_counted(b.status, b.doc_type, l.line_amount), 0, 0, 0
        FROM bill_lines l JOIN bills b ON b.id = l.bill_id
        UNION ALL
        SELECT e.project_id, e.build_phase_id, date_trunc('month', e.date)::date, 0, 0,
               CASE WHEN e.kind = 'revenue' THEN e.amount ELSE 0 END,
               CASE WHEN e.kind = 'cost' THEN e.amount ELSE 0 END, 0
        FROM estimates e
    ) x
    GROUP BY project_id, build_phase_id, month
    HAVING sum(revenue) <> 0 OR sum(costs) <> 0 OR sum(estimate_revenue) <> 0 OR sum(estimate_costs) <> 0
        OR sum(outstanding) <> 0;
    PERFORM refresh_project_totals(NULL);
END
$$;

-- The old entry point, same signature: recount every key of the given projects.
CREATE OR REPLACE FUNCTION refresh_project_metrics(ids uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM pnl_recount(ARRAY(
        SELECT DISTINCT ROW(x.project_id, x.build_phase_id, x.month)::pnl_key
        FROM (SELECT DISTINCT id FROM unnest(ids) AS k(id)) k
        CROSS JOIN LATERAL (
            SELECT project_id, build_phase_id, month FROM pnl_monthly WHERE project_id = k.id
            UNION ALL SELECT project_id, build_phase_id, date_trunc('month', doc_date)::date
                      FROM invoice_lines WHERE project_id = k.id
            UNION ALL SELECT project_id, build_phase_id, date_trunc('month', doc_date)::date
                      FROM bill_lines WHERE project_id = k.id
            UNION ALL SELECT project_id, build_phase_id, date_trunc('month', date)::date
                      FROM estimates WHERE project_id = k.id) x));
    PERFORM refresh_project_totals(ids);  -- projects with nothing at all
END
$$;

-- Lines changed (inserted, updated or deleted rows given as pnl_line): lock their documents
-- (so a concurrent header change or line edit of the same document waits, then sees ours), and
-- recount the keys of the changed lines and of every line of those documents (a line's amount
-- moves the outstanding allocation of its siblings).
CREATE FUNCTION pnl_lines_changed(kind text, changed pnl_line[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
DECLARE
    docs uuid[];
BEGIN
    IF changed IS NULL OR cardinality(changed) = 0 THEN
        RETURN;
    END IF;
    docs := ARRAY(SELECT DISTINCT doc_id FROM unnest(changed) ORDER BY 1);
    IF kind = 'invoices' THEN
        PERFORM 1 FROM invoices WHERE id = ANY (docs) ORDER BY id FOR NO KEY UPDATE;
        PERFORM pnl_recount(ARRAY(
            SELECT ROW(c.project_id, c.build_phase_id, date_trunc('month', c.doc_date)::date)::pnl_key FROM unnest(changed) c
            UNION
            SELECT ROW(l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date)::pnl_key
            FROM invoice_lines l WHERE l.invoice_id = ANY (docs)));
    ELSE
        PERFORM 1 FROM bills WHERE id = ANY (docs) ORDER BY id FOR NO KEY UPDATE;
        PERFORM pnl_recount(ARRAY(
            SELECT ROW(c.project_id, c.build_phase_id, date_trunc('month', c.doc_date)::date)::pnl_key FROM unnest(changed) c
            UNION
            SELECT ROW(l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date)::pnl_key
            FROM bill_lines l WHERE l.bill_id = ANY (docs)));
    END IF;
END
$$;

CREATE FUNCTION pnl_after_invoice_lines() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pnl_lines_changed('invoices', ARRAY(
            SELECT ROW(invoice_id, project_id, build_phase_id, doc_date)::pnl_line FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pnl_lines_changed('invoices', ARRAY(
            SELECT ROW(invoice_id, project_id, build_phase_id, doc_date)::pnl_line FROM old_rows));
    ELSE  -- only the lines whose money or key changed
        PERFORM pnl_lines_changed('invoices', ARRAY(
            SELECT ROW(r.invoice_id, r.project_id, r.build_phase_id, r.doc_date)::pnl_line
            FROM new_rows n FULL JOIN old_rows o ON (o.invoice_id, o.line_number) = (n.invoice_id, n.line_number)
            CROSS JOIN LATERAL (VALUES (n.invoice_id, n.project_id, n.build_phase_id, n.doc_date),
                                       (o.invoice_id, o.project_id, o.build_phase_id, o.doc_date))
                       AS r(invoice_id, project_id, build_phase_id, doc_date)
            WHERE r.invoice_id IS NOT NULL
              AND (n.invoice_id, n.line_number, n.doc_date, n.line_amount, n.project_id, n.build_phase_id)
                  IS DISTINCT FROM
                  (o.invoice_id, o.line_number, o.doc_date, o.line_amount, o.project_id, o.build_phase_id)));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION pnl_after_bill_lines() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pnl_lines_changed('bills', ARRAY(
            SELECT ROW(bill_id, project_id, build_phase_id, doc_date)::pnl_line FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pnl_lines_changed('bills', ARRAY(
            SELECT ROW(bill_id, project_id, build_phase_id, doc_date)::pnl_line FROM old_rows));
    ELSE
        PERFORM pnl_lines_changed('bills', ARRAY(
            SELECT ROW(r.bill_id, r.project_id, r.build_phase_id, r.doc_date)::pnl_line
            FROM new_rows n FULL JOIN old_rows o ON (o.bill_id, o.line_number) = (n.bill_id, n.line_number)
            CROSS JOIN LATERAL (VALUES (n.bill_id, n.project_id, n.build_phase_id, n.doc_date),
                                       (o.bill_id, o.project_id, o.build_phase_id, o.doc_date))
                       AS r(bill_id, project_id, build_phase_id, doc_date)
            WHERE r.bill_id IS NOT NULL
              AND (n.bill_id, n.line_number, n.doc_date, n.line_amount, n.project_id, n.build_phase_id)
                  IS DISTINCT FROM
                  (o.bill_id, o.line_number, o.doc_date, o.line_amount, o.project_id, o.build_phase_id)));
    END IF;
    RETURN NULL;
END
$$;

-- A header's status, type or amount due changes what all its lines count. (A new header has no
-- lines yet; a changed date reaches the lines through ON UPDATE CASCADE and their trigger; a
-- deleted header's lines are deleted by the cascade and recounted by their trigger.)
CREATE FUNCTION pnl_after_document_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'invoices' THEN
        PERFORM pnl_recount(ARRAY(
            SELECT DISTINCT ROW(l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date)::pnl_key
            FROM invoice_lines l
            WHERE l.invoice_id = ANY (ARRAY(
                SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE (n.status, n.doc_type, n.amount_due) IS DISTINCT FROM (o.status, o.doc_type, o.amount_due)))));
    ELSE
        PERFORM pnl_recount(ARRAY(
            SELECT DISTINCT ROW(l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date)::pnl_key
            FROM bill_lines l
            WHERE l.bill_id = ANY (ARRAY(
                SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                WHERE (n.status, n.doc_type) IS DISTINCT FROM (o.status, o.doc_type)))));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION pnl_after_estimates() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pnl_recount(ARRAY(SELECT DISTINCT ROW(project_id, build_phase_id, date_trunc('month', date)::date)::pnl_key
                                  FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pnl_recount(ARRAY(SELECT DISTINCT ROW(project_id, build_phase_id, date_trunc('month', date)::date)::pnl_key
                                  FROM old_rows));
    ELSE
        PERFORM pnl_recount(ARRAY(SELECT ROW(project_id, build_phase_id, date_trunc('month', date)::date)::pnl_key FROM new_rows
                                  UNION
                                  SELECT ROW(project_id, build_phase_id, date_trunc('month', date)::date)::pnl_key FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION pnl_after_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = milestone, pg_temp AS $$
BEGIN
    PERFORM refresh_pnl_monthly();
    RETURN NULL;
END
$$;

CREATE TRIGGER invoice_lines_pnl_ins AFTER INSERT ON invoice_lines REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_invoice_lines();
CREATE TRIGGER invoice_lines_pnl_upd AFTER UPDATE ON invoice_lines REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_invoice_lines();
CREATE TRIGGER invoice_lines_pnl_del AFTER DELETE ON invoice_lines REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_invoice_lines();
CREATE TRIGGER bill_lines_pnl_ins AFTER INSERT ON bill_lines REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_bill_lines();
CREATE TRIGGER bill_lines_pnl_upd AFTER UPDATE ON bill_lines REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_bill_lines();
CREATE TRIGGER bill_lines_pnl_del AFTER DELETE ON bill_lines REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_bill_lines();
CREATE TRIGGER invoices_pnl_upd AFTER UPDATE ON invoices REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_document_update();
CREATE TRIGGER bills_pnl_upd AFTER UPDATE ON bills REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_document_update();
CREATE TRIGGER estimates_pnl_ins AFTER INSERT ON estimates REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_estimates();
CREATE TRIGGER estimates_pnl_upd AFTER UPDATE ON estimates REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_estimates();
CREATE TRIGGER estimates_pnl_del AFTER DELETE ON estimates REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_estimates();
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoices', 'bills', 'invoice_lines', 'bill_lines', 'estimates'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_pnl_trunc AFTER TRUNCATE ON %1$I
                        FOR EACH STATEMENT EXECUTE FUNCTION pnl_after_truncate()', t);
    END LOOP;
END
$$;

-- ------------------------------------------------------------------------------ monitoring
-- Each check's two sides must be equal; a row with ok = false is a bug to report.
CREATE VIEW ledger_reconciliation AS
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
), projects_sum AS (
    SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(costs), 0) AS costs,
           coalesce(sum(outstanding), 0) AS outstanding
    FROM project_metrics
)
SELECT c.* , c.expected = c.actual AS ok
FROM lines, blines, docs, rollup, projects_sum,
LATERAL (VALUES
    ('revenue: counted invoice lines = counted invoice subtotals', docs.revenue, lines.revenue),
    ('costs: counted bill lines = counted bill subtotals', docs.costs, blines.costs),
    ('revenue: projects + unallocated = all invoice lines', lines.revenue, projects_sum.revenue + rollup.unallocated_revenue),
    ('costs: projects + unallocated = all bill lines', blines.costs, projects_sum.costs + rollup.unallocated_costs),
    ('revenue: pnl_monthly = all invoice lines', lines.revenue, rollup.revenue),
    ('costs: pnl_monthly = all bill lines', blines.costs, rollup.costs),
    ('unallocated revenue: pnl_monthly = untracked invoice lines', lines.unallocated, rollup.unallocated_revenue),
    ('unallocated costs: pnl_monthly = untracked bill lines', blines.unallocated, rollup.unallocated_costs),
    ('outstanding: pnl_monthly = authorised amounts due', docs.outstanding, rollup.outstanding)
) AS c(check_name, expected, actual);

-- ------------------------------------------------------------------------------ privileges
-- The app imports documents with their lines; the sync writes lines; readers read them.
GRANT SELECT, INSERT, UPDATE, DELETE ON invoice_lines, bill_lines TO milestone_app, xero_sync;
GRANT SELECT ON pnl_monthly, ledger_reconciliation, invoice_line_outstanding TO milestone_app, xero_reader;
GRANT SELECT ON invoice_lines, bill_lines TO xero_reader;

SELECT refresh_pnl_monthly();
