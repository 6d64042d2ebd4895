"""Report file names (no database)."""

from datetime import date

from milestone.services import reports
from milestone.validation import Filters


def test_file_names_say_what_and_when():
    f = Filters(date_from=date(2026, 4, 1), date_to=date(2027, 3, 31))
    assert reports.portfolio_file_name(f) == "milestone-portfolio-2026-04-01_2027-03-31.pdf"
    assert reports.portfolio_file_name(Filters(), date(2026, 11, 23)) == "milestone-portfolio-2026-11-23.pdf"
    pid = "0b7e4c1a-0000-4000-8000-000000000001"
    assert (
        reports.project_file_name("Riverside Extension #12", pid, date(2026, 11, 23))
        == "milestone-project-riverside-extension-12-2026-11-23.pdf"
    )
    assert (
        reports.project_file_name("Zoë's Barn", pid, date(2026, 11, 23))
        == "milestone-project-zoe-s-barn-2026-11-23.pdf"
    )
    assert (
        reports.project_file_name("مؤسسة النور", pid, date(2026, 11, 23)) == "milestone-project-0b7e4c1a-2026-11-23.pdf"
    )
