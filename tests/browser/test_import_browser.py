"""Finance uploads a Xero CSV in the real app: a bad file is refused with its problems, a good one imports."""

from playwright.sync_api import expect

from tests.browser.conftest import after_run, sign_in, wait_for_app
from tests.xero_files import EXPORT_COLUMNS, line, render


def _upload(page, name: str, data: bytes) -> None:
    """Choose the file; returns once the app has run with it."""
    after_run(
        page,
        lambda: page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
            {"name": name, "mimeType": "text/csv", "buffer": data}
        ),
    )


def test_upload_a_bad_file_then_a_good_one(live_app, page, artifacts):
    tdb = live_app.database
    sign_in(page, live_app, "finance", "import")
    page.get_by_role("heading", name="Import from Xero").wait_for()
    assert page.get_by_role("button", name="Ask n8n to sync now").count() == 0  # admins only

    bad = render(
        [
            line("WEB-1", "TRK-1-000001", phase="Groundworks"),
            line("WEB-2", "TRK-1-000002", date="31/02/2026"),
            line("WEB-3", "TRK-1-000002", total="12O.00", due_amount="0"),
        ]
    )
    _upload(page, "bad.csv", bad)
    page.get_by_text("Nothing was imported: bad.csv has 2 problems").wait_for()
    page.screenshot(path=str(artifacts / "import-refused.png"), full_page=True)
    assert tdb.scalar("SELECT count(*) FROM milestone.invoices WHERE number LIKE 'WEB-%'") == 0

    good = render([line("WEB-1", "TRK-1-000001", phase="Groundworks"), line("WEB-2", "TRK-1-000002")])
    _upload(page, "good.csv", good)
    page.get_by_text("Would import 2 documents: 2 new").wait_for()
    page.screenshot(path=str(artifacts / "import-preview.png"), full_page=True)
    assert tdb.scalar("SELECT count(*) FROM milestone.invoices WHERE number LIKE 'WEB-%'") == 0
    page.get_by_role("button", name="Import 2 new or changed documents").click()
    page.get_by_text("good.csv: Imported 2 documents: 2 new").wait_for()
    wait_for_app(page)
    uploader = page.locator("[data-testid='stFileUploader']")
    expect(uploader).to_have_count(1, timeout=30_000)  # the previous run's (stale) uploader is gone
    expect(uploader).not_to_contain_text("good.csv")  # and the new one is empty
    page.screenshot(path=str(artifacts / "import-done.png"), full_page=True)
    assert tdb.scalar("SELECT count(*) FROM milestone.invoices WHERE number LIKE 'WEB-%'") == 2


def test_a_real_export_with_a_new_project_an_overpayment_and_a_euro_invoice(live_app, page, artifacts):
    tdb = live_app.database
    sign_in(page, live_app, "finance", "import")
    page.get_by_role("heading", name="Import from Xero").wait_for()
    rows = [
        line("WEB-NEW-1", "Browser New Project", contact="Browser Client Ltd", date="4/2/2026"),
        line("", "", "-50.00", "0.00", doc_type="Sales overpayment", status="Paid", due_amount="0.00", due=""),
        line("WEB-EUR-1", "Browser New Project", "120.00", "20.00", Currency="EUR", contact="Browser Client Ltd"),
    ]
    for row in rows:
        if not row["TrackingOption1"]:
            row["TrackingName1"] = ""
    _upload(page, "practice.csv", render(rows, EXPORT_COLUMNS))
    page.get_by_text("Would import 1 documents: 1 new, 0 updated, 0 unchanged. 2 skipped").wait_for()
    page.get_by_text("1 new project: Browser New Project").wait_for()
    button = page.get_by_role("button", name="Import 1 new or changed documents")
    expect(button).to_be_disabled()
    page.screenshot(path=str(artifacts / "import-new-projects.png"), full_page=True)
    after_run(page, lambda: page.get_by_text("Create the new projects and phases with the documents").click())
    expect(button).to_be_enabled()
    button.click()
    page.get_by_text("practice.csv: Imported 1 documents: 1 new").wait_for()
    wait_for_app(page)
    assert tdb.rows("SELECT client_name FROM milestone.projects WHERE name = 'Browser New Project'") == [
        {"client_name": "Browser Client Ltd"}
    ]
    assert tdb.scalar("SELECT count(*) FROM milestone.invoices WHERE number LIKE 'WEB-EUR-%'") == 0  # no rate
