"""Pure certificate rules: which catalogue rule applies on a date, when reviews fall due, the
windows for reviews and extensions, the end an item's own rule allows, and the one status
function used everywhere (API lists and details, admin, exports, the coverage report, the
qualification engine, later permits and gates). No queries here: callers pass the certificate,
its neighbours' facts and a `RuleBook` (`certs.queries.status_of` does that for you).

The status reads the stored record as it is. What could make a stored field disagree with the
rules is settled when the record is written: the services, the ledger import and the demo seeds
keep `next_review_due` equal to `first_unpassed_review` and store an internal qualification's
end at most its rule's months (`bounded_valid_until`). The SQL twin of `certificate_status` is
`certs.queries.with_status`; both walk `STATUS_TABLE` in the same order, and tests hold them
equal on the boundary days and equal to the engine's answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from dateutil.relativedelta import relativedelta
from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.certs.conf import UNVERIFIED_BLOCKING, YELLOW_DAYS
from safework.certs.models import (  # noqa: F401  overlap_errors re-exported
    CatalogueRule,
    CertState,
    RevocationGround,
    Scheme,
    Verification,
    overlap_errors,
)
from safework.core.refusals import Reason


class Status(models.TextChoices):
    CANCELLED = "cancelled", _("cancelled")
    REVOKED = "revoked", _("revoked")
    REAPPLY_BARRED = "reapply_barred", _("issued while barred after a revocation")
    EXPIRED = "expired", _("expired")
    REVIEW_OVERDUE = "review_overdue", _("review overdue")
    VACUUM = "vacuum", _("vacuum period")
    NOT_YET_VALID = "not_yet_valid", _("not yet valid")
    REGISTRY_MISMATCH = "registry_mismatch", _("registry: name differs")
    REGISTRY_NOT_FOUND = "registry_not_found", _("registry: not found")
    UNVERIFIED = "unverified", _("unverified")
    EXPIRING = "expiring", _("expiring")
    VALID = "valid", _("valid")


class Colour(models.TextChoices):
    GREEN = "green", _("green")
    YELLOW = "yellow", _("yellow")
    RED = "red", _("red")


@dataclass(frozen=True)
class StatusSpec:
    status: str
    precedence: int  # lower wins when several apply
    usable: bool
    reason_code: str
    message: str


# The status list of decisions.md, in precedence order, as data. Statuses are tried in this order
# (here and in the SQL twin); where two share a precedence they exclude each other, except a
# cancelled record that the registry also calls revoked, which reports `cancelled`. `unverified`
# is usable unless the enterprise setting `cert.unverified_blocking` says otherwise. "Invalid"
# (失效) is not stored: it is `expired` or `review_overdue` on the date asked.
STATUS_TABLE: dict[str, StatusSpec] = {
    s.status: s
    for s in (
        StatusSpec(
            Status.CANCELLED, 10, False, "cert.cancelled", _("The certificate is cancelled.")
        ),
        StatusSpec(Status.REVOKED, 10, False, "cert.revoked", _("The certificate is revoked.")),
        StatusSpec(
            Status.REAPPLY_BARRED,
            15,
            False,
            "cert.reapply_barred",
            _(
                "Issued while the holder was barred from a new certificate of this item after a "
                "revocation for false entries or deception."
            ),
        ),
        StatusSpec(Status.EXPIRED, 20, False, "cert.expired", _("The certificate has expired.")),
        StatusSpec(
            Status.REVIEW_OVERDUE, 30, False, "cert.review_overdue", _("The review is overdue.")
        ),
        StatusSpec(
            Status.VACUUM,
            40,
            False,
            "cert.vacuum",
            _("Between the old certificate's end and the new one's start (vacuum period)."),
        ),
        StatusSpec(
            Status.NOT_YET_VALID,
            40,
            False,
            "cert.not_yet_valid",
            _("The certificate is not yet valid."),
        ),
        StatusSpec(
            Status.REGISTRY_MISMATCH,
            50,
            False,
            "cert.registry_mismatch",
            _("The registry holds this certificate under another name."),
        ),
        StatusSpec(
            Status.REGISTRY_NOT_FOUND,
            50,
            False,
            "cert.registry_not_found",
            _("The registry does not know this certificate."),
        ),
        StatusSpec(
            Status.UNVERIFIED,
            60,
            True,
            "cert.unverified",
            _("The certificate has not been verified against the registry."),
        ),
        StatusSpec(Status.EXPIRING, 70, True, "cert.expiring", _("The certificate expires soon.")),
        StatusSpec(Status.VALID, 80, True, "", ""),
    )
}


@dataclass(frozen=True)
class StatusSettings:
    """Administrators' thresholds (core.settings_registry), passed in so the rule stays pure.

    `certs.queries.status_settings()` reads the values in force; the defaults here are the
    registered defaults (`certs.conf`).
    """

    yellow_days: int = YELLOW_DAYS.default
    unverified_blocking: bool = UNVERIFIED_BLOCKING.default

    def usable(self, status: str) -> bool:
        """Whether a record in `status` may be used under these settings."""
        if status == Status.UNVERIFIED and self.unverified_blocking:
            return False
        return STATUS_TABLE[status].usable

    def colour(self, status: str) -> str:
        if not self.usable(status):
            return Colour.RED
        return Colour.GREEN if status == Status.VALID else Colour.YELLOW


@dataclass(frozen=True)
class CertStatus:
    status: str
    usable: bool
    colour: str
    days_left: int | None  # to the nearer of expiry and the next review due (negative: past)
    next_review_due: dt.date | None
    clause: str

    @property
    def spec(self) -> StatusSpec:
        return STATUS_TABLE[self.status]

    def reason(self, subject: str = "") -> Reason | None:
        """The status as a `Reason` (blocking unless usable); None for a plain valid record."""
        spec = self.spec
        if not spec.reason_code:
            return None
        return Reason(
            spec.reason_code,
            spec.message,
            self.clause,
            subject=subject,
            blocking=not self.usable,
            data={"status": self.status, "days_left": self.days_left},
        )


class CertificateDates(Protocol):
    """What the review rules read of a certificate (a model instance or a lighter row)."""

    scheme_id: int
    item_id: int
    issued_on: dt.date
    valid_until: dt.date
    long_review_interval: bool


class RuleBook:
    """The catalogue rules in memory, answering "which row was in force for this item on d?",
    plus the schemes no registry keeps and the revocation grounds (for their clauses)."""

    def __init__(
        self,
        rules: Iterable[CatalogueRule],
        *,
        unregistered_schemes: Iterable[int] = (),
        grounds: Iterable[RevocationGround] = (),
    ):
        self._by_scheme: dict[int, list[CatalogueRule]] = {}
        self._by_item: dict[int, list[CatalogueRule]] = {}
        for r in sorted(rules, key=lambda r: r.effective_from):
            bucket = self._by_item if r.item_id else self._by_scheme
            bucket.setdefault(r.item_id or r.scheme_id, []).append(r)
        self.unregistered_schemes = frozenset(unregistered_schemes)
        self.grounds = {g.pk: g for g in grounds}

    @classmethod
    def load(cls) -> RuleBook:
        return cls(
            CatalogueRule.objects.all(),
            unregistered_schemes=Scheme.objects.filter(has_registry=False).values_list(
                "pk", flat=True
            ),
            grounds=RevocationGround.objects.all(),
        )

    def in_registry(self, scheme_id: int) -> bool:
        """Whether a registry can confirm certificates of this scheme (internal ones: no)."""
        return scheme_id not in self.unregistered_schemes

    def rule_for(self, scheme_id: int, item_id: int | None, on: dt.date) -> CatalogueRule | None:
        """The item's row in force on `on`, else the scheme's; None when no row covers the date."""
        for candidates in (self._by_item.get(item_id, []), self._by_scheme.get(scheme_id, [])):
            for r in candidates:
                if r.effective_from <= on and (r.effective_to is None or on < r.effective_to):
                    return r
        return None

    def has_reviews(self, scheme_id: int, item_id: int | None) -> bool:
        """Whether any row of this item or scheme, at any date, asks for periodic reviews."""
        rows = self._by_item.get(item_id, []) + self._by_scheme.get(scheme_id, [])
        return any(r.review_interval_months for r in rows)


def overlapping_rules(rules: Iterable[CatalogueRule]) -> list[tuple[CatalogueRule, str]]:
    """Every pair of versions of one rule (same scheme and item) in force on a common day, as
    (row, message naming the other row)."""
    groups: dict[tuple, list[CatalogueRule]] = {}
    for r in rules:
        groups.setdefault((r.scheme_id, r.item_id), []).append(r)
    out = []
    for rows in groups.values():
        rows.sort(key=lambda r: (r.effective_from, r.code))
        for i, r in enumerate(rows):
            out += [(r, m) for m in overlap_errors(r, rows[i + 1 :])]
    return out


def age_on(birth_date: dt.date, on: dt.date) -> int:
    """Completed years (周岁) on `on`."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def past_age_limit(birth_date: dt.date, on: dt.date, years: int) -> bool:
    """Whether someone born on `birth_date` is past the age `years` on `on`: "age ≤ 65"
    (certificates.md, TSG Z6001 "不超过65周岁") holds through the 65th birthday itself and fails
    from the next day; a 29 February birthday falls on 28 February in other years."""
    return on > add_months(birth_date, 12 * years)


