"""Server-side sessions and the lock-out, attacked: stolen tables, forged cookies, parallel guessing."""

import base64
import hashlib
import json
import threading

import pytest

from milestone import auth, seed
from milestone.services import sessions, users


@pytest.fixture(scope="module")
def passwords(database):
    return seed.ensure_demo_users(database.owner)


def _admin():
    return users.get_user("admin")


def test_the_database_holds_only_a_hash_of_the_token(database, passwords):
    token = sessions.start("finance", "Mozilla/5.0 test")
    assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 random bits
    row = database.rows("SELECT * FROM milestone.sessions ORDER BY created_at DESC LIMIT 1")[0]
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token not in str(dict(row)) and row["user_agent"] == "Mozilla/5.0 test"
    assert row["expires_at"] > row["idle_expires_at"] > row["created_at"]
    user, why = sessions.current(token)
    assert (user.username, why) == ("finance", "ok")
    # the stolen hash is not a token: presenting it gets nothing
    assert sessions.current(bytes(row["token_hash"]).hex()) == (None, "absent")


def _jwt(header: dict, payload: dict, signature: bytes = b"") -> str:
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return ".".join([enc(json.dumps(header).encode()), enc(json.dumps(payload).encode()), enc(signature)])


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "",
        "garbage",
        "x" * 5000,
        "' OR 1=1 --",
        "\x00\xff",
        "Q2xvc2VkQnV0VW5rbm93blRva2VuMDEyMzQ1Njc4OWFi",  # well-formed but unknown
        _jwt({"alg": "none", "typ": "JWT"}, {"username": "admin", "exp_date": 9e9}),
        _jwt({"alg": "HS512", "kid": 7}, {"username": "admin", "exp_date": 9e9}, b"sig"),
        _jwt({"alg": "RS256", "kid": "../../etc/passwd"}, {"username": "admin"}, b"sig"),
    ],
)
def test_a_forged_or_malformed_cookie_is_no_session_and_no_error(database, passwords, cookie):
    assert sessions.current(cookie) == (None, "absent")


def test_sign_out_ends_every_session_of_that_user_only(database, passwords):
    first, second, other = sessions.start("viewer"), sessions.start("viewer"), sessions.start("finance")
    sessions.end(first)
    assert sessions.current(first) == (None, "revoked")
    assert sessions.current(second) == (None, "revoked")  # the other tab or browser too
    assert sessions.current(other)[1] == "ok"
    assert sessions.current(sessions.start("viewer"))[1] == "ok"  # signing in again works
    users.end_sessions("finance")  # what disabling and resets use
    assert sessions.current(other) == (None, "revoked")


def test_disabling_and_role_changes_reach_a_live_session_at_its_next_lookup(database, passwords):
    token = sessions.start("priya")
    users.update_user(_admin(), "priya", role="viewer")
    assert sessions.current(token)[0].role == "viewer"
    users.update_user(_admin(), "priya", role="finance")
    assert sessions.current(token)[0].role == "finance"
    users.update_user(_admin(), "priya", disabled=True)
    assert sessions.current(token)[0] is None
    users.update_user(_admin(), "priya", disabled=False)
    assert sessions.current(token)[0] is None  # re-enabling does not revive old sessions


def test_idle_and_absolute_expiry(database, passwords):
    idle, old = sessions.start("finance"), sessions.start("finance")
    h = lambda t: hashlib.sha256(t.encode()).digest()  # noqa: E731
    database.execute(
        "UPDATE milestone.sessions SET idle_expires_at = now() - interval '1 second' WHERE token_hash = :h", h=h(idle)
    )
    assert sessions.current(idle) == (None, "idle")
    database.execute(
        "UPDATE milestone.sessions SET expires_at = now() - interval '1 second', "
        "idle_expires_at = now() + interval '1 hour' WHERE token_hash = :h",
        h=h(old),
    )
    assert sessions.current(old) == (None, "expired")


def _count_checks(monkeypatch) -> list:
    checks, real = [], auth.check_password

    def counting(password, password_hash):
        checks.append(password)
        return real(password, password_hash)

    monkeypatch.setattr(auth, "check_password", counting)
    return checks


def _parallel(n: int, attempt) -> list:
    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        barrier.wait()
        results[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_thirty_parallel_wrong_then_right_attempts_check_at_most_five_and_end_locked(fresh_database, monkeypatch):
    pw = seed.ensure_demo_users(fresh_database.owner)
    checks = _count_checks(monkeypatch)
    wrong = _parallel(30, lambda i: users.authenticate("viewer", f"guess {i}"))
    right = _parallel(30, lambda i: users.authenticate("viewer", pw["viewer"]))
    assert len(checks) <= 5, f"{len(checks)} passwords were checked"
    assert all(r.user is None for r in wrong + right)
    assert all("locked" in r.message for r in right)
    assert fresh_database.scalar("SELECT count(*) FROM milestone.login_events WHERE reason = 'bad_password'") == 5


def test_one_address_guessing_many_usernames_in_parallel_is_throttled(fresh_database, monkeypatch):
    seed.ensure_demo_users(fresh_database.owner)
    checks = _count_checks(monkeypatch)
    results = _parallel(30, lambda i: users.authenticate(f"someone{i}", "guess", address="203.0.113.9"))
    assert len(checks) <= users.ADDRESS_FAILURES
    assert sum("network" in r.message for r in results) == 30 - users.ADDRESS_FAILURES
    # another address is not affected
    assert users.authenticate("someone", "guess", address="198.51.100.1").message == users.WRONG
