"""Writes to people: persons, employment, contractors, engagements, health checks, the blacklist.

Door-level services are whole transactions; each ends with its audit record. `scope` is the
writer's scope for the resource: every reference must be visible in it (else a 422 on that
field, nothing saved) and the result must stay visible to the writer. `scope=None` means a
trusted caller (commands, seed, imports, the admin with its own checks).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core import audit
from safework.core.errors import FieldError, InvalidInput
from safework.core.integrity import describe_unique, save_unique
from safework.core.scope import Scope
from safework.core.settings_registry import get_setting
from safework.core.validation import clean_model, visible_ref
from safework.org.models import Department, Position
from safework.org.queries import departments_visible_to, sites_visible_to
from safework.people import queries
from safework.people.conf import MINIMUM_WORKING_AGE
from safework.people.models import (
    BlacklistEntry,
    Contractor,
    ContractorEngagement,
    ContractorStatus,
    EmployerKind,
    Employment,
    EmploymentStatus,
    EngagementStatus,
    HealthCheck,
    HealthConclusion,
    Person,
)
from safework.people.rules import IdNumberError, UsccError, parse_id_number, validate_uscc

# The eight special works of GB 30871-2022 (§3): the work types a health check can restrict.
SPECIAL_WORK_TYPES = (
    "hot_work",
    "confined_space",
    "blinding",
    "height",
    "lifting",
    "temporary_power",
    "excavation",
    "road_closure",
)


# A concurrent twin that passed the checks below meets the unique constraint: same answer.
describe_unique(
    Person,
    "id_number",
    field="id_number",
    message=gettext_lazy(
        "A person with this ID number is already registered; change their "
        "employment instead of registering them again."
    ),
)
describe_unique(
    Contractor,
    "uscc",
    field="uscc",
    message=gettext_lazy(
        "A contractor with this credit code is registered; engage it at your site."
    ),
)
describe_unique(
    HealthCheck,
    "one_check_per_day",
    field="checked_on",
    message=gettext_lazy("This person has a check on this date."),
)


@dataclass(frozen=True)
class EmploymentIn:
    employer_kind: str
    started_on: date
    contractor_id: int | None = None
    department_id: int | None = None


# --- helpers -----------------------------------------------------------------------------


def _everything(scope: Scope | None) -> Scope:
    return Scope.everything() if scope is None else scope


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput(errors)


def _still_visible(visible_qs, obj, field: str, message: str | None = None) -> None:
    if not visible_qs.filter(pk=obj.pk).exists():
        raise InvalidInput(
            FieldError(
                field, "out_of_scope", message or _("The result would be outside your scope.")
            )
        )


def _check_fields(changes: dict, allowed: set[str]) -> None:
    _raise_if(
        [
            FieldError(name, "unknown_field", _("Unknown field."))
            for name in sorted(set(changes) - allowed)
        ]
    )


def _today() -> date:
    return timezone.localdate()


def checked_id_number(raw, *, field: str = "id_number") -> tuple[str, date, str]:
    """(normalised number, birth date, gender) or InvalidInput naming the field and reason."""
    try:
        parsed = parse_id_number(raw)
    except IdNumberError as exc:
        raise InvalidInput(FieldError(field, exc.code, _id_message(exc)))
    if parsed.birth_date > _today():  # the site's date: 23:30 UTC is already tomorrow there
        raise InvalidInput(
            FieldError(
                field,
                "id_number.birth_date_future",
                _("The birth date in the ID number is in the future."),
            )
        )
    return parsed.value, parsed.birth_date, parsed.gender


def _id_message(exc: IdNumberError) -> str:
    messages = {
        "id_number.required": _("The ID number is required."),
        "id_number.length": _("An ID number has 18 characters."),
        "id_number.format": _("An ID number is 17 digits followed by a digit or X."),
        "id_number.birth_date": _("The birth date in the ID number is impossible."),
        "id_number.checksum": _("The check character of the ID number is wrong."),
        "id_number.invalid": _("The ID number is not valid (region or birth date)."),
        "id_number.fifteen_digits": _("A 15-digit ID number: give the 18-digit number."),
    }
    return messages.get(exc.code, str(exc))


def checked_uscc(raw, *, field: str = "uscc") -> str:
    """The normalised unified social credit code, or InvalidInput naming the reason."""
    try:
        return validate_uscc(raw)
    except UsccError as exc:
        messages = {
            "uscc.registration_number": _(
                "A 15-digit business registration number: give the 18-character credit code."
            ),
            "uscc.length": _("A unified social credit code has 18 characters."),
            "uscc.format": _("The credit code has characters outside GB 32100 (no I, O, S, V, Z)."),
            "uscc.checksum": _("The check character of the credit code is wrong."),
        }
        raise InvalidInput(FieldError(field, exc.code, messages.get(exc.code, str(exc))))


def _employment_site_id(department_id: int | None) -> int | None:
    if department_id is None:
        return None
    return (
        Department.objects.filter(pk=department_id)
        .values_list("effective_site_id", flat=True)
        .first()
    )


def sync_employment_sites(sender=None, *, department_ids, **kwargs) -> None:
    """Employment.site follows its department's effective site when the tree moves
    (receiver of org.services.department_sites_changed, connected in PeopleConfig.ready)."""
    site = Department.objects.filter(pk=OuterRef("department_id")).values("effective_site_id")
    Employment.objects.filter(department_id__in=department_ids).update(site_id=Subquery(site[:1]))


def _check_employment(emp: EmploymentIn, scope: Scope, prefix: str) -> list[FieldError]:
    errors = []
    if emp.employer_kind == EmployerKind.CONTRACTOR and not emp.contractor_id:
        errors.append(FieldError(f"{prefix}contractor_id", "required", _("Name the contractor.")))
    if emp.employer_kind == EmployerKind.OWN and emp.contractor_id:
        errors.append(
            FieldError(f"{prefix}contractor_id", "invalid", _("Own staff have no contractor."))
        )
    for field, qs, pk in (
        ("contractor_id", queries.contractors_visible_to(scope), emp.contractor_id),
        ("department_id", departments_visible_to(scope), emp.department_id),
    ):
        try:
            visible_ref(qs, pk, f"{prefix}{field}")
        except InvalidInput as exc:
            errors += exc.errors
    return errors


def birthday(birth: date, years: int) -> date:
    """The day the person turns `years` old (born 29 February: 1 March in common years)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return date(birth.year + years, 3, 1)


