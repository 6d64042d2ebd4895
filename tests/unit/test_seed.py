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
    lines = data["invoice_lines"]
    assert lines["build_phase_id"].isna().any() and len(data["build_phases"]) == 8
    assert (inv["due_date"] < ANCHOR).any()  # some invoices overdue
    assert set(data["projects"]["id"]) - set(lines["project_id"])  # projects with no revenue
    assert set(data["sync_runs"]["status"]) == {"COMPLETED", "FAILED"}
    assert len(data["projects"]) == 50 and len(inv) == 5000 and len(data["estimates"]) == 1000


def test_documents_have_one_to_six_lines_that_add_up_to_the_penny():
    data = seed.generate(0.05, 2, ANCHOR)
    for docs, lines, fk in (
        (data["invoices"], data["invoice_lines"], "invoice_id"),
        (data["bills"], data["bill_lines"], "bill_id"),
    ):
        pence = (lines["line_amount"] * 100).round().astype("int64").groupby(lines[fk]).sum()
        subtotal = (docs.set_index("id")["subtotal"] * 100).round().astype("int64")
        assert pence.sort_index().equals(subtotal.sort_index())
        tax = (lines["tax_amount"] * 100).round().astype("int64").groupby(lines[fk]).sum()
        assert tax.sort_index().equals((docs.set_index("id")["total_tax"] * 100).round().astype("int64").sort_index())
        counts = lines.groupby(fk).size()
        assert counts.min() == 1 and counts.max() == 6 and len(counts) == len(docs)
        credit_notes = set(docs.loc[docs["doc_type"] == "credit_note", "id"])
        assert credit_notes and credit_notes <= set(lines[fk])
    bills = data["bill_lines"].groupby("bill_id")
    split = (bills["project_id"].nunique() > 1).mean()
    overhead = bills["project_id"].apply(lambda p: p.isna().all()).mean()
    phases = (data["invoice_lines"].groupby("invoice_id")["build_phase_id"].nunique() > 1).mean()
    assert 0.07 < split < 0.13 and 0.03 < overhead < 0.08 and 0.15 < phases < 0.25
