"""Pure certificate rules: which catalogue rule applies on a date, when reviews fall due, and the
one status function used everywhere (API, admin, reports, the qualification engine, later permits
and gates). No queries here: callers pass the certificate, its passed reviews and a `RuleBook`.

The SQL twin of `certificate_status` is `queries.with_status`; a test holds them equal on the
boundary days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.certs.models import CatalogueRule, Certificate, CertState, Verification


class Status(models.TextChoices):
    CANCELLED = "cancelled", _("cancelled")
    REVOKED = "revoked", _("revoked")
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


# The status list of decisions.md, in precedence order, as data. `unverified` is usable unless the
# enterprise setting `cert.unverified_blocking` says otherwise.
STATUS_TABLE: dict[str, StatusSpec] = {
    s.status: s
    for s in (
        StatusSpec(
            Status.CANCELLED, 10, False, "cert.cancelled", _("The certificate is cancelled.")
        ),
        StatusSpec(Status.REVOKED, 10, False, "cert.revoked", _("The certificate is revoked.")),
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
    """Administrators' thresholds (core.settings_registry), passed in so the rule stays pure."""

    yellow_days: int = 60
    unverified_blocking: bool = False


@dataclass(frozen=True)
class CertStatus:
    status: str
    usable: bool
    colour: str
    days_left: int | None  # to the nearer of expiry and the next review due
    next_review_due: dt.date | None
    clause: str

    @property
    def spec(self) -> StatusSpec:
        return STATUS_TABLE[self.status]


class RuleBook:
    """The catalogue rules in memory, answering "which row was in force for this item on d?"."""

    def __init__(self, rules: Iterable[CatalogueRule]):
        self._by_scheme: dict[int, list[CatalogueRule]] = {}
        self._by_item: dict[int, list[CatalogueRule]] = {}
        for r in rules:
            bucket = self._by_item if r.item_id else self._by_scheme
            bucket.setdefault(r.item_id or r.scheme_id, []).append(r)

    @classmethod
    def load(cls) -> RuleBook:
        return cls(CatalogueRule.objects.all())

    def rule_for(self, scheme_id: int, item_id: int | None, on: dt.date) -> CatalogueRule | None:
        """The item's row in force on `on`, else the scheme's; None when no row covers the date."""
        for candidates in (self._by_item.get(item_id, []), self._by_scheme.get(scheme_id, [])):
            for r in candidates:
                if r.effective_from <= on and (r.effective_to is None or on < r.effective_to):
                    return r
        return None


def review_due_dates(cert: Certificate, book: RuleBook) -> list[tuple[dt.date, CatalogueRule]]:
    """Every review due date of the record before its expiry, with the rule requiring it.

    The next due date counts from the previous due date, not from the day of review (decisions.md),
    using the interval of the rule in force at the previous date. A due date whose rule in force
    has no review (Order No. 19 from 2026-06-01) requires none.
    """
    out = []
    anchor = cert.issued_on
    for _guard in range(50):
        current = book.rule_for(cert.scheme_id, cert.item_id, anchor)
        if current is None or not current.review_interval_months:
            # No review rule at the anchor: later dates may still fall under one only if a row
            # with a review starts later, which the shipped catalogue never does.
            break
        months = (
            current.long_review_interval_months
            if cert.long_review_interval and current.long_review_interval_months
            else current.review_interval_months
        )
        due = anchor + relativedelta(months=months)
        if due >= cert.valid_until:
            break  # the end of validity is renewal, not review
        at_due = book.rule_for(cert.scheme_id, cert.item_id, due)
        if at_due is not None and at_due.review_interval_months:
            out.append((due, at_due))
        anchor = due
    return out


def first_unpassed_review(
    cert: Certificate, book: RuleBook, passed_reviews: Iterable[tuple[dt.date, dt.date]]
) -> tuple[dt.date, CatalogueRule] | None:
    """The earliest required review not passed by its due date; `passed_reviews` holds
    (due_on, passed_on) pairs. A review passed after its due date does not cure it (Art. 21)."""
    passed = {due for due, on in passed_reviews if on <= due}
    for due, rule in review_due_dates(cert, book):
        if due not in passed:
            return due, rule
    return None


def _status(
    status: str,
    *,
    settings: StatusSettings,
    days_left: int | None,
    review_due: dt.date | None,
    clause: str,
) -> CertStatus:
    spec = STATUS_TABLE[status]
    usable = spec.usable and not (status == Status.UNVERIFIED and settings.unverified_blocking)
    if not usable:
        colour = Colour.RED
    elif status == Status.VALID:
        colour = Colour.GREEN
    else:
        colour = Colour.YELLOW
    return CertStatus(status, usable, colour, days_left, review_due, clause)


def certificate_status(
    cert: Certificate,
    *,
    on: dt.date,
    book: RuleBook,
    next_review_due: dt.date | None = None,
    review_clause: str = "",
    predecessor_valid_until: dt.date | None = None,
    settings: StatusSettings = StatusSettings(),  # noqa: B008  a frozen value
) -> CertStatus:
    """The status of one certificate record on a date, by the precedence of STATUS_TABLE.

    `next_review_due` is the first required review not passed by its due date (see
    `first_unpassed_review`); `predecessor_valid_until` is the end of the record this one renews.
    """
    rule = book.rule_for(cert.scheme_id, cert.item_id, min(on, cert.valid_until))
    clause = rule.clause if rule else ""
    days_to_expiry = (cert.valid_until - on).days
    days_left = days_to_expiry
    if next_review_due is not None and next_review_due >= on:
        days_left = min(days_left, (next_review_due - on).days)

    def make(status, clause=clause):
        return _status(
            status,
            settings=settings,
            days_left=days_left,
            review_due=next_review_due,
            clause=clause,
        )

    if cert.state == CertState.CANCELLED:
        return make(Status.CANCELLED)
    if cert.state == CertState.REVOKED or cert.verification == Verification.REVOKED:
        return make(Status.REVOKED)
    if on > cert.valid_until or cert.verification == Verification.EXPIRED:
        return make(Status.EXPIRED)
    if next_review_due is not None and on > next_review_due:
        return make(Status.REVIEW_OVERDUE, review_clause or clause)
    if on < cert.valid_from:
        if predecessor_valid_until is not None and predecessor_valid_until < on:
            return make(Status.VACUUM)
        return make(Status.NOT_YET_VALID)
    if cert.verification == Verification.MISMATCH:
        return make(Status.REGISTRY_MISMATCH)
    if cert.verification == Verification.NOT_FOUND:
        return make(Status.REGISTRY_NOT_FOUND)
    if cert.verification == Verification.UNVERIFIED:
        return make(Status.UNVERIFIED)
    if days_left <= settings.yellow_days:
        return make(Status.EXPIRING)
    return make(Status.VALID)
