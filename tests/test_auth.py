"""Sign-in security: throttling in the database, password policy, last-admin rule, roles."""
import pytest

from milestone import auth, config, seed
from milestone.services import users
from milestone.errors import LastAdmin, PermissionDenied

WRONG = "Username or password is incorrect."


@pytest.fixture(scope="module")
def passwords(database):
    return seed.ensure_demo_users(database.owner)


def _user(database, name):
    return users.get_user(name)


def test_the_right_password_signs_in_and_is_recorded_without_the_password(database, passwords):
    result = users.authenticate("Finance ", passwords["finance"])
    assert result.user.username == "finance" and result.message is None
    row = database.rows("SELECT * FROM milestone.login_events ORDER BY id DESC LIMIT 1")[0]
    assert row["success"] and row["username"] == "finance" and passwords["finance"] not in str(dict(row))


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(fresh_database):
    pw = seed.ensure_demo_users(fresh_database.owner)
    messages = [users.authenticate("viewer", "nope").message for _ in range(5)]
    assert messages[:4] == [WRONG] * 4 and "locked for 15 minutes" in messages[4]
    locked = users.authenticate("viewer", pw["viewer"])
    assert locked.user is None and "locked until" in locked.message
    # fifteen minutes later (moved back in time here), the right password works again
    fresh_database.execute("UPDATE milestone.login_events SET at = at - interval '16 minutes'")
    assert users.authenticate("viewer", pw["viewer"]).user is not None


def test_an_unknown_username_gets_the_same_messages_as_a_real_one(fresh_database):
    seed.ensure_demo_users(fresh_database.owner)
    unknown = [users.authenticate("ghost", "nope").message for _ in range(6)]
    real = [users.authenticate("viewer", "nope").message for _ in range(6)]
    assert [m.split(" until")[0] for m in unknown] == [m.split(" until")[0] for m in real]


def test_a_success_resets_the_count(fresh_database):
    pw = seed.ensure_demo_users(fresh_database.owner)
    for _ in range(4):
        users.authenticate("finance", "nope")
    assert users.authenticate("finance", pw["finance"]).user
    assert users.authenticate("finance", "nope").message == WRONG


def test_a_disabled_user_cannot_sign_in_and_is_not_told_why(database, passwords):
    admin = _user(database, "admin")
    users.update_user(admin, "priya", disabled=True)
    result = users.authenticate("priya", passwords["priya"])
    assert result.user is None and result.message == WRONG
    users.update_user(admin, "priya", disabled=False)


def test_password_policy():
    assert auth.password_problems("short", "val") == ["must be at least 12 characters"]
    assert auth.password_problems("averylongname", "averylongname") == ["must not be the username"]
    assert auth.password_problems("correct horse battery", "val") == []
    assert auth.password_problems("é" * 37, "val") == [  # 74 bytes: bcrypt would ignore the end
        "must be at most 72 bytes (72 plain letters; accents and emoji count as two to four)"]
    assert auth.password_problems("x" * 72, "val") == []


def test_an_unknown_username_costs_a_bcrypt_check_like_a_real_one(fresh_database, monkeypatch):
    """No timing in tests: count the bcrypt checks instead (a missing check is the timing leak)."""
    seed.ensure_demo_users(fresh_database.owner)
    calls = []
    real = auth.bcrypt.checkpw
    monkeypatch.setattr(auth.bcrypt, "checkpw", lambda pw, h: calls.append(h) or real(pw, h))
    assert users.authenticate("ghost", "a guess at a password").user is None
    assert users.authenticate("viewer", "a guess at a password").user is None
    assert len(calls) == 2
    assert not auth.check_password("not a real password", None)  # the dummy hash's own password opens nothing


