"""Load Xero's invoice and bill CSV exports (and Xero's import templates) as they are: validate the
whole file, then upsert in one transaction.

The flow is read -> validate every line -> group lines into documents -> resolve tracking ->
convert currencies -> dry run or write. Nothing is written unless every line is valid, so a
refused file changes nothing; the same file imported twice changes nothing the second time (rows
are matched by InvoiceID, or by contact and InvoiceNumber (and date, for bills) when the export
has no InvoiceID, and only rows that differ are updated).

Each CSV line is one line item of its document, with its own project and build phase (Xero tracks
them per line): a document may be split across projects and phases. Projects are found by a
mapping column (Project) or by a Xero tracking category: the option is matched to a project's
Xero tracking id, its name or its id; a line with no option is an overhead (Unallocated). Which
tracking category is the project and which the build phase is detected (a category named Phase
or Stage, else the one whose options are known phases; the project is the other one) or chosen.
An option that names no known project or phase is a new one: listed in the dry run, created in
the same transaction as the documents when the person importing confirms (create_projects).

A line's amount is LineAmount (with TaxAmount; an Inclusive document's LineAmount includes its
tax, per LineAmountTypes, Exclusive when the file has no such column); the lines of a document
must add up to its SubTotal. The document's own fields must agree on every one of its lines.

Xero's Types are read as Xero writes them (Sales invoice, Bill credit note, ...); overpayments and
prepayments are not P&L documents: skipped, counted and listed. Credit notes may come negative;
they are stored positive (their sign is their doc_type). A document in a currency other than the
base currency (config.base_currency) is converted at the rate the person gives for its currency
(see `convert`), or skipped and listed when there is none.

An import template (Xero's import layout: no Status and no amounts due) is read with the status
the person chooses (default Draft); its amounts are computed from its lines.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pandas as pd
import sqlalchemy as sa
from pydantic import ValidationError

from milestone import config, db
from milestone.errors import RowProblems
from milestone.services.access import count_write, require_role
from milestone.store import imports
from milestone.store.users import User
from milestone.validation import (
    TEMPLATE_STATUSES,
    XERO_SKIPPED_TYPES,
    XERO_TYPES,
    XeroLine,
    xero_line_problems,
)

MAX_PROBLEMS = 200  # listed; past this the file is not read further (a hostile file costs little)
PHASE_CATEGORY_NAMES = {
    "phase",
    "phases",
    "build phase",
    "build phases",
    "buildphase",
    "stage",
    "stages",
    "build stage",
    "build stages",
}
PROJECT_CATEGORY_NAMES = {"project", "projects", "job", "jobs", "project code"}
NO_CATEGORY = ""  # project_category / phase_category: "none of them"
PENNY, UNIT_STEP = Decimal("0.01"), Decimal("0.0001")
# Xero's column names (and a few spellings of them), matched without case, spaces or the '*'
# that Xero's import templates put before required columns.
COLUMNS = {
    "ContactName": ("contactname", "contact"),
    "InvoiceNumber": ("invoicenumber", "number", "creditnotenumber", "billnumber"),
    "InvoiceID": ("invoiceid", "xeroid", "creditnoteid"),
    "InvoiceDate": ("invoicedate", "creditnotedate", "date"),
    "DueDate": ("duedate",),
    "Total": ("total", "invoicetotal"),
    "TaxTotal": ("taxtotal", "totaltax"),
    "SubTotal": ("subtotal",),
    "AmountDue": ("amountdue", "invoiceamountdue", "remainingcredit"),
    "Status": ("status",),
    "Currency": ("currency", "currencycode"),
    "Type": ("type",),
    "LineAmountTypes": ("lineamounttypes", "amounttypes"),
    "Description": ("description",),
    "AccountCode": ("accountcode",),
    "Quantity": ("quantity",),
    "UnitAmount": ("unitamount",),
    "Discount": ("discount", "discountrate"),
    "LineAmount": ("lineamount",),
    "TaxAmount": ("taxamount",),
    "Project": ("project", "projectcode"),
    "Phase": ("phase", "buildphase"),
    "TrackingName1": ("trackingname1",),
    "TrackingOption1": ("trackingoption1",),
    "TrackingName2": ("trackingname2",),
    "TrackingOption2": ("trackingoption2",),
}
REQUIRED = ("ContactName", "InvoiceDate", "Total", "AmountDue", "Status")
TEMPLATE_REQUIRED = ("ContactName", "InvoiceDate", "Quantity", "UnitAmount")
# what must be the same on every line of one document, by the column that carries it
_DOCUMENT_FIELDS = {
    "contact": "ContactName",
    "number": "InvoiceNumber",
    "issue_date": "InvoiceDate",
    "due_date": "DueDate",
    "total": "Total",
    "total_tax": "TaxTotal",
    "subtotal": "SubTotal",
    "amount_due": "AmountDue",
    "status": "Status",
    "currency": "Currency",
    "line_amount_types": "LineAmountTypes",
}
# what each line item carries (the rest of a CSV line is its document's)
_LINE_FIELDS = ("description", "account_code", "quantity", "unit_amount", "line_amount", "tax_amount", "discount")
# the Type words of the reconciliation, for files without a Type column
_DEFAULT_TYPE_WORDS = {
    ("invoices", "invoice"): "Sales invoice",
    ("invoices", "credit_note"): "Sales credit note",
    ("bills", "bill"): "Bill",
    ("bills", "credit_note"): "Bill credit note",
}
Progress = Callable[[float, str], object]  # told how far the check is (0..1) and what to say


@dataclass
class ImportOptions:
    """What the person importing decides: rates per currency (base-currency units for one unit of
    the currency), the status of a template's documents, which tracking category is the project
    and which the phase (None: detected; NO_CATEGORY: none), and whether to create new projects
    and phases the file names."""

    rates: dict[str, Decimal] = field(default_factory=dict)
    template_status: str = "Draft"
    project_category: str | None = None
    phase_category: str | None = None
    create_projects: bool = False


@dataclass
class Skipped:
    """A document of the file that is not imported, and why."""

    type_word: str
    number: str
    contact: str
    date: str
    currency: str
    total: Decimal
    reason: str
    line: int


@dataclass
class Parsed:
    """A validated file: documents ready to write, or the problems that stop it."""

    documents: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: int = 0
    sha256: str = ""
    skipped: list[Skipped] = field(default_factory=list)
    new_projects: dict[str, str] = field(default_factory=dict)  # name -> client (the first document's contact)
    new_phases: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # the file's tracking category names
    project_category: str | None = None
    phase_category: str | None = None
    template: bool = False
    foreign: list[dict] = field(default_factory=list)  # converted documents: number, currency, rate, totals


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _map_header(header: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Column positions by Xero's canonical name, and the file's own spelling for messages."""
    wanted = {alias: canon for canon, aliases in COLUMNS.items() for alias in aliases}
    positions, spelled = {}, {}
    for i, name in enumerate(header):
        canon = wanted.get(_key(name))
        if canon and canon not in positions:
            positions[canon], spelled[canon] = i, name.strip()
    return positions, spelled


