"""Deterministic demo data at the design's scale, loaded with COPY.

Scale S: 1,000*S projects, 100,000*S invoices and bills, 20,000*S estimates over 36 months
and 200*S clients. Every document has 1-6 lines that add up to its subtotal to the penny; about
10% of bills are split across two projects, 20% of invoices across phases, and about 5% of bills
are overheads with no project on any line. The same --seed and anchor month give the same rows,
ids included.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy.engine import Connection, Engine
from tqdm import tqdm

PHASES = [  # Xero's second tracking category in a typical build
    ("Design", "#6C8EBF"),
    ("Groundworks", "#8C6D46"),
    ("Frame", "#B85450"),
    ("Roofing", "#9673A6"),
    ("Mechanical & Electrical", "#D6B656"),
    ("Fit-out", "#82B366"),
    ("Landscaping", "#4A9C6D"),
    ("Handover", "#666666"),
]
STATUSES = ["Planning", "In Progress", "Completed", "On Hold"]
DOC_STATUSES = np.array(["Paid", "Authorised", "Draft", "Submitted", "Voided"])
DOC_STATUS_P = [0.58, 0.22, 0.07, 0.05, 0.08]
_PLACES = [
    "Riverside",
    "Oakfield",
    "Hillcrest",
    "Millbrook",
    "Kingsway",
    "Elm Park",
    "Harbour",
    "Stonebridge",
    "Ashford",
    "Meadowbank",
    "Northgate",
    "Willow",
    "Brampton",
    "Castle",
]
_KINDS = [
    "Extension",
    "Loft Conversion",
    "New Build",
    "Refurbishment",
    "Office Fit-out",
    "Barn Conversion",
    "Apartments",
    "Retail Unit",
    "School Annex",
    "Warehouse",
]
_CLIENT_A = [
    "Harper",
    "Clarke",
    "Patel",
    "Nguyen",
    "Okafor",
    "Evans",
    "Walsh",
    "Murray",
    "Khan",
    "Fletcher",
    "Brennan",
    "Lloyd",
    "Hughes",
    "Sato",
    "Rossi",
    "Novak",
]
_CLIENT_B = [
    "Homes",
    "Developments",
    "& Sons",
    "Estates",
    "Properties",
    "Holdings",
    "Ltd",
    "Construction",
    "Living",
    "Partners",
]
# Demo accounts: fixed ids so owners stay stable across seeds. Passwords are random, printed once.
DEMO_USERS = [
    ("00000000-0000-4000-8000-000000000001", "admin", "admin", "Alex Admin"),
    ("00000000-0000-4000-8000-000000000002", "finance", "finance", "Fran Finance"),
    ("00000000-0000-4000-8000-000000000003", "viewer", "viewer", "Val Viewer"),
    ("00000000-0000-4000-8000-000000000004", "priya", "finance", "Priya Shah"),
]
_LINE_TEXT = {
    "invoices": [
        "Stage payment",
        "Variation",
        "Retention release",
        "Design fee",
        "Materials recharge",
        "Labour",
        "Preliminaries",
    ],
    "bills": [
        "Timber",
        "Concrete",
        "Plant hire",
        "Scaffolding",
        "Subcontract labour",
        "Electrical supplies",
        "Plumbing supplies",
        "Skip hire",
        "Fixings",
    ],
    "overheads": ["Office rent", "Software subscription", "Insurance", "Accountancy fees", "Vehicle lease"],
}
_ACCOUNTS = {"invoices": ["200", "260"], "bills": ["310", "320", "325"], "overheads": ["469", "485", "433", "489"]}
_SUPPLIERS = [
    "Travis Perkins",
    "Jewson",
    "Selco",
    "Screwfix",
    "HSS Hire",
    "Speedy Hire",
    "Wickes Trade",
    "Howdens",
    "CEF Electrical",
    "Plumb Center",
    "Topps Tiles",
    "Ibstock",
    "Marshalls",
    "Hanson Concrete",
    "local subcontractor",
]


@dataclass(frozen=True)
class Counts:
    projects: int
    clients: int
    invoices: int
    bills: int
    estimates: int

    @classmethod
    def for_scale(cls, scale: float) -> Counts:
        return cls(
            projects=max(8, round(1000 * scale)),
            clients=max(4, round(200 * scale)),
            invoices=max(60, round(100_000 * scale)),
            bills=max(60, round(100_000 * scale)),
            estimates=max(20, round(20_000 * scale)),
        )


_NONE = np.array(None, dtype=object)  # "no value" in np.where, typed as an array


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    return [str(uuid.UUID(bytes=bytes(r), version=4)) for r in raw]


def _money(values: np.ndarray) -> np.ndarray:
    return np.round(values, 2)


def generate(
    scale: float, seed: int, anchor: date, now: datetime | None = None, practice_scale: float | None = None
) -> dict[str, pd.DataFrame]:
    """Build every table as a DataFrame (pure; no I/O). `anchor` is 'today' for the data;
    `now` (default: 09:00 on the anchor day) is when the latest sync ran. `practice_scale`
    (default `scale`) sets the projects and clients apart from the ledger: the benchmarks use it
    to grow the ledger alone."""
    rng = np.random.default_rng(seed)
    c = Counts.for_scale(scale)
    if practice_scale is not None:
        practice = Counts.for_scale(practice_scale)
        c = replace(c, projects=practice.projects, clients=practice.clients)
    start = (pd.Timestamp(anchor) - pd.DateOffset(months=36)).date()
    span_days = (anchor - start).days

    phases = pd.DataFrame(
        {
            "id": _uuids(rng, len(PHASES)),
            "name": [p[0] for p in PHASES],
            "display_order": range(1, len(PHASES) + 1),
            "colour": [p[1] for p in PHASES],
            "active": True,
        }
    )

    clients = [
        f"{_CLIENT_A[i % len(_CLIENT_A)]} {_CLIENT_B[(i // len(_CLIENT_A)) % len(_CLIENT_B)]}"
        + (f" {i // (len(_CLIENT_A) * len(_CLIENT_B)) + 1}" if i >= len(_CLIENT_A) * len(_CLIENT_B) else "")
        for i in range(c.clients)
    ]
    n = c.projects
    p_start = rng.integers(0, span_days - 60, size=n)
    p_len = rng.integers(60, 540, size=n)
    budget_rev = _money(rng.lognormal(mean=11.5, sigma=0.8, size=n))
    # ~15% of projects overrun so badly they lose money; the rest earn 5-35%.
    cost_ratio = np.where(rng.random(n) < 0.15, rng.uniform(1.05, 1.4, n), rng.uniform(0.65, 0.95, n))
    budget_cost = _money(budget_rev * rng.uniform(0.6, 0.9, n))
    no_budget = rng.random(n) < 0.08
    projects = pd.DataFrame(
        {
            "id": _uuids(rng, n),
            "name": [
                f"{_PLACES[rng.integers(len(_PLACES))]} {_KINDS[rng.integers(len(_KINDS))]} #{i + 1}" for i in range(n)
            ],
            "client_name": [clients[k] for k in rng.integers(0, c.clients, size=n)],
            "status": rng.choice(STATUSES, size=n, p=[0.15, 0.45, 0.3, 0.1]),
            "start_date": [start + timedelta(days=int(d)) for d in p_start],
            "end_date": [start + timedelta(days=int(d + n)) for d, n in zip(p_start, p_len, strict=True)],
            "budget_revenue": np.where(no_budget, np.nan, budget_rev),
            "budget_cost": np.where(no_budget, np.nan, budget_cost),
            "xero_tracking_id": [f"TRK-{seed}-{i + 1:06d}" for i in range(n)],
            "user_id": rng.choice([u[0] for u in DEMO_USERS if u[2] != "viewer"], size=n),
        }
    )
    # Every tenth-ish project has no revenue yet: no invoices at all.
    has_revenue = rng.random(n) >= 0.04
    weights = rng.gamma(2.0, 1.0, n)

    def documents(count: int, prefix: str, project_weights: np.ndarray, ratio: np.ndarray) -> pd.DataFrame:
        proj = rng.choice(n, size=count, p=project_weights / project_weights.sum())
        # spread over the part of the project that has happened by the anchor date
        elapsed = np.minimum(p_len[proj], span_days - 1 - p_start[proj])
        offset = p_start[proj] + (rng.random(count) * elapsed).astype(int)
        issue = pd.to_datetime(start) + pd.to_timedelta(offset, unit="D")
        # documents share their project's money budget: revenue per document ~ budget / count
        per_doc = budget_rev[proj] / np.maximum(np.bincount(proj, minlength=n)[proj], 1)
        subtotal = _money(per_doc * ratio[proj] * rng.uniform(0.5, 1.5, count))
        subtotal = np.maximum(subtotal, 1.0)
        credit = rng.random(count) < 0.04
        subtotal = np.where(credit, _money(subtotal * rng.uniform(0.05, 0.3, count)), subtotal)
        status = rng.choice(DOC_STATUSES, size=count, p=DOC_STATUS_P)
        # Most documents older than four months have been paid; a few stay overdue.
        old = offset < span_days - 120
        status = np.where(old & (status == "Authorised") & (rng.random(count) < 0.93), "Paid", status)
        tax = _money(subtotal * 0.2)
        total = _money(subtotal + tax)
        part_paid = rng.random(count) < 0.2
        due = np.where(status == "Paid", 0.0, np.where(status == "Voided", 0.0, total))
        due = np.where((status == "Authorised") & part_paid, _money(total * 0.5), due)
        phase = np.where(rng.random(count) < 0.1, _NONE, np.array(phases["id"])[rng.integers(0, len(PHASES), count)])
        return pd.DataFrame(
            {
                "id": _uuids(rng, count),
                "project_id": np.array(projects["id"])[proj],
                "build_phase_id": phase,
                "xero_id": [f"{prefix}-{seed}-{i + 1:07d}" for i in range(count)],
                "number": [f"{prefix}-{i + 1:06d}" for i in range(count)],
                "date": issue.date,
                "due_date": (issue + pd.Timedelta(days=30)).date,
                "status": status,
                "credit": credit,
                "subtotal": subtotal,
                "total_tax": tax,
                "total": total,
                "amount_due": due,
                "currency": "GBP",
                "_proj": proj,
            }
        )

    project_ids = np.array(projects["id"], dtype=object)
    phase_ids = np.array(phases["id"], dtype=object)
    inv = documents(c.invoices, "INV", np.where(has_revenue, weights, 0.0), np.ones(n))
    inv["contact"] = np.array(projects["client_name"])[inv.pop("_proj")]
    inv["doc_type"] = np.where(inv.pop("credit"), "credit_note", "invoice")
    inv = inv.rename(columns={"date": "issue_date"})
    inv_lines = _lines(
        rng,
        inv,
        "invoice_id",
        "issue_date",
        "invoices",
        project_ids,
        phase_ids,
        split_projects=0.0,
        split_phases=0.2,
        overheads=0.0,
    )
    bills = documents(c.bills, "BILL", weights, cost_ratio)
    bills.pop("_proj")
    bills["supplier"] = rng.choice(_SUPPLIERS, size=len(bills))
    bills["doc_type"] = np.where(bills.pop("credit"), "credit_note", "bill")
    bill_lines = _lines(
        rng,
        bills,
        "bill_id",
        "date",
        "bills",
        project_ids,
        phase_ids,
        split_projects=0.1,
        split_phases=0.0,
        overheads=0.05,
    )
    inv = inv.drop(columns=["project_id", "build_phase_id"])
    bills = bills.drop(columns=["project_id", "build_phase_id"])

    m = c.estimates
    est_proj = rng.choice(n, size=m, p=weights / weights.sum())
    kind = np.where(rng.random(m) < 0.5, "revenue", "cost")
    est_days = rng.integers(-60, 365, size=m)
    estimates = pd.DataFrame(
        {
            "id": _uuids(rng, m),
            "project_id": np.array(projects["id"])[est_proj],
            "build_phase_id": np.where(
                rng.random(m) < 0.15, _NONE, np.array(phases["id"])[rng.integers(0, len(PHASES), m)]
            ),
            "kind": kind,
            "description": [
                f"{'Stage payment' if k == 'revenue' else 'Expected cost'}: {PHASES[int(i)][0]}"
                for k, i in zip(kind, rng.integers(0, len(PHASES), m), strict=True)
            ],
            "amount": np.maximum(_money(budget_rev[est_proj] * rng.uniform(0.01, 0.08, m)), 1.0),
            "date": [anchor + timedelta(days=int(d)) for d in est_days],
            "created_by": "finance",
            "updated_by": "finance",
        }
    )

    # A sync every 4 hours for 30 days; a few failed, the latest one completed 20 minutes ago.
    now = now or datetime.combine(anchor, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    k = 180
    started = [now - timedelta(hours=4 * i, minutes=20) for i in range(k)]
    failed = rng.random(k) < 0.04
    failed[0] = False
    sync_runs = pd.DataFrame(
        {
            "id": _uuids(rng, k),
            "started_at": started,
            "finished_at": [
                s + timedelta(seconds=int(x)) for s, x in zip(started, rng.integers(20, 300, k), strict=True)
            ],
            "status": np.where(failed, "FAILED", "COMPLETED"),
            "rows_created": rng.integers(0, 200, k),
            "rows_updated": rng.integers(0, 500, k),
            "rows_failed": np.where(failed, rng.integers(1, 20, k), 0),
            "error": np.where(failed, "Xero API rate limit exceeded (HTTP 429)", _NONE),
        }
    )
    return {
        "build_phases": phases,
        "projects": projects,
        "invoices": inv,
        "invoice_lines": inv_lines,
        "bills": bills,
        "bill_lines": bill_lines,
        "estimates": estimates,
        "sync_runs": sync_runs,
    }


def _lines(
    rng: np.random.Generator,
    docs: pd.DataFrame,
    doc_col: str,
    date_col: str,
    kind: str,
    project_ids: np.ndarray,
    phase_ids: np.ndarray,
    *,
    split_projects: float,
    split_phases: float,
    overheads: float,
) -> pd.DataFrame:
    """1-6 lines per document adding up to its subtotal (and tax) to the penny, vectorised.

    Each line takes a random share of the document's pence (floors of the shares, the pence left
    over on the last line). `split_projects` of the documents with two or more lines put their
    second half on another project; `split_phases` give each line its own phase; `overheads` of
    the documents have no project on any line."""
    count = len(docs)
    n_lines = rng.choice(np.arange(1, 7), size=count, p=[0.35, 0.25, 0.16, 0.11, 0.08, 0.05])
    doc = np.repeat(np.arange(count), n_lines)
    first = np.cumsum(n_lines) - n_lines  # index of each document's first line
    number = np.arange(len(doc)) - first[doc] + 1
    last = number == n_lines[doc]

    def split(total_pence: np.ndarray, weight: np.ndarray) -> np.ndarray:
        wsum = np.bincount(doc, weights=weight, minlength=count)
        part = np.floor(total_pence[doc] * (weight / wsum[doc])).astype(np.int64)
        short = total_pence - np.bincount(doc, weights=part, minlength=count).astype(np.int64)
        return part + np.where(last, short[doc], 0)

    sub_pence = np.round(docs["subtotal"].to_numpy(dtype=float) * 100).astype(np.int64)
    tax_pence = np.round(docs["total_tax"].to_numpy(dtype=float) * 100).astype(np.int64)
    amount = split(sub_pence, rng.uniform(0.2, 1.0, len(doc)))
    tax = split(tax_pence, amount.astype(float) + 1.0)

    project = np.asarray(docs["project_id"], dtype=object)[doc]
    multi = n_lines >= 2
    moved = (multi & (rng.random(count) < split_projects / max(multi.mean(), 1e-9)))[doc] & (
        number > (n_lines[doc] + 1) // 2
    )
    project = np.where(moved, project_ids[rng.integers(0, len(project_ids), len(doc))], project)
    overhead = (rng.random(count) < overheads)[doc]
    project = np.where(overhead, _NONE, project)
    phase = np.asarray(docs["build_phase_id"], dtype=object)[doc]
    per_line = (multi & (rng.random(count) < split_phases / max(multi.mean(), 1e-9)))[doc]
    phase = np.where(per_line, phase_ids[rng.integers(0, len(phase_ids), len(doc))], phase)
    phase = np.where(overhead, _NONE, phase)
    words = np.array(_LINE_TEXT[kind], dtype=object)
    oh_words = np.array(_LINE_TEXT["overheads"], dtype=object)
    texts = np.where(
        overhead, oh_words[rng.integers(0, len(oh_words), len(doc))], words[rng.integers(0, len(words), len(doc))]
    )
    accounts = np.where(
        overhead,
        np.array(_ACCOUNTS["overheads"])[rng.integers(0, 4, len(doc))],
        np.array(_ACCOUNTS[kind])[rng.integers(0, len(_ACCOUNTS[kind]), len(doc))],
    )
    money = amount / 100
    return pd.DataFrame(
        {
            doc_col: np.asarray(docs["id"], dtype=object)[doc],
            "line_number": number,
            "doc_date": np.asarray(docs[date_col])[doc],
            "description": texts,
            "account_code": accounts,
            "quantity": 1,
            "unit_amount": money,
            "line_amount": money,
            "tax_amount": tax / 100,
            "project_id": project,
            "build_phase_id": phase,
        }
    )


# a line's columns after its document's id, the same for invoice and bill lines
_LINE_COLUMNS = [
    "line_number",
    "doc_date",
    "description",
    "account_code",
    "quantity",
    "unit_amount",
    "line_amount",
    "tax_amount",
    "project_id",
    "build_phase_id",
]
COLUMNS = {
    "build_phases": ["id", "name", "display_order", "colour", "active"],
    "projects": [
        "id",
        "user_id",
        "name",
        "client_name",
        "status",
        "start_date",
        "end_date",
        "budget_revenue",
        "budget_cost",
        "xero_tracking_id",
    ],
    "invoices": [
        "id",
        "xero_id",
        "number",
        "contact",
        "issue_date",
        "due_date",
        "status",
        "doc_type",
        "subtotal",
        "total_tax",
        "total",
        "amount_due",
        "currency",
    ],
    "invoice_lines": ["invoice_id", *_LINE_COLUMNS],
    "bills": [
        "id",
        "xero_id",
        "number",
        "supplier",
        "date",
        "due_date",
        "status",
        "doc_type",
        "subtotal",
        "total_tax",
        "total",
        "amount_due",
        "currency",
    ],
    "bill_lines": ["bill_id", *_LINE_COLUMNS],
    "estimates": [
        "id",
        "project_id",
        "build_phase_id",
        "kind",
        "description",
        "amount",
        "date",
        "created_by",
        "updated_by",
    ],
    "sync_runs": ["id", "started_at", "finished_at", "status", "rows_created", "rows_updated", "rows_failed", "error"],
}
_CHUNK = 50_000
# The rollup's insert triggers, off while loading: one recount at the end instead.
_ROLLUP_TRIGGERS = {
    "invoice_lines": "invoice_lines_pnl_ins",
    "bill_lines": "bill_lines_pnl_ins",
    "estimates": "estimates_pnl_ins",
}


def _one(cur: psycopg.Cursor[Any]) -> Any:
    """The single value a one-row query returns."""
    row = cur.fetchone()
    assert row is not None
    return row[0]


def _raw(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy one, for COPY (the bulk load's fast path)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def ensure_demo_users(engine: Engine) -> dict[str, str]:
    """Create the demo accounts if no user exists yet; return {username: initial password}."""
    from milestone.auth import generate_password, hash_password

    created: dict[str, str] = {}
    with engine.begin() as conn:
        raw = _raw(conn)
        if _one(raw.execute("SELECT count(*) FROM milestone.app_users")):
            return created
        raw.execute("SELECT set_config('app.current_user_id', 'seed', true)")
        for uid, username, role, name in DEMO_USERS:
            password = generate_password()
            raw.execute(
                "INSERT INTO milestone.app_users (id, username, display_name, role, password_hash)"
                " VALUES (%s, %s, %s, %s, %s)",
                (uid, username, name, role, hash_password(password)),
            )
            created[username] = password
    return created


def load(
    engine: Engine,
    scale: float,
    seed: int,
    anchor: date | None = None,
    progress: bool = True,
    practice_scale: float | None = None,
) -> dict[str, int]:
    """Generate and COPY the demo data into an empty database in one transaction.

    Project owners are the demo accounts, so call ensure_demo_users first."""
    now = None if anchor else datetime.now(UTC)  # the demo's last sync: 20 minutes ago
    anchor = anchor or date.today()
    frames = generate(scale, seed, anchor, now, practice_scale)
    total = sum(len(f) for f in frames.values())
    counts: dict[str, int] = {}
    with engine.begin() as conn, tqdm(total=total, unit="rows", desc="seed", disable=not progress) as bar:
        raw = _raw(conn)
        raw.execute("SELECT set_config('app.current_user_id', 'seed', true)")
        with raw.cursor() as cur:
            cur.execute("SELECT count(*) FROM milestone.projects")
            if _one(cur):
                raise RuntimeError("the database already has projects; seed only fills an empty one")
            # One recount at the end instead of one per COPY chunk (which grows quadratically).
            # A superuser can also skip the per-row foreign-key checks and audit rows: the
            # generator's references are consistent by construction, and seeding is no one's edit.
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            fast = bool(_one(cur))
            if fast:
                cur.execute("SET LOCAL session_replication_role = replica")
            for t, trigger in _ROLLUP_TRIGGERS.items():
                cur.execute(f"ALTER TABLE milestone.{t} DISABLE TRIGGER {trigger}")
            # Indexes are built once after the COPY (a sort each) instead of row by row: the
            # documents' secondary indexes and the lines' primary keys go and come back, by name.
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute("SET LOCAL statement_timeout = 0")  # the final recount is one long statement at scale 10
            cur.execute("SET LOCAL work_mem = '128MB'")
            cur.execute("""
                SELECT format('DROP INDEX milestone.%I', i.indexname), i.indexdef
                FROM pg_indexes i
                WHERE i.schemaname = 'milestone'
                  AND i.tablename = ANY (ARRAY['invoices', 'invoice_lines', 'bills', 'bill_lines'])
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                  WHERE c.conindid = format('milestone.%I', i.indexname)::regclass)
                UNION ALL
                SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
                       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                              pg_get_constraintdef(c.oid))
                FROM pg_constraint c
                WHERE c.contype = 'p' AND c.conrelid IN ('milestone.invoice_lines'::regclass,
                                                        'milestone.bill_lines'::regclass)""")
            rebuild = cur.fetchall()
            for drop, _ in rebuild:
                cur.execute(drop)
            for table, cols in COLUMNS.items():
                frame = frames[table][cols]
                for lo in range(0, len(frame), _CHUNK):
                    buf = io.StringIO()
                    frame.iloc[lo : lo + _CHUNK].to_csv(buf, index=False, header=False, na_rep="\\N")
                    with cur.copy(
                        f"COPY milestone.{table} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
                    ) as copy:
                        copy.write(buf.getvalue())
                    bar.update(min(_CHUNK, len(frame) - lo))
                counts[table] = len(frame)
            for _, create in rebuild:
                cur.execute(create)
            for t, trigger in _ROLLUP_TRIGGERS.items():
                cur.execute(f"ALTER TABLE milestone.{t} ENABLE TRIGGER {trigger}")
            if fast:
                cur.execute("SET LOCAL session_replication_role = origin")
                # project_metrics rows come from the projects insert trigger, skipped above
                cur.execute(
                    "INSERT INTO milestone.project_metrics (project_id) SELECT id FROM milestone.projects"
                    " ON CONFLICT DO NOTHING"
                )
            cur.execute("SELECT milestone.refresh_pnl_monthly()")
            # fresh statistics so the first dashboard query plans well
            cur.execute(
                "ANALYZE milestone.projects, milestone.invoices, milestone.invoice_lines, milestone.bills,"
                " milestone.bill_lines, milestone.estimates, milestone.pnl_monthly"
            )
    return counts
