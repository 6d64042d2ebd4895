"""Pydantic models for every input a person or a file can give, with messages a person can act on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

ProjectStatus = Literal["Planning", "In Progress", "Completed", "On Hold"]
PROJECT_STATUSES: tuple[str, ...] = get_args(ProjectStatus)
OPEN_STATUSES = ("Planning", "In Progress", "On Hold")  # every status but Completed
UNASSIGNED = "unassigned"  # the phase filter's token for documents with no build phase


def phase_choices(ids: Iterable[str], names: Iterable[str]) -> dict[str, str]:
    """What a build-phase filter offers: UNASSIGNED first, then each phase id with its name."""
    return {UNASSIGNED: "Unassigned"} | dict(zip(ids, names, strict=True))


MAX_AMOUNT = Decimal("100000000000")  # 10^11: more than any project this practice will see

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


def _no_nul(v: str) -> str:
    if "\x00" in v:  # PostgreSQL cannot store it in text; refused here with the field's name
        raise ValueError("must not contain a NUL character (\\x00)")
    return v


Text = Annotated[str, AfterValidator(_no_nul)]  # every free text a person or a file gives


class Filters(BaseModel):
    """What the dashboard is looking at. Empty lists mean 'all'; no dates mean 'all time'."""

    model_config = ConfigDict(frozen=True)

    date_from: date | None = None
    date_to: date | None = None
    clients: tuple[str, ...] = ()
    statuses: tuple[ProjectStatus, ...] = ()
    phases: tuple[str, ...] = ()  # build_phase ids, or UNASSIGNED
    owners: tuple[str, ...] = ()  # app_users ids
    project_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _dates_ordered(self) -> Filters:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError(f"the end date {self.date_to} is before the start date {self.date_from}")
        return self

    @property
    def by_document(self) -> bool:
        """True when the all-time per-project metrics cannot answer (a date or phase filter)."""
        return bool(self.date_from or self.date_to or self.phases)


EVERYTHING = Filters()  # no filter: all time, all clients, statuses and phases (a shared, frozen default)


def describe_errors(exc: ValidationError, labels: dict[str, str] | None = None) -> list[str]:
    """Turn pydantic's errors into 'Field: message' lines a person understands."""
    labels = labels or {}
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "input"
        name = labels.get(field, field.replace("_", " ").capitalize())
        msg = _plain(err["msg"].removeprefix("Value error, "))
        out.append(f"{name}: {msg}" if err["loc"] else msg)
    return out


PROJECT_LABELS = {
    "name": "Name",
    "client_name": "Client",
    "status": "Status",
    "start_date": "Start date",
    "end_date": "End date",
    "budget_revenue": "Revenue budget",
    "budget_cost": "Cost budget",
}


class ProjectInput(BaseModel):
    """A project as a person types it in the Projects form."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: Text = Field(min_length=1, max_length=255)
    client_name: Text = Field(min_length=1, max_length=255)
    status: ProjectStatus = "Planning"
    start_date: date | None = None
    end_date: date | None = None
    budget_revenue: Money | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    budget_cost: Money | None = Field(default=None, ge=0, le=MAX_AMOUNT)

    @model_validator(mode="after")
    def _end_after_start(self) -> ProjectInput:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"End date {self.end_date:%d %b %Y} is before the start date {self.start_date:%d %b %Y}")
        return self


def _plain(msg: str) -> str:
    """pydantic's wording, made plain for accountants."""
    replacements = {
        "String should have at least 1 character": "must not be empty",
        "Input should be greater than or equal to 0": "must not be negative",
        "Input should be greater than 0": "must be greater than 0",
        "Decimal input should have no more than 2 decimal places": "has more than 2 decimal places (pence)",
        "Input should be a valid decimal": "must be a number",
        "Input should be a valid date": "must be a date",
    }
    for k, v in replacements.items():
        msg = msg.replace(k, v)
    if msg.startswith("String should have at most"):
        msg = "is too long (" + msg.removeprefix("String should have at most ") + " at most)"
    if (
        msg.startswith("Input should be less than or equal to")
        or "digits before the decimal point" in msg
        or msg.startswith("Decimal input should have no more than 14 digits")
    ):
        msg = "is too large (at most 100,000,000,000)"
    if msg.startswith("String should match pattern '^[a-z0-9._-]{2,64}$'"):
        msg = "use 2 to 64 lower-case letters, digits, dots, dashes or underscores"
    elif msg.startswith("String should match pattern '^[^@\\s]+@"):
        msg = "is not an email address"
    return msg


