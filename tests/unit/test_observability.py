"""Error reporting set up from the environment (no database)."""


def test_sentry_is_initialised_when_a_dsn_is_set(monkeypatch):
    """With SENTRY_DSN set, errors go to Sentry (the SDK is a pinned dependency), not only the log."""
    import sentry_sdk

    from milestone import observability

    monkeypatch.setenv("SENTRY_DSN", "https://public@sentry.invalid/1")
    calls = []
    monkeypatch.setattr(sentry_sdk, "init", lambda **kw: calls.append(kw))
    assert observability.setup_error_reporting() is True
    assert calls and calls[0]["dsn"] == "https://public@sentry.invalid/1" and calls[0]["send_default_pii"] is False