def parse_rates(text: str, where: str = "rates") -> dict[str, Decimal]:
    """Rates as a person writes them: 'EUR=0.85, USD=0.79' (on the page and in --rate), or a rates
    file of lines 'EUR,0.85' (an optional header 'currency,rate'; '#' starts a comment). Each rate
    is the base-currency value of one unit of that currency. Raises RowProblems naming what is
    wrong and where."""
    rates: dict[str, Decimal] = {}
    problems = []
    for n, raw_line in enumerate(text.splitlines(), start=1):
        body = raw_line.split("#", 1)[0].strip()
        if not body or body.lower().replace(" ", "") in ("currency,rate", "currency;rate", "currency=rate"):
            continue
        items = re.split(r"[,;\s]+", body) if "=" in body else [body.replace(";", ",").replace(" ", "")]
        for item in filter(None, items):
            code, sep, value = item.replace(",", "=").partition("=")
            code, value = code.strip().upper(), value.strip()
            if not sep or len(code) != 3 or not code.isascii() or not code.isalpha():
                problems.append(f"{where} line {n}: {item!r} is not CURRENCY=RATE (e.g. EUR=0.85)")
                continue
            try:
                rate = Decimal(value)
            except InvalidOperation:
                rate = Decimal("NaN")
            if not rate.is_finite() or rate <= 0 or rate > 1_000_000:
                problems.append(f"{where} line {n}: the rate of {code} must be a positive number, not {value!r}")
                continue
            rates[code] = rate
    if problems:
        raise RowProblems(problems)
    return rates


def _check_text(data: bytes) -> None:
    """Refuse, by line, a file that is not UTF-8 text, without holding a decoded copy of it."""
    nul = data.find(b"\x00")
    if nul >= 0:  # a binary file renamed .csv, or UTF-16 text: PostgreSQL cannot store NUL in text
        line = data[:nul].count(b"\n") + 1
        raise RowProblems(
            [
                f"Line {line}: the file has a NUL byte, so it is not a CSV text file (a spreadsheet or "
                "UTF-16 file renamed .csv?). Export it from Xero as CSV again."
            ]
        )
    decoder, step = codecs.getincrementaldecoder("utf-8")(), 1 << 20
    for at in range(0, len(data), step):
        try:
            decoder.decode(data[at : at + step], final=at + step >= len(data))
        except UnicodeDecodeError as exc:
            bad = min(at + exc.start, len(data) - 1)
            line = data[:bad].count(b"\n") + 1
            raise RowProblems(
                [
                    f"Line {line}: the file is not UTF-8 text (byte 0x{data[bad]:02x}). Export it from "
                    "Xero again, or in Excel use Save As > 'CSV UTF-8 (Comma delimited)'."
                ]
            ) from None