def minimum_working_age() -> int:
    """The minimum working age in force (a setting; Labour Law art. 15: 16 years)."""
    return int(get_setting(MINIMUM_WORKING_AGE.key))


def minimum_age_errors(
    birth: date | None, started_on: date | None, field: str, *, minimum_age: int | None = None
):
    """An employment may start on the day the person reaches the minimum working age (a
    setting with its clause: Labour Law art. 15, 16 years), not the day before. A caller that
    checks many rows passes `minimum_age` (`minimum_working_age()`, read once)."""
    if birth is None or started_on is None:
        return []
    spec = MINIMUM_WORKING_AGE
    age = minimum_age if minimum_age is not None else minimum_working_age()
    if started_on >= birthday(birth, age):
        return []
    return [
        FieldError(
            field,
            "employment.under_minimum_age",
            _(
                "The person is under %(age)s on that day (%(clause)s); "
                "the earliest start is %(day)s."
            )
            % {"age": age, "clause": spec.clause, "day": birthday(birth, age).isoformat()},
        )
    ]


def _open_employment(person: Person, emp: EmploymentIn) -> Employment:
    _raise_if(minimum_age_errors(person.birth_date, emp.started_on, "employment.started_on"))
    employment = Employment.objects.create(
        person=person,
        employer_kind=emp.employer_kind,
        contractor_id=emp.contractor_id,
        department_id=emp.department_id,
        site_id=_employment_site_id(emp.department_id),
        started_on=emp.started_on,
    )
    person.current_employment = employment
    person.save(update_fields=["current_employment", "updated_at"])
    return employment


# --- persons -----------------------------------------------------------------------------


