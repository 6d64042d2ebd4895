"""Unit tests run without PostgreSQL: asking for a database here is a mistake, said plainly."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def server_url():
    pytest.fail("tests/unit run without a database: move a test that needs one to tests/integration or tests/ui")
