from datetime import date

import pandas as pd

from milestone import seed

ANCHOR = date(2026, 11, 1)


def test_the_same_seed_gives_the_same_data():
    a, b = seed.generate(0.01, 5, ANCHOR), seed.generate(0.01, 5, ANCHOR)
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table])
    assert not seed.generate(0.01, 6, ANCHOR)["invoices"]["subtotal"].equals(a["invoices"]["subtotal"])


def test_generated_data_covers_the_cases_accountants_check():
    data = seed.generate(0.05, 1, ANCHOR)
    inv, bills = data["invoices"], data["bills"]
    assert set(inv["status"]) == {"Draft", "Submitted", "Authorised", "Paid", "Voided"}
    assert {"credit_note", "invoice"} == set(inv["doc_type"]) and "credit_note" in set(bills["doc_type"])
    assert inv["build_phase_id"].isna().any() and len(data["build_phases"]) == 8
    assert (inv["due_date"] < ANCHOR).any()  # some invoices overdue
    assert set(data["projects"]["id"]) - set(inv["project_id"])  # projects with no revenue
    assert set(data["sync_runs"]["status"]) == {"COMPLETED", "FAILED"}
    assert len(data["projects"]) == 50 and len(inv) == 5000 and len(data["estimates"]) == 1000