class NewUser(BaseModel):
    """A user as an admin types them in (Users page or CLI)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    username: str = Field(pattern=r"^[a-z0-9._-]{2,64}$")
    display_name: Text = Field(min_length=1, max_length=255)
    email: Text | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Literal["admin", "finance", "viewer"] = "viewer"

    @field_validator("email", mode="before")
    @classmethod
    def _blank_email_is_none(cls, v: object) -> object:
        return v or None


USER_LABELS = {"username": "Username", "display_name": "Name", "email": "Email", "role": "Role"}


def _no_nul_anywhere(v: object) -> object:
    """Refuse a NUL character anywhere in a JSON-like value (PostgreSQL's jsonb cannot hold one)."""
    if isinstance(v, str):
        _no_nul(v)
    elif isinstance(v, dict):
        for key, item in v.items():
            _no_nul_anywhere(key)
            _no_nul_anywhere(item)
    elif isinstance(v, (list, tuple)):
        for item in v:
            _no_nul_anywhere(item)
    return v


class SavedView(BaseModel):
    """A named set of filters a user saves (the sidebar's "Saved views"), checked in the service too.
    The name loses its surrounding spaces; the filters are kept exactly."""

    name: Text = Field(min_length=1, max_length=60)
    params: Annotated[dict[str, str | list[str]], AfterValidator(_no_nul_anywhere)] = {}
    make_default: bool = False

    @field_validator("name", mode="before")
    @classmethod
    def _strip(cls, v: object) -> object:
        return v.strip() if isinstance(v, str) else v


VIEW_LABELS = {"name": "View name", "params": "Filters", "make_default": "Default"}


def saved_view(name: str, params: dict[str, object], make_default: bool = False) -> SavedView:
    """Validate a saved view (raises ValidationError; describe_errors(exc, VIEW_LABELS) words it)."""
    return SavedView.model_validate({"name": name, "params": params, "make_default": make_default})


ESTIMATE_LABELS = {
    "kind": "Kind",
    "project_id": "Project",
    "build_phase_id": "Build phase",
    "description": "Description",
    "amount": "Amount",
    "date": "Date",
}


class EstimateRow(BaseModel):
    """One estimate as a person edits it in the grid (or a file gives it)."""

    model_config = ConfigDict(str_strip_whitespace=False)  # text is stored exactly as typed

    project_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    kind: Literal["revenue", "cost"]
    build_phase_id: str | None = None
    description: Text = Field(min_length=1, max_length=500)
    amount: Decimal = Field(gt=0, le=MAX_AMOUNT, max_digits=14, decimal_places=2)
    date: date

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_text(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.replace(",", "").replace("£", "").strip()
        if isinstance(v, float):
            v = Decimal(str(v))  # 12.3 typed in the grid arrives as a float; keep what was typed
        return v

    @field_validator("description")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class EstimateChanges(BaseModel):
    """A save: edited rows (with the version they were loaded at), new rows, deleted rows."""

    updates: list[tuple[str, int, EstimateRow]] = []  # (id, version, values)
    inserts: list[tuple[str | None, EstimateRow]] = []  # (id or None for a new one, values)
    deletes: list[tuple[str, int]] = []  # (id, version)

    @property
    def count(self) -> int:
        return len(self.updates) + len(self.inserts) + len(self.deletes)


def estimate_row(values: dict[str, object], where: str) -> tuple[EstimateRow | None, list[str]]:
    """Validate one grid row; `where` names it for messages ('Row 3', 'New row 1')."""
    try:
        return EstimateRow.model_validate(values), []
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            label = ESTIMATE_LABELS.get(field, field.capitalize())
            msg = _plain(err["msg"].removeprefix("Value error, "))
            if err["type"] == "missing" or (
                err["type"] in ("literal_error", "date_type", "string_type", "decimal_type")
                and err.get("input") in (None, "")
            ):
                msg = "is required"
            elif field == "amount" and err["type"] == "decimal_parsing":
                msg = f"must be a number, not {err.get('input')!r}"
            elif field == "project_id":
                msg = "choose a project"
            out.append(f"{where}, {label}: {msg}")
        return None, out


# --------------------------------------------------------------------------- Xero CSV files

XERO_STATUSES = {
    "draft": "Draft",
    "submitted": "Submitted",
    "awaiting approval": "Submitted",
    "authorised": "Authorised",
    "awaiting payment": "Authorised",
    "paid": "Paid",
    "voided": "Voided",
    "void": "Voided",
    "deleted": "Voided",
}
# Xero's Type column, as its API names it and as its CSV exports word it: (table, doc_type)
XERO_TYPES = {
    "accrec": ("invoices", "invoice"),
    "sales invoice": ("invoices", "invoice"),
    "invoice": ("invoices", "invoice"),
    "accreccredit": ("invoices", "credit_note"),
    "sales credit note": ("invoices", "credit_note"),
    "accpay": ("bills", "bill"),
    "bill": ("bills", "bill"),
    "purchase bill": ("bills", "bill"),
    "accpaycredit": ("bills", "credit_note"),
    "bill credit note": ("bills", "credit_note"),
    "purchase credit note": ("bills", "credit_note"),
}
# Xero's Types that are not P&L documents (money received or paid ahead, not a sale or a cost):
# an import skips, counts and lists them (docs/xero-sync.md, "Importing a CSV export").
XERO_SKIPPED_TYPES = {
    "sales overpayment": "an overpayment is money received, not a sale",
    "sales prepayment": "a prepayment is money received ahead of an invoice, not a sale",
    "bill overpayment": "an overpayment is money paid, not a cost",
    "bill prepayment": "a prepayment is money paid ahead of a bill, not a cost",
    "receive-overpayment": "an overpayment is money received, not a sale",
    "receive-prepayment": "a prepayment is money received ahead of an invoice, not a sale",
    "spend-overpayment": "an overpayment is money paid, not a cost",
    "spend-prepayment": "a prepayment is money paid ahead of a bill, not a cost",
}
# the statuses a person may give the documents of an import template (which has no Status)
TEMPLATE_STATUSES = {
    "Draft": "Draft",
    "Awaiting Approval": "Submitted",
    "Awaiting Payment": "Authorised",
    "Paid": "Paid",
}
XERO_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d %b %Y", "%d-%b-%Y", "%d %B %Y")


def _blank_to_none(v: object) -> object:
    return None if isinstance(v, str) and not v.strip() else v


def _xero_date(v: object) -> object:
    from datetime import datetime

    v = _blank_to_none(v)
    if v is None or isinstance(v, date):
        return v
    text = str(v).strip()
    for fmt in XERO_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")


def _xero_amount(v: object) -> object:
    v = _blank_to_none(v)
    if v is None or isinstance(v, Decimal):
        return v
    text = str(v).strip().replace(",", "").replace("£", "")
    try:
        amount = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{str(v).strip()!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{str(v).strip()!r} is not a number")
    return amount


XeroDate = Annotated[date, BeforeValidator(_xero_date)]
XeroMoney = Annotated[Decimal, BeforeValidator(_xero_amount), Field(max_digits=14, decimal_places=2, le=MAX_AMOUNT)]
# a line's amount may be negative (a discount line)
XeroLineMoney = Annotated[
    Decimal, BeforeValidator(_xero_amount), Field(max_digits=14, decimal_places=2, ge=-MAX_AMOUNT, le=MAX_AMOUNT)
]
XeroQuantity = Annotated[Decimal, BeforeValidator(_xero_amount), Field(max_digits=18, decimal_places=4)]
LINE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax", "no tax": "NoTax"}


class XeroLine(BaseModel):
    """One line of a Xero invoice or bill CSV export, by Xero's own column names.

    Xero writes one line per line item with the document's fields repeated, so several
    lines may describe one document; the importer groups them and checks that they agree.
    Amounts are as Xero gives them: positive, except that a credit note may come negative
    (its sign is taken from Type, so it is stored positive like every other amount).
    """

    model_config = ConfigDict(str_strip_whitespace=True, populate_by_name=True)

    contact: Text = Field(alias="ContactName", min_length=1, max_length=255)
    number: Text | None = Field(default=None, alias="InvoiceNumber", max_length=255)
    xero_id: Text | None = Field(default=None, alias="InvoiceID", max_length=255)
    issue_date: XeroDate = Field(alias="InvoiceDate")
    due_date: XeroDate | None = Field(default=None, alias="DueDate")
    total: XeroMoney = Field(alias="Total")
    total_tax: XeroMoney | None = Field(default=None, alias="TaxTotal")
    subtotal: XeroMoney | None = Field(default=None, alias="SubTotal")
    amount_due: XeroMoney = Field(alias="AmountDue")
    status: str = Field(alias="Status")
    currency: str = Field(default="GBP", alias="Currency")
    type: str | None = Field(default=None, alias="Type")
    line_amount_types: str = Field(
        default="Exclusive", alias="LineAmountTypes"
    )  # the document's, as Xero's API names it
    # the line item (Xero writes one CSV line per line item)
    description: Text | None = Field(default=None, alias="Description", max_length=4000)
    account_code: Text | None = Field(default=None, alias="AccountCode", max_length=255)
    quantity: XeroQuantity | None = Field(default=None, alias="Quantity")
    unit_amount: XeroQuantity | None = Field(default=None, alias="UnitAmount")
    line_amount: XeroLineMoney | None = Field(default=None, alias="LineAmount")
    tax_amount: XeroLineMoney | None = Field(default=None, alias="TaxAmount")
    discount: XeroQuantity | None = Field(default=None, alias="Discount", ge=0, le=100)  # a percentage

    @field_validator(
        "number",
        "xero_id",
        "due_date",
        "total_tax",
        "subtotal",
        "currency",
        "type",
        "description",
        "account_code",
        "quantity",
        "unit_amount",
        "line_amount",
        "tax_amount",
        "discount",
        mode="before",
    )
    @classmethod
    def _optional(cls, v: object, info: ValidationInfo) -> object:
        v = _blank_to_none(v)
        if v is None and info.field_name == "currency":
            return "GBP"
        return v

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, v: str) -> str:
        code = v.strip().upper()
        if len(code) != 3 or not code.isascii() or not code.isalpha():
            raise ValueError(f"{v!r} is not a three-letter currency code such as GBP or EUR")
        return code

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: object) -> str:
        key = str(v or "").strip().lower()
        if not key:
            raise ValueError("is required")
        if key not in XERO_STATUSES:
            raise ValueError(f"{str(v).strip()!r} is not a Xero status (Draft, Submitted, Authorised, Paid, Voided)")
        return XERO_STATUSES[key]

    @field_validator("line_amount_types", mode="before")
    @classmethod
    def _amount_types(cls, v: object) -> str:
        key = str(v or "").strip().lower()
        if not key:
            return "Exclusive"
        if key not in LINE_AMOUNT_TYPES:
            raise ValueError(f"{str(v).strip()!r} is not one of Exclusive, Inclusive, NoTax")
        return LINE_AMOUNT_TYPES[key]

    @property
    def line_ex_tax(self) -> Decimal | None:
        """The line's amount excluding tax, as Milestone stores it (LineAmountTypes: an Inclusive
        line's LineAmount includes its TaxAmount)."""
        if self.line_amount is None:
            return None
        if self.line_amount_types == "Inclusive":
            return self.line_amount - (self.tax_amount or 0)
        return self.line_amount

    @field_validator("type", mode="after")
    @classmethod
    def _type(cls, v: str | None) -> str | None:
        if v is not None and v.lower() not in XERO_TYPES:
            raise ValueError(f"{v!r} is not a Xero document type (e.g. Sales invoice, Bill, ACCREC, ACCPAY)")
        return v

    @property
    def is_credit_note(self) -> bool:
        return self.type is not None and XERO_TYPES[self.type.lower()][1] == "credit_note"

    @model_validator(mode="after")
    def _totals_agree(self) -> XeroLine:
        if not self.number and not self.xero_id:
            raise ValueError("InvoiceNumber is required (or Xero's InvoiceID)")
        names = {"total": "Total", "total_tax": "TaxTotal", "subtotal": "SubTotal", "amount_due": "AmountDue"}
        negative = [column for field, column in names.items() if (getattr(self, field) or 0) < 0]
        if negative and not self.is_credit_note:
            raise ValueError(
                f"{negative[0]} {getattr(self, next(f for f, c in names.items() if c == negative[0]))} "
                "is negative; only a credit note (by its Type) may be"
            )
        if negative:  # a credit note exported negative: all its amounts must be, then all are flipped
            positive = [c for f, c in names.items() if f != "amount_due" and (getattr(self, f) or 0) > 0]
            if positive:
                raise ValueError(
                    f"{negative[0]} is negative but {positive[0]} is positive: a credit note's "
                    "amounts must all have the same sign"
                )
            for field in names:
                if getattr(self, field) is not None:
                    setattr(self, field, abs(getattr(self, field)))
            for field in ("line_amount", "tax_amount", "unit_amount"):  # the line's sign flips with them
                if getattr(self, field) is not None:
                    setattr(self, field, -getattr(self, field))
        if self.total_tax is None and self.subtotal is None:
            raise ValueError("TaxTotal or SubTotal is required")
        if self.total_tax is None:
            assert self.subtotal is not None  # one of the two is there (checked just above)
            self.total_tax = self.total - self.subtotal
            if self.total_tax < 0:
                raise ValueError(f"SubTotal {self.subtotal} is more than Total {self.total}")
        if self.subtotal is None:
            self.subtotal = self.total - self.total_tax
        if self.subtotal < 0 or self.total_tax < 0:
            raise ValueError(f"TaxTotal {self.total_tax} is more than Total {self.total}")
        if self.subtotal + self.total_tax != self.total:
            raise ValueError(f"SubTotal {self.subtotal} + TaxTotal {self.total_tax} is not Total {self.total}")
        if self.amount_due > self.total:
            raise ValueError(f"AmountDue {self.amount_due} is more than Total {self.total}")
        if self.due_date and self.due_date < self.issue_date:
            raise ValueError(f"DueDate {self.due_date} is before InvoiceDate {self.issue_date}")
        return self


def xero_line_problems(exc: ValidationError, line: int, headers: dict[str, str]) -> list[str]:
    """'Line 7, InvoiceDate: '31/02/2026' is not a date ...', naming the column as the file does."""
    out = []
    for err in exc.errors():
        column = headers.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else ""
        msg = _plain(err["msg"].removeprefix("Value error, "))
        if err["type"] == "missing" or (err.get("input") in ("", None) and err["type"] != "value_error"):
            msg = "is required"
        out.append(f"Line {line}, {column}: {msg}" if column else f"Line {line}: {msg}")
    return out