def _decimal_or_zero(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "") or "0")
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def parse(
    data: bytes, kind: str = "auto", progress: Progress | None = None, options: ImportOptions | None = None
) -> Parsed:
    """Validate a whole Xero CSV export or import template. `kind` is invoices, bills, or auto (from
    the Type column)."""
    options = options or ImportOptions()
    out = Parsed(sha256=hashlib.sha256(data).hexdigest())
    limit = config.import_max_bytes()
    if len(data) > limit:
        out.problems.append(
            f"The file is {len(data) / 1048576:.1f} MB; the limit is {limit / 1048576:.0f} MB. "
            "Export a shorter date range from Xero and import the parts one by one."
        )
        return out
    if not data.strip():
        out.problems.append("The file is empty.")
        return out
    try:
        _check_text(data)
    except RowProblems as exc:
        out.problems.extend(exc.problems)
        return out
    # read line by line from the bytes: no decoded copy of the whole file is ever held
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    try:
        header = next(reader)
    except StopIteration:  # only a byte-order mark
        out.problems.append("The file is empty.")
        return out
    except csv.Error as exc:
        out.problems.append(f"Line 1: not a CSV header ({exc}).")
        return out
    positions, spelled = _map_header(header)
    # Xero's import templates have neither Status nor an amount due: their documents take the status
    # the person chooses, and their amounts are the sums of their lines
    template = out.template = "Status" not in positions and "AmountDue" not in positions
    if template:
        if options.template_status not in TEMPLATE_STATUSES:
            out.problems.append(
                f"The status for a template's documents must be one of {', '.join(TEMPLATE_STATUSES)}, "
                f"not {options.template_status!r}."
            )
            return out
        missing = [c for c in TEMPLATE_REQUIRED if c not in positions]
    else:
        missing = [c for c in REQUIRED if c not in positions]
        if "TaxTotal" not in positions and "SubTotal" not in positions:
            missing.append("TaxTotal (or SubTotal)")
    if "InvoiceNumber" not in positions and "InvoiceID" not in positions:
        missing.insert(1, "InvoiceNumber (or InvoiceID)")
    if kind == "auto" and "Type" not in positions:
        if template and "brandingtheme" in {_key(h) for h in header}:
            kind = "invoices"  # only Xero's sales template has BrandingTheme
        else:
            missing.append("Type (or choose invoices or bills)")
    if missing:
        out.problems.append(
            f"Line 1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
            f"The file has: {', '.join(h.strip() for h in header if h.strip()) or 'no column names'}."
        )
        return out

    with db.snapshot() as conn:
        projects, phases = imports.lookups(conn)
    documents: dict[tuple[object, ...], dict[str, Any]] = {}
    skipped: dict[tuple[object, ...], Skipped] = {}
    total_lines, problems = max(data.count(b"\n"), 1), out.problems
    template_values = {"Status": options.template_status, "AmountDue": "0", "Total": "0", "TaxTotal": "0"}
    try:
        for row in reader:
            line = reader.line_num
            if len(problems) > MAX_PROBLEMS:
                del problems[MAX_PROBLEMS:]
                problems.append(
                    f"… and more: the check stopped at line {line:,} of about {total_lines:,}. "
                    "Fix these first, then import the file again."
                )
                break
            if not any(cell.strip() for cell in row):
                continue
            out.lines += 1
            if progress and out.lines % 2000 == 0:
                progress(min(0.99, line / total_lines), f"Checked {out.lines:,} lines")
            if len(row) != len(header):
                problems.append(
                    f"Line {line}: {len(row)} values but the header has {len(header)} columns (a stray comma or quote?)"
                )
                continue
            values = {canon: row[i] for canon, i in positions.items()}
            type_text = values.get("Type", "").strip()
            reason = XERO_SKIPPED_TYPES.get(type_text.lower())
            if reason:  # not a P&L document: counted and listed, never stored
                total_text = values.get("Total", "")
                key = (
                    type_text.lower(),
                    values.get("ContactName", "").strip(),
                    values.get("InvoiceNumber", "").strip(),
                    values.get("InvoiceDate", "").strip(),
                    total_text.strip(),
                    values.get("InvoiceID", "").strip(),
                )
                if key not in skipped:
                    skipped[key] = Skipped(
                        type_text,
                        values.get("InvoiceNumber", "").strip(),
                        values.get("ContactName", "").strip(),
                        values.get("InvoiceDate", "").strip(),
                        (values.get("Currency", "").strip() or config.base_currency()).upper(),
                        abs(_decimal_or_zero(total_text)),
                        reason,
                        line,
                    )
                continue
            if template:
                values.pop("SubTotal", None)
                values |= template_values
            try:
                item = XeroLine.model_validate(values)
            except ValidationError as exc:
                problems.extend(xero_line_problems(exc, line, spelled))
                item = None
            placed = _place(values, spelled, kind, line, problems)
            if item is not None and "InvoiceID" in positions and not item.xero_id:
                # a line without the id would be a second document beside the same one with it
                problems.append(
                    f"Line {line}, {spelled['InvoiceID']}: is empty; when the file has this column, "
                    "every line needs Xero's id"
                )
                continue
            if placed is None or item is None:
                continue
            table, doc_type, type_word = placed
            # one document per InvoiceID; without one, an invoice per contact and number, a bill per
            # supplier, number and date (bill numbers are the suppliers' own: they repeat across
            # suppliers, and a supplier's reference can repeat), as csv_document_key (sql/007)
            doc_key = (
                (table, item.xero_id)
                if item.xero_id
                else (table, item.contact, item.number, item.issue_date if table == "bills" else None)
            )
            fields = item.model_dump(exclude={"type", *_LINE_FIELDS})
            doc = documents.get(doc_key)
            if doc is None and problems:  # the file will be refused: keep checking lines, not documents
                continue
            if doc is None:
                doc = documents[doc_key] = {
                    "table": table,
                    "doc_type": doc_type,
                    "type_word": type_word,
                    "line": line,
                    "lines": [],
                    **fields,
                }
            else:
                name = item.number or item.xero_id
                differs = [f for f in _DOCUMENT_FIELDS if doc[f] != fields[f]]
                if doc["doc_type"] != doc_type:
                    differs.append("doc_type")
                if differs:
                    column = spelled.get(_DOCUMENT_FIELDS.get(differs[0], "Type"), differs[0])
                    advice = (
                        ""
                        if "InvoiceID" in positions
                        else (" If these are two documents, export them with Xero's InvoiceID column.")
                    )
                    problems.append(
                        f"Line {line}, {column}: differs from line {doc['line']}, another line of the "
                        f"same document {name} ({doc[differs[0]]} there).{advice}"
                    )
                    continue
            doc["lines"].append(_line_item(item, _tracking(values, spelled), line, template))
    except csv.Error as exc:
        problems.append(f"Line {reader.line_num}: the CSV is malformed ({exc}).")
    out.skipped = list(skipped.values())
    if not problems and not documents and not skipped:
        problems.append("The file has a header but no invoices or bills.")
    if not problems:
        _resolve_tracking(out, list(documents.values()), projects, phases, options)
    if not problems and template:
        _template_amounts(documents.values(), problems)
    if not problems:
        _check_lines_add_up(documents.values(), spelled, "LineAmount" in positions or template, problems)
    if not problems:
        out.documents = _convert_currencies(out, list(documents.values()), config.base_currency(), options.rates)
    return out