def _clean_names(names) -> list[str]:
    return [n.strip() for n in (names or []) if n and n.strip()]


@transaction.atomic
def register_person(
    *,
    by,
    id_number: str,
    name: str,
    former_names: list[str] | None = None,
    phone: str = "",
    education: str = "",
    position_id: int | None = None,
    employment: EmploymentIn | None = None,
    is_synthetic: bool = False,
    scope: Scope | None = None,
) -> Person:
    """Register one human once: refuses a second person with the same (normalised) ID number.

    Gender and birth date come from the ID number. With a scope, the person must end up visible
    to the writer, so a site's officer names a department or engaged contractor of their site.
    """
    scope = _everything(scope)
    errors: list[FieldError] = []
    number = birth = gender = None
    try:
        number, birth, gender = checked_id_number(id_number)
    except InvalidInput as exc:
        errors += exc.errors
    name = (name or "").strip()
    if not name:
        errors.append(FieldError("name", "required", _("The name is required.")))
    if number and Person.objects.filter(id_number=number).exists():
        errors.append(
            FieldError(
                "id_number",
                "duplicate",
                _(
                    "A person with this ID number is already registered; change their "
                    "employment instead of registering them again."
                ),
            )
        )
    try:
        visible_ref(Position.objects.all(), position_id, "position_id")
    except InvalidInput as exc:
        errors += exc.errors
    if employment is not None:
        errors += _check_employment(employment, scope, "employment.")
    _raise_if(errors)
    person = Person(
        id_number=number,
        name=name,
        former_names=_clean_names(former_names),
        gender=gender,
        birth_date=birth,
        phone=phone or "",
        education=education or "",
        position_id=position_id,
        is_synthetic=is_synthetic,
    )
    clean_model(person, exclude=["gender", "birth_date", "current_employment"])
    save_unique(person)
    if employment is not None:
        _open_employment(person, employment)
    _still_visible(
        queries.persons_visible_to(scope),
        person,
        "employment",
        _("Give an employment in your scope (a department or contractor you manage)."),
    )
    audit.record(action="people.person_registered", target=person, actor=by)
    return person


# A contractor manager's registration waits for the site's safety officer (issue 17): answering
# at once would tell them whether someone outside their staff holds the number. The review queue
# lives in the certificates app (contractor uploads), which registers the handler here, since
# people imports no app above it. The handler returns None when the writer is not a contractor.
_registration_review = None


def route_registrations_for_review(handler) -> None:
    global _registration_review
    _registration_review = handler


def submit_for_review(*, by, scope: Scope, values: dict) -> dict | None:
    """The neutral "submitted for review" answer, or None: register at once."""
    if _registration_review is None:
        return None
    return _registration_review(by=by, scope=scope, **values)


@transaction.atomic
def register_or_rehire_person(
    *, by, id_number: str, name: str, employment: EmploymentIn | None = None, scope=None, **rest
) -> tuple[Person, bool]:
    """(person, created): a new person, or one who left and comes back, on their old record.

    A person who is registered and has no current employer is re-employed when an employment
    is given (a returning worker keeps one record, whoever sees them now); anyone currently
    employed is refused as a duplicate, as register_person does.
    """
    parsed = None
    with contextlib.suppress(IdNumberError):  # register_person names the error
        parsed = parse_id_number(id_number)
    existing = (
        Person.objects.select_for_update().filter(id_number=parsed.value).first()
        if parsed
        else None
    )
    if existing is None or existing.current_employment_id is not None or employment is None:
        person = register_person(
            by=by, id_number=id_number, name=name, employment=employment, scope=scope, **rest
        )
        return person, True
    return _rehire(by=by, person=existing, name=name, employment=employment, scope=scope), False


def _rehire(*, by, person: Person, name: str, employment: EmploymentIn, scope) -> Person:
    scope = _everything(scope)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(FieldError("name", "required", _("The name is required.")))
    if name != person.name and name not in person.former_names:
        raise InvalidInput(
            FieldError(
                "name",
                "mismatch",
                _("This ID number is registered under another name; check both."),
            )
        )
    _raise_if(_check_employment(employment, scope, "employment."))
    before = audit.snapshot(person)
    person.is_active = True
    person.save(update_fields=["is_active", "updated_at"])
    _open_employment(person, employment)
    _still_visible(queries.persons_visible_to(scope), person, "employment")
    audit.record(action="people.person_rehired", target=person, actor=by, before=before)
    return person


