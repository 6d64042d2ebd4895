"""Saving estimates: validated, all or nothing, conflict-safe, audited, undoable."""
from datetime import date
from decimal import Decimal

import pytest

from milestone import seed
from milestone.services import estimates, users
from milestone.errors import Conflict, PermissionDenied
from milestone.errors import RowProblems
from milestone.validation import EstimateChanges, EstimateRow
from tests import builders, oracle


@pytest.fixture(scope="module")
def ctx(database):
    seed.ensure_demo_users(database.owner)
    pid = builders.project(database, "Estimates project")
    people = {u: users.get_user(u) for u in ("admin", "finance", "priya", "viewer")}
    return {"pid": pid, "users": people}


def row(pid, amount="100.00", description="Stage 2 payment", kind="revenue", **extra):
    return EstimateRow(project_id=pid, kind=kind, description=description, amount=Decimal(amount),
                       date=date(2026, 12, 1), **extra)


def _estimates(tdb, pid):
    return {r["description"]: r for r in tdb.rows(
        "SELECT id::text AS id, description, amount, version, updated_by FROM milestone.estimates WHERE project_id = :p",
        p=pid)}


def test_a_batch_of_adds_edits_and_deletes_is_saved_together_with_audit_rows(database, ctx):
    pid, fin = ctx["pid"], ctx["users"]["finance"]
    estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row(pid, "10.00", "A")),
                                                              (None, row(pid, "20.00", "B"))]), fin)
    current = _estimates(database, pid)
    result = estimates.save_estimate_changes(EstimateChanges(
        updates=[(current["A"]["id"], current["A"]["version"], row(pid, "15.50", "A"))],
        deletes=[(current["B"]["id"], current["B"]["version"])],
        inserts=[(None, row(pid, "5.00", "C", kind="cost"))]), fin)
    assert result.summary == "Saved 3 changes: 1 updated, 1 added, 1 deleted."
    now = _estimates(database, pid)
    assert set(now) == {"A", "C"} and now["A"]["amount"] == Decimal("15.50") and now["A"]["updated_by"] == "finance"
    who = {r["user_id"] for r in database.rows(
        "SELECT user_id FROM milestone.audit_log WHERE table_name = 'estimates' AND row_id IN (:a, :b)",
        a=current["A"]["id"], b=current["B"]["id"])}
    assert who == {"finance"}
    assert oracle.metrics_table(database)[pid] == oracle.project_sums(database)[pid]


def test_a_stale_row_refuses_the_whole_batch_and_names_who_changed_it(database, ctx):
    pid, fin, priya = ctx["pid"], ctx["users"]["finance"], ctx["users"]["priya"]
    estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row(pid, "1.00", "Shared"))]), fin)
    loaded = _estimates(database, pid)["Shared"]
    estimates.save_estimate_changes(EstimateChanges(updates=[(loaded["id"], loaded["version"],
                                                               row(pid, "2.00", "Shared"))]), priya)
    before = database.rows("SELECT * FROM milestone.estimates ORDER BY id")
    with pytest.raises(Conflict, match="changed by priya") as exc:
        estimates.save_estimate_changes(EstimateChanges(
            updates=[(loaded["id"], loaded["version"], row(pid, "3.00", "Shared"))],
            inserts=[(None, row(pid, "9.00", "Would be new"))]), fin)
    assert len(exc.value.rows) == 1 and exc.value.rows.iloc[0]["amount"] == Decimal("2.00")
    assert database.rows("SELECT * FROM milestone.estimates ORDER BY id") == before


def test_a_row_deleted_by_someone_else_refuses_the_batch(database, ctx):
    pid, fin = ctx["pid"], ctx["users"]["finance"]
    estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row(pid, "1.00", "Gone soon"))]), fin)
    loaded = _estimates(database, pid)["Gone soon"]
    database.execute("DELETE FROM milestone.estimates WHERE id = :i", user="priya", i=loaded["id"])
    with pytest.raises(Conflict, match="deleted by someone else"):
        estimates.save_estimate_changes(EstimateChanges(updates=[(loaded["id"], loaded["version"],
                                                                   row(pid, "5.00", "Gone soon"))]), fin)


