"""The write rate limiter: ten writes a minute per user, the eleventh is refused."""
import pytest

from milestone.errors import RateLimited
from milestone.services import access


@pytest.fixture(autouse=True)
def production_limit(monkeypatch):
    """The suite raises the limit for speed; these tests check the real one."""
    monkeypatch.setenv("MILESTONE_WRITES_PER_MINUTE", "10")


def test_the_eleventh_write_in_a_minute_is_refused(fresh_database):
    for _ in range(10):
        access.count_write("alice")
    with pytest.raises(RateLimited) as exc:
        access.count_write("alice")
    assert str(exc.value).startswith("Too many changes: try again in ")
    assert 1 <= exc.value.retry_after_s <= 60
    access.count_write("bob")  # other users are unaffected


def test_a_refused_write_is_not_counted_and_the_window_slides(fresh_database):
    with fresh_database.owner.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO milestone.rate_limit_events (username, at) "
            "SELECT 'carol', now() - interval '2 minutes' FROM generate_series(1, 10)")
    for _ in range(10):  # the old writes fell out of the window
        access.count_write("carol")
    with pytest.raises(RateLimited):
        access.count_write("carol")


def test_the_eleventh_save_through_the_app_is_refused_and_writes_nothing(fresh_database, monkeypatch):
    from datetime import date
    from decimal import Decimal

    from milestone import seed
    from milestone.services import estimates, users
    from milestone.validation import EstimateChanges, EstimateRow
    from tests import builders

    monkeypatch.setenv("MILESTONE_WRITES_PER_MINUTE", "10")
    seed.ensure_demo_users(fresh_database.owner)
    finance = users.get_user("finance")
    pid = builders.project(fresh_database, "Rate limited")
    one = EstimateChanges(inserts=[(None, EstimateRow(project_id=pid, kind="cost", description="d",
                                                      amount=Decimal("1.00"), date=date(2026, 1, 1)))])
    for _ in range(10):
        estimates.save_estimate_changes(one, finance)
    with pytest.raises(RateLimited, match="try again in"):
        estimates.save_estimate_changes(one, finance)
    assert fresh_database.scalar("SELECT count(*) FROM milestone.estimates") == 10