PERSON_FIELDS = {"id_number", "name", "former_names", "phone", "education", "position_id"}


@transaction.atomic
def update_person(*, by, person: Person, changes: dict) -> Person:
    """Correct a person's details; a corrected ID number is checked again and re-derives gender
    and birth date. Employment changes go through change_employment."""
    _check_fields(changes, PERSON_FIELDS)
    person = Person.objects.select_for_update().get(pk=person.pk)
    before = audit.snapshot(person)
    errors: list[FieldError] = []
    if "id_number" in changes:
        try:
            number, person.birth_date, person.gender = checked_id_number(changes["id_number"])
        except InvalidInput as exc:
            errors += exc.errors
        else:
            if Person.objects.filter(id_number=number).exclude(pk=person.pk).exists():
                errors.append(
                    FieldError(
                        "id_number",
                        "duplicate",
                        _("Another person with this ID number is already registered."),
                    )
                )
            person.id_number = number
    if "name" in changes:
        person.name = (changes["name"] or "").strip()
        if not person.name:
            errors.append(FieldError("name", "required", _("The name is required.")))
    if "former_names" in changes:
        person.former_names = _clean_names(changes["former_names"])
    if "position_id" in changes:
        try:
            visible_ref(Position.objects.all(), changes["position_id"], "position_id")
        except InvalidInput as exc:
            errors += exc.errors
        person.position_id = changes["position_id"]
    for field in ("phone", "education"):
        if field in changes:
            setattr(person, field, changes[field] or "")
    _raise_if(errors)
    clean_model(person, exclude=["gender", "birth_date", "current_employment"])
    save_unique(person)
    audit.record(action="people.person_updated", target=person, actor=by, before=before)
    return person


