"""Pydantic models for every input a person or a file can give, with messages a person can act on."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_STATUSES = ("Planning", "In Progress", "Completed", "On Hold")
UNASSIGNED = "unassigned"  # the phase filter's token for documents with no build phase
MAX_AMOUNT = Decimal("100000000000")  # 10^11: more than any project this practice will see

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


class Filters(BaseModel):
    """What the dashboard is looking at. Empty lists mean 'all'; no dates mean 'all time'."""

    model_config = ConfigDict(frozen=True)

    date_from: date | None = None
    date_to: date | None = None
    clients: tuple[str, ...] = ()
    statuses: tuple[Literal["Planning", "In Progress", "Completed", "On Hold"], ...] = ()
    phases: tuple[str, ...] = ()  # build_phase ids, or UNASSIGNED
    owners: tuple[str, ...] = ()  # app_users ids
    project_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _dates_ordered(self) -> "Filters":
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError(f"the end date {self.date_to} is before the start date {self.date_from}")
        return self

    @property
    def by_document(self) -> bool:
        """True when the all-time per-project metrics cannot answer (a date or phase filter)."""
        return bool(self.date_from or self.date_to or self.phases)


def describe_errors(exc: ValidationError, labels: dict[str, str] | None = None) -> list[str]:
    """Turn pydantic's errors into 'Field: message' lines a person understands."""
    labels = labels or {}
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "input"
        name = labels.get(field, field.replace("_", " ").capitalize())
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{name}: {msg}")
    return out
