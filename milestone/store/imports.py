"""Xero CSV imports: how a file's names find projects and phases, the documents' upsert, the log."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from milestone.errors import RowProblems
from milestone.store._sql import frame, stmt

AMBIGUOUS = "ambiguous"  # a project name that more than one project has
# party column, date column, lines table, the lines' document key
_DOC_TABLES = {
    "invoices": ("contact", "issue_date", "invoice_lines", "invoice_id"),
    "bills": ("supplier", "date", "bill_lines", "bill_id"),
}
_DOC_COMPARED = (
    "number",
    "{party}",
    "{date}",
    "due_date",
    "status",
    "doc_type",
    "line_amount_types",
    "subtotal",
    "total_tax",
    "total",
    "amount_due",
    "currency",
    "currency_rate",
    "original_subtotal",
    "original_total_tax",
    "original_total",
    "original_amount_due",
)
_LINE_COMPARED = (
    "line_number",
    "description",
    "account_code",
    "quantity",
    "unit_amount",
    "line_amount",
    "tax_amount",
    "project_id",
    "build_phase_id",
    "original_line_amount",
    "original_tax_amount",
)


def lookups(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
    """How an import finds projects (by tracking id, id, or name in any case) and build phases (id -> name)."""
    rows = conn.execute(
        stmt("imports.project_keys", "SELECT id::text AS id, name, xero_tracking_id FROM projects")
    ).all()
    phases: dict[str, str] = {
        str(i): str(n) for i, n in conn.execute(stmt("imports.phase_names", "SELECT id::text, name FROM build_phases"))
    }
    projects: dict[str, str] = {}
    for r in rows:  # names first, so an exact tracking id or id always wins over a name
        key = r.name.strip().lower()
        projects[key] = AMBIGUOUS if key in projects else r.id
    for r in rows:
        projects[r.id] = r.id
        if r.xero_tracking_id:
            projects[r.xero_tracking_id] = r.id
    return projects, phases


def create_projects(conn: Connection, projects: list[tuple[str, str, Any]], owner_id: str | None) -> dict[str, str]:
    """Create projects (name, client, start date) named by an import's tracking options, In
    Progress, owned by the person importing; returns their ids by lower-cased name.

    Imports that create projects take one lock in turn, and a name that a project has by the
    time the lock is held (another import created it meanwhile) maps to that project: two
    people importing the same new names at once get one project each, not two."""
    if not projects:
        return {}
    conn.execute(
        stmt("imports.create_projects_lock", "SELECT pg_advisory_xact_lock(hashtext('milestone.import_projects'))")
    )
    rows = conn.execute(
        stmt(
            "imports.create_projects",
            """
        WITH wanted AS (
            SELECT n, c, s FROM unnest(CAST(:names AS text[]), CAST(:clients AS text[]), CAST(:starts AS date[]))
                AS x(n, c, s)
        ), existing AS (
            SELECT DISTINCT ON (lower(btrim(p.name))) lower(btrim(p.name)) AS k, p.id
            FROM projects p JOIN wanted w ON lower(btrim(p.name)) = lower(btrim(w.n))
            ORDER BY lower(btrim(p.name)), p.created_at, p.id
        ), made AS (
            INSERT INTO projects (user_id, name, client_name, status, start_date)
            SELECT CAST(:owner AS uuid), w.n, left(w.c, 255), 'In Progress', w.s
            FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.k = lower(btrim(w.n)))
            RETURNING id, name
        )
        SELECT id::text, name FROM made
        UNION ALL
        SELECT e.id::text, w.n FROM existing e JOIN wanted w ON e.k = lower(btrim(w.n))""",
        ),
        {
            "owner": owner_id,
            "names": [p[0] for p in projects],
            "clients": [p[1] or "(no contact)" for p in projects],
            "starts": [p[2] for p in projects],
        },
    ).all()
    return {name.lower(): pid for pid, name in rows}


def create_phases(conn: Connection, names: list[str]) -> dict[str, str]:
    """Create build phases named by an import's tracking options, after the existing ones; returns
    their ids by lower-cased name."""
    if not names:
        return {}
    rows = conn.execute(
        stmt(
            "imports.create_phases",
            """
        INSERT INTO build_phases (name, display_order)
        SELECT n, (SELECT coalesce(max(display_order), 0) FROM build_phases) + k
        FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS x(n, k)
        RETURNING id::text, name""",
        ),
        {"names": names},
    ).all()
    return {name.lower(): pid for pid, name in rows}


def upsert_documents(
    conn: Connection, documents: list[dict[str, Any]], *, write: bool
) -> tuple[dict[str, int], list[dict[str, Any]], list[str]]:
    """Classify validated documents (each with its "lines") as created/updated/unchanged and,
    when `write`, upsert them: the documents, then the lines of every new document and of every
    document whose lines differ (replaced as a whole), in the caller's transaction, so the
    lines-add-up check and pnl_monthly see the finished document at commit.

    Returns the counts, up to 100 new or changed documents (for a preview), and each document's
    change (new, updated or unchanged) in the order given. Documents are
    matched by xero_id; one without (an export with no InvoiceID column) matches the one stored
    document with the same number and contact (and date, for bills), else gets
    csv_document_key(...) (sql/007), which a later sync or import with the real InvoiceID adopts.
    Only documents whose header or lines differ are written, so importing the same file twice
    changes nothing.
    """
    # the staged header columns: the compared ones, named as an import's documents name them
    cols = ("table", "xero_id", *(c.format(party="contact", date="issue_date") for c in _DOC_COMPARED))
    arrays = {c: [d[c] for d in documents] for c in cols}
    line_cols = (
        "description",
        "account_code",
        "quantity",
        "unit_amount",
        "line_amount",
        "tax_amount",
        "project_id",
        "phase_id",
        "original_line_amount",
        "original_tax_amount",
    )
    lines = {c: [x[c] for d in documents for x in d["lines"]] for c in line_cols}
    lines["doc"] = [n for n, d in enumerate(documents, start=1) for _ in d["lines"]]
    lines["line_number"] = [k for d in documents for k in range(1, len(d["lines"]) + 1)]
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    samples: list[Any] = []
    changes: list[str] = ["unchanged"] * len(documents)
    conn.execute(
        stmt(
            "imports.upsert_documents",
            """
        CREATE TEMP TABLE xero_stage ON COMMIT DROP AS
        SELECT * FROM unnest(CAST(:table AS text[]), CAST(:xero_id AS text[]), CAST(:number AS text[]),
                             CAST(:contact AS text[]), CAST(:issue_date AS date[]), CAST(:due_date AS date[]),
                             CAST(:status AS text[]), CAST(:doc_type AS text[]), CAST(:line_amount_types AS text[]),
                             CAST(:subtotal AS numeric[]), CAST(:total_tax AS numeric[]), CAST(:total AS numeric[]),
                             CAST(:amount_due AS numeric[]), CAST(:currency AS text[]),
                             CAST(:currency_rate AS numeric[]), CAST(:original_subtotal AS numeric[]),
                             CAST(:original_total_tax AS numeric[]), CAST(:original_total AS numeric[]),
                             CAST(:original_amount_due AS numeric[])) WITH ORDINALITY
             AS s(tbl, xero_id, number, party, doc_date, due_date, status, doc_type, line_amount_types, subtotal,
                  total_tax, total, amount_due, currency, currency_rate, original_subtotal, original_total_tax,
                  original_total, original_amount_due, n)""",
        ),
        arrays,
    )
    conn.execute(
        stmt(
            "imports.upsert_documents",
            """
        CREATE TEMP TABLE xero_stage_lines ON COMMIT DROP AS
        SELECT * FROM unnest(CAST(:doc AS bigint[]), CAST(:line_number AS integer[]), CAST(:description AS text[]),
                             CAST(:account_code AS text[]), CAST(:quantity AS numeric[]),
                             CAST(:unit_amount AS numeric[]), CAST(:line_amount AS numeric[]),
                             CAST(:tax_amount AS numeric[]), CAST(:project_id AS uuid[]), CAST(:phase_id AS uuid[]),
                             CAST(:original_line_amount AS numeric[]), CAST(:original_tax_amount AS numeric[]))
             AS l(n, line_number, description, account_code, quantity, unit_amount, line_amount, tax_amount,
                  project_id, build_phase_id, original_line_amount, original_tax_amount)""",
        ),
        lines,
    )
    # the classification looks up each staged document's lines: index them, and give the planner
    # the staged tables' sizes (a fresh database's tables have no statistics yet either)
    conn.execute(stmt("imports.upsert_documents", "CREATE INDEX ON xero_stage_lines (n)"))
    conn.execute(stmt("imports.upsert_documents", "ANALYZE xero_stage, xero_stage_lines"))
    adopted: list[str] = []
    for table, (party, date_col, _, _) in _DOC_TABLES.items():
        # a document first imported without its InvoiceID takes its real id now; if the real
        # one is already stored (synced before), the CSV copy goes, so nothing counts twice
        adopted += (
            conn.execute(
                stmt(
                    "imports.upsert_documents",
                    f"""
            WITH gone AS (
                DELETE FROM {table} d USING xero_stage s
                WHERE s.tbl = '{table}' AND s.xero_id IS NOT NULL
                  AND d.xero_id = csv_document_key('{table}', s.party, s.number, s.doc_date)
                  AND EXISTS (SELECT 1 FROM {table} x WHERE x.xero_id = s.xero_id))
            UPDATE {table} d SET xero_id = s.xero_id
            FROM xero_stage s
            WHERE s.tbl = '{table}' AND s.xero_id IS NOT NULL
              AND d.xero_id = csv_document_key('{table}', s.party, s.number, s.doc_date)
              AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.xero_id = s.xero_id)
            RETURNING d.xero_id""",
                )
            )
            .scalars()
            .all()
        )
        # without an InvoiceID: the one stored document it names (see csv_document_key), else that key
        same_date = f"AND d.{date_col} = s.doc_date" if table == "bills" else ""
        conn.execute(
            stmt(
                "imports.upsert_documents",
                f"""
            UPDATE xero_stage s SET xero_id = coalesce(
                (SELECT min(d.xero_id) FROM {table} d
                 WHERE d.number = s.number AND d.{party} = s.party {same_date} HAVING count(*) = 1),
                csv_document_key('{table}', s.party, s.number, s.doc_date))
            WHERE s.tbl = '{table}' AND s.xero_id IS NULL""",
            )
        )
    twice = conn.execute(
        stmt(
            "imports.upsert_documents",
            """SELECT tbl, min(number), min(party) FROM xero_stage GROUP BY tbl, xero_id
                                    HAVING count(*) > 1 ORDER BY 2 LIMIT 20""",
        )
    ).all()
    if twice:
        raise RowProblems(
            [
                f"{t}: {n} ({p}) is in the file twice, once with its InvoiceID and once without; keep one"
                for t, n, p in twice
            ]
        )
    staged_lines = ", ".join(f"sl.{c}" for c in _LINE_COMPARED)
    for table, (party, date_col, lines_table, key) in _DOC_TABLES.items():
        mine = ", ".join(f"d.{c.format(party=party, date=date_col)}" for c in _DOC_COMPARED)
        theirs = ", ".join(f"s.{c.format(party='party', date='doc_date')}" for c in _DOC_COMPARED)
        stored_lines = ", ".join(f"l.{c}" for c in _LINE_COMPARED)
        # each staged document: new, its header differs, its lines differ (as a set), or neither
        conn.execute(
            stmt(
                "imports.upsert_documents",
                f"""
            CREATE TEMP TABLE xero_classified_{table} ON COMMIT DROP AS
            SELECT s.n, s.xero_id, d.id AS doc_id,
                   d.id IS NULL OR ({mine}) IS DISTINCT FROM ({theirs}) AS header_differs,
                   d.id IS NULL OR EXISTS (
                       (SELECT {staged_lines} FROM xero_stage_lines sl WHERE sl.n = s.n
                        EXCEPT SELECT {stored_lines} FROM {lines_table} l WHERE l.{key} = d.id)
                       UNION ALL
                       (SELECT {stored_lines} FROM {lines_table} l WHERE l.{key} = d.id
                        EXCEPT SELECT {staged_lines} FROM xero_stage_lines sl WHERE sl.n = s.n)) AS lines_differ,
                   CASE WHEN d.id IS NULL THEN 'new'
                        WHEN ({mine}) IS DISTINCT FROM ({theirs}) THEN 'updated'
                        WHEN s.xero_id = ANY(CAST(:adopted AS text[])) THEN 'updated'  -- took its id
                        ELSE NULL END AS change
            FROM xero_stage s LEFT JOIN {table} d ON d.xero_id = s.xero_id WHERE s.tbl = '{table}'""",
            ),
            {"adopted": adopted},
        )
        classified = f"""
            SELECT s.*, coalesce(c.change, CASE WHEN c.lines_differ THEN 'updated' ELSE 'unchanged' END) AS change
            FROM xero_stage s JOIN xero_classified_{table} c ON c.n = s.n"""
        for n, change in conn.execute(stmt("imports.upsert_documents", f"SELECT n, change FROM ({classified}) c")):
            counts[{"new": "created", "updated": "updated", "unchanged": "unchanged"}[change]] += 1
            changes[n - 1] = change
        samples += (
            conn.execute(
                stmt(
                    "imports.upsert_documents",
                    f"""
            SELECT c.change, '{table}' AS kind, c.number, c.party, c.doc_date AS date, c.status, c.total,
                   (SELECT string_agg(DISTINCT coalesce(p.name, 'Unallocated'), '; ')
                    FROM xero_stage_lines sl LEFT JOIN projects p ON p.id = sl.project_id WHERE sl.n = c.n) AS project
            FROM ({classified}) c
            WHERE c.change <> 'unchanged' ORDER BY c.change, c.doc_date, c.number LIMIT 100""",
                )
            )
            .mappings()
            .all()
        )
        if not write:
            continue
        columns = [c.format(party=party, date=date_col) for c in _DOC_COMPARED]
        source = ", ".join(c.format(party="party", date="doc_date") for c in _DOC_COMPARED)
        excluded = ", ".join(f"EXCLUDED.{c}" for c in columns)
        conn.execute(
            stmt(
                "imports.upsert_documents",
                f"""
            INSERT INTO {table} AS d (xero_id, {", ".join(columns)})
            SELECT xero_id, {source} FROM xero_stage WHERE tbl = '{table}'
            ON CONFLICT (xero_id) DO UPDATE SET ({", ".join(columns)}, updated_at) = ({excluded}, now())
            WHERE ({mine}) IS DISTINCT FROM ({excluded})""",
            )
        )
        # the lines of new documents, and of documents whose lines differ: replaced as a whole
        conn.execute(
            stmt(
                "imports.upsert_documents",
                f"""
            DELETE FROM {lines_table} l USING xero_classified_{table} c
            WHERE c.lines_differ AND c.doc_id IS NOT NULL AND l.{key} = c.doc_id""",
            )
        )
        conn.execute(
            stmt(
                "imports.upsert_documents",
                f"""
            INSERT INTO {lines_table} ({key}, line_number, doc_date, description, account_code, quantity,
                                       unit_amount, line_amount, tax_amount, project_id, build_phase_id,
                                       original_line_amount, original_tax_amount)
            SELECT d.id, sl.line_number, d.{date_col}, sl.description, sl.account_code, sl.quantity,
                   sl.unit_amount, sl.line_amount, sl.tax_amount, sl.project_id, sl.build_phase_id,
                   sl.original_line_amount, sl.original_tax_amount
            FROM xero_classified_{table} c JOIN xero_stage_lines sl ON sl.n = c.n
            JOIN {table} d ON d.xero_id = c.xero_id
            WHERE c.lines_differ
            ORDER BY d.id, sl.line_number""",
            )
        )
    return counts, [dict(s) for s in samples[:100]], changes


def record_import(
    conn: Connection, username: str, file_name: str, sha256: str, lines: int, counts: dict[str, int]
) -> None:
    conn.execute(
        stmt(
            "imports.record_import",
            """
        INSERT INTO import_runs (username, file_name, sha256, rows_read, created, updated, unchanged, skipped,
                                 projects_created, phases_created)
        VALUES (:u, :f, :sha, :lines, :created, :updated, :unchanged, :skipped, :projects, :phases)""",
        ),
        {"u": username, "f": file_name[:255], "sha": sha256, "lines": lines, **counts},
    )


def history(conn: Connection, limit: int) -> pd.DataFrame:
    return frame(
        conn,
        "imports.history",
        """
        SELECT imported_at, username, file_name, rows_read, created, updated, unchanged, skipped,
               projects_created, phases_created
        FROM import_runs ORDER BY imported_at DESC, id DESC LIMIT :n""",
        {"n": limit},
    )