@transaction.atomic
def deactivate_person(*, by, person: Person) -> Person:
    """Mark the person inactive; the record and its history stay."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    if not person.is_active:
        return person
    before = audit.snapshot(person)
    person.is_active = False
    person.save(update_fields=["is_active", "updated_at"])
    audit.record(action="people.person_deactivated", target=person, actor=by, before=before)
    return person


# --- employment --------------------------------------------------------------------------


@transaction.atomic
def change_employment(
    *,
    by,
    person: Person,
    employment: EmploymentIn,
    ended_on: date | None = None,
    scope: Scope | None = None,
) -> Person:
    """Close the current employment on `ended_on` (default: the day before the new one starts)
    and open the new one: a worker who changes contractor or comes back keeps one record."""
    scope = _everything(scope)
    _raise_if(_check_employment(employment, scope, "employment."))
    person = Person.objects.select_for_update().get(pk=person.pk)
    before = audit.snapshot(person)
    current = person.current_employment
    if current is not None:
        ended_on = ended_on or employment.started_on - timedelta(days=1)
        if ended_on < current.started_on:
            raise InvalidInput(
                FieldError("ended_on", "invalid", _("The employment cannot end before it started."))
            )
        if employment.started_on < ended_on:
            raise InvalidInput(
                FieldError(
                    "employment.started_on",
                    "overlap",
                    _("The new employment starts before the current one ends."),
                )
            )
        current.ended_on = ended_on
        current.status = EmploymentStatus.ENDED
        current.save(update_fields=["ended_on", "status"])
    _open_employment(person, employment)
    _still_visible(queries.persons_visible_to(scope), person, "employment")
    audit.record(action="people.employment_changed", target=person, actor=by, before=before)
    return person


EMPLOYMENT_FIELDS = {"department_id", "started_on", "ended_on", "status"}


@transaction.atomic
def update_employment(
    *, by, employment: Employment, changes: dict, scope: Scope | None = None
) -> Employment:
    """Correct an employment period: its department, dates, or suspension. Ending it is
    end_employment; another employer is change_employment."""
    scope = _everything(scope)
    _check_fields(changes, EMPLOYMENT_FIELDS)
    employment = Employment.objects.select_for_update().get(pk=employment.pk)
    before = audit.snapshot(employment)
    errors: list[FieldError] = []
    if "department_id" in changes:
        try:
            visible_ref(departments_visible_to(scope), changes["department_id"], "department_id")
        except InvalidInput as exc:
            errors += exc.errors
        employment.department_id = changes["department_id"]
        employment.site_id = _employment_site_id(employment.department_id)
    if "started_on" in changes:
        employment.started_on = changes["started_on"]
        birth = Person.objects.filter(pk=employment.person_id).values_list("birth_date", flat=True)
        errors += minimum_age_errors(birth.first(), employment.started_on, "started_on")
    if "ended_on" in changes:
        if employment.status != EmploymentStatus.ENDED and changes["ended_on"] is not None:
            errors.append(
                FieldError(
                    "ended_on", "open", _("End a current employment with its deactivate action.")
                )
            )
        elif employment.status == EmploymentStatus.ENDED and changes["ended_on"] is None:
            errors.append(FieldError("ended_on", "required", _("An ended employment has an end.")))
        employment.ended_on = changes["ended_on"]
    if "status" in changes:
        if changes["status"] == EmploymentStatus.ENDED or (
            employment.status == EmploymentStatus.ENDED and changes["status"] != employment.status
        ):
            errors.append(
                FieldError(
                    "status",
                    "invalid",
                    _("Employment ends with its deactivate action and does not reopen."),
                )
            )
        employment.status = changes["status"]
    if employment.ended_on is not None and employment.ended_on < employment.started_on:
        errors.append(FieldError("ended_on", "invalid", _("The period ends before it starts.")))
    _raise_if(errors)
    employment.save()
    _still_visible(queries.employments_visible_to(scope), employment, "department_id")
    audit.record(action="people.employment_updated", target=employment, actor=by, before=before)
    return employment


@transaction.atomic
def end_employment(*, by, employment: Employment, ended_on: date | None = None) -> Employment:
    """End an employment (default: today); the person then has no current employer."""
    employment = Employment.objects.select_for_update().get(pk=employment.pk)
    if employment.status == EmploymentStatus.ENDED:
        return employment
    ended_on = ended_on or _today()
    if ended_on < employment.started_on:
        raise InvalidInput(
            FieldError("ended_on", "invalid", _("The employment cannot end before it started."))
        )
    before = audit.snapshot(employment)
    employment.ended_on = ended_on
    employment.status = EmploymentStatus.ENDED
    employment.save(update_fields=["ended_on", "status"])
    Person.objects.filter(pk=employment.person_id, current_employment=employment).update(
        current_employment=None, updated_at=timezone.now()
    )
    audit.record(action="people.employment_ended", target=employment, actor=by, before=before)
    return employment


# --- contractors -------------------------------------------------------------------------


@dataclass(frozen=True)
class EngagementIn:
    site_id: int
    starts_on: date
    ends_on: date | None = None


def _engagement_errors(starts_on, ends_on, prefix="") -> list[FieldError]:
    if starts_on and ends_on and ends_on < starts_on:
        return [FieldError(f"{prefix}ends_on", "invalid", _("The contract ends before it starts."))]
    return []


@transaction.atomic
def register_contractor(
    *,
    by,
    name: str,
    uscc: str,
    contact_name: str = "",
    contact_phone: str = "",
    engagement: EngagementIn | None = None,
    scope: Scope | None = None,
) -> Contractor:
    """A contractor company, once per unified social credit code (GB 32100, codes starting
    A, N or Y included). A site-scoped writer engages it at their site in the same request."""
    scope = _everything(scope)
    errors: list[FieldError] = []
    code = None
    try:
        code = checked_uscc(uscc)
    except InvalidInput as exc:
        errors += exc.errors
    if code and Contractor.objects.filter(uscc=code).exists():
        errors.append(
            FieldError(
                "uscc",
                "duplicate",
                _("A contractor with this credit code is registered; engage it at your site."),
            )
        )
    if not (name or "").strip():
        errors.append(FieldError("name", "required", _("The name is required.")))
    if engagement is not None:
        try:
            visible_ref(sites_visible_to(scope), engagement.site_id, "engagement.site_id")
        except InvalidInput as exc:
            errors += exc.errors
        errors += _engagement_errors(engagement.starts_on, engagement.ends_on, "engagement.")
    _raise_if(errors)
    contractor = Contractor(
        name=name.strip(), uscc=code, contact_name=contact_name, contact_phone=contact_phone
    )
    clean_model(contractor)
    save_unique(contractor)
    entries = []
    if engagement is not None:
        engaged = ContractorEngagement.objects.create(
            contractor=contractor,
            site_id=engagement.site_id,
            starts_on=engagement.starts_on,
            ends_on=engagement.ends_on,
        )
        entries.append(audit.entry(action="people.contractor_engaged", target=engaged, actor=by))
    _still_visible(
        queries.contractors_visible_to(scope),
        contractor,
        "engagement",
        _("Engage the contractor at one of your sites, or you could not see it."),
    )
    audit.record_many(
        [audit.entry(action="people.contractor_registered", target=contractor, actor=by), *entries]
    )
    return contractor


CONTRACTOR_FIELDS = {"name", "uscc", "contact_name", "contact_phone", "status"}


@transaction.atomic
def update_contractor(*, by, contractor: Contractor, changes: dict) -> Contractor:
    _check_fields(changes, CONTRACTOR_FIELDS)
    contractor = Contractor.objects.select_for_update().get(pk=contractor.pk)
    before = audit.snapshot(contractor)
    errors: list[FieldError] = []
    if "uscc" in changes:
        try:
            code = checked_uscc(changes["uscc"])
        except InvalidInput as exc:
            errors += exc.errors
        else:
            if Contractor.objects.filter(uscc=code).exclude(pk=contractor.pk).exists():
                errors.append(
                    FieldError("uscc", "duplicate", _("Another contractor has this credit code."))
                )
            contractor.uscc = code
    if "name" in changes:
        contractor.name = (changes["name"] or "").strip()
        if not contractor.name:
            errors.append(FieldError("name", "required", _("The name is required.")))
    for field in ("contact_name", "contact_phone", "status"):
        if field in changes:
            setattr(contractor, field, changes[field])
    _raise_if(errors)
    clean_model(contractor)
    save_unique(contractor)
    audit.record(action="people.contractor_updated", target=contractor, actor=by, before=before)
    return contractor


@transaction.atomic
def deactivate_contractor(*, by, contractor: Contractor) -> Contractor:
    """Terminate the relationship (status terminated); staff and history stay."""
    contractor = Contractor.objects.select_for_update().get(pk=contractor.pk)
    if contractor.status == ContractorStatus.TERMINATED:
        return contractor
    before = audit.snapshot(contractor)
    contractor.status = ContractorStatus.TERMINATED
    contractor.save(update_fields=["status"])
    audit.record(action="people.contractor_deactivated", target=contractor, actor=by, before=before)
    return contractor


@transaction.atomic
def engage_contractor(
    *,
    by,
    contractor_id: int,
    site_id: int,
    starts_on: date,
    ends_on: date | None = None,
    status: str = EngagementStatus.ACTIVE,
    scope: Scope | None = None,
) -> ContractorEngagement:
    """A contract of a contractor at one site; it makes the contractor's staff visible there.

    The site must be the writer's; the contractor may be any registered one (a site engages
    contractors it could not see before).
    """
    scope = _everything(scope)
    errors: list[FieldError] = []
    for field, qs, pk in (
        ("contractor_id", Contractor.objects.all(), contractor_id),
        ("site_id", sites_visible_to(scope), site_id),
    ):
        try:
            visible_ref(qs, pk, field)
        except InvalidInput as exc:
            errors += exc.errors
    errors += _engagement_errors(starts_on, ends_on)
    _raise_if(errors)
    engagement = ContractorEngagement(
        contractor_id=contractor_id,
        site_id=site_id,
        starts_on=starts_on,
        ends_on=ends_on,
        status=status,
    )
    clean_model(engagement)
    engagement.save()
    audit.record(action="people.contractor_engaged", target=engagement, actor=by)
    return engagement


ENGAGEMENT_FIELDS = {"site_id", "starts_on", "ends_on", "status"}


@transaction.atomic
def update_engagement(
    *, by, engagement: ContractorEngagement, changes: dict, scope: Scope | None = None
) -> ContractorEngagement:
    scope = _everything(scope)
    _check_fields(changes, ENGAGEMENT_FIELDS)
    engagement = ContractorEngagement.objects.select_for_update().get(pk=engagement.pk)
    before = audit.snapshot(engagement)
    errors: list[FieldError] = []
    if "site_id" in changes:
        try:
            visible_ref(sites_visible_to(scope), changes["site_id"], "site_id")
        except InvalidInput as exc:
            errors += exc.errors
    for field in ENGAGEMENT_FIELDS & set(changes):
        setattr(engagement, field, changes[field])
    errors += _engagement_errors(engagement.starts_on, engagement.ends_on)
    _raise_if(errors)
    clean_model(engagement)
    engagement.save()
    audit.record(action="people.engagement_updated", target=engagement, actor=by, before=before)
    return engagement


@transaction.atomic
def end_engagement(*, by, engagement: ContractorEngagement) -> ContractorEngagement:
    """Status ended; the contract period stays as it was agreed."""
    engagement = ContractorEngagement.objects.select_for_update().get(pk=engagement.pk)
    if engagement.status == EngagementStatus.ENDED:
        return engagement
    before = audit.snapshot(engagement)
    engagement.status = EngagementStatus.ENDED
    engagement.save(update_fields=["status"])
    audit.record(action="people.engagement_ended", target=engagement, actor=by, before=before)
    return engagement


# --- health checks -----------------------------------------------------------------------


def _health_errors(check: HealthCheck) -> list[FieldError]:
    errors = []
    types = check.restricted_work_types
    if not isinstance(types, list):
        return [FieldError("restricted_work_types", "invalid_type", _("Must be a list."))]
    for i, code in enumerate(types):
        if code not in SPECIAL_WORK_TYPES:
            errors.append(
                FieldError(
                    f"restricted_work_types.{i}",
                    "invalid_choice",
                    _("Must be one of: %(choices)s.") % {"choices": ", ".join(SPECIAL_WORK_TYPES)},
                )
            )
    if len(set(types)) != len(types):
        errors.append(
            FieldError("restricted_work_types", "duplicate", _("A work type is listed twice."))
        )
    if check.conclusion == HealthConclusion.RESTRICTED and not types:
        errors.append(
            FieldError(
                "restricted_work_types",
                "required",
                _("Name the work types the person is unfit for."),
            )
        )
    if check.conclusion == HealthConclusion.FIT and types:
        errors.append(
            FieldError(
                "restricted_work_types",
                "conflict",
                _("A fit conclusion has no restrictions; use 'fit with restrictions'."),
            )
        )
    if check.checked_on and check.checked_on > _today():
        errors.append(FieldError("checked_on", "future", _("The check date is in the future.")))
    if check.valid_until is not None and check.valid_until < check.checked_on:
        errors.append(
            FieldError("valid_until", "invalid", _("Valid until is before the check date."))
        )
    duplicate = HealthCheck.objects.filter(person_id=check.person_id, checked_on=check.checked_on)
    if check.pk:
        duplicate = duplicate.exclude(pk=check.pk)
    if duplicate.exists():
        errors.append(
            FieldError("checked_on", "duplicate", _("This person has a check on this date."))
        )
    return errors


@transaction.atomic
def record_health_check(
    *,
    by,
    person: Person,
    checked_on: date,
    conclusion: str,
    restricted_work_types: list[str] | None = None,
    restriction_reason: str = "",
    valid_until: date | None = None,
    institution: str = "",
) -> HealthCheck:
    """An occupational medical check: restrictions name work types of GB 30871's eight."""
    check = HealthCheck(
        person=person,
        checked_on=checked_on,
        conclusion=conclusion,
        restricted_work_types=list(restricted_work_types or []),
        restriction_reason=restriction_reason or "",
        valid_until=valid_until,
        institution=institution or "",
    )
    _raise_if(_health_errors(check))
    clean_model(check)
    save_unique(check)
    audit.record(action="people.health_check_recorded", target=check, actor=by)
    return check


