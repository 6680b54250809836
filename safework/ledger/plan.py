"""What an import found and would write: issues per row, and the records to create or update."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from safework.certs.models import CertificateItem
from safework.core.tabular import clip

ERROR, NOTE = "error", "note"
# A finding quotes the file; a hostile file's cells can hold 32,767 characters each, so every text
# of a finding is cut (with an ellipsis) before it is kept, stored or written to the error file.
VALUE_CHARS = 200
MESSAGE_CHARS = 1000
COLUMN_CHARS = 100
# A finding for the reviewing safety officer only, never shown to the contractor who uploaded:
# their number belongs to someone outside the contractor's staff (issue 17: they must not learn
# that the person exists). The row is held back, not written.
REVIEW = "review"


@dataclass(slots=True)
class Issue:
    """One finding about a cell or a row: row number as in the sheet, the column as headed there."""

    row: int
    column: str
    cell: str
    value: str
    code: str
    message: str
    level: str = ERROR

    def __post_init__(self):
        self.value = clip(self.value, VALUE_CHARS)
        self.message = clip(self.message, MESSAGE_CHARS)
        self.column = clip(self.column, COLUMN_CHARS)
        self.cell = clip(self.cell, COLUMN_CHARS)

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "cell": self.cell,
            "value": self.value,
            "code": self.code,
            "message": str(self.message),
            "level": self.level,
        }


@dataclass(slots=True)
class CertIn:
    item: CertificateItem
    restriction: str
    legacy_code: str
    number: str
    issued_on: dt.date
    first_issued_on: dt.date | None
    valid_from: dt.date | None
    valid_until: dt.date
    issuing_authority: str
    last_review: dt.date | None
    # Decided by the check for a new record: reviews implied by last_review, first unpassed due.
    reviews: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    next_review_due: dt.date | None = None

    @property
    def key(self) -> tuple:
        return (self.item.scheme_id, self.item.pk, self.number, self.issued_on)


@dataclass(slots=True)
class HealthIn:
    checked_on: dt.date
    conclusion: str
    restricted_work_types: list[str]
    restriction_reason: str
    valid_until: dt.date | None

    def same(self, other) -> bool:
        return (
            self.conclusion == other.conclusion
            and sorted(self.restricted_work_types) == sorted(other.restricted_work_types or [])
            and self.valid_until == other.valid_until
        )


@dataclass(slots=True)
class RowIn:
    line: int  # 1-based row number in the sheet
    id_number: str = ""
    birth_date: dt.date | None = None
    gender: str = ""
    name: str = ""
    former_names: list[str] = field(default_factory=list)
    education: str = ""
    phone: str = ""
    contractor_id: int | None = None
    department_id: int | None = None
    position_id: int | None = None
    own_staff: bool = False  # the unit column names the enterprise or one of its departments
    cert: CertIn | None = None
    health: HealthIn | None = None
    errors: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)


@dataclass
class NewPerson:
    id_number: str
    name: str
    birth_date: dt.date
    gender: str
    former_names: list[str]
    education: str
    phone: str
    position_id: int | None
    contractor_id: int | None
    department_id: int | None


@dataclass
class CertUpdate:
    """A change to an existing certificate: filled blanks, a later expiry, reviews recorded."""

    cert_id: int
    changes: dict  # field → new value
    before: dict  # field → old value
    reviews: list[tuple[dt.date, dt.date]]  # (due_on, on) to record
    extension: tuple[dt.date, dt.date] | None = None  # (previous, new) valid_until


@dataclass
class Plan:
    """The outcome of checking a ledger: rows, issues and the writes it implies."""

    total_rows: int = 0
    issues: list[Issue] = field(default_factory=list)  # file-level issues and every row's
    new_persons: dict[str, NewPerson] = field(default_factory=dict)  # by id_number
    existing_persons: dict[str, int] = field(default_factory=dict)  # id_number → pk
    new_employments: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    new_certs: list[tuple[str, CertIn]] = field(default_factory=list)  # (id_number, cert)
    cert_updates: list[CertUpdate] = field(default_factory=list)
    new_health: list[tuple[str, HealthIn]] = field(default_factory=list)
    unchanged: int = 0
    ignored_headers: list[str] = field(default_factory=list)
    # Rows held for the reviewer (REVIEW findings): counted as a new person's would be, so that
    # the uploader's summary reads the same whether the person exists or not.
    held_persons: set[str] = field(default_factory=set)
    held_certs: int = 0
    held_health: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == ERROR]

    @property
    def error_rows(self) -> int:
        return len({i.row for i in self.issues if i.level == ERROR})

    @property
    def has_writes(self) -> bool:
        return bool(
            self.new_persons
            or self.new_employments
            or self.new_certs
            or self.cert_updates
            or self.new_health
        )
