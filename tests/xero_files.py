"""Xero CSV exports built by the tests, in the layout Xero's invoice and bill exports use.

Xero writes one line per line item, repeating the document's fields, with the project and the
build phase as tracking categories. Nothing is downloaded: these follow Xero's documented columns.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

COLUMNS = [
    "ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POCity",
    "POPostalCode",
    "POCountry",
    "InvoiceNumber",
    "Reference",
    "InvoiceDate",
    "DueDate",
    "Total",
    "TaxTotal",
    "InvoiceAmountPaid",
    "InvoiceAmountDue",
    "InventoryItemCode",
    "Description",
    "Quantity",
    "UnitAmount",
    "Discount",
    "LineAmount",
    "AccountCode",
    "TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "Type",
    "Sent",
    "Status",
]


def line(
    number: str,
    project: str,
    total: str = "1200.00",
    tax: str = "200.00",
    *,
    contact: str = "Acme Builders Ltd",
    date: str = "15/01/2026",
    due: str = "14/02/2026",
    status: str = "AUTHORISED",
    doc_type: str = "Sales invoice",
    due_amount: str | None = None,
    phase: str = "",
    description: str = "Works as agreed",
    **extra,
) -> dict:
    """One line item of a document; the document's fields are repeated on every line, as Xero does.
    By default the line is the whole document: LineAmount = Total - TaxTotal (ex tax, Exclusive);
    give LineAmount/TaxAmount (and project/phase) per line for a document of several lines."""
    due_amount = due_amount if due_amount is not None else (total if status.upper() == "AUTHORISED" else "0.00")
    try:
        ex_tax = str(Decimal(total) - Decimal(tax))
    except ArithmeticError:  # a test of a bad Total: the line leaves its amount out
        ex_tax = ""
    row = {
        "ContactName": contact,
        "EmailAddress": "accounts@example.com",
        "POAddressLine1": "1 High Street",
        "POCity": "Leeds",
        "POPostalCode": "LS1 1AA",
        "POCountry": "United Kingdom",
        "InvoiceNumber": number,
        "Reference": "",
        "InvoiceDate": date,
        "DueDate": due,
        "Total": total,
        "TaxTotal": tax,
        "InvoiceAmountPaid": "0.00",
        "InvoiceAmountDue": due_amount,
        "InventoryItemCode": "",
        "Description": description,
        "Quantity": "1.0000",
        "UnitAmount": ex_tax,
        "Discount": "",
        "LineAmount": ex_tax,
        "AccountCode": "200",
        "TaxType": "20% (VAT on Income)",
        "TaxAmount": tax,
        "TrackingName1": "Project",
        "TrackingOption1": project,
        "TrackingName2": "Phase" if phase else "",
        "TrackingOption2": phase,
        "Currency": "GBP",
        "Type": doc_type,
        "Sent": "Sent",
        "Status": status,
    }
    return row | extra


def render(lines: list[dict], columns: list[str] = COLUMNS, encoding: str = "utf-8-sig") -> bytes:
    """The bytes of a CSV file (Xero's exports start with a byte-order mark)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(lines)
    return buf.getvalue().encode(encoding)


# Xero's current export layout (Invoices > Export, Bills to pay > Export): 44 columns, with the
# street address; the older layout above (COLUMNS) lacks the street-address columns.
_ADDRESS = ["AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4", "City", "Region", "PostalCode", "Country"]
EXPORT_COLUMNS = [
    "ContactName",
    "EmailAddress",
    *(f"PO{c}" for c in _ADDRESS),
    *(f"SA{c}" for c in _ADDRESS),
    "InvoiceNumber",
    "Reference",
    "InvoiceDate",
    "DueDate",
    "PlannedDate",
    "Total",
    "TaxTotal",
    "InvoiceAmountPaid",
    "InvoiceAmountDue",
    "InventoryItemCode",
    "Description",
    "Quantity",
    "UnitAmount",
    "Discount",
    "LineAmount",
    "AccountCode",
    "TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "Type",
    "Sent",
    "Status",
]
assert len(EXPORT_COLUMNS) == 44

# Xero's import templates: asterisks mark required columns; no Status, no amounts due.
SALES_TEMPLATE = [
    "*ContactName",
    "EmailAddress",
    *(f"PO{c}" for c in _ADDRESS),
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "Total",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
]
SALES_TEMPLATE_SHORT = [c for c in SALES_TEMPLATE if c not in ("Total", "TaxAmount")]
BILLS_TEMPLATE = [
    "*ContactName",
    "EmailAddress",
    *(f"PO{c}" for c in _ADDRESS),
    "*InvoiceNumber",
    "*InvoiceDate",
    "*DueDate",
    "InventoryItemCode",
    "Description",
    "*Quantity",
    "*UnitAmount",
    "*AccountCode",
    "*TaxType",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
]
BILLS_TEMPLATE_LONG = BILLS_TEMPLATE[:13] + ["Total"] + BILLS_TEMPLATE[13:19] + ["TaxAmount"] + BILLS_TEMPLATE[19:]
assert (len(SALES_TEMPLATE), len(SALES_TEMPLATE_SHORT), len(BILLS_TEMPLATE), len(BILLS_TEMPLATE_LONG)) == (
    29,
    27,
    24,
    26,
)


def template_line(
    number: str,
    quantity: str,
    unit: str,
    *,
    contact: str = "Template Client",
    date: str = "2/3/2026",
    due: str = "1/4/2026",
    project: str = "",
    phase: str = "",
    discount: str = "",
    tax: str = "",
    description: str = "Services",
    columns: list[str] = SALES_TEMPLATE,
) -> dict:
    """One line of a Xero import template, keyed by the template's own column names."""
    row = {
        "ContactName": contact,
        "EmailAddress": "",
        "InvoiceNumber": number,
        "Reference": "",
        "InvoiceDate": date,
        "DueDate": due,
        "Total": "",
        "InventoryItemCode": "",
        "Description": description,
        "Quantity": quantity,
        "UnitAmount": unit,
        "Discount": discount,
        "AccountCode": "200",
        "TaxType": "20% (VAT on Income)",
        "TaxAmount": tax,
        "TrackingName1": "Project" if project else "",
        "TrackingOption1": project,
        "TrackingName2": "Phase" if phase else "",
        "TrackingOption2": phase,
        "Currency": "GBP",
        "BrandingTheme": "",
    }
    return {c: row.get(c.lstrip("*"), "") for c in columns}