@dataclass(frozen=True)
class ReapplyBar:
    """A revocation that bars a new certificate of the same item for the same person: a record
    issued on or after `revoked_on` and before `allowed_from` is not usable (Art. 30 ¶2)."""

    certificate_id: int
    revoked_on: dt.date
    allowed_from: dt.date
    ground_id: int | None

    def covers(self, issued_on: dt.date) -> bool:
        return self.revoked_on <= issued_on < self.allowed_from


def covering_bar(cert, bars: Iterable[ReapplyBar]) -> ReapplyBar | None:
    """The first bar (of the same person and item) the record was issued under, if any."""
    return next((b for b in bars if b.certificate_id != cert.pk and b.covers(cert.issued_on)), None)


def bar_of(cert) -> ReapplyBar | None:
    """The bar a revoked record sets, if its ground set one."""
    if cert.reapply_allowed_from is None or cert.revoked_on is None:
        return None
    return ReapplyBar(
        cert.pk, cert.revoked_on, cert.reapply_allowed_from, cert.revocation_ground_id
    )


def add_months(on: dt.date, months: int) -> dt.date:
    """`on` plus whole months; the 31st becomes the month's last day (2024-02-29 + 12 → 02-28)."""
    return on + relativedelta(months=months)


def default_valid_until(valid_from: dt.date, rule: CatalogueRule | None, *, calendar_year=False):
    """The last valid day of a record starting on `valid_from` under `rule` (None: unknown).

    Six years from 2024-01-10 end on 2030-01-09: validity is inclusive of its last day. Items
    valid for the calendar year end on 31 December.
    """
    if calendar_year:
        return dt.date(valid_from.year, 12, 31)
    if rule is None or not rule.validity_months:
        return None
    return add_months(valid_from, rule.validity_months) - dt.timedelta(days=1)


