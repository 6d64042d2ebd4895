"""The Import page (AppTest) takes a practice's Xero export into an empty database: new projects
listed and created only when ticked, skipped documents and currencies listed, a rate given on
the page, a template with a chosen status, and the P&L checked against the files (issue 15)."""

from decimal import Decimal

import pytest

from milestone import seed
from tests.apptest import app_as
from tests.integration.test_xero_real_exports import BILLS, EUR_RATE, INVOICES, SALES_TPL, expected_pnl, stored_pnl
from tests.xero_files import EXPORT_COLUMNS, SALES_TEMPLATE, render


@pytest.fixture(scope="module")
def empty(database):
    seed.ensure_demo_users(database.owner)
    return database


def _page(at=None):
    at = at or app_as("finance").run()
    at.switch_page("views/import_xero.py").run()
    assert not at.exception, at.exception
    return at


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_an_export_goes_in_through_the_page(empty):
    db = empty
    invoices = render(INVOICES, EXPORT_COLUMNS)
    at = _page()
    at.file_uploader[0].set_value(("invoices.csv", invoices, "text/csv")).run()
    assert not at.exception, at.exception
    assert "Would import 5 documents: 5 new, 0 updated, 0 unchanged. 2 skipped" in _texts(at.info)
    warning = _texts(at.warning)
    assert "3 new projects: Jones Audit 2025, Jones Payroll, Smith Tax Return 2025" in warning
    assert "3 new phases: Fieldwork, Preparation, Review" in warning
    # the tracking categories of the file are offered, as detected
    assert at.selectbox(key="import_project_category").options == ["(detect)", "Client Job", "Stage"]
    button = at.button(key="import_confirm")
    assert button.disabled  # not until the new projects are confirmed
    frames = [f.value for f in at.dataframe]
    skipped = next(f for f in frames if "reason" in f.columns)
    assert set(skipped["type"]) == {"Sales overpayment", "Sales invoice"}
    assert any("no EUR rate" in r for r in skipped["reason"])

    at.text_input(key="import_rates").set_value("EUR=0.85").run()
    assert "Would import 6 documents: 6 new" in _texts(at.info)
    assert "5 new projects" in _texts(at.warning)
    at.checkbox(key="import_create").check().run()
    assert not at.button(key="import_confirm").disabled
    at.button(key="import_confirm").click().run()
    assert not at.exception, at.exception
    assert "Imported 6 documents: 6 new" in _texts(at.success)
    assert db.scalar("SELECT count(*) FROM milestone.projects") == 5
    assert db.scalar("SELECT currency_rate FROM milestone.invoices WHERE number = 'INV-003'") == EUR_RATE

    bills = render(BILLS, EXPORT_COLUMNS)
    at.file_uploader[0].set_value(("bills.csv", bills, "text/csv")).run()
    assert "Would import 4 documents: 4 new" in _texts(at.info)
    assert not any("new project" in str(w.value) for w in at.warning), _texts(at.warning)  # all known now
    at.button(key="import_confirm").click().run()
    assert "Imported 4 documents: 4 new" in _texts(at.success)

    template = render(SALES_TPL, SALES_TEMPLATE)
    at.selectbox(key="import_template_status").set_value("Awaiting Payment").run()
    at.file_uploader[0].set_value(("template.csv", template, "text/csv")).run()
    assert "An import template" in _texts(at.caption)
    at.checkbox(key="import_create").check().run()
    at.button(key="import_confirm").click().run()
    assert "Imported 1 documents: 1 new" in _texts(at.success)
    assert db.scalar("SELECT status FROM milestone.invoices WHERE number = 'TPL-1'") == "Authorised"

    want = expected_pnl([(invoices, {"EUR": EUR_RATE}, ""), (bills, {}, ""), (template, {}, "Awaiting Payment")])
    assert stored_pnl(db) == want
    assert want[(None, None)]["costs"] == Decimal("2100.00")


def test_wrong_rates_are_refused_on_the_page(empty):
    at = _page()
    at.text_input(key="import_rates").set_value("EUR=zero").run()
    at.file_uploader[0].set_value(("invoices.csv", render(INVOICES, EXPORT_COLUMNS), "text/csv")).run()
    assert not at.exception
    assert "The rates are not right: Rates line 1: the rate of EUR must be a positive number" in _texts(at.error)