def _tracking(values: dict[str, str], spelled: dict[str, str]) -> list[tuple[str, str, str]]:
    """A line's tracking as (category, option, the column it came from); the Project and Phase
    mapping columns are the categories 'project column' and 'phase column'."""
    out = []
    for canon, category in (("Project", "\x00project"), ("Phase", "\x00phase")):
        text = values.get(canon, "").strip()
        if text:
            out.append((category, text, spelled[canon]))
    for n in ("1", "2"):
        option = values.get(f"TrackingOption{n}", "").strip()
        if option:
            out.append((values.get(f"TrackingName{n}", "").strip(), option, spelled[f"TrackingOption{n}"]))
    return out


def _line_item(item: XeroLine, tracking: list[tuple[str, str, str]], line: int, template: bool) -> dict:
    """One line item as stored: line_amount excluding tax (LineAmountTypes), its tracking (resolved
    to a project, None = overhead, and a phase, None = Unassigned, once the whole file is read),
    and the CSV line it came from (for messages). A template's line has no LineAmount: it is
    Quantity x UnitAmount less Discount (a percentage), to the penny."""
    line_amount = item.line_ex_tax
    if template and line_amount is None and item.quantity is not None and item.unit_amount is not None:
        discount = (100 - (item.discount or Decimal(0))) / 100
        line_amount = (item.quantity * item.unit_amount * discount).quantize(PENNY, ROUND_HALF_UP)
    return {
        "description": item.description,
        "account_code": item.account_code,
        "quantity": item.quantity,
        "unit_amount": item.unit_amount,
        "line_amount": line_amount,
        "tax_amount": item.tax_amount if item.tax_amount is not None else Decimal(0),
        "tracking": tracking,
        "project_id": None,
        "phase_id": None,
        "new_project": None,  # the lower-cased name of a project this import creates
        "new_phase": None,
        "original_line_amount": None,
        "original_tax_amount": None,
        "csv_line": line,
    }