HEALTH_FIELDS = {
    "checked_on",
    "conclusion",
    "restricted_work_types",
    "restriction_reason",
    "valid_until",
    "institution",
}


@transaction.atomic
def update_health_check(*, by, check: HealthCheck, changes: dict) -> HealthCheck:
    """Correct a recorded check (a typo in the date, a missing restriction)."""
    _check_fields(changes, HEALTH_FIELDS)
    check = HealthCheck.objects.select_for_update().get(pk=check.pk)
    before = audit.snapshot(check)
    for field, value in changes.items():
        if field in {"restriction_reason", "institution"}:
            value = value or ""
        if field == "restricted_work_types":
            value = list(value or [])
        setattr(check, field, value)
    _raise_if(_health_errors(check))
    clean_model(check)
    save_unique(check)
    audit.record(action="people.health_check_updated", target=check, actor=by, before=before)
    return check


# --- the blacklist -----------------------------------------------------------------------


@transaction.atomic
def add_to_blacklist(
    *, by, id_number: str, reason: str, starts_on: date, ends_on: date | None = None, name=""
) -> BlacklistEntry:
    """Bar an ID number (registered or not) from special work for a period; audited."""
    errors: list[FieldError] = []
    number = None
    try:
        number, _birth, _gender = checked_id_number(id_number)
    except InvalidInput as exc:
        errors += exc.errors
    if not (reason or "").strip():
        errors.append(FieldError("reason", "required", _("Give the reason.")))
    if ends_on is not None and ends_on < starts_on:
        errors.append(FieldError("ends_on", "invalid", _("The bar cannot end before it starts.")))
    _raise_if(errors)
    entry = BlacklistEntry(
        id_number=number,
        name=(name or "").strip(),
        reason=reason.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        created_by_label=audit._actor(by)[1],
    )
    clean_model(entry)
    entry.save()
    audit.record(action="people.blacklisted", target=entry, actor=by)
    return entry