def expiry_by_rule(
    book: RuleBook, item, valid_from: dt.date
) -> tuple[dt.date | None, CatalogueRule | None]:
    """The expiry of a record of `item` (a CertificateItem) starting on `valid_from` when none is
    given, with the rule in force that day: the one computation behind create_certificate and
    the ledger import (which names the rule in its note)."""
    rule = book.rule_for(item.scheme_id, item.pk, valid_from)
    return default_valid_until(valid_from, rule, calendar_year=item.calendar_year), rule


@dataclass(frozen=True)
class ValidityLimit:
    """The last day a record may be valid under its item's own rule, and that rule."""

    last_day: dt.date
    rule: CatalogueRule | None

    @property
    def clause(self) -> str:
        return self.rule.clause if self.rule is not None else ""


def validity_limit(book: RuleBook, item, issued_on: dt.date) -> ValidityLimit | None:
    """The end the catalogue sets for a record of `item` completed on `issued_on`, where the
    catalogue bounds it; None where the date printed on the certificate governs.

    The enterprise's own qualifications (a scheme that no public registry keeps: annual plant
    training, guardian, gas tester) are what the enterprise's rule says they are: valid for the
    rule row's months from completion, through the day before the anniversary, or to 31
    December of that year for a `calendar_year` item. A certificate issued by an authority
    (Order No. 30, TSG Z6001, construction) is valid until the date the authority printed; its
    rule only supplies a default. `item` is a CertificateItem (scheme_id, pk, calendar_year).
    """
    if book.in_registry(item.scheme_id):
        return None
    rule = book.rule_for(item.scheme_id, item.pk, issued_on)
    if item.calendar_year:
        return ValidityLimit(dt.date(issued_on.year, 12, 31), rule)
    if rule is None or not rule.validity_months:
        return None  # CONTRACTOR-ENTRY: valid with the contract, as entered
    return ValidityLimit(add_months(issued_on, rule.validity_months) - dt.timedelta(days=1), rule)