def _choose_category(
    wanted: str | None, seen: dict[str, str], what: str, problems: list[str]
) -> tuple[bool, str | None]:
    """(chosen by the person, the lower-cased category) for a person's choice; (False, None) to detect."""
    if wanted is None:
        return False, None
    if wanted == NO_CATEGORY:
        return True, None
    if wanted.strip().lower() not in seen:
        problems.append(
            f"The {what} tracking category {wanted!r} is not in the file (its categories: "
            f"{', '.join(seen.values()) or 'none'})."
        )
        return True, None
    return True, wanted.strip().lower()


def _resolve_tracking(
    out: Parsed, documents: list[dict], projects: dict[str, str], phases: dict[str, str], options: ImportOptions
) -> None:
    """Decide which tracking category is the project and which the phase, then find each line's
    project and phase, collecting the new ones (a new project's client: its first document's contact)."""
    problems = out.problems
    seen: dict[str, str] = {}  # lower-cased category -> as the file spells it
    options_of: dict[str, set[str]] = {}
    for doc in documents:
        for x in doc["lines"]:
            for category, option, _ in x["tracking"]:
                if not category.startswith("\x00"):
                    seen.setdefault(category.lower(), category)
                    options_of.setdefault(category.lower(), set()).add(option.lower())
    out.categories = list(seen.values())
    phase_names = {name.lower(): pid for pid, name in phases.items()}
    chosen, phase_cat = _choose_category(options.phase_category, seen, "phase", problems)
    if not chosen:
        phase_cat = next((c for c in seen if c in PHASE_CATEGORY_NAMES), None)
        if phase_cat is None:  # the category whose options are mostly known phases
            share = {c: len(o & phase_names.keys()) / len(o) for c, o in options_of.items() if o}
            best = max(share, key=lambda c: share[c], default=None)
            phase_cat = best if best is not None and share[best] >= 0.5 else None
    chosen, project_cat = _choose_category(options.project_category, seen, "project", problems)
    if not chosen:
        rest = [c for c in seen if c != phase_cat]
        project_cat = next((c for c in rest if c in PROJECT_CATEGORY_NAMES), rest[0] if rest else None)
    if project_cat is not None and project_cat == phase_cat:
        problems.append(f"The tracking category {seen[project_cat]!r} cannot be both the project and the phase.")
    if problems:
        return
    out.project_category = seen[project_cat] if project_cat else None
    out.phase_category = seen[phase_cat] if phase_cat else None
    for c, spelling in seen.items():
        if c not in (project_cat, phase_cat):
            out.notes.append(
                f"The tracking category {spelling!r} is neither the project nor the phase: its options are not stored."
            )
    new_projects: dict[str, tuple[str, str]] = {}  # lower name -> (name, client)
    new_phases: dict[str, str] = {}
    for doc in documents:
        for x in doc["lines"]:
            project = phase = None
            for category, option, column in x["tracking"]:
                c = category.lower()
                if c == "\x00project" or (c == project_cat and project is None):
                    project = (option, column)
                elif c == "\x00phase" or (c == phase_cat and phase is None):
                    phase = (option, column)
            line = x["csv_line"]
            if project:
                text, column = project
                pid = projects.get(text) or projects.get(text.lower())
                if pid == imports.AMBIGUOUS:
                    problems.append(
                        f"Line {line}, {column}: {text!r} names more than one project; use its tracking option or id"
                    )
                elif pid is not None:
                    x["project_id"] = pid
                elif len(text) > 255:
                    problems.append(f"Line {line}, {column}: a project name is at most 255 characters")
                else:
                    new_projects.setdefault(text.lower(), (text, doc["contact"]))
                    x["new_project"] = text.lower()
            if phase:
                text, column = phase
                if text.lower() in phase_names:
                    x["phase_id"] = phase_names[text.lower()]
                elif len(text) > 100:
                    problems.append(f"Line {line}, {column}: a build phase name is at most 100 characters")
                else:
                    new_phases.setdefault(text.lower(), text)
                    x["new_phase"] = text.lower()
            if len(problems) > MAX_PROBLEMS:
                return
    out.new_projects = dict(sorted(new_projects.values(), key=lambda p: p[0].lower()))
    out.new_phases = sorted(new_phases.values(), key=str.lower)


def _template_amounts(documents, problems: list[str]) -> None:
    """A template's document: SubTotal and tax are the sums of its lines; all of it is due unless
    the chosen status is Paid."""
    for doc in documents:
        subtotal = sum((x["line_amount"] or Decimal(0) for x in doc["lines"]), Decimal(0))
        tax = sum((x["tax_amount"] for x in doc["lines"]), Decimal(0))
        if subtotal < 0 or subtotal + tax < 0:
            problems.append(
                f"Line {doc['line']}: the lines of {doc['number'] or doc['xero_id']} add up to {subtotal}, "
                "less than nothing (a credit note? import it with Xero's credit note Type)"
            )
            continue
        doc |= {"subtotal": subtotal, "total_tax": tax, "total": subtotal + tax}
        doc["amount_due"] = Decimal(0) if doc["status"] == "Paid" else subtotal + tax


