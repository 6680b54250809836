"""Writes to certificate records: create, correct, review, extend, renew, revoke, cancel.

Every service is keyword-only and one transaction; it locks the record, checks the rule in force
(an action a rule forbids raises `Refused` with the rule's clause, a bad field `InvalidInput`),
changes the record, writes a `CertificateEvent` where the domain speaks of one (review,
extension, renewal, revocation, cancellation), and ends with its audit record. The stored
`next_review_due` is kept equal to `rules.first_unpassed_review` by each of them and, after a
catalogue update, by `recompute_review_dues()`.

An internal qualification given an end later than its rule allows (annual plant training: one
year from completion) is stored with the rule's end, not refused: the ledger import does the same
with a note, so a record reads the same whichever door it came through, and a re-import of the
ledger finds it unchanged. The end as given, with the rule and its clause, stays in the audit
record (`valid_until_given`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.certs import disqualification
from safework.certs.models import (
    Certificate,
    CertificateEvent,
    CertificateItem,
    CertState,
    EventKind,
    RevocationGround,
    Scheme,
)
from safework.certs.numbers import normalise_number, number_problem
from safework.certs.queries import passed_reviews_of
from safework.certs.rules import (
    RuleBook,
    ValidityLimit,
    add_months,
    bounded_valid_until,
    expiry_by_rule,
    extension_window,
    first_unpassed_review,
    past_age_limit,
    review_due_dates,
    review_interval,
    review_window,
)
from safework.core import audit
from safework.core.errors import FieldError, InvalidInput
from safework.core.integrity import describe_unique, save_unique
from safework.core.refusals import Reason, Refused
from safework.core.text import model_text_errors, text_errors
from safework.people.models import Person

# Fields a correction (`update_certificate`) may change; state and verification have services
# of their own, and a different person or scheme is a different certificate.
EDITABLE = (
    "item",
    "number",
    "restriction",
    "first_issued_on",
    "issued_on",
    "valid_from",
    "valid_until",
    "long_review_interval",
    "issuing_authority",
    "last_practised_on",
)


def _today() -> dt.date:
    return timezone.localdate()


def _actor_label(by) -> str:
    return _("system") if by is None else audit._actor(by)[1]


def _lock(cert: Certificate) -> Certificate:
    return (
        Certificate.objects.select_for_update(of=("self",))
        .select_related("scheme", "item", "person")
        .get(pk=cert.pk)
    )


def _not_in_force(cert: Certificate, book: RuleBook, on: dt.date) -> list[Reason]:
    """A revoked or cancelled record takes no review, extension or renewal."""
    rule = book.rule_for(cert.scheme_id, cert.item_id, min(on, cert.valid_until))
    clause = rule.clause if rule else ""
    if cert.state == CertState.CANCELLED:
        return [Reason("cert.cancelled", _("The certificate is cancelled."), clause, cert.number)]
    if cert.state == CertState.REVOKED:
        return [Reason("cert.revoked", _("The certificate is revoked."), clause, cert.number)]
    return []


# ---------------------------------------------------------------------------------------------
# Validation shared by create, update and renew


@dataclass
class _Fields:
    person: Person
    scheme: Scheme
    item: CertificateItem
    number: str
    issued_on: dt.date
    valid_from: dt.date | None
    valid_until: dt.date | None
    first_issued_on: dt.date | None
    restriction: str
    # Set by _validated when the item's rule shortened the given end (`rules.validity_limit`).
    given_valid_until: dt.date | None = None
    limit: ValidityLimit | None = None

    def audit_after(self, cert: Certificate) -> dict | None:
        """The audit record's `after`: the record, plus the end as given when it was capped."""
        if self.limit is None:
            return None
        return audit.snapshot(cert) | {
            "valid_until_given": self.given_valid_until.isoformat(),
            "validity_rule": self.limit.rule.code if self.limit.rule else "",
            "validity_clause": self.limit.clause,
        }