def bounded_valid_until(
    book: RuleBook, item, *, issued_on: dt.date, valid_from: dt.date, valid_until: dt.date
) -> tuple[dt.date, ValidityLimit | None]:
    """The `valid_until` to store: the given one, or the item's limit when that is earlier (never
    before `valid_from`), with the limit when it shortened the date (None: kept as given).

    Every write path (the certificate services, the ledger import, the demo seeds) stores this,
    so the status read from the stored fields (`certificate_status`, `queries.with_status`) is
    the one the qualification engine uses.
    """
    limit = validity_limit(book, item, issued_on)
    if limit is None or valid_until <= limit.last_day:
        return valid_until, None
    return max(limit.last_day, valid_from), limit


def capped_message(given: dt.date, stored: dt.date, limit: ValidityLimit) -> str:
    """What a user is told when the end they gave was capped by the item's rule."""
    return _(
        "The given end of validity %(given)s is later than the rule %(rule)s allows "
        "(%(clause)s): stored as %(stored)s."
    ) % {
        "given": given.isoformat(),
        "stored": stored.isoformat(),
        "rule": limit.rule.code if limit.rule else "",
        "clause": limit.clause,
    }


def review_interval(cert: CertificateDates, rule: CatalogueRule) -> int | None:
    """Months between reviews under `rule`: the long interval with the 10-year flag (Art. 21)."""
    if not rule.review_interval_months:
        return None
    if cert.long_review_interval and rule.long_review_interval_months:
        return rule.long_review_interval_months
    return rule.review_interval_months


def review_due_dates(cert: CertificateDates, book: RuleBook) -> list[tuple[dt.date, CatalogueRule]]:
    """Every review due date of the record before its expiry, with the rule requiring it.

    The next due date counts from the previous due date, not from the day of review (decisions.md),
    using the interval of the rule in force at the previous date. A due date whose rule in force
    has no review (Order No. 19 from 2026-06-01) requires none, so issued 2023-05-31 means a
    review due 2026-05-31, issued 2023-06-01 none at all.
    """
    out = []
    anchor = cert.issued_on
    for _guard in range(50):
        current = book.rule_for(cert.scheme_id, cert.item_id, anchor)
        months = review_interval(cert, current) if current is not None else None
        if not months:
            # No review rule at the anchor: later dates may still fall under one only if a row
            # with a review starts later, which the shipped catalogue never does.
            break
        due = add_months(anchor, months)
        if due >= cert.valid_until:
            break  # the end of validity is renewal, not review
        at_due = book.rule_for(cert.scheme_id, cert.item_id, due)
        if at_due is not None and at_due.review_interval_months:
            out.append((due, at_due))
        anchor = due
    return out


