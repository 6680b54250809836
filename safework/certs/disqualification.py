"""On the day (issue 15 item 6): a certificate that turns red (expired, revoked, cancelled, its
review overdue, a registry verdict of another name or not found) makes
the engine refuse its holder; this module also tells those who planned work for them. It lists
the holder's future roster entries and open permits to their authors, applicants and work
leaders, and emits one `person.disqualified` event (person, certificate, reason, clause, the
work listed) that the gate integration consumes like any other notice (e.g. a webhook binding).

certs is below rosters and permits: they register a *lister* here in their `ready()`
(`register_lister`), and certs asks every registered lister without importing them. The event is
emitted by the services that revoke or cancel and by registry verification (in their
transaction) and by the daily scan for expiries and overdue reviews (and for revocations that take
effect on a later day, and as a backstop for registry verdicts), keyed by certificate and status;
a certificate reported under one red status is not reported again under another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.certs.models import Certificate, CertState, Verification
from safework.certs.queries import statuses_of
from safework.certs.rules import Status
from safework.core.settings_registry import get_setting
from safework.notify import services as notify
from safework.notify.models import Event

KIND = "person.disqualified"


@dataclass(frozen=True)
class Affected:
    """One piece of planned work of a disqualified person, and who is responsible for it:
    {relation: [user ids]} (e.g. {"roster_author": [7]}, {"permit_applicant": [3]})."""

    what: str  # "roster_entry" or "permit"
    label: str
    day: str  # ISO date (roster entry) or date and time (permit's planned start)
    url: str
    responsible: dict[str, list[int]] = field(default_factory=dict)


# lister(person_ids=[…], on=date, at=datetime) -> {person_id: [Affected, …]}
Lister = Callable[..., dict[int, list[Affected]]]
_LISTERS: dict[str, Lister] = {}


def register_lister(name: str, fn: Lister) -> None:
    """Make `fn` part of every disqualification notice (an app above certs, in its ready())."""
    _LISTERS[name] = fn


def affected_of(person_ids: Iterable[int], *, on: dt.date, at: dt.datetime):
    """Every registered lister's planned work of these persons, per person, soonest first."""
    ids = sorted(set(person_ids))
    out: dict[int, list[Affected]] = {pk: [] for pk in ids}
    if not ids:
        return out
    for _name, fn in sorted(_LISTERS.items()):
        for person_id, items in fn(person_ids=ids, on=on, at=at).items():
            out.setdefault(person_id, []).extend(items)
    for items in out.values():
        items.sort(key=lambda a: (a.day, a.what, a.label))  # soonest first
    return out


def event_key(cert_id: int, status: str) -> str:
    return f"cert:{cert_id}:{status}"


def _red_candidates(on: dt.date, lookback: int):
    """Certificates that may have turned red within the look-back (a pre-filter: whether one is
    red is the status function's answer, in `emit_disqualified`):

    - an end of validity passed with no renewal;
    - a revocation or cancellation that took effect;
    - a record still in validity whose review fell due (the day after `next_review_due` is the
      first overdue day, as the day after `valid_until` is the first expired one);
    - a record still in validity on which the registry gave a red verdict (name differs, not
      found, revoked, expired), recorded within the look-back: the verification service reports
      it at once, this is the backstop for a verdict written without it.

    A record past its end or in validity is left out while another active record of the item is
    in force: the holder is still qualified by that one. A record not yet in force (vacuum, not
    yet valid) is never a candidate: it concerns a new record, not work already planned.
    """
    since = on - dt.timedelta(days=lookback)
    covered = Certificate.objects.filter(
        person_id=OuterRef("person_id"),
        item_id=OuterRef("item_id"),
        state=CertState.ACTIVE,
        valid_from__lte=on,
        valid_until__gte=on,
    ).exclude(pk=OuterRef("pk"))
    expired = Q(
        state=CertState.ACTIVE,
        successor__isnull=True,
        valid_until__lt=on,
        valid_until__gte=since,
    )
    withdrawn = Q(
        state__in=[CertState.REVOKED, CertState.CANCELLED],
        state_changed_on__lte=on,
        state_changed_on__gte=since,
    )
    in_force = Q(state=CertState.ACTIVE, valid_from__lte=on, valid_until__gte=on)
    review_overdue = in_force & Q(next_review_due__lt=on, next_review_due__gte=since)
    # verified_at is an instant: the look-back counts local days, like the other dates.
    verdict = in_force & Q(
        verification__in=RED_VERDICTS,
        verified_at__gte=_start_of(since),
        verified_at__lt=_start_of(on + dt.timedelta(days=1)),
    )
    return Certificate.objects.filter(
        ((expired | review_overdue | verdict) & ~Q(Exists(covered))) | withdrawn
    )


