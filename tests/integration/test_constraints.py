"""Every rule of the data model is a constraint: a bad value never reaches a table."""

import pytest
import sqlalchemy as sa

from tests import builders


@pytest.fixture(scope="module")
def project_id(database):
    return builders.project(database, "Constraint checks")


def _insert(database, sql, **params):
    with pytest.raises(sa.exc.IntegrityError):
        database.execute(sql, **params)


@pytest.mark.parametrize(
    "column,value",
    [
        ("name", ""),
        ("name", "x" * 256),
        ("client_name", ""),
        ("status", "Cancelled"),
        ("budget_revenue", -1),
        ("budget_cost", -0.01),
    ],
)
def test_bad_project_values_are_rejected(database, column, value):
    values = {"name": "P", "client_name": "C", "status": "Planning"} | {column: value}
    _insert(
        database,
        f"INSERT INTO milestone.projects ({', '.join(values)}) VALUES ({', '.join(':' + k for k in values)})",
        **values,
    )


def test_project_end_date_before_start_is_rejected(database):
    _insert(
        database,
        "INSERT INTO milestone.projects (name, client_name, start_date, end_date)"
        " VALUES ('P', 'C', '2026-02-01', '2026-01-31')",
    )


def test_duplicate_xero_tracking_id_is_rejected(database):
    builders.project(database, xero_tracking_id="TRK-dup")
    _insert(
        database, "INSERT INTO milestone.projects (name, client_name, xero_tracking_id) VALUES ('P', 'C', 'TRK-dup')"
    )


@pytest.mark.parametrize(
    "column,value",
    [
        ("kind", "income"),
        ("description", ""),
        ("description", "x" * 501),
        ("amount", 0),
        ("amount", -5),
        ("amount", 100000000000.01),
        ("date", None),
        ("kind", None),
    ],
)
def test_bad_estimate_values_are_rejected(database, project_id, column, value):
    values = {"project_id": project_id, "kind": "revenue", "description": "d", "amount": 10, "date": "2026-01-01"}
    values[column] = value
    _insert(
        database,
        "INSERT INTO milestone.estimates (project_id, kind, description, amount, date)"
        " VALUES (:project_id, :kind, :description, :amount, :date)",
        **values,
    )


def test_estimate_for_unknown_project_is_rejected(database):
    _insert(
        database,
        "INSERT INTO milestone.estimates (project_id, kind, description, amount, date)"
        " VALUES (gen_random_uuid(), 'cost', 'd', 1, '2026-01-01')",
    )


@pytest.mark.parametrize("table", ["invoices", "bills"])
@pytest.mark.parametrize(
    "column,value",
    [
        ("status", "Approved"),
        ("doc_type", "receipt"),
        ("subtotal", -1),
        ("amount_due", -1),
        ("total", -1),
    ],
)
def test_bad_document_values_are_rejected(database, project_id, table, column, value):
    date_col = "issue_date" if table == "invoices" else "date"
    values = {
        "xero_id": f"bad-{table}-{column}",
        "d": "2026-01-01",
        "status": "Paid",
        "doc_type": "credit_note",
        "subtotal": 0,
        "total": 0,
        "amount_due": 0,
    }
    values[column] = value
    _insert(
        database,
        f"INSERT INTO milestone.{table} (xero_id, {date_col}, status, doc_type, subtotal,"
        " total, amount_due) VALUES (:xero_id, :d, :status, :doc_type, :subtotal, :total,"
        " :amount_due)",
        **values,
    )


def test_duplicate_xero_id_is_rejected(database, project_id):
    builders.document(database, "invoices", project_id, "10")
    xid = database.scalar("SELECT xero_id FROM milestone.invoices LIMIT 1")
    _insert(
        database,
        "INSERT INTO milestone.invoices (xero_id, issue_date, status, subtotal, total)"
        " VALUES (:x, '2026-01-01', 'Paid', 0, 0)",
        x=xid,
    )


@pytest.mark.parametrize("table,fk", [("invoice_lines", "invoice_id"), ("bill_lines", "bill_id")])
@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO milestone.{t} ({fk}, line_number, line_amount) VALUES (gen_random_uuid(), 1, 1)",  # no document
        "INSERT INTO milestone.{t} ({fk}, line_number, line_amount) SELECT id, 0, 0 FROM milestone.{d} LIMIT 1",
        "INSERT INTO milestone.{t} ({fk}, line_number, line_amount, project_id) SELECT id, 7, 0, gen_random_uuid()"
        " FROM milestone.{d} LIMIT 1",  # an unknown project
        "INSERT INTO milestone.{t} ({fk}, line_number, doc_date, line_amount) SELECT id, 8, DATE '1999-01-01', 0"
        " FROM milestone.{d} LIMIT 1",  # a date that is not the document's
    ],
)
def test_bad_lines_are_rejected(database, project_id, table, fk, sql):
    """Each line adds 0, so only the constraint under test can refuse it (not the lines-add-up check)."""
    docs = "invoices" if table == "invoice_lines" else "bills"
    builders.document(database, docs, project_id, "10")
    _insert(database, sql.format(t=table, fk=fk, d=docs))


@pytest.mark.parametrize("column,value", [("role", "owner"), ("username", "Has Space"), ("email", "not-an-email")])
def test_bad_user_values_are_rejected(database, column, value):
    values = {"username": "someone", "display_name": "S", "role": "viewer", "password_hash": "x", "email": None}
    values[column] = value
    _insert(
        database,
        "INSERT INTO milestone.app_users (username, display_name, role, password_hash, email)"
        " VALUES (:username, :display_name, :role, :password_hash, :email)",
        **values,
    )


def test_sync_run_status_must_be_known(database):
    _insert(database, "INSERT INTO milestone.sync_runs (status) VALUES ('DONE')")
