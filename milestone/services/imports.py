"""Load Xero's invoice and bill CSV exports: validate the whole file, then upsert in one transaction.

The flow is read -> validate every line -> group lines into documents -> dry run or write.
Nothing is written unless every line is valid, so a refused file changes nothing; the same
file imported twice changes nothing the second time (rows are matched by InvoiceID, or by
InvoiceNumber when the export has no InvoiceID, and only rows that differ are updated).

Each CSV line is one line item of its document, with its own project and build phase (Xero
tracks them per line): a document may be split across projects and phases. Projects are found
by a mapping column (Project) or by a Xero tracking category (TrackingName1/TrackingOption1):
the option is matched to a project's Xero tracking id, its name or its id; a line with no option
is an overhead (Unallocated). A second tracking category named Phase (or a Phase column) sets the
line's build phase. A line's amount is LineAmount (with TaxAmount; an Inclusive document's
LineAmount includes its tax, per LineAmountTypes, Exclusive when the file has no such column);
the lines of a document must add up to its SubTotal. The document's own fields must agree on
every one of its lines.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from pydantic import ValidationError

from milestone import config, db
from milestone.errors import RowProblems
from milestone.services.access import count_write, require_role
from milestone.store import imports
from milestone.store.users import User
from milestone.validation import XERO_TYPES, XeroLine, xero_line_problems

MAX_PROBLEMS = 200  # listed; past this the file is not read further (a hostile file costs little)
PHASE_CATEGORY_NAMES = {"phase", "phases", "build phase", "build phases", "buildphase"}
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
_LINE_FIELDS = ("description", "account_code", "quantity", "unit_amount", "line_amount", "tax_amount")
Progress = Callable[[float, str], object]  # told how far the check is (0..1) and what to say


@dataclass
class Parsed:
    """A validated file: documents ready to write, or the problems that stop it."""

    documents: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: int = 0
    sha256: str = ""


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


def parse(data: bytes, kind: str = "auto", progress: Progress | None = None) -> Parsed:
    """Validate a whole Xero CSV export. `kind` is invoices, bills, or auto (from the Type column)."""
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
    missing = [c for c in REQUIRED if c not in positions]
    if "InvoiceNumber" not in positions and "InvoiceID" not in positions:
        missing.insert(1, "InvoiceNumber (or InvoiceID)")
    if "TaxTotal" not in positions and "SubTotal" not in positions:
        missing.append("TaxTotal (or SubTotal)")
    if "Project" not in positions and "TrackingOption1" not in positions:
        missing.append("Project (or TrackingName1 and TrackingOption1)")
    if kind == "auto" and "Type" not in positions:
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
    total_lines, problems = max(data.count(b"\n"), 1), out.problems
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
            try:
                item = XeroLine.model_validate(values)
            except ValidationError as exc:
                problems.extend(xero_line_problems(exc, line, spelled))
                item = None
            where = _place(values, spelled, kind, projects, phases, line, problems)
            if item is not None and "InvoiceID" in positions and not item.xero_id:
                # a line without the id would be a second document beside the same one with it
                problems.append(
                    f"Line {line}, {spelled['InvoiceID']}: is empty; when the file has this column, "
                    "every line needs Xero's id"
                )
                continue
            if where is None or item is None:
                continue
            table, doc_type, project_id, phase_id = where
            # one document per InvoiceID; without one, an invoice per contact and number, a bill per
            # supplier, number and date (a supplier's reference can repeat), as csv_document_key (sql/007)
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
                doc = documents[doc_key] = {"table": table, "doc_type": doc_type, "line": line, "lines": [], **fields}
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
            doc["lines"].append(_line_item(item, project_id, phase_id, line))
    except csv.Error as exc:
        problems.append(f"Line {reader.line_num}: the CSV is malformed ({exc}).")
    if not problems and not documents:
        problems.append("The file has a header but no invoices or bills.")
    if not problems:
        _check_lines_add_up(documents.values(), spelled, "LineAmount" in positions, problems)
    if not problems:
        out.documents = list(documents.values())
    return out


def _line_item(item: XeroLine, project_id: str | None, phase_id: str | None, line: int) -> dict:
    """One line item as stored: line_amount excluding tax (LineAmountTypes), its project (None =
    overhead) and phase (None = Unassigned), and the CSV line it came from (for messages)."""
    return {
        "description": item.description,
        "account_code": item.account_code,
        "quantity": item.quantity,
        "unit_amount": item.unit_amount,
        "line_amount": item.line_ex_tax,
        "tax_amount": item.tax_amount if item.tax_amount is not None else Decimal(0),
        "project_id": project_id,
        "phase_id": phase_id,
        "csv_line": line,
    }


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
            problems.append(f"Line {missing}, {spelled['LineAmount']}: is required")
            continue
        lines_total = sum((x["line_amount"] for x in doc["lines"]), Decimal(0))
        if lines_total != doc["subtotal"]:
            shown = "LineAmount less TaxAmount" if doc["line_amount_types"] == "Inclusive" else "LineAmount"
            problems.append(
                f"Line {doc['line']}: the lines of {name} add up to {lines_total} ({shown}) but its "
                f"SubTotal is {doc['subtotal']}"
            )


def _place(
    values: dict[str, str],
    spelled: dict[str, str],
    kind: str,
    projects: dict[str, str],
    phases: dict[str, str],
    line: int,
    problems: list[str],
) -> tuple[str, str, str | None, str | None] | None:
    """(table, doc_type, project id or None for an overhead, phase id) for one line, or None with
    the problem recorded.

    An unknown Type is reported by XeroLine; here it only stops the line."""
    ok = True
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
            ok = False
    elif kind == "auto":
        problems.append(f"Line {line}, {spelled['Type']}: is required (or choose invoices or bills)")
        return None
    else:
        table, doc_type = kind, "invoice" if kind == "invoices" else "bill"

    project_text, project_col = values.get("Project", "").strip(), spelled.get("Project")
    phase_text, phase_col = values.get("Phase", "").strip(), spelled.get("Phase")
    for n in ("1", "2"):
        category = values.get(f"TrackingName{n}", "").strip().lower()
        option = values.get(f"TrackingOption{n}", "").strip()
        if not option:
            continue
        if category in PHASE_CATEGORY_NAMES:
            if not phase_text:
                phase_text, phase_col = option, spelled[f"TrackingOption{n}"]
        elif not project_text:
            project_text, project_col = option, spelled[f"TrackingOption{n}"]
    project_id = projects.get(project_text) or projects.get(project_text.lower())
    if not project_text:
        project_id = None  # an untracked line: an overhead (Unallocated)
    elif project_id is None:
        problems.append(f"Line {line}, {project_col}: unknown project {project_text!r}")
        ok = False
    elif project_id == imports.AMBIGUOUS:
        problems.append(
            f"Line {line}, {project_col}: {project_text!r} names more than one project; use its tracking option or id"
        )
        ok = False
    phase_id = None
    if phase_text:
        phase_id = next((pid for pid, name in phases.items() if name.lower() == phase_text.lower()), None)
        if phase_id is None:
            problems.append(
                f"Line {line}, {phase_col}: unknown build phase {phase_text!r} "
                f"(known: {', '.join(sorted(phases.values(), key=str.lower))})"
            )
            ok = False
    return (table, doc_type, project_id, phase_id) if ok else None


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    dry_run: bool
    changes: pd.DataFrame  # up to 100 new or changed documents, for the dry run's preview
    notes: list[str]

    @property
    def summary(self) -> str:
        verb = "Would import" if self.dry_run else "Imported"
        return (
            f"{verb} {self.created + self.updated + self.unchanged:,} documents: {self.created:,} new, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged."
        )


PREVIEW_COLUMNS = ["change", "kind", "number", "party", "date", "status", "total", "project"]


def import_file(
    data: bytes,
    file_name: str,
    user: User,
    *,
    kind: str = "auto",
    dry_run: bool = True,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate, then (unless a dry run) write; raises RowProblems listing every problem, writing nothing."""
    if kind not in ("auto", "invoices", "bills"):
        raise ValueError("kind must be auto, invoices or bills")
    require_role(user, action="import Xero files")
    parsed = parse(data, kind, progress)
    if parsed.problems:
        raise RowProblems(parsed.problems)
    if progress:
        progress(1.0, f"Checked {parsed.lines:,} lines: {len(parsed.documents):,} documents")
    if not dry_run:
        count_write(user.username)

    def write() -> tuple[dict[str, int], list]:
        with db.transaction(user.username) as conn:
            counts, samples = imports.upsert_documents(conn, parsed.documents, write=not dry_run)
            if dry_run:
                conn.rollback()  # classified in the database, written nowhere
            else:
                imports.record_import(conn, user.username, file_name, parsed.sha256, parsed.lines, counts)
        return counts, samples

    try:  # a write PostgreSQL stopped for colliding with another writer is run again, as saves are
        counts, samples = db.retried(write)
    except sa.exc.IntegrityError:  # a project or phase the file names was deleted since the check
        raise RowProblems(
            [
                "The database refused the change: a project or build phase the file names was "
                "deleted meanwhile. Check the file again."
            ]
        ) from None
    return ImportResult(
        counts["created"],
        counts["updated"],
        counts["unchanged"],
        dry_run,
        pd.DataFrame(samples, columns=PREVIEW_COLUMNS),
        list(dict.fromkeys(parsed.notes)),
    )


def history(limit: int = 50) -> pd.DataFrame:
    with db.snapshot() as conn:
        return imports.history(conn, limit)
