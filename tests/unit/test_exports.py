"""Export file names (no database)."""

from datetime import date

from milestone.services import exports
from milestone.validation import Filters


def test_file_names_say_what_and_when():
    f = Filters(date_from=date(2026, 4, 1), date_to=date(2027, 3, 31))
    assert exports.file_name("projects", f, "csv") == "milestone-projects-2026-04-01_2027-03-31.csv"
    assert exports.file_name("bills", Filters(), "xlsx", today=date(2026, 11, 23)) == "milestone-bills-2026-11-23.xlsx"
