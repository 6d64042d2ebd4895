"""Generated bad input (hypothesis, derandomised) through the services, on a real PostgreSQL.

Every case goes the way the app takes it: the page's model validates, then the service writes in
one transaction. It ends either stored exactly as given (read back and compared field by field)
or refused with a message that names the field (row and column for grids and files), with
nothing written (the tables' fingerprints and the audit log are unchanged). Never another
exception. The pure half of each model is tests/unit/test_input_properties.py.
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from milestone import seed
from milestone.errors import Conflict, MilestoneError, RowProblems
from milestone.services import estimates, imports, preferences, projects, users
from milestone.validation import (
    ESTIMATE_LABELS,
    PROJECT_LABELS,
    PROJECT_STATUSES,
    USER_LABELS,
    EstimateChanges,
    NewUser,
    ProjectInput,
    describe_errors,
    estimate_row,
)
from tests import builders
from tests.strategies import PAYLOADS, amounts, any_dates, hostile_text, maybe

CASES = settings(
    derandomize=True,
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
_n = itertools.count(1)


@pytest.fixture(scope="module")
def ctx(database):
    seed.ensure_demo_users(database.owner)
    p = [builders.project(database, f"Gen {i}", client=f"Client {i}", xero_tracking_id=f"TRK-{i}") for i in range(3)]
    ph = [builders.phase(database, f"Gen phase {i}") for i in range(2)]
    return {
        "db": database,
        "projects": p,
        "phases": ph,
        "finance": users.get_user("finance"),
        "admin": users.get_user("admin"),
    }


def fingerprint(tdb, tables: tuple[str, ...]) -> tuple:
    """Row count and a checksum of every row of each table: equal means nothing was written."""
    with tdb.owner.connect() as conn:
        return tuple(
            tuple(
                conn.execute(
                    sa.text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                        f"FROM milestone.{t} t"
                    )
                ).one()
            )
            for t in tables
        )


def _names_fields(lines: list[str], labels: set[str]) -> None:
    assert lines and all(any(line.startswith(label) for label in labels) for line in lines), lines


# ----------------------------------------------------------------------------- projects


@CASES
@given(
    name=hostile_text(300),
    client=hostile_text(300),
    status=st.one_of(st.sampled_from(PROJECT_STATUSES), hostile_text(12)),
    start=maybe(any_dates()),
    end=maybe(any_dates()),
    budget=maybe(amounts()),
)
def test_a_project_is_stored_as_typed_or_refused_with_nothing_written(ctx, name, client, status, start, end, budget):
    tdb = ctx["db"]
    values = {
        "name": name,
        "client_name": client,
        "status": status,
        "start_date": start,
        "end_date": end,
        "budget_revenue": budget,
        "budget_cost": budget,
    }
    before = fingerprint(tdb, ("projects", "audit_log"))
    try:
        model = ProjectInput.model_validate(values)
    except ValidationError as exc:
        _names_fields(describe_errors(exc, PROJECT_LABELS), set(PROJECT_LABELS.values()))
        assert fingerprint(tdb, ("projects", "audit_log")) == before
        return
    new_id = projects.create_project(ctx["finance"], model.model_dump())
    row = tdb.rows("SELECT * FROM milestone.projects WHERE id = :i", i=new_id)[0]
    assert {k: row[k] for k in model.model_dump()} == model.model_dump()
    assert row["name"] in name and row["client_name"] in client  # as typed, less the spaces around it
    assert (
        tdb.scalar("SELECT count(*) FROM milestone.audit_log WHERE table_name = 'projects' AND row_id = :i", i=new_id)
        == 1
    )


# ----------------------------------------------------------------------------- estimates


def _estimate_values(ctx, draw_project, kind, phase, description, amount, when):
    return {
        "project_id": ctx["projects"][draw_project] if draw_project < 3 else str(uuid.uuid4()),
        "kind": kind,
        "build_phase_id": ctx["phases"][phase] if phase is not None and phase < 2 else None,
        "description": description,
        "amount": amount,
        "date": when,
    }


good_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999999.99"), places=2)
clean_estimate_fields = st.tuples(
    st.integers(0, 2),
    st.sampled_from(["revenue", "cost"]),
    maybe(st.integers(0, 1)),
    st.one_of(
        st.sampled_from([p for p in PAYLOADS if p.strip() and "\x00" not in p and len(p) <= 500]),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40).filter(str.strip),
    ),
    good_amounts,
    any_dates(),
)
raw_estimate_fields = st.tuples(
    st.sampled_from([0, 1, 2, 0, 1, 2, 3]),  # 3: a project id that does not exist
    st.one_of(st.sampled_from(["revenue", "cost"]), st.sampled_from(["revenue", "cost"]), hostile_text(8)),
    maybe(st.integers(0, 1)),
    st.one_of(st.sampled_from(PAYLOADS), st.text(min_size=1, max_size=40), hostile_text(520)),
    st.one_of(good_amounts, good_amounts, amounts()),
    st.one_of(any_dates(), any_dates(), st.sampled_from(["", None, "2026-02-30"])),
)
estimate_fields = st.one_of(clean_estimate_fields, clean_estimate_fields, clean_estimate_fields, raw_estimate_fields)


@CASES
@given(
    inserts=st.lists(estimate_fields, min_size=0, max_size=4),
    updates=st.lists(st.tuples(st.integers(0, 1000), st.booleans(), estimate_fields), max_size=3),
    deletes=st.lists(st.tuples(st.integers(0, 1000), st.booleans()), max_size=2),
)
def test_an_estimates_batch_is_stored_whole_as_typed_or_refused_whole(ctx, inserts, updates, deletes):
    tdb = ctx["db"]
    existing = tdb.rows(
        "SELECT id::text AS id, version, project_id::text AS project_id, build_phase_id::text AS build_phase_id,"
        " kind, description, amount, date FROM milestone.estimates ORDER BY id"
    )
    current = {r["id"]: r for r in existing}
    changes, problems = EstimateChanges(), []
    for i, fields in enumerate(inserts, start=1):
        row, p = estimate_row(_estimate_values(ctx, *fields), f"New row {i}")
        problems += p
        if row:
            changes.inserts.append((str(uuid.uuid4()), row))
    touched = set()
    for i, (pick, stale, fields) in enumerate(updates, start=1):
        if not existing:
            break
        target = existing[pick % len(existing)]
        if target["id"] in touched:
            continue
        touched.add(target["id"])
        row, p = estimate_row(_estimate_values(ctx, *fields), f"Row {i}")
        problems += p
        if row:
            changes.updates.append((target["id"], target["version"] - (1 if stale else 0), row))
    for pick, stale in deletes:
        if existing and (target := existing[pick % len(existing)])["id"] not in touched:
            touched.add(target["id"])
            changes.deletes.append((target["id"], target["version"] + (1 if stale else 0)))
    tables = ("estimates", "pnl_monthly", "project_metrics", "audit_log")
    before = fingerprint(tdb, tables)
    if problems:  # the page shows these and calls no service
        labels = {
            f"{w} {i}, {label}" for w in ("New row", "Row") for i in range(1, 6) for label in ESTIMATE_LABELS.values()
        }
        _names_fields(problems, labels)
        event("refused by the model")
        return
    audit_before = tdb.scalar("SELECT count(*) FROM milestone.audit_log WHERE table_name = 'estimates'")
    try:
        estimates.save_estimate_changes(changes, ctx["finance"])
    except (Conflict, RowProblems) as exc:
        event("refused by the service")
        assert str(exc)
        assert fingerprint(tdb, tables) == before
        return
    event("stored")
    for est_id, _, row in changes.updates:
        stored = tdb.rows("SELECT * FROM milestone.estimates WHERE id = :i", i=est_id)[0]
        _same(stored, row)
    for est_id, row in changes.inserts:
        stored = tdb.rows("SELECT * FROM milestone.estimates WHERE id = :i", i=est_id)
        assert stored, "an accepted insert is stored"
        _same(stored[0], row)
    for est_id, _ in changes.deletes:
        assert not tdb.rows("SELECT 1 FROM milestone.estimates WHERE id = :i", i=est_id)
    audit_after = tdb.scalar("SELECT count(*) FROM milestone.audit_log WHERE table_name = 'estimates'")
    unchanged = sum(  # an update to the values a row already has changes nothing, so it is not audited
        1
        for est_id, _, row in changes.updates
        if all(
            current[est_id][k] == getattr(row, k)
            for k in ("project_id", "build_phase_id", "kind", "description", "amount", "date")
        )
    )
    assert audit_after - audit_before == changes.count - unchanged


def _same(stored, row) -> None:
    assert stored["description"] == row.description  # exactly as typed
    assert (str(stored["project_id"]), stored["kind"], stored["amount"], stored["date"]) == (
        row.project_id,
        row.kind,
        row.amount,
        row.date,
    )
    assert (str(stored["build_phase_id"]) if stored["build_phase_id"] else None) == row.build_phase_id


# ----------------------------------------------------------------------------- users and saved views

_HASH = "$2b$12$" + "a" * 53  # never checked here: adding a user stores the hash it is given


@CASES
@given(
    username=st.one_of(st.from_regex(r"\A[a-z0-9._-]{2,20}\Z"), hostile_text(70)),
    display=hostile_text(300),
    email=st.one_of(st.none(), st.just(""), st.emails().map(str), hostile_text(40)),
    role=st.one_of(st.sampled_from(["admin", "finance", "viewer"]), hostile_text(8)),
)
def test_a_user_is_stored_as_typed_or_refused_with_nothing_written(ctx, username, display, email, role):
    tdb = ctx["db"]
    before = fingerprint(tdb, ("app_users",))
    try:
        u = NewUser.model_validate({"username": username, "display_name": display, "email": email, "role": role})
    except ValidationError as exc:
        _names_fields(describe_errors(exc, USER_LABELS), set(USER_LABELS.values()))
        assert fingerprint(tdb, ("app_users",)) == before
        return
    name = f"{u.username[:50]}.{next(_n)}"  # unique: hypothesis may give the same name twice
    users.add_user(ctx["admin"], name, u.display_name, u.role, _HASH, email=u.email)
    row = tdb.rows("SELECT * FROM milestone.app_users WHERE username = :u", u=name)[0]
    assert (row["display_name"], row["email"], row["role"]) == (u.display_name, u.email, u.role)


@CASES
@given(
    name=hostile_text(80),
    params=st.dictionaries(
        st.sampled_from(["period", "from", "to", "client", "status", "phase", "owner", "fav"]),
        st.one_of(hostile_text(30), st.lists(hostile_text(30), max_size=3)),
        max_size=5,
    ),
    default=st.booleans(),
)
def test_a_saved_view_is_stored_as_given_or_refused_naming_the_field(ctx, name, params, default):
    tdb, user = ctx["db"], ctx["finance"]
    before = fingerprint(tdb, ("user_preferences",))
    try:
        preferences.save_view(user, name, params, default)
    except RowProblems as exc:
        _names_fields(exc.problems, {"View name", "Filters"})
        assert fingerprint(tdb, ("user_preferences",)) == before
        return
    prefs = preferences.preferences(user.id)
    assert prefs.saved_views[name.strip()] == params
    assert (prefs.default_view == name.strip()) if default else True


def test_a_favourite_that_is_no_project_id_is_refused_plainly(ctx):
    user = ctx["finance"]
    for bad in ("not-a-uuid", "'; DROP TABLE milestone.projects; --", "a\x00b", ""):
        with pytest.raises(RowProblems, match="Project"):
            preferences.set_favourite(user, bad, True)
    preferences.set_favourite(user, ctx["projects"][0], True)
    assert ctx["projects"][0] in preferences.preferences(user.id).favourite_projects


# ----------------------------------------------------------------------------- Xero CSV files

HEADER = [
    "ContactName",
    "InvoiceNumber",
    "InvoiceDate",
    "DueDate",
    "Total",
    "TaxTotal",
    "InvoiceAmountDue",
    "Description",
    "LineAmount",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "Currency",
    "Type",
    "Status",
]
DATE_FORMS = ("%Y-%m-%d", "%d/%m/%Y", "%d %b %Y", "%m/%d/%Y", "%Y%m%d")

money_text = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    st.sampled_from(["", "abc", "1,200.00", "£5", "-10.00", "NaN", "Infinity", "1e400", "0.001", " 12 "]),
)
doc = st.fixed_dictionaries(
    {
        "contact": st.one_of(st.sampled_from(["Acme Ltd", "Büro GmbH"]), hostile_text(60)),
        "number": st.one_of(st.just("INV"), hostile_text(20)),
        "date": st.one_of(
            st.tuples(st.dates(date(2000, 1, 1), date(2030, 12, 31)), st.sampled_from(DATE_FORMS)), hostile_text(12)
        ),
        "subtotal": st.one_of(st.integers(0, 10**7), money_text),
        "tax_pct": st.sampled_from([0, 20, 5]),
        "status": st.one_of(
            st.sampled_from(["AUTHORISED", "PAID", "DRAFT", "VOIDED", "Awaiting Payment"]), hostile_text(10)
        ),
        "type": st.one_of(
            st.sampled_from(["Sales invoice", "Bill", "ACCREC", "ACCPAY", "Sales credit note"]), hostile_text(10)
        ),
        "project": st.sampled_from(["TRK-0", "TRK-1", "", "Gen 2", "TRK-missing"]),
        "description": st.one_of(
            hostile_text(100), st.text(min_size=5000, max_size=6000), st.just('a\nb\r\nc, "quoted"')
        ),
        "currency": st.sampled_from(["GBP", "GBP", "", "USD", "gbp"]),
        "lines": st.integers(1, 3),
    }
)
clean_doc = st.fixed_dictionaries(
    {
        "contact": st.sampled_from([p for p in PAYLOADS if p.strip() and "\x00" not in p and len(p) <= 255]),
        "number": st.sampled_from(["INV", "=1+1", "<b>x</b>", "O'Brien"]),
        "date": st.tuples(st.dates(date(2000, 1, 1), date(2030, 12, 31)), st.sampled_from(DATE_FORMS[:3])),
        "subtotal": st.integers(0, 10**7),
        "tax_pct": st.sampled_from([0, 20, 5]),
        "status": st.sampled_from(["AUTHORISED", "PAID", "DRAFT", "VOIDED", "Awaiting Payment"]),
        "type": st.sampled_from(["Sales invoice", "Bill", "ACCREC", "ACCPAY", "Sales credit note"]),
        "project": st.sampled_from(["TRK-0", "TRK-1", "", "Gen 2"]),
        "description": st.one_of(
            st.sampled_from([p for p in PAYLOADS if "\x00" not in p]), st.just('a\nb\r\nc, "quoted"')
        ),
        "currency": st.sampled_from(["GBP", "", "gbp"]),
        "lines": st.integers(1, 3),
    }
)
clean_file = st.fixed_dictionaries(
    {
        "docs": st.lists(clean_doc, min_size=1, max_size=4),
        "drop": st.just(set()),
        "junk_columns": st.lists(st.sampled_from(["Reference", "Sent", "Notes"]), max_size=2, unique=True),
        "shuffle": st.randoms(use_true_random=False),
        "encoding": st.sampled_from(["utf-8-sig", "utf-8"]),
        "quoting": st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
        "newline": st.sampled_from(["\r\n", "\n"]),
        "tail": st.sampled_from(["", "\n\n\n", ",,,,\n"]),
    }
)
raw_file = st.fixed_dictionaries(
    {
        "docs": st.lists(doc, min_size=0, max_size=4),
        "drop": st.sets(st.sampled_from(HEADER), max_size=2),
        "junk_columns": st.lists(hostile_text(12), max_size=2),
        "shuffle": st.randoms(use_true_random=False),
        "encoding": st.sampled_from(["utf-8-sig", "utf-8", "utf-8", "latin-1", "utf-16", "cp1252"]),
        "quoting": st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
        "newline": st.sampled_from(["\r\n", "\n", "\r"]),
        "tail": st.sampled_from(["", "", "\n\n\n", ",,,,\n", "\x00", '"unclosed', "\ufeffagain"]),
    }
)
csv_file = st.one_of(clean_file, raw_file, raw_file)


def render_file(spec: dict, case: int) -> tuple[bytes, list[dict]]:
    """The bytes of a generated file and the documents it means (one dict per document)."""
    header = [h for h in HEADER if h not in spec["drop"]] + list(spec["junk_columns"])
    spec["shuffle"].shuffle(header)
    rows, meant = [], []
    for d_i, d in enumerate(spec["docs"]):
        number = f"{d['number']}-{case}-{d_i}"
        when = d["date"][0].strftime(d["date"][1]) if isinstance(d["date"], tuple) else d["date"]
        sub = d["subtotal"]
        if isinstance(sub, int):
            subtotal = Decimal(sub) / 100
            tax = (subtotal * d["tax_pct"] / 100).quantize(Decimal("0.01"))
            total = subtotal + tax
            parts = [subtotal - (subtotal / d["lines"]).quantize(Decimal("0.01")) * (d["lines"] - 1)] + [
                (subtotal / d["lines"]).quantize(Decimal("0.01"))
            ] * (d["lines"] - 1)
            texts = {"Total": str(total), "TaxTotal": str(tax), "InvoiceAmountDue": str(total)}
        else:
            parts, texts = [sub] * d["lines"], {"Total": sub, "TaxTotal": "0", "InvoiceAmountDue": "0"}
        if d["status"].upper() not in ("AUTHORISED", "AWAITING PAYMENT"):
            texts["InvoiceAmountDue"] = "0.00"
        for part in parts:
            rows.append(
                {
                    "ContactName": d["contact"],
                    "InvoiceNumber": number,
                    "InvoiceDate": when,
                    "DueDate": "",
                    **texts,
                    "Description": d["description"],
                    "LineAmount": str(part),
                    "TaxAmount": "0",
                    "TrackingName1": "Project",
                    "TrackingOption1": d["project"],
                    "Currency": d["currency"],
                    "Type": d["type"],
                    "Status": d["status"],
                }
            )
        meant.append(d | {"number": number})
    buf = io.StringIO()
    w = csv.DictWriter(buf, header, extrasaction="ignore", quoting=spec["quoting"], lineterminator=spec["newline"])
    w.writeheader()
    w.writerows(rows)
    text = buf.getvalue() + spec["tail"]
    return text.encode(spec["encoding"], errors="replace"), meant


def _plain_problem(p: str) -> bool:
    return p.startswith(("Line ", "The file", "… and more")) and "Traceback" not in p


@CASES
@given(spec=csv_file)
def test_any_generated_csv_is_read_or_refused_line_by_line(ctx, spec):
    data, _ = render_file(spec, next(_n))
    parsed = imports.parse(data, "auto")
    if parsed.problems:
        assert all(_plain_problem(p) for p in parsed.problems), parsed.problems
        assert not parsed.documents
    else:
        assert parsed.documents and parsed.lines >= len(parsed.documents)


@settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(spec=st.one_of(clean_file, raw_file))
def test_an_imported_file_is_stored_as_given_or_refused_with_nothing_written(ctx, spec):
    tdb = ctx["db"]
    data, meant = render_file(spec, next(_n))
    tables = ("invoices", "bills", "invoice_lines", "bill_lines", "import_runs", "pnl_monthly", "project_metrics")
    before = fingerprint(tdb, tables)
    try:
        result = imports.import_file(data, "generated.csv", ctx["finance"], dry_run=False)
    except RowProblems as exc:
        event("refused")
        assert exc.problems and all(_plain_problem(p) or p.startswith("The database refused") for p in exc.problems)
        assert fingerprint(tdb, tables) == before
        return
    event("stored")
    assert result.created + result.updated + result.unchanged == len(meant)
    for d in meant:
        table = "bills" if d["type"].strip().lower() in ("bill", "accpay") else "invoices"
        party = "contact" if table == "invoices" else "supplier"
        rows = tdb.rows(f"SELECT * FROM milestone.{table} WHERE number = :n", n=d["number"].strip())
        assert len(rows) == 1, d["number"]
        assert rows[0][party] == d["contact"].strip()  # as given, less the spaces around it
        lines_table, fk = ("invoice_lines", "invoice_id") if table == "invoices" else ("bill_lines", "bill_id")
        descriptions = {
            r["description"]
            for r in tdb.rows(f"SELECT description FROM milestone.{lines_table} WHERE {fk} = :i", i=rows[0]["id"])
        }
        assert descriptions == {d["description"].strip() or None}


def test_the_payload_list_reaches_every_surface():
    """The payloads above include what the first attack pass used (SQL, script, markup, formulas, NUL)."""
    text = "\n".join(PAYLOADS)
    for needle in ("DROP TABLE", "<script>", "](https://", "=HYPERLINK", "\x00", "@SUM", "\t="):
        assert needle in text
    assert issubclass(RowProblems, MilestoneError)