# The registry's answers that make a record red (`rules._PREDICATES`: revoked, expired,
# registry_mismatch, registry_not_found).
RED_VERDICTS = (
    Verification.MISMATCH,
    Verification.NOT_FOUND,
    Verification.REVOKED,
    Verification.EXPIRED,
)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def emit_disqualified(certs: list[Certificate], *, on: dt.date, at: dt.datetime) -> int:
    """Emit `person.disqualified` for each of `certs` that is red on `on` (by the one status
    function) and not reported yet; the number of new events. Joins the caller's transaction."""
    if not certs:
        return 0
    # One notice per certificate: a revoked record cancelled later, or an expired one revoked,
    # is not reported again.
    keys = {event_key(c.pk, s): c.pk for c in certs for s in _RED_KEYS}
    reported = {
        keys[k] for k in Event.objects.filter(kind=KIND, key__in=keys).values_list("key", flat=True)
    }
    statuses = statuses_of(certs, on=on)
    # Only the statuses of a record that was usable and stopped being so: vacuum and not yet
    # valid concern a new record not in force yet (and `unverified` blocks only by setting).
    red = [
        (cert, statuses[cert.pk])
        for cert in certs
        if cert.pk not in reported
        and not statuses[cert.pk].usable
        and statuses[cert.pk].status in _RED_KEYS
    ]
    if not red:
        return 0
    work = affected_of([c.person_id for c, _s in red], on=on, at=at)
    events = [_event(cert, status, work.get(cert.person_id, []), at=at) for cert, status in red]
    return notify.emit_many(events)


# The red statuses reported, and the keys under which a certificate counts as reported: one
# notice per certificate, whichever of these it shows first.
_RED_KEYS = tuple(
    s.value
    for s in (
        Status.EXPIRED,
        Status.REVOKED,
        Status.CANCELLED,
        Status.REAPPLY_BARRED,
        Status.REVIEW_OVERDUE,
        Status.REGISTRY_MISMATCH,
        Status.REGISTRY_NOT_FOUND,
    )
)


def _event(cert: Certificate, status, work: list[Affected], *, at: dt.datetime) -> Event:
    reason = status.reason(subject=cert.number)
    person = cert.person
    item = f"{cert.item.code} {cert.item.name}"
    hint: dict[str, list[int]] = {}
    for a in work:
        for relation, users in a.responsible.items():
            hint.setdefault(relation, [])
            hint[relation] += [u for u in users if u and u not in hint[relation]]
    clause = status.clause
    if status.status == "revoked" and cert.revocation_ground_id:
        # The ground the authority revoked on names the clause, not the validity rule.
        clause = cert.revocation_ground.clause or clause
    listed = "；".join(f"{a.label}（{a.day}）" for a in work) or _("no planned work")
    return Event(
        kind=KIND,
        key=event_key(cert.pk, status.status),
        stage=status.status,
        subject_label=f"{person.name} {item}"[:300],
        payload={
            "person": person.name,
            "person_id": person.pk,
            "certificate": {
                "id": cert.pk,
                "number": cert.number,
                "scheme": cert.scheme.code,
                "item_code": cert.item.code,
                "item": item,
                "valid_until": cert.valid_until.isoformat(),
            },
            "item": item,
            "number": cert.number,
            "scheme": cert.scheme.code,
            "item_code": cert.item.code,
            "reason": reason.code if reason else status.status,
            "reason_text": str(reason.message) if reason else status.status,
            "clause": clause,
            "affected": [
                {"what": a.what, "label": a.label, "day": a.day, "url": a.url} for a in work
            ],
            "affected_count": len(work),
            "affected_text": listed[:2000],
            "url": f"/admin/certs/certificate/{cert.pk}/change/",
        },
        site_id=person.current_employment.site_id if person.current_employment else None,
        person_id=person.pk,
        recipients_hint=hint,
        at=at,
    )


def scan_disqualified(*, on: dt.date, at: dt.datetime) -> int:
    """The daily part: every certificate that turned red within the look-back and was not
    reported yet (expiry and an overdue review need no action by anyone, so only the scan sees
    them)."""
    lookback = int(get_setting("notify.expired_lookback_days"))
    return _emit_in_chunks(_red_candidates(on, lookback), on=on, at=at)


def emit_verdicts(cert_ids: Iterable[int], *, on: dt.date, at: dt.datetime) -> int:
    """In the transaction that records registry verdicts: report those of `cert_ids` that the
    scan would report on `on` (a verdict on a record long expired, or on one whose holder has
    another record of the item in force, tells nobody)."""
    ids = sorted(set(cert_ids))
    if not ids:
        return 0
    lookback = int(get_setting("notify.expired_lookback_days"))
    return _emit_in_chunks(_red_candidates(on, lookback).filter(pk__in=ids), on=on, at=at)


def _emit_in_chunks(candidates, *, on: dt.date, at: dt.datetime) -> int:
    rows = list(
        candidates.select_related(
            "person__current_employment", "item", "scheme", "revocation_ground"
        ).order_by("pk")
    )
    added = 0
    for start in range(0, len(rows), 500):
        added += emit_disqualified(rows[start : start + 500], on=on, at=at)
    return added
