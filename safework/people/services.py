"""Writes to people: persons, employment, contractors, health checks, the blacklist.

Door-level services are whole transactions; each ends with its audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from safework.core import audit
from safework.core.errors import FieldError, InvalidInput
from safework.people.models import (
    BlacklistEntry,
    EmployerKind,
    Employment,
    EmploymentStatus,
    HealthCheck,
    Person,
)
from safework.people.rules import IdNumberError, parse_id_number


@dataclass(frozen=True)
class EmploymentIn:
    employer_kind: str
    started_on: date
    contractor_id: int | None = None
    department_id: int | None = None


def checked_id_number(raw, *, field: str = "id_number") -> tuple[str, date, str]:
    """(normalised number, birth date, gender) or InvalidInput naming the field and reason."""
    try:
        parsed = parse_id_number(raw)
    except IdNumberError as exc:
        raise InvalidInput(FieldError(field, exc.code, _id_message(exc)))
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


def _employment_site_id(department_id: int | None) -> int | None:
    from safework.org.models import Department

    if department_id is None:
        return None
    return (
        Department.objects.filter(pk=department_id)
        .values_list("effective_site_id", flat=True)
        .first()
    )


def _open_employment(person: Person, emp: EmploymentIn) -> Employment:
    if emp.employer_kind == EmployerKind.CONTRACTOR and not emp.contractor_id:
        raise InvalidInput(
            FieldError("employment.contractor_id", "required", _("Name the contractor."))
        )
    if emp.employer_kind == EmployerKind.OWN and emp.contractor_id:
        raise InvalidInput(
            FieldError("employment.contractor_id", "invalid", _("Own staff have no contractor."))
        )
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
) -> Person:
    """Register one human once: refuses a second person with the same (normalised) ID number."""
    number, birth, gender = checked_id_number(id_number)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(FieldError("name", "required", _("The name is required.")))
    if Person.objects.filter(id_number=number).exists():
        raise InvalidInput(
            FieldError("id_number", "duplicate", _("A person with this ID number is registered."))
        )
    person = Person.objects.create(
        id_number=number,
        name=name,
        former_names=[n.strip() for n in (former_names or []) if n and n.strip()],
        gender=gender,
        birth_date=birth,
        phone=phone,
        education=education,
        position_id=position_id,
        is_synthetic=is_synthetic,
    )
    if employment is not None:
        _open_employment(person, employment)
    audit.record(action="people.person_registered", target=person, actor=by)
    return person


@transaction.atomic
def change_employment(*, by, person: Person, employment: EmploymentIn, ended_on: date) -> Person:
    """Close the current employment on `ended_on` and open the new one (same person record)."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    before = audit.snapshot(person)
    current = person.current_employment
    if current is not None:
        if ended_on < current.started_on:
            raise InvalidInput(
                FieldError("ended_on", "invalid", _("The employment cannot end before it started."))
            )
        current.ended_on = ended_on
        current.status = EmploymentStatus.ENDED
        current.save(update_fields=["ended_on", "status"])
    _open_employment(person, employment)
    audit.record(action="people.employment_changed", target=person, actor=by, before=before)
    return person


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
    if valid_until is not None and valid_until < checked_on:
        raise InvalidInput(
            FieldError("valid_until", "invalid", _("Valid until is before the check date."))
        )
    if HealthCheck.objects.filter(person=person, checked_on=checked_on).exists():
        raise InvalidInput(
            FieldError("checked_on", "duplicate", _("This person has a check on this date."))
        )
    check = HealthCheck.objects.create(
        person=person,
        checked_on=checked_on,
        conclusion=conclusion,
        restricted_work_types=list(restricted_work_types or []),
        restriction_reason=restriction_reason,
        valid_until=valid_until,
        institution=institution,
    )
    audit.record(action="people.health_check_recorded", target=check, actor=by)
    return check


@transaction.atomic
def add_to_blacklist(
    *, by, id_number: str, reason: str, starts_on: date, ends_on: date | None = None, name=""
) -> BlacklistEntry:
    number, _birth, _gender = checked_id_number(id_number)
    if not (reason or "").strip():
        raise InvalidInput(FieldError("reason", "required", _("Give the reason.")))
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput(
            FieldError("ends_on", "invalid", _("The bar cannot end before it starts."))
        )
    entry = BlacklistEntry.objects.create(
        id_number=number,
        name=name,
        reason=reason.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        created_by_label=audit._actor(by)[1],
    )
    audit.record(action="people.blacklisted", target=entry, actor=by)
    return entry