def _validated(f: _Fields, *, book: RuleBook, exclude_pk: int | None = None) -> _Fields:
    """Checks every field and returns them completed (valid_from, valid_until, first issue);
    raises InvalidInput with every error found."""
    errors: list[FieldError] = []
    f.number = normalise_number(f.number)
    f.restriction = (f.restriction or "").strip()
    if f.item.scheme_id != f.scheme.pk:
        # Every other check reads the item: nothing more to say until it is the right one.
        raise InvalidInput(
            FieldError(
                "item",
                "item.wrong_scheme",
                _("Item %(item)s does not belong to the scheme %(scheme)s.")
                % {"item": f.item.code, "scheme": f.scheme.code},
            )
        )
    if not f.item.is_active and exclude_pk is None:
        errors.append(FieldError("item", "item.inactive", _("This item is no longer issued.")))
    if not f.number:
        errors.append(FieldError("number", "required", _("This field is required.")))
    errors += text_errors(f.number, "number") + text_errors(f.restriction, "restriction")
    if f.issued_on and f.issued_on > _today():  # the site's date: 23:30 UTC is tomorrow there
        errors.append(FieldError("issued_on", "date.future", _("The issue date is in the future.")))
    if f.item.restriction_kinds:
        if not f.restriction:
            errors.append(
                FieldError(
                    "restriction",
                    "restriction.required",
                    _("Item %(item)s needs a restriction, one of: %(kinds)s.")
                    % {"item": f.item.code, "kinds": ", ".join(f.item.restriction_kinds)},
                )
            )
        elif f.restriction not in f.item.restriction_kinds:
            errors.append(
                FieldError(
                    "restriction",
                    "restriction.invalid",
                    _("Item %(item)s takes one of: %(kinds)s.")
                    % {"item": f.item.code, "kinds": ", ".join(f.item.restriction_kinds)},
                )
            )
    elif f.restriction:
        errors.append(
            FieldError(
                "restriction",
                "restriction.not_allowed",
                _("Item %(item)s takes no restriction.") % {"item": f.item.code},
            )
        )
    if f.number and (problem := number_problem(f.number, scheme_code=f.scheme.code, item=f.item)):
        errors.append(FieldError("number", problem.code, problem.message))

    f.valid_from = f.valid_from or f.issued_on
    f.first_issued_on = f.first_issued_on or f.issued_on
    if f.valid_until is None and f.valid_from is not None:
        f.valid_until = expiry_by_rule(book, f.item, f.valid_from)[0]
        if f.valid_until is None:
            errors.append(
                FieldError(
                    "valid_until",
                    "required",
                    _("The catalogue gives no validity for this item: give the end date."),
                )
            )
    if f.first_issued_on > f.issued_on:
        errors.append(
            FieldError(
                "first_issued_on",
                "date.order",
                _("The first issue cannot be later than this record's issue date."),
            )
        )
    if f.valid_from < f.issued_on:
        errors.append(
            FieldError(
                "valid_from", "date.order", _("Validity cannot start before the issue date.")
            )
        )
    if f.valid_until is not None and f.valid_until < f.valid_from:
        errors.append(
            FieldError("valid_until", "date.order", _("The end of validity is before its start."))
        )
    if not errors and f.valid_until is not None:
        # The enterprise's own qualifications are valid as long as their rule says, whatever end
        # a ledger or a form gives: capped here, so that what is stored is what is used.
        capped, f.limit = bounded_valid_until(
            book,
            f.item,
            issued_on=f.issued_on,
            valid_from=f.valid_from,
            valid_until=f.valid_until,
        )
        if f.limit is not None:
            f.given_valid_until, f.valid_until = f.valid_until, capped
    if not errors and _natural_key_taken(f, exclude_pk):
        errors.append(_duplicate_error())
    if errors:
        raise InvalidInput(errors)
    return f