def _check_lines_add_up(documents, spelled: dict, has_amounts: bool, problems: list[str]) -> None:
    """Every document's line items add up to its SubTotal (as the database checks at commit).
    A file without LineAmount can only say what a one-line document's line is: its SubTotal."""
    for doc in documents:
        if len(problems) > MAX_PROBLEMS:
            return
        name = doc["number"] or doc["xero_id"]
        if not has_amounts:
            if len(doc["lines"]) > 1:
                problems.append(
                    f"Line {doc['lines'][1]['csv_line']}: {name} has several lines but the file has no "
                    "LineAmount column to say what each is worth. Export it from Xero with line amounts."
                )
                continue
            doc["lines"][0] |= {"line_amount": doc["subtotal"], "tax_amount": doc["total_tax"]}
            continue
        missing = next((x["csv_line"] for x in doc["lines"] if x["line_amount"] is None), None)
        if missing is not None:
            problems.append(f"Line {missing}, {spelled.get('LineAmount', 'LineAmount')}: is required")
            continue
        lines_total = sum((x["line_amount"] for x in doc["lines"]), Decimal(0))
        if lines_total != doc["subtotal"]:
            shown = "LineAmount less TaxAmount" if doc["line_amount_types"] == "Inclusive" else "LineAmount"
            problems.append(
                f"Line {doc['line']}: the lines of {name} add up to {lines_total} ({shown}) but its "
                f"SubTotal is {doc['subtotal']}"
            )


def convert(doc: dict, rate: Decimal) -> None:
    """Convert a document (and its lines) to the base currency at `rate` (base units for one unit
    of its currency), keeping its own amounts in the original_* fields.

    Each amount is converted and rounded to the penny, half away from zero. The subtotal is
    converted as a whole; the lines are converted one by one and the pennies by which they then
    differ from the converted subtotal go on the line of the largest amount (ignoring sign; the
    first such line on a tie), so the lines still add up exactly to the subtotal. Tax is converted
    as a whole and the total is subtotal + tax; the amount due is converted, and is the whole
    converted total when all of it was due. Unit amounts are converted to four places."""

    def base(amount: Decimal, step: Decimal = PENNY) -> Decimal:
        return (amount * rate).quantize(step, ROUND_HALF_UP)

    doc |= {
        "currency_rate": rate,
        "original_subtotal": doc["subtotal"],
        "original_total_tax": doc["total_tax"],
        "original_total": doc["total"],
        "original_amount_due": doc["amount_due"],
    }
    subtotal, tax = base(doc["subtotal"]), base(doc["total_tax"])
    total = subtotal + tax
    due = total if doc["amount_due"] == doc["total"] else min(base(doc["amount_due"]), total)
    doc |= {"subtotal": subtotal, "total_tax": tax, "total": total, "amount_due": due}
    for x in doc["lines"]:
        x["original_line_amount"], x["original_tax_amount"] = x["line_amount"], x["tax_amount"]
        x["line_amount"], x["tax_amount"] = base(x["line_amount"]), base(x["tax_amount"])
        if x["unit_amount"] is not None:
            x["unit_amount"] = base(x["unit_amount"], UNIT_STEP)
    if doc["lines"]:
        largest = max(doc["lines"], key=lambda x: abs(x["original_line_amount"]))  # first of the largest
        largest["line_amount"] += subtotal - sum((x["line_amount"] for x in doc["lines"]), Decimal(0))


def _convert_currencies(out: Parsed, documents: list[dict], base: str, rates: dict[str, Decimal]) -> list[dict]:
    """The documents to write: base-currency ones as they are, the others converted at their
    currency's rate; those with no rate are skipped and listed."""
    keep = []
    for doc in documents:
        doc |= {
            "currency_rate": Decimal(1),
            "original_subtotal": None,
            "original_total_tax": None,
            "original_total": None,
            "original_amount_due": None,
        }
        if doc["currency"] == base:
            keep.append(doc)
            continue
        rate = rates.get(doc["currency"])
        shown = {
            "kind": doc["table"],
            "number": doc["number"],
            "party": doc["contact"],
            "date": doc["issue_date"],
            "currency": doc["currency"],
            "total": doc["total"],
            "rate": rate,
        }
        if rate is None:
            out.skipped.append(
                Skipped(
                    doc["type_word"],
                    doc["number"] or "",
                    doc["contact"],
                    doc["issue_date"].isoformat(),
                    doc["currency"],
                    doc["total"],
                    f"in {doc['currency']}, and no {doc['currency']} rate was given",
                    doc["line"],
                )
            )
            out.foreign.append(shown | {"base_total": None})
            continue
        convert(doc, rate)
        out.foreign.append(shown | {"base_total": doc["total"]})
        keep.append(doc)
    return keep