def first_unpassed_review(
    cert: CertificateDates, book: RuleBook, passed_reviews: Iterable[tuple[dt.date, dt.date]]
) -> tuple[dt.date, CatalogueRule] | None:
    """The earliest required review not passed by its due date; `passed_reviews` holds
    (due_on, passed_on) pairs. A review passed after its due date does not cure it (Art. 21)."""
    passed = {due for due, on in passed_reviews if due is not None and on <= due}
    for due, rule in review_due_dates(cert, book):
        if due not in passed:
            return due, rule
    return None


@dataclass(frozen=True)
class Window:
    """The days on which something may be applied for, both ends inclusive (None: open)."""

    opens: dt.date | None
    closes: dt.date | None

    def contains(self, on: dt.date) -> bool:
        return (self.opens is None or self.opens <= on) and (
            self.closes is None or on <= self.closes
        )


def review_window(due: dt.date, rule: CatalogueRule) -> Window:
    """A review is applied for within `review_window_days` before it falls due (Art. 22)."""
    days = rule.review_window_days
    return Window(due - dt.timedelta(days=days) if days is not None else None, due)


def extension_window(valid_until: dt.date, rule: CatalogueRule) -> Window:
    """An extension (TSG review, construction 延期复核) is applied for between
    `extension_window_open_days` and `extension_window_close_days` before expiry: TSG Z6001
    "at least 1 month before" closes 30 days before, construction "within the 3 months before"
    closes on the expiry day."""
    open_days, close_days = rule.extension_window_open_days, rule.extension_window_close_days or 0
    opens = valid_until - dt.timedelta(days=open_days) if open_days is not None else None
    return Window(opens, valid_until - dt.timedelta(days=close_days))


def renewal_window(valid_until: dt.date, rule: CatalogueRule) -> Window:
    """A renewal (换证) is applied for within `renewal_window_days` before expiry (Order 30 Art.
    19, Order 19: 60 days); None when the rule names no window."""
    days = rule.renewal_window_days
    return Window(valid_until - dt.timedelta(days=days) if days is not None else None, valid_until)


@dataclass(frozen=True)
class _Facts:
    on: dt.date
    state: str
    state_changed_on: dt.date | None
    verification: str
    in_registry: bool
    barred: bool
    valid_from: dt.date
    valid_until: dt.date
    next_review_due: dt.date | None
    predecessor_valid_until: dt.date | None
    yellow_until: dt.date  # the last day that still counts as "expiring" (on + yellow_days)

    def state_in_force(self, state: str) -> bool:
        # A revocation or cancellation counts from the day it took effect.
        return self.state == state and (
            self.state_changed_on is None or self.state_changed_on <= self.on
        )