def test_two_people_saving_the_same_row_at_once_cannot_both_win(database, ctx):
    import threading

    pid, fin, priya = ctx["pid"], ctx["users"]["finance"], ctx["users"]["priya"]
    estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row(pid, "1.00", "Race"))]), fin)
    loaded = _estimates(database, pid)["Race"]
    outcomes = []

    def save(user, amount):
        try:
            estimates.save_estimate_changes(EstimateChanges(updates=[(loaded["id"], loaded["version"],
                                                                       row(pid, amount, "Race"))]), user)
            outcomes.append(("saved", user.username))
        except Conflict:
            outcomes.append(("refused", user.username))

    threads = [threading.Thread(target=save, args=(u, a)) for u, a in ((fin, "7.00"), (priya, "8.00"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o for o, _ in outcomes) == ["refused", "saved"]
    winner = next(u for o, u in outcomes if o == "saved")
    assert _estimates(database, pid)["Race"]["updated_by"] == winner


def test_a_viewer_cannot_save_and_nothing_is_written(database, ctx):
    before = database.scalar("SELECT count(*) FROM milestone.estimates")
    with pytest.raises(PermissionDenied):
        estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row(ctx["pid"]))]), ctx["users"]["viewer"])
    assert database.scalar("SELECT count(*) FROM milestone.estimates") == before


def test_an_unknown_project_is_refused(database, ctx):
    with pytest.raises(RowProblems, match="no such project"):
        estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row("00000000-0000-4000-8000-0000000dead0"))]),
                                         ctx["users"]["finance"])


@pytest.mark.parametrize("text", ["'; DROP TABLE estimates; --", "<script>alert(1)</script>", "Pay 💷 on handover",
                                  "دفعة المرحلة الثانية", "  leading and trailing spaces  "])
def test_text_is_stored_exactly_as_typed(database, ctx, text):
    estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row(ctx["pid"], "1.00", text))]),
                                     ctx["users"]["finance"])
    assert database.scalar("SELECT count(*) FROM milestone.estimates WHERE description = :d", d=text) == 1


def test_undo_puts_back_a_save_and_is_itself_audited(database, ctx):
    pid, fin, admin = ctx["pid"], ctx["users"]["finance"], ctx["users"]["admin"]
    estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row(pid, "40.00", "Undo me"))]), fin)
    loaded = _estimates(database, pid)["Undo me"]
    estimates.save_estimate_changes(EstimateChanges(updates=[(loaded["id"], loaded["version"],
                                                               row(pid, "41.00", "Undo me"))]), fin)
    save = estimates.estimate_saves().iloc[0]
    with pytest.raises(PermissionDenied):
        estimates.undo_estimate_save(save["changed_at"], save["user"], ctx["users"]["priya"])
    estimates.undo_estimate_save(save["changed_at"], save["user"], admin)
    assert _estimates(database, pid)["Undo me"]["amount"] == Decimal("40.00")
    assert estimates.estimate_saves().iloc[0]["user"] == "admin"
    # undoing the same save again is refused: the row changed since
    with pytest.raises(Conflict):
        estimates.undo_estimate_save(save["changed_at"], save["user"], admin)


def test_five_hundred_rows_save_in_one_batch(database, ctx):
    pid, fin = ctx["pid"], ctx["users"]["finance"]
    changes = EstimateChanges(inserts=[(None, row(pid, f"{i}.25", f"Bulk {i}")) for i in range(1, 501)])
    assert estimates.save_estimate_changes(changes, fin).added == 500
    assert oracle.metrics_table(database)[pid] == oracle.project_sums(database)[pid]