def _place(
    values: dict[str, str], spelled: dict[str, str], kind: str, line: int, problems: list[str]
) -> tuple[str, str, str] | None:
    """(table, doc_type, the Type as the reconciliation shows it) for one line, or None with the
    problem recorded. An unknown Type is reported by XeroLine; here it only stops the line."""
    doc_type_text = values.get("Type", "").strip()
    if doc_type_text:
        if doc_type_text.lower() not in XERO_TYPES:
            return None
        table, doc_type = XERO_TYPES[doc_type_text.lower()]
        if kind != "auto" and table != kind:
            problems.append(
                f"Line {line}, {spelled['Type']}: {doc_type_text!r} is not one of the {kind} "
                f"(import it as {table}, or choose 'from the Type column')"
            )
            return None
    elif kind == "auto":
        problems.append(f"Line {line}, {spelled['Type']}: is required (or choose invoices or bills)")
        return None
    else:
        table, doc_type = kind, "invoice" if kind == "invoices" else "bill"
    return table, doc_type, _DEFAULT_TYPE_WORDS[(table, doc_type)]


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    dry_run: bool
    changes: pd.DataFrame  # up to 100 new or changed documents, for the dry run's preview
    notes: list[str]
    skipped: pd.DataFrame = field(default_factory=pd.DataFrame)  # SKIPPED_COLUMNS
    reconciliation: pd.DataFrame = field(default_factory=pd.DataFrame)  # RECONCILIATION_COLUMNS
    foreign: pd.DataFrame = field(default_factory=pd.DataFrame)  # FOREIGN_COLUMNS
    new_projects: dict[str, str] = field(default_factory=dict)  # name -> client
    new_phases: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    project_category: str | None = None
    phase_category: str | None = None
    template: bool = False
    projects_created: int = 0
    phases_created: int = 0

    @property
    def summary(self) -> str:
        verb = "Would import" if self.dry_run else "Imported"
        text = (
            f"{verb} {self.created + self.updated + self.unchanged:,} documents: {self.created:,} new, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged."
        )
        if len(self.skipped):
            text += f" {len(self.skipped):,} skipped (listed with the reason)."
        return text

    @property
    def new_names(self) -> str:
        """'12 new projects: A, B, …, 2 new phases: X, Y' (empty when there are none); at most
        the first 10 names of each, then 'and N more' (the page lists them all in a table)."""

        def names(items: list[str], what: str) -> str:
            shown = ", ".join(items[:10]) + (f" and {len(items) - 10:,} more" if len(items) > 10 else "")
            return f"{len(items):,} new {what}{'s' if len(items) != 1 else ''}: {shown}"

        parts = []
        if self.new_projects:
            parts.append(names(list(self.new_projects), "project"))
        if self.new_phases:
            parts.append(names(list(self.new_phases), "phase"))
        return ", ".join(parts)


PREVIEW_COLUMNS = ["change", "kind", "number", "party", "date", "status", "total", "project"]
SKIPPED_COLUMNS = ["type", "number", "contact", "date", "currency", "total", "reason", "line"]
RECONCILIATION_COLUMNS = [
    "type",
    "currency",
    "in_file",
    "in_file_total",
    "new",
    "updated",
    "unchanged",
    "skipped",
    "imported_total",
    "unchanged_total",
    "skipped_total",
    "skipped_because",
]
FOREIGN_COLUMNS = ["kind", "number", "party", "date", "currency", "total", "rate", "base_total"]