BLACKLIST_FIELDS = {"name", "reason", "starts_on", "ends_on"}


@transaction.atomic
def update_blacklist_entry(*, by, entry: BlacklistEntry, changes: dict) -> BlacklistEntry:
    """Correct the reason, the name or the period of a bar (the ID number is its identity)."""
    _check_fields(changes, BLACKLIST_FIELDS)
    entry = BlacklistEntry.objects.select_for_update().get(pk=entry.pk)
    before = audit.snapshot(entry)
    for field, value in changes.items():
        setattr(entry, field, value.strip() if isinstance(value, str) else value)
    errors = []
    if not entry.reason:
        errors.append(FieldError("reason", "required", _("Give the reason.")))
    if entry.ends_on is not None and entry.ends_on < entry.starts_on:
        errors.append(FieldError("ends_on", "invalid", _("The bar cannot end before it starts.")))
    _raise_if(errors)
    clean_model(entry)
    entry.save()
    audit.record(action="people.blacklist_updated", target=entry, actor=by, before=before)
    return entry


@transaction.atomic
def lift_blacklist_entry(*, by, entry: BlacklistEntry, on: date | None = None) -> BlacklistEntry:
    """The bar no longer applies from `on` (default today): it ends the day before. A bar that
    had not started yet ends the day before its start, so it never applies."""
    on = on or _today()
    entry = BlacklistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.ends_on is not None and entry.ends_on < on:
        return entry
    before = audit.snapshot(entry)
    entry.ends_on = max(on, entry.starts_on) - timedelta(days=1)
    entry.save(update_fields=["ends_on"])
    audit.record(action="people.blacklist_lifted", target=entry, actor=by, before=before)
    return entry
