"""The demo seed loaded into a real database (its generation is tested in tests/unit/test_seed.py)."""

from datetime import date

from milestone import seed
from tests import oracle

ANCHOR = date(2026, 11, 1)


def test_seed_loads_an_empty_database_and_refuses_a_full_one(fresh_database):
    users = seed.ensure_demo_users(fresh_database.owner)
    assert set(users) >= {"admin", "finance", "viewer"}
    assert seed.ensure_demo_users(fresh_database.owner) == {}
    counts = seed.load(fresh_database.owner, 0.01, 9, ANCHOR, progress=False)
    assert counts["invoices"] == fresh_database.scalar("SELECT count(*) FROM milestone.invoices") == 1000
    assert all(r["ok"] for r in fresh_database.rows("SELECT ok FROM milestone.ledger_reconciliation"))
    assert oracle.stored_pnl(fresh_database) == oracle.pnl_rows(fresh_database)
    assert oracle.metrics_table(fresh_database) == oracle.project_sums(fresh_database)
    roles = {r["username"]: r["role"] for r in fresh_database.rows("SELECT username, role FROM milestone.app_users")}
    assert roles["admin"] == "admin" and roles["finance"] == "finance" and roles["viewer"] == "viewer"
    try:
        seed.load(fresh_database.owner, 0.01, 9, ANCHOR, progress=False)
        raise AssertionError("a second seed should be refused")
    except RuntimeError as exc:
        assert "already has projects" in str(exc)