def _reconcile(parsed: Parsed, changes: list[str]) -> pd.DataFrame:
    """Per Xero Type and currency: the documents and totals in the file (totals positive, in the
    documents' own currency) = imported (new + updated) + unchanged + skipped."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(type_word: str, currency: str) -> dict[str, Any]:
        return rows.setdefault(
            (type_word, currency),
            {c: 0 for c in RECONCILIATION_COLUMNS}
            | {"type": type_word, "currency": currency, "skipped_because": set()}
            | {c: Decimal(0) for c in ("in_file_total", "imported_total", "unchanged_total", "skipped_total")},
        )

    for doc, change in zip(parsed.documents, changes, strict=True):
        r = row(doc["type_word"], doc["currency"])
        own_total = doc["original_total"] if doc["original_total"] is not None else doc["total"]
        r["in_file"] += 1
        r["in_file_total"] += own_total
        r[change] += 1
        r["unchanged_total" if change == "unchanged" else "imported_total"] += own_total
    for s in parsed.skipped:
        r = row(s.type_word, s.currency)
        r["in_file"] += 1
        r["in_file_total"] += s.total
        r["skipped"] += 1
        r["skipped_total"] += s.total
        r["skipped_because"].add(s.reason)
    out = [r | {"skipped_because": "; ".join(sorted(r["skipped_because"]))} for _, r in sorted(rows.items())]
    return pd.DataFrame(out, columns=RECONCILIATION_COLUMNS)


def import_file(
    data: bytes,
    file_name: str,
    user: User,
    *,
    kind: str = "auto",
    dry_run: bool = True,
    progress: Progress | None = None,
    options: ImportOptions | None = None,
) -> ImportResult:
    """Validate, then (unless a dry run) write; raises RowProblems listing every problem, writing nothing.

    New projects and phases the file names are created in the same transaction as the documents,
    and only when options.create_projects says so (a dry run lists them either way)."""
    if kind not in ("auto", "invoices", "bills"):
        raise ValueError("kind must be auto, invoices or bills")
    options = options or ImportOptions()
    require_role(user, action="import Xero files")
    parsed = parse(data, kind, progress, options)
    if parsed.problems:
        raise RowProblems(parsed.problems)
    if progress:
        progress(1.0, f"Checked {parsed.lines:,} lines: {len(parsed.documents):,} documents")
    # only the new projects and phases that documents being imported use (not skipped ones')
    used_projects = {x["new_project"] for d in parsed.documents for x in d["lines"] if x["new_project"]}
    used_phases = {x["new_phase"] for d in parsed.documents for x in d["lines"] if x["new_phase"]}
    new_projects = {n: c for n, c in parsed.new_projects.items() if n.lower() in used_projects}
    new_phases = [p for p in parsed.new_phases if p.lower() in used_phases]
    result = ImportResult(
        0,
        0,
        0,
        dry_run,
        pd.DataFrame(columns=PREVIEW_COLUMNS),
        list(dict.fromkeys(parsed.notes)),
        pd.DataFrame([vars(s) | {"type": s.type_word} for s in parsed.skipped], columns=SKIPPED_COLUMNS),
        new_projects=new_projects,
        new_phases=new_phases,
        foreign=pd.DataFrame(parsed.foreign, columns=FOREIGN_COLUMNS),
        categories=parsed.categories,
        project_category=parsed.project_category,
        phase_category=parsed.phase_category,
        template=parsed.template,
    )
    if not dry_run and (new_projects or new_phases) and not options.create_projects:
        raise RowProblems(
            [
                f"The file names {result.new_names}. Nothing was imported: confirm that they are to be "
                "created (on the Import page, tick 'Create the new projects and phases'; on the command "
                "line, add --create-projects), or add them in Milestone first."
            ]
        )
    if not dry_run:
        count_write(user.username)

    def write() -> tuple[dict[str, int], list, list[str], int, int]:
        with db.transaction(user.username) as conn:
            starts: dict[str, date] = {}
            for d in parsed.documents:
                for x in d["lines"]:
                    if x["new_project"] and (
                        x["new_project"] not in starts or d["issue_date"] < starts[x["new_project"]]
                    ):
                        starts[x["new_project"]] = d["issue_date"]
            project_ids = imports.create_projects(
                conn, [(n, c, starts[n.lower()]) for n, c in new_projects.items()], user.id or None
            )
            phase_ids = imports.create_phases(conn, new_phases)
            for d in parsed.documents:
                for x in d["lines"]:
                    if x["new_project"]:
                        x["project_id"] = project_ids[x["new_project"]]
                    if x["new_phase"]:
                        x["phase_id"] = phase_ids[x["new_phase"]]
            counts, samples, changes = imports.upsert_documents(conn, parsed.documents, write=not dry_run)
            if dry_run:
                conn.rollback()  # classified in the database, written nowhere
            else:
                imports.record_import(
                    conn,
                    user.username,
                    file_name,
                    parsed.sha256,
                    parsed.lines,
                    counts | {"skipped": len(parsed.skipped), "projects": len(project_ids), "phases": len(phase_ids)},
                )
        return counts, samples, changes, len(project_ids), len(phase_ids)

    try:  # a write PostgreSQL stopped for colliding with another writer is run again, as saves are
        counts, samples, changes, projects_created, phases_created = db.retried(write)
    except sa.exc.IntegrityError:  # a project or phase the file names was deleted (or added) since the check
        raise RowProblems(
            [
                "The database refused the change: a project or build phase the file names was "
                "deleted or added meanwhile. Check the file again."
            ]
        ) from None
    result.created, result.updated, result.unchanged = counts["created"], counts["updated"], counts["unchanged"]
    result.changes = pd.DataFrame(samples, columns=PREVIEW_COLUMNS)
    result.reconciliation = _reconcile(parsed, changes)
    if not dry_run:
        result.projects_created, result.phases_created = projects_created, phases_created
    return result


def history(limit: int = 50) -> pd.DataFrame:
    with db.snapshot() as conn:
        return imports.history(conn, limit)
