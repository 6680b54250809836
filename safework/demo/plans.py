"""Pure planning of synthetic certificate and health-check dates around a given day.

A *story* says what the record should look like on `on` (valid, expiring, expired, review
overdue…); the plan works the dates out from the catalogue rule in force (`RuleBook`), never from
a number written here: validity, review interval, extension and the Order-30 review cut-off all
come from the rule rows. No queries, no writes: the demo and the bench seeds turn plans into rows.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta

from safework.certs.models import Certificate, CertificateItem, EventKind
from safework.certs.rules import (
    RuleBook,
    bounded_valid_until,
    first_unpassed_review,
    review_due_dates,
)

DAY = dt.timedelta(days=1)

VALID = "valid"
EXPIRING = "expiring"
EXPIRED = "expired"
EXPIRED_YESTERDAY = "expired_yesterday"
REVIEW_OVERDUE = "review_overdue"  # a review due before the cut-off, never passed
REVIEW_LATE = "review_late"  # passed after its due date, which does not cure it (Art. 21)
EXTENDED = "extended"  # an extension moved the expiry (TSG Z6001), kept as an event
STORIES = (VALID, EXPIRING, EXPIRED, EXPIRED_YESTERDAY, REVIEW_OVERDUE, REVIEW_LATE, EXTENDED)


@dataclass
class EventPlan:
    kind: str
    on: dt.date
    due_on: dt.date | None = None
    passed: bool = True
    previous_valid_until: dt.date | None = None
    new_valid_until: dt.date | None = None
    reason: str = ""


@dataclass
class CertPlan:
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date
    first_issued_on: dt.date
    long_review_interval: bool = False
    next_review_due: dt.date | None = None
    events: list[EventPlan] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Shadow:
    """What `review_due_dates` reads of a certificate."""

    scheme_id: int
    item_id: int
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date
    long_review_interval: bool


class Planner:
    """Plans certificates of catalogue items against one `RuleBook`, caching per item and date."""

    def __init__(self, book: RuleBook):
        self.book = book
        self._dues: dict[tuple, list[dt.date]] = {}

    # -- rule look-ups -------------------------------------------------------------------------
    def rule(self, item: CertificateItem, on: dt.date):
        return self.book.rule_for(item.scheme_id, item.pk, on)

    def validity_months(self, item: CertificateItem, on: dt.date) -> int | None:
        rule = self.rule(item, on)
        return rule.validity_months if rule else None

    def expiry(self, item: CertificateItem, issued_on: dt.date) -> dt.date | None:
        """The last valid day of a record issued on `issued_on` (valid through it, inclusive)."""
        if item.calendar_year:
            return dt.date(issued_on.year, 12, 31)
        months = self.validity_months(item, issued_on)
        if not months:
            return None
        return issued_on + relativedelta(months=months) - DAY

    def issued_for_expiry(self, item: CertificateItem, valid_until: dt.date) -> dt.date:
        if item.calendar_year:
            return dt.date(valid_until.year, 1, 1)
        months = self.validity_months(item, valid_until) or 12
        return valid_until + DAY - relativedelta(months=months)

    def review_cutoff(self, item: CertificateItem, on: dt.date) -> tuple[dt.date, int] | None:
        """(last day a review can fall due, interval in months) for an item with a review rule.

        The cut-off is the review row's `effective_to` (Order No. 19 from 2026-06-01), else `on`.
        """
        for back in (0, 365, 2 * 365, 3 * 365):
            rule = self.rule(item, on - dt.timedelta(days=back))
            if rule is not None and rule.review_interval_months:
                end = on if rule.effective_to is None else min(on, rule.effective_to - DAY)
                return end, rule.review_interval_months
        return None

    def due_dates(self, item: CertificateItem, plan: CertPlan) -> list[dt.date]:
        key = (item.pk, plan.issued_on, plan.valid_until, plan.long_review_interval)
        dues = self._dues.get(key)
        if dues is None:
            cert = self._shadow(item, plan)
            dues = [due for due, _rule in review_due_dates(cert, self.book)]
            self._dues[key] = dues
        return dues

    def _shadow(self, item: CertificateItem, plan: CertPlan) -> Certificate:
        # The review rules read only these attributes; a model instance costs ten times more.
        return _Shadow(  # type: ignore[return-value]
            scheme_id=item.scheme_id,
            item_id=item.pk,
            issued_on=plan.issued_on,
            valid_from=plan.valid_from,
            valid_until=plan.valid_until,
            long_review_interval=plan.long_review_interval,
        )

    # -- plans ---------------------------------------------------------------------------------
    def bounded(self, item: CertificateItem, plan: CertPlan) -> CertPlan:
        """The plan with the end every write path stores (`rules.bounded_valid_until`): an
        internal qualification's end at most its rule's months from completion."""
        plan.valid_until, _limit = bounded_valid_until(
            self.book,
            item,
            issued_on=plan.issued_on,
            valid_from=plan.valid_from,
            valid_until=plan.valid_until,
        )
        return plan

    def plan(
        self,
        item: CertificateItem,
        *,
        on: dt.date,
        story: str,
        rng: random.Random,
        valid_until: dt.date | None = None,
        long_review_interval: bool = False,
    ) -> CertPlan | None:
        """Dates for a record of `item` that is in state `story` on `on`; None if the item
        cannot tell that story (e.g. a review story for an item without reviews)."""
        found = self._plan(
            item,
            on=on,
            story=story,
            rng=rng,
            valid_until=valid_until,
            long_review_interval=long_review_interval,
        )
        return self.bounded(item, found) if found is not None else None

    def _plan(
        self,
        item: CertificateItem,
        *,
        on: dt.date,
        story: str,
        rng: random.Random,
        valid_until: dt.date | None = None,
        long_review_interval: bool = False,
    ) -> CertPlan | None:
        if story in (REVIEW_OVERDUE, REVIEW_LATE):
            return self._review_story(item, on=on, late=story == REVIEW_LATE, rng=rng)
        if story == EXTENDED:
            return self._extended(item, on=on, rng=rng)
        months = self.validity_months(item, on)
        if valid_until is not None or not months:
            # A record valid for the contract (CONTRACTOR-ENTRY): the caller gives the end.
            until = valid_until or on + dt.timedelta(days=rng.randint(90, 400))
            issued = on - dt.timedelta(days=rng.randint(10, 300))
            plan = CertPlan(issued, issued, max(until, issued), issued)
            return self.with_reviews(item, plan, on=on, rng=rng)
        if story == VALID and item.calendar_year:
            jan1 = dt.date(on.year, 1, 1)
            until = self.expiry(item, jan1 + dt.timedelta(days=rng.randint(0, (on - jan1).days)))
        elif story == VALID:
            span = (on - (on - relativedelta(months=months))).days
            issued = on - dt.timedelta(days=rng.randint(20, max(21, span - 75)))
            until = self.expiry(item, issued)
        elif story == EXPIRING:
            until = on + dt.timedelta(days=rng.randint(3, 58))
        elif story == EXPIRED_YESTERDAY:
            until = on - DAY
        elif story == EXPIRED:
            until = on - dt.timedelta(days=rng.randint(2, 300))
        else:
            raise ValueError(f"unknown story {story!r}")
        return self.ending_on(
            item, until, on=on, rng=rng, long_review_interval=long_review_interval
        )

    def ending_on(
        self,
        item: CertificateItem,
        until: dt.date,
        *,
        on: dt.date,
        rng: random.Random,
        long_review_interval: bool = False,
    ) -> CertPlan:
        """A record whose validity ends on `until`, its reviews before `on` passed in time."""
        issued = self.issued_for_expiry(item, until)
        first = issued - dt.timedelta(days=365 * rng.choice((0, 0, 0, 6, 12)))
        plan = CertPlan(issued, issued, until, first, long_review_interval=long_review_interval)
        return self.bounded(item, self.with_reviews(item, plan, on=on, rng=rng))

    def with_reviews(self, item, plan: CertPlan, *, on: dt.date, rng) -> CertPlan:
        """Every review due before `on` passed in its window; the next one (if any) pending."""
        dues = self.due_dates(item, plan)
        passed = []
        for due in dues:
            if due >= on:
                break
            done = due - dt.timedelta(days=rng.randint(3, 50))
            passed.append((due, done))
            plan.events.append(EventPlan(EventKind.REVIEW, done, due_on=due))
        plan.next_review_due = self.next_review_due(item, plan, passed)
        return plan

    def next_review_due(self, item, plan: CertPlan, passed) -> dt.date | None:
        found = first_unpassed_review(self._shadow(item, plan), self.book, passed)
        return found[0] if found else None

    def _review_story(self, item, *, on: dt.date, late: bool, rng) -> CertPlan | None:
        cutoff = self.review_cutoff(item, on)
        if cutoff is None:
            return None
        last_due, interval = cutoff
        due = last_due - dt.timedelta(days=rng.randint(10, 300))
        issued = due - relativedelta(months=interval)
        until = self.expiry(item, issued)
        if until is None or until <= on:
            return None
        plan = CertPlan(issued, issued, until, issued)
        dues = self.due_dates(item, plan)
        if due not in dues:
            return None
        passed = []
        for d in dues:
            if d >= due:
                break
            done = d - dt.timedelta(days=rng.randint(3, 50))
            passed.append((d, done))
            plan.events.append(EventPlan(EventKind.REVIEW, done, due_on=d))
        if late:
            done = min(on, due + dt.timedelta(days=rng.randint(5, 40)))
            passed.append((due, done))
            plan.events.append(
                EventPlan(
                    EventKind.REVIEW,
                    done,
                    due_on=due,
                    reason="逾期复审：复审合格，但复审日期晚于应复审日期",
                )
            )
        plan.next_review_due = self.next_review_due(item, plan, passed)
        return plan

    def _extended(self, item, *, on: dt.date, rng) -> CertPlan | None:
        """A record whose expiry an extension moved (TSG Z6001: the same certificate goes on)."""
        rule = self.rule(item, on)
        if rule is None or not rule.extension_months:
            return None
        original_until = on + dt.timedelta(days=rng.randint(-700, -30))
        issued = self.issued_for_expiry(item, original_until)
        new_until = original_until + relativedelta(months=rule.extension_months)
        applied = original_until - dt.timedelta(
            days=rng.randint(
                rule.extension_window_close_days or 30,
                max(rule.extension_window_open_days or 90, rule.extension_window_close_days or 30),
            )
        )
        plan = CertPlan(issued, issued, new_until, issued)
        plan.events.append(
            EventPlan(
                EventKind.EXTENSION,
                applied,
                previous_valid_until=original_until,
                new_valid_until=new_until,
                reason="复审合格，有效期延续",
            )
        )
        return plan