def _natural_key_taken(f: _Fields, exclude_pk: int | None) -> bool:
    qs = Certificate.objects.filter(
        scheme=f.scheme, item=f.item, number=f.number, issued_on=f.issued_on
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _duplicate_error() -> FieldError:
    return FieldError(
        "number",
        "certificate.duplicate",
        _("A certificate with this scheme, item, number and issue date is already recorded."),
    )


def _save(cert: Certificate) -> None:
    if errors := model_text_errors(cert):  # issuing authority and the other free texts
        raise InvalidInput(errors)
    save_unique(cert)


# The check above answers the usual case; the constraint answers a concurrent twin.
describe_unique(
    Certificate,
    "certificate_natural_key",
    field="number",
    code="certificate.duplicate",
    message=gettext_lazy(
        "A certificate with this scheme, item, number and issue date is already recorded."
    ),
)


def _refresh_review_due(cert: Certificate, book: RuleBook) -> None:
    reviews = passed_reviews_of([cert.pk]).get(cert.pk, []) if cert.pk else []
    due = first_unpassed_review(cert, book, reviews)
    cert.next_review_due = due[0] if due else None


# ---------------------------------------------------------------------------------------------
# Create and correct


@transaction.atomic
def create_certificate(
    *,
    by=None,
    person: Person,
    scheme: Scheme,
    item: CertificateItem,
    number: str,
    issued_on: dt.date,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    first_issued_on: dt.date | None = None,
    restriction: str = "",
    long_review_interval: bool = False,
    issuing_authority: str = "",
    last_practised_on: dt.date | None = None,
    book: RuleBook | None = None,
) -> Certificate:
    """Record a certificate as printed. `valid_from` defaults to the issue date, `valid_until`
    to the validity of the rule in force then, `first_issued_on` to the issue date. The natural
    key (scheme, item, number, issue date) is unique: a second record is a clear 422."""
    book = book or RuleBook.load()
    f = _validated(
        _Fields(
            person=person,
            scheme=scheme,
            item=item,
            number=number,
            issued_on=issued_on,
            valid_from=valid_from,
            valid_until=valid_until,
            first_issued_on=first_issued_on,
            restriction=restriction,
        ),
        book=book,
    )
    cert = Certificate(
        person=person,
        scheme=scheme,
        item=item,
        number=f.number,
        restriction=f.restriction,
        first_issued_on=f.first_issued_on,
        issued_on=f.issued_on,
        valid_from=f.valid_from,
        valid_until=f.valid_until,
        long_review_interval=long_review_interval,
        issuing_authority=issuing_authority,
        last_practised_on=last_practised_on,
        catalogue_version=item.catalogue_version,
    )
    _refresh_review_due(cert, book)
    _save(cert)
    audit.record(
        action="certs.certificate_created", target=cert, actor=by, after=f.audit_after(cert)
    )
    return cert


@transaction.atomic
def update_certificate(*, by=None, cert: Certificate, book: RuleBook | None = None, **changes):
    """Correct a record's printed facts (EDITABLE fields only); the review due date follows."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            [
                FieldError(name, "not_editable", _("This field cannot be changed."))
                for name in unknown
            ]
        )
    book = book or RuleBook.load()
    cert = _lock(cert)
    before = audit.snapshot(cert)
    values = {name: changes.get(name, getattr(cert, name)) for name in EDITABLE}
    if "first_issued_on" not in changes and cert.first_issued_on == cert.issued_on:
        values["first_issued_on"] = values["issued_on"]  # a first issue follows its correction
    f = _validated(
        _Fields(
            person=cert.person,
            scheme=cert.scheme,
            item=values["item"],
            number=values["number"],
            issued_on=values["issued_on"],
            valid_from=values["valid_from"],
            valid_until=values["valid_until"],
            first_issued_on=values["first_issued_on"],
            restriction=values["restriction"],
        ),
        book=book,
        exclude_pk=cert.pk,
    )
    cert.item = f.item
    cert.number, cert.restriction = f.number, f.restriction
    cert.issued_on, cert.first_issued_on = f.issued_on, f.first_issued_on
    cert.valid_from, cert.valid_until = f.valid_from, f.valid_until
    cert.long_review_interval = bool(values["long_review_interval"])
    cert.issuing_authority = values["issuing_authority"] or ""
    cert.last_practised_on = values["last_practised_on"]
    _refresh_review_due(cert, book)
    _save(cert)
    audit.record(
        action="certs.certificate_updated",
        target=cert,
        actor=by,
        before=before,
        after=f.audit_after(cert),
    )
    return cert


# ---------------------------------------------------------------------------------------------
# The three ways a certificate goes on: review, extension, renewal


@transaction.atomic
def record_review(
    *,
    by=None,
    cert: Certificate,
    on: dt.date | None = None,
    passed: bool = True,
    note: str = "",
    book: RuleBook | None = None,
) -> Certificate:
    """Record the periodic review (Order No. 30 复审) that is due next.

    Only while a review rule is in force for that due date, and only within the window before it
    (Art. 22); a passed review moves `next_review_due` to the following one (counted from this
    due date). A failed review is kept as an event and changes nothing else.
    """
    on = on or _today()
    book = book or RuleBook.load()
    cert = _lock(cert)
    if reasons := _not_in_force(cert, book, on):
        raise Refused(reasons)
    due = first_unpassed_review(cert, book, passed_reviews_of([cert.pk]).get(cert.pk, []))
    if due is None:
        rule = _why_no_review(cert, book, on)
        raise Refused(
            [
                Reason(
                    "cert.review.not_required",
                    _("No periodic review is required for this certificate."),
                    rule.clause if rule else "",
                    cert.number,
                )
            ]
        )
    due_on, rule = due
    window = review_window(due_on, rule)
    if not window.contains(on):
        if on > due_on:
            code = "cert.review.late"
            message = _("The review was due on %(due)s; it cannot be recorded after that.")
        else:
            code = "cert.review.too_early"
            message = _("The review due on %(due)s can be applied for from %(opens)s.")
        raise Refused(
            [
                Reason(
                    code,
                    message % {"due": due_on, "opens": window.opens},
                    rule.clause,
                    cert.number,
                    data={"due_on": due_on.isoformat()},
                )
            ]
        )
    before = audit.snapshot(cert)
    CertificateEvent.objects.create(
        certificate=cert,
        kind=EventKind.REVIEW,
        on=on,
        due_on=due_on,
        passed=passed,
        reason=note,
        actor_label=_actor_label(by),
    )
    _refresh_review_due(cert, book)
    cert.save(update_fields=["next_review_due", "updated_at"])
    audit.record(action="certs.review_recorded", target=cert, actor=by, before=before)
    return cert


def _why_no_review(cert: Certificate, book: RuleBook, on: dt.date):
    """The rule that says no review is due: the one in force when the next review would have
    fallen due (Order No. 19 for a due date from 2026-06-01), else the rule in force on `on`."""
    anchor = cert.issued_on
    for due, _rule in review_due_dates(cert, book):
        anchor = due
    current = book.rule_for(cert.scheme_id, cert.item_id, anchor)
    months = review_interval(cert, current) if current is not None else None
    if months:
        would_fall_due = min(add_months(anchor, months), cert.valid_until)
        return book.rule_for(cert.scheme_id, cert.item_id, would_fall_due) or current
    return book.rule_for(cert.scheme_id, cert.item_id, min(on, cert.valid_until))


@transaction.atomic
def record_extension(
    *,
    by=None,
    cert: Certificate,
    on: dt.date | None = None,
    passed: bool = True,
    note: str = "",
    book: RuleBook | None = None,
) -> Certificate:
    """Record an extension of the same certificate (TSG Z6001 复审, construction 延期复核): the
    expiry moves by the rule's `extension_months`, applied for inside the rule's window. The
    previous and new expiry stay in the event. A failed extension is kept and changes nothing."""
    on = on or _today()
    book = book or RuleBook.load()
    cert = _lock(cert)
    if reasons := _not_in_force(cert, book, on):
        raise Refused(reasons)
    rule = book.rule_for(cert.scheme_id, cert.item_id, on)
    if rule is None or not rule.extension_months:
        raise Refused(
            [
                Reason(
                    "cert.extension.not_applicable",
                    _("This certificate is not extended; it is reviewed or renewed instead."),
                    rule.clause if rule else "",
                    cert.number,
                )
            ]
        )
    if rule.extension_max_age_years is not None:
        birth = cert.person.birth_date
        if past_age_limit(birth, on, rule.extension_max_age_years):
            raise Refused(
                [
                    Reason(
                        "cert.extension.age_limit",
                        _(
                            "The holder, born on %(birth)s, is past the age of %(years)s on "
                            "%(on)s: the certificate cannot be extended."
                        )
                        % {"birth": birth, "years": rule.extension_max_age_years, "on": on},
                        rule.clause,
                        cert.number,
                        data={"max_age_years": rule.extension_max_age_years},
                    )
                ]
            )
    window = extension_window(cert.valid_until, rule)
    if not window.contains(on):
        if on > window.closes:
            code = "cert.extension.late"
            message = _("An extension had to be applied for by %(closes)s.")
        else:
            code = "cert.extension.too_early"
            message = _("An extension can be applied for from %(opens)s.")
        raise Refused(
            [
                Reason(
                    code,
                    message % {"opens": window.opens, "closes": window.closes},
                    rule.clause,
                    cert.number,
                    data={"opens": str(window.opens or ""), "closes": window.closes.isoformat()},
                )
            ]
        )
    before = audit.snapshot(cert)
    previous = cert.valid_until
    if passed:
        cert.valid_until = add_months(previous, rule.extension_months)
    CertificateEvent.objects.create(
        certificate=cert,
        kind=EventKind.EXTENSION,
        on=on,
        passed=passed,
        previous_valid_until=previous,
        new_valid_until=cert.valid_until,
        reason=note,
        actor_label=_actor_label(by),
    )
    _refresh_review_due(cert, book)
    cert.save(update_fields=["valid_until", "next_review_due", "updated_at"])
    audit.record(action="certs.certificate_extended", target=cert, actor=by, before=before)
    return cert


@transaction.atomic
def renew_certificate(
    *,
    by=None,
    cert: Certificate,
    number: str,
    issued_on: dt.date,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    issuing_authority: str | None = None,
    restriction: str | None = None,
    long_review_interval: bool = False,
    book: RuleBook | None = None,
) -> Certificate:
    """Record the renewal (换证) of `cert` as a new record linked to it (`predecessor`), keeping
    the first-issue date. A new record starting after the old one ended leaves a vacuum period
    between them. A renewal event on the old record names the new one."""
    book = book or RuleBook.load()
    old = _lock(cert)
    if reasons := _not_in_force(old, book, issued_on):
        raise Refused(reasons)
    if Certificate.objects.filter(predecessor=old).exists():
        raise Refused(
            [
                Reason(
                    "cert.renewal.exists",
                    _("This certificate has been renewed already; renew the newest record."),
                    subject=old.number,
                )
            ]
        )
    if issued_on <= old.issued_on:
        raise InvalidInput(
            FieldError(
                "issued_on",
                "date.order",
                _("A renewal is issued after the record it renews (%(date)s).")
                % {"date": old.issued_on},
            )
        )
    f = _validated(
        _Fields(
            person=old.person,
            scheme=old.scheme,
            item=old.item,
            number=number,
            issued_on=issued_on,
            valid_from=valid_from,
            valid_until=valid_until,
            first_issued_on=old.first_issued_on or old.issued_on,
            restriction=old.restriction if restriction is None else restriction,
        ),
        book=book,
    )
    new = Certificate(
        person=old.person,
        scheme=old.scheme,
        item=old.item,
        number=f.number,
        restriction=f.restriction,
        first_issued_on=f.first_issued_on,
        issued_on=f.issued_on,
        valid_from=f.valid_from,
        valid_until=f.valid_until,
        long_review_interval=long_review_interval,
        issuing_authority=old.issuing_authority if issuing_authority is None else issuing_authority,
        last_practised_on=old.last_practised_on,
        catalogue_version=old.item.catalogue_version,
        predecessor=old,
    )
    _refresh_review_due(new, book)
    _save(new)
    CertificateEvent.objects.create(
        certificate=old,
        kind=EventKind.RENEWAL,
        on=issued_on,
        previous_valid_until=old.valid_until,
        new_valid_until=new.valid_until,
        reason=_("Renewed by %(number)s from %(start)s.")
        % {"number": new.number, "start": new.valid_from},
        actor_label=_actor_label(by),
    )
    audit.record(action="certs.certificate_renewed", target=new, actor=by, after=f.audit_after(new))
    return new


# ---------------------------------------------------------------------------------------------
# Revocation and cancellation: different states, each with its reason


def _reason_text(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(FieldError("reason", "required", _("Give the reason.")))
    return reason


def grounds_for(scheme_id: int):
    """The revocation grounds that apply to a scheme's certificates (its own and the general)."""
    return RevocationGround.objects.filter(
        models.Q(scheme_id=scheme_id) | models.Q(scheme__isnull=True)
    )


def _ground(ground, cert: Certificate) -> RevocationGround:
    """The ground, given as a row or its code, if it applies to the record's scheme."""
    code = ground.code if isinstance(ground, RevocationGround) else str(ground or "").strip()
    if not code:
        raise InvalidInput(FieldError("ground", "required", _("Choose the ground of revocation.")))
    found = grounds_for(cert.scheme_id).filter(code=code).first()
    if found is None:
        known = ", ".join(grounds_for(cert.scheme_id).values_list("code", flat=True))
        raise InvalidInput(
            FieldError(
                "ground",
                "invalid_choice",
                _("Not a ground of revocation for this certificate; one of: %(known)s.")
                % {"known": known},
            )
        )
    return found


@transaction.atomic
def revoke_certificate(
    *, by=None, cert: Certificate, reason: str, ground, on: dt.date | None = None
) -> Certificate:
    """Revoke (撤销, Art. 30) the record from `on`: unusable from that day, with its ground (a
    `RevocationGround` or its code) and particulars. A ground that bars reapplying (false
    entries, deception: 3 years) stores the first day a new certificate of this item may be
    issued again; one issued earlier is `reapply_barred` (`rules.covering_bar`)."""
    reason = _reason_text(reason)
    on = on or _today()
    cert = _lock(cert)
    ground = _ground(ground, cert)
    if cert.state != CertState.ACTIVE:
        code = "cert.cancelled" if cert.state == CertState.CANCELLED else "cert.revoked"
        raise Refused(
            [
                Reason(
                    code,
                    _("The certificate is already %(state)s.")
                    % {"state": cert.get_state_display()},
                    subject=cert.number,
                )
            ]
        )
    before = audit.snapshot(cert)
    cert.state, cert.state_reason, cert.state_changed_on = CertState.REVOKED, reason, on
    cert.revocation_ground, cert.revoked_on = ground, on
    cert.reapply_allowed_from = (
        add_months(on, ground.reapply_bar_months) if ground.reapply_bar_months else None
    )
    cert.save(
        update_fields=[
            "state",
            "state_reason",
            "state_changed_on",
            "revocation_ground",
            "revoked_on",
            "reapply_allowed_from",
            "updated_at",
        ]
    )
    CertificateEvent.objects.create(
        certificate=cert,
        kind=EventKind.REVOCATION,
        on=on,
        reason=f"{ground.name}（{ground.clause}）：{reason}"[:500],
        actor_label=_actor_label(by),
    )
    audit.record(action="certs.certificate_revoked", target=cert, actor=by, before=before)
    _tell_disqualified(cert, since=on)
    return cert


@transaction.atomic
def cancel_certificate(
    *, by=None, cert: Certificate, reason: str, on: dt.date | None = None
) -> Certificate:
    """Cancel (注销, Art. 31: death, own request, revoked) the record from `on`, with its reason.
    A revoked record may be cancelled; it stays unusable from the day it was revoked."""
    reason = _reason_text(reason)
    on = on or _today()
    cert = _lock(cert)
    if cert.state == CertState.CANCELLED:
        raise Refused(
            [
                Reason(
                    "cert.cancelled",
                    _("The certificate is already %(state)s.")
                    % {"state": cert.get_state_display()},
                    subject=cert.number,
                )
            ]
        )
    before = audit.snapshot(cert)
    since = on
    if cert.state == CertState.REVOKED and cert.state_changed_on:
        since = min(on, cert.state_changed_on)
    cert.state, cert.state_reason, cert.state_changed_on = CertState.CANCELLED, reason, since
    cert.save(update_fields=["state", "state_reason", "state_changed_on", "updated_at"])
    CertificateEvent.objects.create(
        certificate=cert,
        kind=EventKind.CANCELLATION,
        on=on,
        reason=reason,
        actor_label=_actor_label(by),
    )
    audit.record(action="certs.certificate_cancelled", target=cert, actor=by, before=before)
    _tell_disqualified(cert, since=since)
    return cert


def _tell_disqualified(cert: Certificate, *, since: dt.date) -> None:
    """In the revoking transaction: the holder's planned work, to those responsible (from the
    day it takes effect; a later day is the scan's)."""
    today = _today()
    if since <= today:
        disqualification.emit_disqualified([cert], on=today, at=timezone.now())


# ---------------------------------------------------------------------------------------------
# After the rules change


def review_due_entries(*, actor=None, book: RuleBook | None = None, chunk: int = 5000):
    """Recompute `next_review_due` of every record under the rules now in the database; save the
    changed ones in bulk and return their audit entries (the caller records them last)."""
    book = book or RuleBook.load()
    fields = (
        "id",
        "scheme_id",
        "item_id",
        "issued_on",
        "valid_until",
        "long_review_interval",
        "next_review_due",
        "number",
    )
    changed: list[Certificate] = []
    entries = []
    last_id = 0
    while True:
        rows = list(
            Certificate.objects.filter(pk__gt=last_id).order_by("pk").values_list(*fields)[:chunk]
        )
        if not rows:
            break
        last_id = rows[-1][0]
        certs = [Certificate(**dict(zip(fields, row, strict=True))) for row in rows]
        reviewable = [c.pk for c in certs if book.has_reviews(c.scheme_id, c.item_id)]
        reviews = passed_reviews_of(reviewable) if reviewable else {}
        for cert in certs:
            due = first_unpassed_review(cert, book, reviews.get(cert.pk, ()))
            new_due = due[0] if due else None
            if new_due != cert.next_review_due:
                entries.append(
                    audit.entry(
                        action="certs.review_due_recomputed",
                        target=("certs.certificate", str(cert.pk), cert.number),
                        actor=actor,
                        before={"next_review_due": cert.next_review_due},
                        after={"next_review_due": new_due},
                    )
                )
                cert.next_review_due = new_due
                changed.append(cert)
    Certificate.objects.bulk_update(changed, ["next_review_due"], batch_size=1000)
    return entries


@transaction.atomic
def recompute_review_dues(*, by=None, book: RuleBook | None = None) -> int:
    """Bring every stored `next_review_due` in line with the catalogue rules (after `catalogue
    update` changed them); one audit record per changed certificate. Returns how many changed."""
    entries = review_due_entries(actor=by, book=book)
    audit.record_many(entries)
    return len(entries)