def test_the_last_active_admin_cannot_be_disabled_or_demoted(database, passwords):
    admin = _user(database, "admin")
    with pytest.raises(LastAdmin):
        users.update_user(admin, "admin", disabled=True)
    with pytest.raises(LastAdmin):
        users.update_user(admin, "admin", role="finance")
    users.update_user(admin, "finance", role="admin")
    users.update_user(admin, "admin", role="viewer")  # now allowed: finance is admin
    assert _user(database, "admin").role == "viewer"
    users.update_user(_user(database, "finance"), "admin", role="admin")
    users.update_user(_user(database, "admin"), "finance", role="finance")


@pytest.mark.parametrize("write", [
    lambda u: users.add_user(u, "newbie", "New", "viewer", "x"),
    lambda u: users.update_user(u, "priya", role="admin"),
    lambda u: users.update_user(u, "priya", disabled=True),
    lambda u: users.set_password(u, "priya", "x", must_change=True),
])
@pytest.mark.parametrize("role", ["viewer", "finance"])
def test_only_admins_manage_users(database, passwords, write, role):
    before = database.rows("SELECT username, role, disabled, password_hash FROM milestone.app_users ORDER BY 1")
    with pytest.raises(PermissionDenied):
        write(_user(database, role))
    assert database.rows("SELECT username, role, disabled, password_hash FROM milestone.app_users ORDER BY 1") == before


def test_a_reset_forces_a_new_password_and_ends_sessions(database, passwords):
    import time

    issued = time.time() - 1
    assert users.session_still_valid("viewer", issued)
    users.set_password(_user(database, "admin"), "viewer", auth.hash_password("a fresh one-time pw"),
                            must_change=True)
    assert _user(database, "viewer").must_change_password
    assert not users.session_still_valid("viewer", issued)


def test_signing_out_invalidates_earlier_cookies(database, passwords):
    import time

    issued = time.time() - 1
    users.end_sessions("finance")
    assert not users.session_still_valid("finance", issued)
    assert users.session_still_valid("finance", time.time() + 1)


def test_cookie_key_is_required_outside_local_mode(monkeypatch, tmp_path):
    monkeypatch.delenv("MILESTONE_LOCAL", raising=False)
    for bad in ("", "change-me", "short-key"):
        monkeypatch.setenv("MILESTONE_COOKIE_KEY", bad)
        with pytest.raises(config.ConfigError, match="MILESTONE_COOKIE_KEY"):
            config.cookie_key()
    monkeypatch.setenv("MILESTONE_LOCAL", "1")
    monkeypatch.setenv("MILESTONE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MILESTONE_COOKIE_KEY", "")
    key = config.cookie_key()
    assert len(key) >= 32 and config.cookie_key() == key  # made once, then kept


def test_user_changes_are_audited_without_the_password_hash(fresh_database):
    seed.ensure_demo_users(fresh_database.owner)
    admin = _user(fresh_database, "admin")
    fresh_database.execute("DELETE FROM milestone.audit_log")
    users.update_user(admin, "viewer", role="finance")
    users.set_password(admin, "viewer", auth.hash_password("a brand new password"), must_change=True)
    users.end_sessions("viewer")  # a sign-out is not a change to audit
    rows = fresh_database.rows("""SELECT user_id, operation, old_data ->> 'role' AS before, new_data ->> 'role' AS after,
                                         new_data ->> 'password_changed' AS pw, new_data::text || old_data::text AS text
                                  FROM milestone.audit_log WHERE table_name = 'app_users' ORDER BY id""")
    assert [(r["user_id"], r["operation"], r["before"], r["after"], r["pw"]) for r in rows] == [
        ("admin", "UPDATE", "viewer", "finance", None), ("admin", "UPDATE", "finance", "finance", "true")]
    assert all("password_hash" not in r["text"] and "$2b$" not in r["text"] for r in rows)


def test_a_nul_character_in_the_sign_in_form_is_a_wrong_password_not_a_crash(database):
    for name, password in (("admin\x00", "whatever"), ("admin", "pass\x00word")):
        result = users.authenticate(name, password)
        assert result.user is None and result.message == "Username or password is incorrect."
