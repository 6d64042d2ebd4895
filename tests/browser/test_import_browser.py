"""Finance uploads a Xero CSV in the real app: a bad file is refused with its problems, a good one imports."""

from playwright.sync_api import expect

from tests.browser.conftest import after_run, sign_in, wait_for_app
from tests.xero_files import line, render


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
            line("WEB-2", "No such project"),
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
