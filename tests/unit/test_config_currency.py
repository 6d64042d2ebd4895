"""MILESTONE_BASE_CURRENCY: three letters, GBP by default, a clear message otherwise."""

import pytest

from milestone import config


def test_the_base_currency_is_gbp_unless_set(monkeypatch):
    monkeypatch.delenv("MILESTONE_BASE_CURRENCY", raising=False)
    assert config.base_currency() == "GBP"
    monkeypatch.setenv("MILESTONE_BASE_CURRENCY", " eur ")
    assert config.base_currency() == "EUR"


@pytest.mark.parametrize("value", ["pounds", "£", "E1R"])
def test_a_bad_base_currency_is_named(monkeypatch, value):
    monkeypatch.setenv("MILESTONE_BASE_CURRENCY", value)
    with pytest.raises(config.ConfigError, match="MILESTONE_BASE_CURRENCY must be a three-letter currency code"):
        config.base_currency()
