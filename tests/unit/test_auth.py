"""Password rules (no database)."""

from milestone import auth


def test_password_policy():
    assert auth.password_problems("short", "val") == ["must be at least 12 characters"]
    assert auth.password_problems("averylongname", "averylongname") == ["must not be the username"]
    assert auth.password_problems("correct horse battery", "val") == []
    assert auth.password_problems("é" * 37, "val") == [  # 74 bytes: bcrypt would ignore the end
        "must be at most 72 bytes (72 plain letters; accents and emoji count as two to four)"
    ]
    assert auth.password_problems("x" * 72, "val") == []