# One predicate per status, tried in STATUS_TABLE order; `queries._status_conditions` is the SQL
# twin, condition for condition.
_PREDICATES: dict[str, Callable[[_Facts], bool]] = {
    Status.CANCELLED: lambda f: f.state_in_force(CertState.CANCELLED),
    Status.REVOKED: lambda f: (
        f.state_in_force(CertState.REVOKED) or f.verification == Verification.REVOKED
    ),
    Status.REAPPLY_BARRED: lambda f: f.barred,
    Status.EXPIRED: lambda f: f.on > f.valid_until or f.verification == Verification.EXPIRED,
    Status.REVIEW_OVERDUE: lambda f: f.next_review_due is not None and f.on > f.next_review_due,
    Status.VACUUM: lambda f: (
        f.on < f.valid_from
        and f.predecessor_valid_until is not None
        and f.predecessor_valid_until < f.on
    ),
    Status.NOT_YET_VALID: lambda f: f.on < f.valid_from,
    Status.REGISTRY_MISMATCH: lambda f: f.verification == Verification.MISMATCH,
    Status.REGISTRY_NOT_FOUND: lambda f: f.verification == Verification.NOT_FOUND,
    # No registry keeps the enterprise's own qualifications: nothing to verify them against.
    Status.UNVERIFIED: lambda f: f.verification == Verification.UNVERIFIED and f.in_registry,
    # Reached only when neither expiry nor the review due date is past, so "days left ≤ yellow
    # days" is "either date ≤ on + yellow days" (no date arithmetic in the SQL twin).
    Status.EXPIRING: lambda f: (
        f.valid_until <= f.yellow_until
        or (f.next_review_due is not None and f.next_review_due <= f.yellow_until)
    ),
    Status.VALID: lambda f: True,
}
assert list(_PREDICATES) == list(STATUS_TABLE), "one predicate per status, in table order"

_STORED = object()  # "use the certificate's stored next_review_due"


def days_left(valid_until: dt.date, next_review_due: dt.date | None, on: dt.date) -> int:
    """Days from `on` to the nearer of expiry and a review due on or after `on`."""
    left = (valid_until - on).days
    if next_review_due is not None and next_review_due >= on:
        left = min(left, (next_review_due - on).days)
    return left


def certificate_status(
    cert,
    *,
    on: dt.date,
    book: RuleBook,
    next_review_due=_STORED,
    review_clause: str = "",
    predecessor_valid_until: dt.date | None = None,
    bars: Iterable[ReapplyBar] = (),
    settings: StatusSettings = StatusSettings(),  # noqa: B008  a frozen value
) -> CertStatus:
    """The status of one certificate record on a date, by the precedence of STATUS_TABLE.

    `on` is a local date (`timezone.localdate(at)` for an instant). `next_review_due` is the first
    required review not passed by its due date (`first_unpassed_review`); left out, the record's
    stored `next_review_due` is used. `predecessor_valid_until` is the end of the record this one
    renews. `bars` are the reapplication bars set by revocations of the holder's records of
    the same item (`bar_of`); one covering the issue date makes the record `reapply_barred`.
    Valid through the expiry date inclusive: expired from the day after.
    """
    if isinstance(on, dt.datetime):
        raise TypeError("certificate_status takes a date; use timezone.localdate(at)")
    if next_review_due is _STORED:
        next_review_due = cert.next_review_due
    bar = covering_bar(cert, bars)
    facts = _Facts(
        on=on,
        state=cert.state,
        state_changed_on=cert.state_changed_on,
        verification=cert.verification,
        in_registry=book.in_registry(cert.scheme_id),
        barred=bar is not None,
        valid_from=cert.valid_from,
        valid_until=cert.valid_until,
        next_review_due=next_review_due,
        predecessor_valid_until=predecessor_valid_until,
        yellow_until=on + dt.timedelta(days=settings.yellow_days),
    )
    status = next(s for s, applies in _PREDICATES.items() if applies(facts))
    if status == Status.REVIEW_OVERDUE:
        # The rule that required the review, not the one in force today (Order 19 has none).
        rule = book.rule_for(cert.scheme_id, cert.item_id, next_review_due)
    else:
        rule = book.rule_for(cert.scheme_id, cert.item_id, min(on, cert.valid_until))
    clause = rule.clause if rule else ""
    if status == Status.REVIEW_OVERDUE and review_clause:
        clause = review_clause
    if status == Status.REAPPLY_BARRED:
        ground = book.grounds.get(bar.ground_id)
        clause = (ground.bar_clause or ground.clause) if ground else clause
    return CertStatus(
        status=status,
        usable=settings.usable(status),
        colour=settings.colour(status),
        days_left=days_left(cert.valid_until, next_review_due, on),
        next_review_due=next_review_due,
        clause=clause,
    )
