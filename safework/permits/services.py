"""Every change of a permit, one function per action, called alike by the API, the pages, the CLI
and the demo. Each one locks the permit row (two approvers pressing at once: the second waits,
then finds the step signed), checks its gates and refuses with every reason and clause, moves the
state through `permits.workflow` (audited), and writes the timeline, the park push and the
alarms (`permits.events`, `permits.alarms`).

Times: `at` is the instant of the action (the door passes `timezone.now()`); the planned window is
measured to the minute (decisions). A permit past its validity is expired when read, so every
action on it is refused whether or not the sweep has stored the state.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, prefetch_related_objects
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from safework.accounts.guard import may
from safework.accounts.scope import roles_of
from safework.core import audit, memo
from safework.core.errors import FieldError, InvalidInput
from safework.core.refusals import Reason, Refused
from safework.core.rows import Columns, order_by
from safework.core.settings_registry import get_setting
from safework.core.workflow import can_proceed
from safework.org.models import Area, Department, Site
from safework.people.models import Person
from safework.permits import alarms, events, gates, numbers, queries
from safework.permits.models import (
    Alarm,
    ApprovalStep,
    Attachment,
    Blind,
    Briefing,
    CrewAssignment,
    Delegation,
    GasTest,
    MeasureItem,
    Permit,
    Presence,
    RiskItem,
    Signature,
    SignatureAction,
    StepStatus,
)
from safework.permits.workflow import FINAL, VALID, PermitStatus
from safework.qualification.engine import CrewMember, assess_crew_over
from safework.work import fields as work_fields
from safework.work import gas as work_gas
from safework.work import routing
from safework.work import rules as work_rules
from safework.work.models import CrewRole, WorkType

S = PermitStatus
EDITABLE = (
    "place",
    "content",
    "open_air",
    "is_emergency",
    "emergency_reason",
    "equipment",
    "latitude",
    "longitude",
)


class _Alarmed(Refused):
    """A refusal whose reasons AQ 3064.2 may code as alarms: raised inside a service, turned into
    alarms by `service` once the refused action's transaction has rolled back."""

    def __init__(self, permit: Permit, reasons, at: dt.datetime):
        super().__init__(reasons)
        self.permit, self.at = permit, at


def service(func):
    """One transaction per action; a refusal that raises alarms writes them after the action's
    rollback (in their own transaction), so the refused action leaves its alarms and nothing
    else (AQ 3064.2 §5.4.3: refuse to sign *and* raise an alarm)."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            # On leaving: the timeline's events, the park pushes, then the audit records (the
            # transaction's last write), each written once for the whole call.
            with (
                transaction.atomic(),
                memo.unit(),
                audit.deferred(),
                events.one_push_per_permit(),
            ):
                return func(*args, **kwargs)
        except _Alarmed as exc:
            alarms.raise_for_refusal(exc.permit, exc.reasons, at=exc.at)
            raise Refused(exc.reasons) from None

    return run


def _refuse(permit: Permit, reasons: Iterable[Reason], at: dt.datetime):
    raise _Alarmed(permit, list(reasons), at)


# The rows every action reads with its permit, selected with it under its lock (`_lock`).
LOCKED_WITH = ("work_type", "level", "site", "area")


@dataclass(frozen=True)
class _LockStatement:
    """The statement of `_lock`: "SELECT <the permit's and its rows' columns>" (annotations go
    after it), and the rest, with the permit's id as its parameter; the permit's table goes by
    its own name, as in the ORM's queries, so that an annotation compiled against
    `Permit.objects` refers to it. `related`: each row read with the permit, the permit's
    foreign key to it and where its columns start in the row."""

    select: str
    rest: str
    permit: Columns
    related: tuple[tuple[object, Columns, int], ...]


@functools.cache
def _lock_statement(vendor: str) -> _LockStatement:
    """Written once per backend (its quoting, locking and converters) from the models' metadata:
    the ORM spent ten times the database's time compiling its select_related query on every
    action. On PostgreSQL the statement is prepared on its second run (settings), so the
    five-table join is planned once per connection."""
    qn, features = connection.ops.quote_name, connection.features
    permit_table = qn(Permit._meta.db_table)
    permit_pk = f"{permit_table}.{qn(Permit._meta.pk.column)}"
    permit = Columns.of(Permit, permit_table)
    start, related, joins = len(permit.attnames), [], []
    for name in LOCKED_WITH:
        fk = Permit._meta.get_field(name)
        table = qn(f"lock_{name}")
        columns = Columns.of(fk.related_model, table)
        join = "LEFT OUTER JOIN" if fk.null else "INNER JOIN"
        joins.append(
            f"{join} {qn(fk.related_model._meta.db_table)} {table} "
            f"ON {table}.{qn(fk.target_field.column)} = {permit_table}.{qn(fk.column)}"
        )
        related.append((fk, columns, start))
        start += len(columns.attnames)
    rest = f"FROM {permit_table} {' '.join(joins)} WHERE {permit_pk} = %s"
    # As the ORM's select_for_update(of=("self",)): SQLite has no row locks (its write
    # transaction serialises writers), so it selects alone.
    if features.has_select_for_update:
        rest += " FOR UPDATE"
        if features.has_select_for_update_of:
            rest += f" OF {permit_table}"
    select = ", ".join([permit.sql, *(c.sql for _fk, c, _at in related)])
    return _LockStatement(f"SELECT {select}", rest, permit, tuple(related))


def _annotations(annotations: Mapping) -> tuple[str, list, list]:
    """`annotations` as columns of the lock's statement: their SQL (each after a comma), its
    parameters, and each one's converters. Compiled alone, a fraction of the annotated
    select_related query's cost; an expression that would join another table is refused
    (FieldError), as the statement has no place for the join."""
    query = Permit.objects.all().query
    compiler = query.get_compiler(connection=connection)
    sql, params, converters = [], [], []
    for name, expression in annotations.items():
        resolved = expression.resolve_expression(query, allow_joins=False)
        column, column_params = resolved.select_format(compiler, *compiler.compile(resolved))
        sql.append(f", {column} AS {connection.ops.quote_name(name)}")
        params.extend(column_params)
        funcs = connection.ops.get_db_converters(resolved)
        converters.append((name, funcs + resolved.get_db_converters(connection), resolved))
    return "".join(sql), params, converters


def _lock(permit: Permit | int, **annotations) -> Permit:
    """The permit, row-locked, with what every action reads of it (`LOCKED_WITH`);
    `annotations` (e.g. an Exists test the caller needs next) ride along in the same statement,
    sparing a query."""
    pk = Permit._meta.pk.get_prep_value(permit.pk if isinstance(permit, Permit) else permit)
    if connection.features.has_select_for_update and connection.get_autocommit():
        raise TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )
    extra, params, converters = _annotations(annotations) if annotations else ("", [], ())
    statement = _lock_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(f"{statement.select}{extra} {statement.rest}", [*params, pk])
        row = cursor.fetchone()
    if row is None:
        raise Permit.DoesNotExist("Permit matching query does not exist.")
    alias = connection.alias
    locked = statement.permit.instance(row[: len(statement.permit.attnames)], alias)
    for fk, columns, start in statement.related:
        values = row[start : start + len(columns.attnames)]
        fk.set_cached_value(locked, columns.instance(values, alias))
    annotated = row[len(row) - len(converters) :]
    for (name, funcs, expression), value in zip(converters, annotated, strict=True):
        for convert in funcs:
            value = convert(value, expression, connection)
        setattr(locked, name, value)
    return locked


def _not_expired(permit: Permit, at: dt.datetime) -> None:
    if permit.status_at(at) == S.EXPIRED:
        _refuse(
            permit,
            [
                Reason(
                    "permit.expired",
                    _(
                        "Permit %(number)s is past its validity: nothing is extended, "
                        "a new permit is needed."
                    )
                    % {"number": permit.number},
                    clause="GB 30871-2022 4.16",
                )
            ],
            at,
        )


def _in(permit: Permit, states, action: str) -> None:
    if permit.status not in states:
        raise Refused(
            [
                Reason(
                    "permit.state",
                    _("Cannot %(action)s a permit that is %(status)s.")
                    % {"action": action, "status": permit.get_status_display()},
                )
            ]
        )


def _user_person(by):
    return getattr(by, "person_id", None)


# ---- input ----------------------------------------------------------------------------------


@dataclass
class Position:
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None

    @classmethod
    def of(cls, value) -> Position | None:
        if value is None or isinstance(value, Position):
            return value
        return cls(value.get("lat"), value.get("lon"), value.get("accuracy_m"))

    def as_dict(self) -> dict:
        return {"lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m}


def _aware(value, name: str, errors: list) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        errors.append(FieldError(name, "required", _("A date and time is required.")))
        return None
    if timezone.is_naive(value):
        errors.append(FieldError(name, "invalid_datetime", _("The time must include a time zone.")))
        return None
    return value


def _people(data: Mapping) -> dict[int, Person]:
    """The crew's persons and the work leader, read in one query for `_resolve` and
    `_crew_rows` (a leader id that is not an int is looked up by `_resolve` itself)."""
    ids = [c.get("person_id") for c in data.get("crew") or [] if c.get("person_id")]
    leader_id = data.get("work_leader_id")
    if type(leader_id) is int:
        ids.append(leader_id)
    return Person.objects.in_bulk(ids)


def _crew_rows(
    crew: Iterable[Mapping], errors: list, *, people: Mapping | None = None
) -> list[tuple[Person, CrewRole, dict]]:
    """`people`: the persons already read (`_people`), else they are read here."""
    out = []
    roles = {r.code: r for r in CrewRole.objects.all()}
    roles |= {r.name: r for r in roles.values()}
    if people is None:
        people = Person.objects.in_bulk([c.get("person_id") for c in crew if c.get("person_id")])
    for i, c in enumerate(crew):
        person = people.get(c.get("person_id"))
        role = roles.get(str(c.get("role", "")))
        if person is None:
            errors.append(FieldError(f"crew.{i}.person_id", "not_found", _("No such person.")))
        if role is None:
            errors.append(FieldError(f"crew.{i}.role", "invalid_choice", _("No such crew role.")))
        if person and role:
            if any(p.pk == person.pk and r.pk == role.pk for p, r, _a in out):
                errors.append(
                    FieldError(
                        f"crew.{i}",
                        "duplicate",
                        _("This person already has this role in the crew."),
                    )
                )
                continue
            out.append((person, role, dict(c.get("attrs") or {})))
    return out


def _resolve(
    data: Mapping, errors: list, *, base: Permit | None = None, people: Mapping | None = None
) -> dict:
    """Check and look up the references of a permit's input; errors name their field.
    `people`: persons already read by id (`_people`), so an int leader id needs no query."""
    out = {}
    wt_code = data.get("work_type", base.work_type.code if base else None)
    wt = (
        WorkType.objects.filter(code=wt_code).first()
        or WorkType.objects.filter(name=wt_code).first()
    )
    if wt is None:
        errors.append(FieldError("work_type", "invalid_choice", _("No such work type.")))
    out["work_type"] = wt
    site_id = data.get("site_id", base.site_id if base else None)
    area_id = data.get("area_id", base.area_id if base else None)
    # The area comes with its site: when it lies at the site asked for, that is the site.
    area = Area.objects.select_related("site").filter(pk=area_id).first() if area_id else None
    if area is not None and type(site_id) is int and area.site_id == site_id:
        site = area.site
    else:
        site = Site.objects.filter(pk=site_id).first()
    if site is None:
        errors.append(FieldError("site_id", "not_found", _("No such site.")))
    out["site"] = site
    if area_id and (area is None or (site and area.site_id != site.pk)):
        errors.append(FieldError("area_id", "not_found", _("No such area at this site.")))
    out["area"] = area
    start = _aware(
        data.get("planned_start", base.planned_start if base else None), "planned_start", errors
    )
    end = _aware(data.get("planned_end", base.planned_end if base else None), "planned_end", errors)
    if start and end and end <= start:
        errors.append(
            FieldError(
                "planned_end", "before_start", _("The planned end must be after the planned start.")
            )
        )
    out["planned_start"], out["planned_end"] = start, end
    for name in ("place", "content"):
        value = data.get(name, getattr(base, name, "") if base else "")
        if not str(value or "").strip():
            errors.append(FieldError(name, "required", _("This field is required.")))
    leader_id = data.get("work_leader_id", base.work_leader_id if base else None)
    if people is not None and type(leader_id) is int:
        known = leader_id in people
    else:
        known = not leader_id or Person.objects.filter(pk=leader_id).exists()
    if leader_id and not known:
        errors.append(FieldError("work_leader_id", "not_found", _("No such person.")))
    unit_id = data.get("work_unit_id", base.work_unit_id if base else None)
    contractor_id = data.get("contractor_id", base.contractor_id if base else None)
    if not unit_id and not contractor_id:
        errors.append(
            FieldError(
                "work_unit_id",
                "required",
                _("Name the work unit: an own department or a contractor."),
            )
        )
    if wt is not None:
        try:
            out["fields"] = work_fields.validate_fields(
                wt, data.get("fields", base.fields if base else {}) or {}
            )
        except InvalidInput as exc:
            errors += exc.errors
    inputs = data.get("inputs", base.inputs if base else {}) or {}
    if not isinstance(inputs, Mapping):
        errors.append(FieldError("inputs", "invalid_type", _("Must be an object.")))
        inputs = {}
    out["inputs"] = dict(inputs)
    return out


# ---- drafting -------------------------------------------------------------------------------


def _decide(r: Mapping, level: str | None) -> gates.LevelDecision:
    """The level decision for the resolved inputs `r` (`_resolve`) and the level asked for."""
    return gates.decide_level(
        r["work_type"],
        r["inputs"],
        r["area"],
        r["site"],
        r["planned_start"],
        r["planned_end"],
        level,
    )


def preview_level(data: Mapping) -> gates.LevelDecision:
    """The level as the form is filled in (the wizard's 'level derived as you type')."""
    errors: list = []
    r = _resolve(data, errors)
    if (
        r.get("work_type") is None
        or r.get("site") is None
        or not r.get("planned_start")
        or not r.get("planned_end")
    ):
        raise InvalidInput(
            [
                e
                for e in errors
                if e.field in ("work_type", "site_id", "planned_start", "planned_end")
            ]
            or errors
        )
    return _decide(r, data.get("level"))


def check_apply_scope(scope, site_id, contractor_id=None) -> None:
    """An applicant applies at a site of their scope, or for a contractor of theirs; otherwise
    InvalidInput naming the field (the API's 422; the pages treat it as someone else's site)."""
    if scope.group_wide or site_id in scope.site_ids:
        return
    if contractor_id is not None and contractor_id in scope.contractor_ids:
        return
    if scope.department_ids:
        roots = Department.objects.filter(pk__in=scope.department_ids).values_list(
            "path", flat=True
        )
        for path in roots:
            if Department.objects.filter(path__startswith=path, effective_site_id=site_id).exists():
                return
    field = "contractor_id" if scope.contractor_ids else "site_id"
    raise InvalidInput(
        FieldError(field, "out_of_scope", _("No such object, or it is outside your scope."))
    )


@dataclass
class CrewCheck:
    """One crew row's qualification over the planned window, as the submit gate asks it."""

    person: Person
    role: CrewRole
    reasons: list[Reason]

    @property
    def allowed(self) -> bool:
        return not self.reasons


def preview_crew(data: Mapping) -> list[CrewCheck]:
    """Each crew member's answer from the qualification engine for the planned window, the level
    and the work's inputs, exactly as `submit` asks it (`gates.qualification_reasons`); nothing
    is stored. InvalidInput when the window, type, site or crew cannot be read."""
    errors: list = []
    r = _resolve(data, errors)
    crew = _crew_rows(data.get("crew") or [], errors)
    needed = ("work_type", "site_id", "planned_start", "planned_end", "crew")
    errors = [e for e in errors if e.field.split(".")[0] in needed]
    if errors:
        raise InvalidInput(errors)
    decision = _decide(r, data.get("level"))
    permit = Permit(
        work_type=r["work_type"],
        site=r["site"],
        area=r["area"],
        planned_start=r["planned_start"],
        planned_end=r["planned_end"],
        inputs=r["inputs"],
        fields=r.get("fields") or dict(data.get("fields") or {}),
    )
    _apply_level(permit, decision)
    rows = [
        CrewAssignment(permit=permit, person=person, role=role, attrs=attrs)
        for person, role, attrs in crew
    ]
    reasons = gates.qualification_reasons(permit, rows)
    return [
        CrewCheck(
            person=c.person,
            role=c.role,
            reasons=[x for x in reasons if (x.data or {}).get("person_id") == c.person_id],
        )
        for c in rows
    ]


@service
def create_permit(by, data: Mapping, *, at: dt.datetime) -> Permit:
    """A draft permit with its crew, the type's measure checklist and JSA template (plus the
    applicant's additions). Refuses bad input with every field's error; nothing is saved then."""
    errors: list = []
    people = _people(data)
    r = _resolve(data, errors, people=people)
    crew = _crew_rows(data.get("crew") or [], errors, people=people)
    if errors:
        raise InvalidInput(errors)
    decision = _decide(r, data.get("level"))
    permit = Permit(
        work_type=r["work_type"],
        site=r["site"],
        area=r["area"],
        applicant=by,
        planned_start=r["planned_start"],
        planned_end=r["planned_end"],
        work_unit_id=data.get("work_unit_id"),
        contractor_id=data.get("contractor_id"),
        work_leader_id=data.get("work_leader_id"),
        inputs=r["inputs"],
        fields=r["fields"],
        created_at=at,
        **{k: data[k] for k in EDITABLE if k in data},
    )
    _apply_level(permit, decision)
    permit.save()
    _write_crew(permit, crew, at=at, after_approval=False)
    _write_templates(permit, data, by)
    _write_blinds(permit)
    if data.get("linked"):
        permit.linked.set(Permit.objects.filter(pk__in=data["linked"]))
    events.permit_event(permit, "created", at=at, by=by)
    audit.record(action="permit.created", target=permit, actor=by, at=at)
    return permit


@service
def update_draft(permit: Permit, by, data: Mapping, *, at: dt.datetime) -> Permit:
    """Change a draft (or a rejected permit revised into a draft). A permit that was approved is
    never altered: a change makes a new permit (`change_permit`)."""
    permit = _lock(permit)
    _in(permit, (S.DRAFT,), _("edit"))
    errors: list = []
    r = _resolve(data, errors, base=permit)
    crew = _crew_rows(data["crew"], errors) if "crew" in data else None
    if errors:
        raise InvalidInput(errors)
    before = audit.snapshot(permit)
    for key in ("work_type", "site", "area", "planned_start", "planned_end", "inputs", "fields"):
        setattr(permit, key, r[key])
    for key in ("work_unit_id", "contractor_id", "work_leader_id", *EDITABLE):
        if key in data:
            setattr(permit, key, data[key])
    decision = gates.decide_level(
        permit.work_type,
        permit.inputs,
        permit.area,
        permit.site,
        permit.planned_start,
        permit.planned_end,
        data.get("level", permit.level.code if permit.level_id else None),
    )
    _apply_level(permit, decision)
    permit.save()
    if crew is not None:
        permit.crew.all().delete()
        _write_crew(permit, crew, at=at, after_approval=False)
    if "work_type" in data or "measures" in data or "risks" in data:
        permit.measures.all().delete()
        permit.risks.all().delete()
        _write_templates(permit, data, by)
    permit.blinds.all().delete()
    _write_blinds(permit)
    if "linked" in data:
        permit.linked.set(Permit.objects.filter(pk__in=data["linked"] or []))
    events.permit_event(permit, "edited", at=at, by=by)
    audit.record(action="permit.edited", target=permit, actor=by, at=at, before=before)
    return permit


def _apply_level(permit: Permit, d: gates.LevelDecision) -> None:
    permit.derived_level = d.derived
    permit.level = d.level
    permit.upgraded = d.upgraded
    permit.upgrade_kinds = list(d.kinds)
    permit.calendar_basis = d.basis
    permit.level_basis = [r.as_dict() for r in d.reasons]
    if d.confined_space_gas:
        permit.inputs = {**permit.inputs, "confined_space_gas": True}


def _write_crew(permit, crew, *, at, after_approval: bool) -> list[CrewAssignment]:
    return CrewAssignment.objects.bulk_create(
        CrewAssignment(
            permit=permit,
            person=person,
            role=role,
            attrs=attrs,
            added_at=at,
            added_after_approval=after_approval,
        )
        for person, role, attrs in crew
    )


def _write_templates(permit: Permit, data: Mapping, by) -> None:
    """The type's measure checklist and JSA template (with their clauses), then the applicant's
    additions (with their author)."""
    rule = work_rules.permit_rule(
        permit.work_type, permit.level, timezone.localdate(permit.planned_start)
    )
    who = getattr(by, "username", "") or ""
    measures = [
        MeasureItem(
            permit=permit,
            code=item.get("code", ""),
            text=item["text"],
            clause=item.get("clause", ""),
        )
        for item in rule.measures or []
    ] + [
        MeasureItem(
            permit=permit,
            text=str(item.get("text", "")),
            author_label=who,
            confirmer_id=item.get("confirmer_id"),
        )
        for item in data.get("measures") or []
    ]
    risks = [
        RiskItem(
            permit=permit,
            hazard=item["hazard"],
            controls=item.get("controls", ""),
            from_template=True,
        )
        for item in rule.hazards or []
    ] + [
        RiskItem(
            permit=permit,
            hazard=str(item.get("hazard", "")),
            controls=str(item.get("controls", "")),
            author_label=who,
        )
        for item in data.get("risks") or []
    ]
    for order, row in enumerate(measures, start=1):
        row.order = order
    for order, row in enumerate(risks, start=1):
        row.order = order
    MeasureItem.objects.bulk_create(measures)
    RiskItem.objects.bulk_create(risks)


def _write_blinds(permit: Permit) -> None:
    if permit.work_type.code != "blinding":
        return
    Blind.objects.bulk_create(
        Blind(
            permit=permit,
            line=b["line"],
            medium=b.get("medium", ""),
            temperature_c=b.get("temperature_c", 0),
            pressure_mpa=b.get("pressure_mpa", 0),
            size=str(b.get("size", "")),
            number=str(b["number"]),
            action=b["action"],
        )
        for b in (permit.fields or {}).get("blinds") or []
    )


# ---- submission and routing -----------------------------------------------------------------


def _route_context(permit: Permit) -> dict:
    inputs = permit.inputs or {}
    ctx = {
        "work_type": permit.work_type.code,
        "level": permit.level.code if permit.level_id else "",
        "area": permit.area.code if permit.area_id else "",
        "hazard_class": permit.area.hazard_class if permit.area_id else "",
        "fire_explosion": bool(permit.area_id and permit.area.fire_explosion_hazard),
        "height_m": float(inputs.get("height_m") or 0),
        "mass_t": float(inputs.get("mass_t") or 0),
        "depth_m": float(inputs.get("depth_m") or 0),
        "is_emergency": permit.is_emergency,
        "upgraded": permit.upgraded,
        "hour": timezone.localtime(permit.planned_start).hour,
        "derived_level": permit.derived_level.code if permit.derived_level_id else "",
        "shut_down_cleaned": bool(inputs.get("shut_down_cleaned")),
    }
    return {**(permit.fields or {}), **ctx}


def _build_route(
    permit: Permit, *, at: dt.datetime, round_: int, extra_roles=(), others_open: bool = True
) -> list[ApprovalStep]:
    """Write the route's steps for `round_` and open the first. `others_open=False`: the caller
    knows no step of another round waits or is pending, so the first step is opened as it is
    inserted (no read, no update); otherwise the steps are read back (`_activate_next`)."""
    # The upgrade's extra approver comes with the route (work.routing, from work.UpgradePolicy).
    specs = routing.route_for(
        permit.work_type,
        permit.level,
        _route_context(permit),
        timezone.localdate(permit.planned_start),
    )
    steps = []
    order = 0
    for spec in specs:
        order += 1
        steps.append(
            ApprovalStep(
                permit=permit,
                order=order,
                round=round_,
                stage=spec.stage,
                label=spec.label,
                roles=list(spec.roles),
                clause=spec.clause,
                on_site_required=gates.onsite_required(permit, spec.on_site_required),
                time_limit_minutes=spec.time_limit_minutes,
            )
        )
    for role in extra_roles:  # the upgrade's extra approver (enterprise data, work.UpgradePolicy)
        order += 1
        steps.append(
            ApprovalStep(
                permit=permit,
                order=order,
                round=round_,
                stage="approval",
                label=_("Upgrade approval (%(role)s)") % {"role": role},
                roles=[role],
                clause="GB 30871-2022 5.1.1",
                on_site_required=gates.onsite_required(permit, True),
            )
        )
    # Approval steps first, then the checks before the start (the shift leader's).
    steps.sort(key=lambda s: (s.stage != "approval", s.order))
    for i, s in enumerate(steps, start=1):
        s.order = i
    if others_open:
        ApprovalStep.objects.bulk_create(steps)
        _activate_next(permit, at=at)
        return steps
    first = _next_waiting(steps)
    if first is not None:
        _open(first, at)
    ApprovalStep.objects.bulk_create(steps)
    if first is not None:
        _step_waiting_event(permit, first, at)
    return steps


def _by_place(step: ApprovalStep):
    return (step.round, step.order)


def _next_waiting(steps: list[ApprovalStep]) -> ApprovalStep | None:
    """The step `_activate_next` opens among `steps` (every step of the permit, as they are now):
    the first waiting one, unless it is a check before the start while an approval is pending."""
    step = min((s for s in steps if s.status == StepStatus.WAITING), key=_by_place, default=None)
    if step is None:
        return None
    if step.stage != "approval" and any(
        s.stage == "approval" and s.status == StepStatus.PENDING for s in steps
    ):
        return None
    return step


def _open(step: ApprovalStep, at: dt.datetime) -> None:
    step.status = StepStatus.PENDING
    step.activated_at = at
    if step.time_limit_minutes:
        step.due_at = at + dt.timedelta(minutes=step.time_limit_minutes)


_OPENED = ["status", "activated_at", "due_at"]
_DECIDED = ["status", "decided_at"]


def _activate_next(
    permit: Permit, *, at: dt.datetime, steps: list[ApprovalStep] | None = None, unsaved=None
) -> ApprovalStep | None:
    """Open the first waiting step of the current round (approval steps before the start's).
    `steps`: every step of the permit as loaded under its lock (and changed since), so nothing
    is read; `unsaved`: a list the opened step is added to, for the caller to write."""
    if steps is None:
        step = permit.steps.filter(status=StepStatus.WAITING).order_by("round", "order").first()
        if step is None:
            return None
        if (
            step.stage != "approval"
            and permit.steps.filter(stage="approval", status=StepStatus.PENDING).exists()
        ):
            return None
    else:
        step = _next_waiting(steps)
        if step is None:
            return None
    _open(step, at)
    if unsaved is None:
        step.save(update_fields=_OPENED)
    else:
        unsaved.append(step)
    _step_waiting_event(permit, step, at)
    return step


def _step_waiting_event(permit: Permit, step: ApprovalStep, at: dt.datetime) -> None:
    events.permit_event(
        permit,
        "step.waiting",
        at=at,
        step_id=step.pk,
        step=step.label,
        roles=step.roles,
        due_at=step.due_at.isoformat() if step.due_at else None,
    )


@service
def submit(permit: Permit, by, *, at: dt.datetime) -> Permit:
    """Submit: every gate (crew qualified over the whole window, guardian, fields, JSA, measures,
    blinds, lifting plan, level and upgrade, validity, appointment); then the number and the
    route. Refused with every reason; the refusals AQ 3064.2 codes raise their alarms."""
    permit = _lock(permit)
    _in(permit, (S.DRAFT,), _("submit"))
    decision = gates.decide_level(
        permit.work_type,
        permit.inputs,
        permit.area,
        permit.site,
        permit.planned_start,
        permit.planned_end,
        permit.level.code if permit.level_id else None,
    )
    _apply_level(permit, decision)
    reasons = gates.submit_reasons(permit, at, decision)
    if any(r.blocking for r in reasons):
        _refuse(permit, reasons, at)
    # Steps are written only once a permit has its number (here, or in `change_crew` after
    # approval), and the number is kept through a revision: a permit without one has no steps.
    earlier = list(permit.steps.values_list("round", "status")) if permit.number else []
    number = permit.number or numbers.next_number(permit.work_type.permit_code, at)
    permit.submit(by=by, at=at, number=number)
    events.permit_event(permit, "submitted", at=at, by=by, number=number)
    round_ = max((r for r, _s in earlier), default=0) + 1
    others_open = any(s in (StepStatus.WAITING, StepStatus.PENDING) for _r, s in earlier)
    steps = _build_route(permit, at=at, round_=round_, others_open=others_open)
    permit.route(by=by, at=at, steps=[s.label for s in steps])
    # One write of the permit for both moves (nothing in between reads its row).
    permit.save()
    events.permit_event(permit, "routed", at=at, by=by, steps=[s.label for s in steps])
    if not earlier:
        _keep_steps(permit, steps)
    return permit


# ---- approval -------------------------------------------------------------------------------


def roles_at_site(user, site_id: int) -> set[str]:
    """The roles `user` holds at a site (`queries.roles_at_site`)."""
    return queries.roles_at_site(user, site_id)


def _signing_role(permit: Permit, step: ApprovalStep, by, at) -> tuple[str | None, object]:
    """The role of `step` the user signs as, and on whose behalf: the one rule
    (`queries.signing_role`), fed with this permit's facts."""

    def delegations():
        # Built only when asked: a role held at the site answers first, and the query's
        # building alone costs a tenth of a millisecond.
        yield from Delegation.objects.filter(
            delegate=by, site=permit.site, role__in=step.roles, starts_at__lte=at, ends_at__gt=at
        ).select_related("delegator")

    return queries.signing_role(
        permit, step, by, held=roles_at_site(by, permit.site_id), delegations=delegations()
    )


def _approver_of(permit: Permit, step: ApprovalStep, by, at) -> tuple[str, object]:
    """The role `by` signs `step` as (and on whose behalf), or the refusal: nobody approves their
    own permit; only a holder of the step's role at the site (or their delegate)."""
    if permit.applicant_id == by.pk:
        raise Refused(
            [
                Reason(
                    "sign.own_permit",
                    _("Nobody approves their own permit."),
                    clause="GB 30871-2022 4.11",
                )
            ]
        )
    role, on_behalf = _signing_role(permit, step, by, at)
    if role is None:
        raise Refused(
            [
                Reason(
                    "sign.not_approver",
                    _("This step is signed by: %(roles)s at this site.")
                    % {"roles": "、".join(step.roles)},
                    clause=step.clause,
                )
            ]
        )
    return role, on_behalf


def _keep(obj, name: str, related: list) -> None:
    """Leave `related` on `obj` as Django's prefetch of its relation `name` would
    (`obj.<name>.all()` then reads nothing; `refresh_from_db` drops it)."""
    qs = getattr(obj, name).all()
    qs._result_cache, qs._prefetch_done = list(related), True
    obj.__dict__.setdefault("_prefetched_objects_cache", {})[name] = qs


def _keep_steps(permit: Permit, steps: list[ApprovalStep]) -> None:
    """Leave on the permit a service returns every step of it as the service left them, so that
    `current_step` of that permit needs no read."""
    _keep(permit, "steps", steps)


@functools.cache
def _steps_statement(vendor: str) -> tuple[str, Columns, Columns]:
    """Every step of a permit in their order and, beside each pending one, its signatures in
    theirs (parameters: the pending status, the permit's id); a step without any, or not
    pending, comes once with NULLs (outer join). Written once per backend, as
    `_lock_statement`."""
    qn = connection.ops.quote_name
    step_table, signature_table = qn("step"), qn("signature")
    step = Columns.of(ApprovalStep, step_table)
    signature = Columns.of(Signature, signature_table)
    step_field, signature_field = ApprovalStep._meta.get_field, Signature._meta.get_field
    on = (
        f"{signature_table}.{qn(signature_field('step').column)} = "
        f"{step_table}.{qn(ApprovalStep._meta.pk.column)} "
        f"AND {step_table}.{qn(step_field('status').column)} = %s"
    )
    order = ", ".join([*order_by(ApprovalStep, step_table), *order_by(Signature, signature_table)])
    sql = (
        f"SELECT {step.sql}, {signature.sql} FROM {qn(ApprovalStep._meta.db_table)} {step_table} "
        f"LEFT OUTER JOIN {qn(Signature._meta.db_table)} {signature_table} ON {on} "
        f"WHERE {step_table}.{qn(step_field('permit').column)} = %s ORDER BY {order}"
    )
    return sql, step, signature


def _steps_with_signatures(permit: Permit) -> list[ApprovalStep]:
    """Every step of `permit` as `permit.steps.all()` reads them (in (round, order), each holding
    `permit`), each pending one with its signatures as `prefetch_related("signatures")` leaves
    them: one statement (~0.3 ms) where the ORM's two reads cost ~1.3 ms, mostly compiling."""
    sql, step_columns, signature_columns = _steps_statement(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [str(StepStatus.PENDING), permit.pk])
        rows = cursor.fetchall()
    alias, width = connection.alias, len(step_columns.attnames)
    of_permit, of_step = ApprovalStep._meta.get_field("permit"), Signature._meta.get_field("step")
    steps: dict[int, ApprovalStep] = {}
    signed: dict[int, list[Signature]] = {}
    for row in rows:
        step_id = row[step_columns.pk_index]
        step = steps.get(step_id)
        if step is None:
            step = steps[step_id] = step_columns.instance(row[:width], alias)
            of_permit.set_cached_value(step, permit)
            if step.status == StepStatus.PENDING:
                signed[step_id] = []
        signature = signature_columns.instance(row[width:], alias)
        if signature is not None:
            of_step.set_cached_value(signature, step)
            signed[step_id].append(signature)
    for step_id, signatures in signed.items():
        _keep(steps[step_id], "signatures", signatures)
    return list(steps.values())


def current_step(permit: Permit, stage: str | None = None) -> ApprovalStep | None:
    """The pending step (of `stage`), first in (round, order); from prefetched steps if any."""
    kept = getattr(permit, "_prefetched_objects_cache", {}).get("steps")
    if kept is not None:
        pending = [
            s for s in kept if s.status == StepStatus.PENDING and (not stage or s.stage == stage)
        ]
        return min(pending, key=_by_place, default=None)
    qs = permit.steps.filter(status=StepStatus.PENDING)
    if stage:
        qs = qs.filter(stage=stage)
    return qs.order_by("round", "order").first()


@service
def approve(
    permit: Permit, by, *, at: dt.datetime, position=None, image: str = "", note: str = ""
) -> Permit:
    """Sign the pending step (an approval, or the check before the start). Refused: not the
    step's role at this site, one's own permit, already signed, off site (alarm 30)."""
    permit = _lock(permit)
    _not_expired(permit, at)
    # Every step of the permit, read once under its lock: the pending one (with its signatures:
    # who signed, who may sign), and the next to open.
    steps = _steps_with_signatures(permit)
    step = min((s for s in steps if s.status == StepStatus.PENDING), key=_by_place, default=None)
    if (
        step is None
        or (step.stage == "approval" and permit.status != S.IN_APPROVAL)
        or (step.stage != "approval" and permit.status != S.APPROVED)
    ):
        raise Refused(
            [Reason("step.none", _("No step of this permit is waiting for a signature."))]
        )
    role, on_behalf = _approver_of(permit, step, by, at)
    pos = Position.of(position)
    on_site, refusal = gates.position_reason(
        permit, pos.as_dict() if pos else None, required=step.on_site_required
    )
    if refusal is not None:
        _refuse(permit, [refusal], at)
    Signature.objects.create(
        permit=permit,
        step=step,
        action=SignatureAction.APPROVE,
        role=role,
        user=by,
        signer_label=events.actor_label(by),
        delegated_by=on_behalf,
        at=at,
        latitude=pos.lat if pos else None,
        longitude=pos.lon if pos else None,
        accuracy_m=pos.accuracy_m if pos else None,
        on_site=on_site,
        image=image,
        note=note,
    )
    # The step's signatures as read under the permit's lock, and this one.
    signed = {s.role for s in step.signatures.all() if s.action == SignatureAction.APPROVE}
    signed.add(role)
    events.permit_event(permit, "signed", at=at, by=by, step=step.label, role=role)
    if signed >= set(step.roles):
        step.status = StepStatus.APPROVED
        step.decided_at = at
        events.permit_event(permit, "step.approved", at=at, by=by, step=step.label)
        opened: list[ApprovalStep] = []
        nxt = _activate_next(permit, at=at, steps=steps, unsaved=opened)
        if step.stage == "approval" and (nxt is None or nxt.stage != "approval"):
            permit.approve(by=by, at=at)
            permit.save()
            events.permit_event(permit, "approved", at=at, by=by)
            if nxt is None:
                _activate_next(permit, at=at, steps=steps, unsaved=opened)
        # Row by row: bulk_update's CASE statement costs the ORM more to build (~1.3 ms) than
        # the database a second round trip.
        step.save(update_fields=_DECIDED)
        for opened_step in opened:
            opened_step.save(update_fields=_OPENED)
    _keep_steps(permit, steps)
    audit.record(
        action="permit.signed",
        target=permit,
        actor=by,
        at=at,
        after={"step": step.label, "role": role, "on_site": on_site},
    )
    return permit


@service
def reject(permit: Permit, by, *, at: dt.datetime, reason: str, position=None) -> Permit:
    """Reject with a reason, back to the applicant (who revises it into a draft)."""
    if not str(reason or "").strip():
        raise InvalidInput(FieldError("reason", "required", _("Give the reason for rejecting.")))
    permit = _lock(permit)
    step = current_step(permit, "approval")
    if permit.status != S.IN_APPROVAL or step is None:
        raise Refused(
            [Reason("step.none", _("No step of this permit is waiting for a signature."))]
        )
    role, on_behalf = _approver_of(permit, step, by, at)
    pos = Position.of(position)
    Signature.objects.create(
        permit=permit,
        step=step,
        action=SignatureAction.REJECT,
        role=role,
        user=by,
        signer_label=events.actor_label(by),
        delegated_by=on_behalf,
        at=at,
        note=reason,
        latitude=pos.lat if pos else None,
        longitude=pos.lon if pos else None,
        accuracy_m=pos.accuracy_m if pos else None,
    )
    step.status = StepStatus.REJECTED
    step.decided_at = at
    step.save(update_fields=["status", "decided_at"])
    permit.steps.filter(status__in=[StepStatus.WAITING, StepStatus.PENDING]).update(
        status=StepStatus.VOID
    )
    permit.reject(by=by, at=at, reason=reason)
    permit.save()
    events.permit_event(permit, "rejected", at=at, by=by, reason=reason, step=step.label)
    return permit


@service
def revise(permit: Permit, by, *, at: dt.datetime) -> Permit:
    permit = _lock(permit)
    _in(permit, (S.REJECTED,), _("revise"))
    permit.revise(by=by, at=at)
    permit.save()
    events.permit_event(permit, "revised", at=at, by=by)
    return permit


@service
def delegate(by, *, to, role: str, site, starts_at, ends_at, at: dt.datetime) -> Delegation:
    """Delegate one's step role at a site for a window, only to someone with the same approval
    authority: they hold that role themselves, at some site (AQ 3064.2 §5.5.3). A holder of the
    role at this site signs in their own name anyway; the delegation lets, say, the workshop
    head of another site stand in, and their signature records on whose behalf."""
    site_id = getattr(site, "pk", site)
    errors = []
    if role not in roles_at_site(by, site_id):
        errors.append(FieldError("role", "not_held", _("You do not hold this role at this site.")))
    if role not in roles_of(to):
        errors.append(
            FieldError(
                "to",
                "not_authorised",
                _(
                    "A step is delegated only to someone who holds the same role "
                    "(AQ 3064.2-2025 5.5.3)."
                ),
            )
        )
    if to.pk == by.pk:
        errors.append(FieldError("to", "self", _("Delegate to someone else.")))
    if not (isinstance(starts_at, dt.datetime) and isinstance(ends_at, dt.datetime)) or (
        ends_at <= starts_at
    ):
        errors.append(
            FieldError("ends_at", "before_start", _("The window must end after it starts."))
        )
    if errors:
        raise InvalidInput(errors)
    d = Delegation.objects.create(
        delegator=by,
        delegate=to,
        role=role,
        site_id=site_id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=at,
    )
    audit.record(action="permit.delegated", target=d, actor=by, at=at)
    return d


# ---- before the start -----------------------------------------------------------------------


# The evidence photo of a measure: an image.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@service
def confirm_measure(
    permit: Permit,
    measure_id: int,
    by,
    *,
    at: dt.datetime,
    involved=True,
    photo=None,
    photo_attachment_id: int | None = None,
) -> MeasureItem:
    """Confirm one measure (the named person, when one is named), with an evidence photo if
    given: a file, or an image already attached to this permit (`photo_attachment_id`)."""
    if photo_attachment_id is not None:
        photo = _evidence_photo(permit, photo_attachment_id)
    return _confirm(permit, [(measure_id, involved, photo)], by, at=at)[0]


def _evidence_photo(permit: Permit, attachment_id: int) -> str:
    """The stored file of an image attached to `permit` (the measure keeps its name)."""
    field = "photo_attachment_id"
    item = Attachment.objects.filter(permit_id=permit.pk, pk=attachment_id).first()
    if item is None:
        raise InvalidInput(FieldError(field, "not_found", _("No such attachment on this permit.")))
    if not item.file.name.lower().endswith(PHOTO_SUFFIXES):
        raise InvalidInput(
            FieldError(
                field,
                "file_type",
                _("The evidence photo must be an image (%(types)s).")
                % {"types": " ".join(PHOTO_SUFFIXES)},
            )
        )
    return item.file.name


@service
def confirm_measures(permit: Permit, items, by, *, at: dt.datetime) -> list[MeasureItem]:
    """Confirm several measures at once, as a checklist is ticked and signed on site: `items` are
    `{"id": …, "involved": True|False}`; each is refused or confirmed as `confirm_measure` would,
    and one refused item confirms none."""
    rows = []
    for i, item in enumerate(items or []):
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), int):
            raise InvalidInput(FieldError(f"items.{i}.id", "required", _("Name the measure.")))
        rows.append((item["id"], item.get("involved", True), None))
    if not rows:
        raise InvalidInput(FieldError("items", "required", _("Name the measures confirmed.")))
    return _confirm(permit, rows, by, at=at)


def _confirm(permit: Permit, rows, by, *, at: dt.datetime) -> list[MeasureItem]:
    permit = _lock(permit)
    _not_expired(permit, at)
    _in(permit, (S.IN_APPROVAL, S.APPROVED, S.SUSPENDED, S.ACTIVE), _("confirm measures of"))
    found = MeasureItem.objects.filter(permit_id=permit.pk).in_bulk([r[0] for r in rows])
    missing = [i for i, r in enumerate(rows) if r[0] not in found]
    if missing:
        raise InvalidInput(
            [
                FieldError(
                    "measure_id" if len(rows) == 1 else f"items.{i}.id",
                    "not_found",
                    _("No such measure on this permit."),
                )
                for i in missing
            ]
        )
    person_id = _user_person(by)
    others = [found[r[0]] for r in rows if found[r[0]].confirmer_id not in (None, person_id)]
    if others:
        # The refusal names the confirmers: read only on this path.
        prefetch_related_objects(others, "confirmer")
        raise Refused(
            [
                Reason(
                    "measures.not_confirmer",
                    _("This measure is confirmed by %(name)s.") % {"name": m.confirmer},
                    clause="GB 30871-2022 4.11 c)",
                    subject=m.text[:60],
                )
                for m in others
            ]
        )
    items = []
    for measure_id, involved, photo in rows:
        item = found[measure_id]
        item.involved = bool(involved)
        item.confirmed_by = by
        item.confirmed_at = at
        if photo is not None:
            item.photo = photo
        items.append(item)
    # One UPDATE per distinct outcome (a whole checklist signed at once: one or two), the
    # photo column only for a measure that came with one (confirmed again without one, it
    # keeps its earlier photo). Cheaper than bulk_update's CASE per row and column.
    with_photo = {m for m, _i, photo in rows if photo is not None}
    outcomes: dict[tuple, list[int]] = {}
    for item in {i.pk: i for i in items}.values():
        photo = (item.photo,) if item.pk in with_photo else ()
        outcomes.setdefault((item.involved, *photo), []).append(item.pk)
    for (involved, *photo), pks in outcomes.items():
        values = {"involved": involved, "confirmed_by": by, "confirmed_at": at}
        if photo:
            values["photo"] = photo[0]
        MeasureItem.objects.filter(pk__in=pks).update(**values)
    confirmed = [{"measure": i.text[:200], "involved": i.involved} for i in items]
    events.permit_event(permit, "measure.confirmed", at=at, by=by, measures=confirmed)
    audit.record(
        action="permit.measure_confirmed",
        target=permit,
        actor=by,
        at=at,
        after={"measures": confirmed},
    )
    return items


@service
def record_briefing(
    permit: Permit,
    by,
    *,
    briefer_id: int,
    recipient_ids: list[int],
    at: dt.datetime,
    content: str = "",
) -> Briefing:
    permit = _lock(permit)
    _not_expired(permit, at)
    _in(permit, (S.DRAFT, S.IN_APPROVAL, S.APPROVED, S.ACTIVE, S.SUSPENDED), _("brief"))
    names = dict(
        Person.objects.filter(pk__in=[briefer_id, *recipient_ids])
        .order_by()
        .values_list("pk", "name")
    )
    errors = []
    if briefer_id not in names:
        errors.append(FieldError("briefer_id", "not_found", _("No such person.")))
    missing = [i for i in recipient_ids if i not in names]
    if missing or not recipient_ids:
        errors.append(
            FieldError(
                "recipient_ids", "not_found", _("Name the people briefed (existing persons).")
            )
        )
    if errors:
        raise InvalidInput(errors)
    b = Briefing.objects.create(
        permit=permit, briefer_id=briefer_id, content=content, at=at, recorded_by=by
    )
    # A new briefing has no recipients yet: one INSERT of the links, no read of the set first.
    link = Briefing.recipients.through
    link.objects.bulk_create(
        [link(briefing_id=b.pk, person_id=i) for i in dict.fromkeys(recipient_ids)]
    )
    events.permit_event(
        permit,
        "briefing",
        at=at,
        by=by,
        briefer=names[briefer_id],
        recipients=[names[i] for i in recipient_ids],
    )
    audit.record(
        action="permit.briefing",
        target=permit,
        actor=by,
        at=at,
        after={"briefer": briefer_id, "recipients": recipient_ids},
    )
    return b


def _calibration_errors(permit: Permit, calibrated_on, taken_at) -> list[FieldError]:
    """The enterprise's calibration-date rule (GB 30871-2022 §4.12; a setting, default on)."""
    if not get_setting("permits.calibration_check", site_id=permit.site_id):
        return []
    if calibrated_on is None:
        return [
            FieldError(
                "calibrated_on",
                "required",
                _("Give the detector's calibration date (enterprise rule)."),
            )
        ]
    if not isinstance(taken_at, dt.datetime):
        return []
    days = get_setting("permits.calibration_days", site_id=permit.site_id)
    if (timezone.localdate(taken_at) - calibrated_on).days > days:
        return [
            FieldError(
                "calibrated_on",
                "calibration_expired",
                _("The detector's calibration is older than %(days)s days.") % {"days": days},
            )
        ]
    return []


@service
def record_gas_test(
    permit: Permit,
    by,
    *,
    at: dt.datetime,
    taken_at: dt.datetime,
    point: str,
    gas: str,
    value,
    unit: str,
    instrument: str,
    tester_id: int,
    calibrated_on=None,
    lel_percent=None,
    oxygen_enriched: bool = False,
    position=None,
) -> GasTest:
    """A gas analysis, judged against the rule (`work.gas`), which is cited; a failing one
    raises alarm 02 and keeps the permit from starting or resuming."""
    permit = _lock(permit)
    _not_expired(permit, at)
    _in(permit, (S.IN_APPROVAL, S.APPROVED, S.ACTIVE, S.SUSPENDED), _("record a gas test on"))
    errors = []
    if not isinstance(taken_at, dt.datetime) or timezone.is_naive(taken_at):
        errors.append(
            FieldError("taken_at", "invalid_datetime", _("The time must include a time zone."))
        )
    elif taken_at > at:
        errors.append(
            FieldError("taken_at", "future", _("A sample cannot be taken in the future."))
        )
    if not Person.objects.filter(pk=tester_id).exists():
        errors.append(FieldError("tester_id", "not_found", _("No such person.")))
    if (
        calibrated_on is not None
        and isinstance(taken_at, dt.datetime)
        and (calibrated_on > timezone.localdate(taken_at))
    ):
        errors.append(
            FieldError("calibrated_on", "future", _("Calibration date after the sample."))
        )
    errors += _calibration_errors(permit, calibrated_on, taken_at)
    if not str(point or "").strip():
        errors.append(FieldError("point", "required", _("This field is required.")))
    if not str(instrument or "").strip():
        errors.append(FieldError("instrument", "required", _("This field is required.")))
    if errors:
        raise InvalidInput(errors)
    verdict = work_gas.judge(
        gas, value, unit, lel_percent=lel_percent, oxygen_enriched=oxygen_enriched
    )
    pos = Position.of(position)
    test = GasTest.objects.create(
        permit=permit,
        taken_at=taken_at,
        point=point,
        gas=gas,
        value=value,
        unit=unit,
        lel_percent=lel_percent,
        instrument=instrument,
        calibrated_on=calibrated_on,
        tester_id=tester_id,
        recorded_by=by,
        passed=verdict.passed,
        limit=verdict.limit,
        clause=verdict.clause,
        latitude=pos.lat if pos else None,
        longitude=pos.lon if pos else None,
        accuracy_m=pos.accuracy_m if pos else None,
    )
    events.permit_event(
        permit,
        "gas_test",
        at=at,
        by=by,
        gas=gas,
        value=str(value),
        unit=unit,
        point=point,
        passed=verdict.passed,
    )
    audit.record(
        action="permit.gas_test",
        target=permit,
        actor=by,
        at=at,
        after={
            "gas": gas,
            "value": str(value),
            "unit": unit,
            "point": point,
            "passed": verdict.passed,
            "clause": verdict.clause,
        },
    )
    if not verdict.passed:
        alarms.raise_alarm(
            "02",
            permit=permit,
            at=at,
            about=f"{point}:{gas}",
            message=_("Gas analysis failed at %(point)s: %(gas)s %(value)s %(unit)s")
            % {"point": point, "gas": gas, "value": value, "unit": unit},
            details={"limit": verdict.limit, "clause": verdict.clause},
        )
    return test


@service
def check_in(
    permit: Permit, by, *, person_id: int, at: dt.datetime, position=None, kind: str = "in"
) -> Presence:
    """A crew member or guardian present in person (position recorded)."""
    # The crew-membership test rides on the lock's statement: one query fewer per check-in.
    # On PostgreSQL it reads the crew as of the statement's start, so a crew change committed
    # while this waited for the lock is not seen: the check-in then acts as if it came first,
    # which is a serial order (a crew change reads no presences).
    in_crew = CrewAssignment.objects.filter(
        permit=OuterRef("pk"), person_id=person_id, removed_at=None
    )
    permit = _lock(permit, in_crew=Exists(in_crew))
    _not_expired(permit, at)
    if not permit.in_crew:
        raise InvalidInput(FieldError("person_id", "not_in_crew", _("Not in this permit's crew.")))
    pos = Position.of(position)
    p = Presence.objects.create(
        permit=permit,
        person_id=person_id,
        kind=kind,
        at=at,
        latitude=pos.lat if pos else None,
        longitude=pos.lon if pos else None,
        accuracy_m=pos.accuracy_m if pos else None,
        recorded_by=by,
    )
    events.permit_event(permit, f"presence.{kind}", at=at, by=by, person_id=person_id)
    return p


# Evidence a permit carries (plans, drawings, photos, sketches): documents and images only.
ATTACHMENT_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".webp", ".xlsx", ".docx", ".dwg")


@service
def add_attachment(
    permit: Permit, by, *, upload, name: str = "", kind: str = "", at: dt.datetime
) -> Attachment:
    """Attach a file (a lifting plan, the blind drawing, a sketch, a photo): bounded in size, of
    a document or image type; never to a closed, cancelled or expired permit (§4.18)."""
    permit = _lock(permit)
    _in(permit, tuple(s for s in S if s not in FINAL), _("attach files to"))
    filename = str(getattr(upload, "name", "") or "")
    size = getattr(upload, "size", None)
    errors = []
    if not filename.lower().endswith(ATTACHMENT_SUFFIXES):
        errors.append(
            FieldError(
                "file",
                "file_type",
                _("Attach a document or an image (%(types)s).")
                % {"types": " ".join(ATTACHMENT_SUFFIXES)},
            )
        )
    if size is None or size == 0:
        errors.append(FieldError("file", "empty", _("The file is empty.")))
    elif size > settings.UPLOAD_MAX_BYTES:
        errors.append(
            FieldError(
                "file",
                "too_large",
                _("The file is larger than %(mb)s MB.")
                % {"mb": settings.UPLOAD_MAX_BYTES // 2**20},
            )
        )
    if len(kind or "") > 30:
        errors.append(FieldError("kind", "too_long", _("At most 30 characters.")))
    if errors:
        raise InvalidInput(errors)
    label = (name or filename).strip()[:200]
    item = Attachment(permit=permit, name=label, kind=kind or "", uploaded_by=by, at=at)
    item.file.save(Path(filename).name, upload, save=False)
    item.save()
    events.permit_event(permit, "attachment", at=at, by=by, name=label, file_kind=item.kind)
    audit.record(
        action="permit.attachment_added",
        target=permit,
        actor=by,
        at=at,
        after={"attachment": item.pk, "name": label, "kind": item.kind, "bytes": size},
    )
    return item


# ---- crew changes ---------------------------------------------------------------------------


@service
def change_crew(
    permit: Permit, by, *, at: dt.datetime, add: list[Mapping] = (), remove: list[int] = ()
) -> Permit:
    """Add or remove crew members. After approval this sends the permit back to approval with a
    new round of steps (AQ 3064.2 §5.6.4); a newcomer must be qualified now and be briefed before
    the start."""
    permit = _lock(permit)
    _not_expired(permit, at)
    _in(
        permit, (S.DRAFT, S.IN_APPROVAL, S.APPROVED, S.ACTIVE, S.SUSPENDED), _("change the crew of")
    )
    errors: list = []
    rows = _crew_rows(add, errors)
    current = set(permit.crew.filter(removed_at=None).values_list("person_id", "role_id"))
    for i, (person, role, _a) in enumerate(rows):
        if (person.pk, role.pk) in current:
            errors.append(
                FieldError(
                    f"add.{i}", "duplicate", _("This person already has this role in the crew.")
                )
            )
    if errors:
        raise InvalidInput(errors)
    after_approval = permit.status in VALID
    if rows and permit.status != S.DRAFT:
        members = [CrewMember(p.pk, r.code, a or None) for p, r, a in rows]
        instants = gates.qualification_instants(permit, [p.pk for p, _r, _a in rows])
        decisions = assess_crew_over(
            members,
            permit.work_type,
            permit.level.code if permit.level_id else None,
            permit.site_id,
            [max(when, at) for when in instants],
            gates._engine_attrs(permit),
        )
        reasons = [r for d in decisions for r in d.decision.blocking]
        if reasons:
            _refuse(permit, reasons, at)
    removed = (
        permit.crew.filter(pk__in=remove, removed_at=None).update(removed_at=at) if remove else 0
    )
    added = _write_crew(permit, rows, at=at, after_approval=after_approval)
    events.permit_event(
        permit, "crew.changed", at=at, by=by, added=[a.person.name for a in added], removed=removed
    )
    if after_approval and (added or removed):
        permit.steps.filter(status__in=[StepStatus.WAITING, StepStatus.PENDING]).update(
            status=StepStatus.VOID
        )
        round_ = (permit.steps.order_by("-round").values_list("round", flat=True).first() or 0) + 1
        was = permit.status
        if was == S.ACTIVE:
            permit.suspend(by=by, at=at, reason=_("crew changed"))
            permit.save()
        steps = _build_route(permit, at=at, round_=round_)
        permit.reapprove(
            by=by, at=at, reason=_("crew changed after approval"), steps=[s.label for s in steps]
        )
        permit.save()
        events.permit_event(permit, "reapproval", at=at, by=by)
    audit.record(
        action="permit.crew_changed",
        target=permit,
        actor=by,
        at=at,
        after={"added": [a.person_id for a in added], "removed": list(remove)},
    )
    return permit


# ---- running --------------------------------------------------------------------------------


def _signature(permit, by, action, at, position=None, note=""):
    pos = Position.of(position)
    return Signature.objects.create(
        permit=permit,
        action=action,
        user=by,
        signer_label=events.actor_label(by),
        at=at,
        note=note,
        latitude=pos.lat if pos else None,
        longitude=pos.lon if pos else None,
        accuracy_m=pos.accuracy_m if pos else None,
    )


@service
def start(
    permit: Permit, by, *, at: dt.datetime, weather: Mapping | None = None, position=None
) -> Permit:
    """Start: measures confirmed, briefing, gas test ≤ 30 min before, crew and guardian present,
    the check before ignition signed, weather, linked permits. Refused with every reason."""
    permit = _lock(permit)
    _not_expired(permit, at)
    _in(permit, (S.APPROVED,), _("start"))
    reasons = gates.start_reasons(permit, at, dict(weather) if weather is not None else None)
    if any(r.blocking for r in reasons):
        _refuse(permit, reasons, at)
    _signature(permit, by, SignatureAction.START, at, position)
    permit.start(by=by, at=at)
    permit.save()
    events.permit_event(permit, "started", at=at, by=by, weather=dict(weather or {}))
    return permit


@service
def suspend(permit: Permit, by, *, at: dt.datetime, reason: str, position=None) -> Permit:
    if not str(reason or "").strip():
        raise InvalidInput(FieldError("reason", "required", _("Give the reason.")))
    permit = _lock(permit)
    _not_expired(permit, at)
    _in(permit, (S.ACTIVE,), _("suspend"))
    _signature(permit, by, SignatureAction.SUSPEND, at, position, reason)
    permit.suspend(by=by, at=at, reason=reason)
    permit.save()
    events.permit_event(permit, "suspended", at=at, by=by, reason=reason)
    return permit


@service
def resume(permit: Permit, by, *, at: dt.datetime, position=None) -> Permit:
    """Resume: a passing gas analysis taken after the pause for the types that need one
    (AQ 3064.2 §5.8.4)."""
    permit = _lock(permit)
    _not_expired(permit, at)
    _in(permit, (S.SUSPENDED,), _("resume"))
    reasons = gates.gas_reasons(
        permit, at, since=permit.suspended_at, code_missing="gas.resume_missing"
    )
    if reasons:
        _refuse(permit, reasons, at)
    _signature(permit, by, SignatureAction.RESUME, at, position)
    permit.resume(by=by, at=at)
    permit.save()
    events.permit_event(permit, "resumed", at=at, by=by)
    return permit


@service
def complete(
    permit: Permit, by, *, at: dt.datetime, cleaned_up: bool, note: str = "", position=None
) -> Permit:
    if not cleaned_up:
        raise InvalidInput(
            FieldError("cleaned_up", "required", _("Confirm that the site is cleaned up."))
        )
    permit = _lock(permit)
    _in(permit, (S.ACTIVE,), _("complete"))
    _signature(permit, by, SignatureAction.COMPLETE, at, position, note)
    permit.complete(by=by, at=at, note=note)
    permit.save()
    events.permit_event(permit, "completed", at=at, by=by, note=note)
    return permit


@service
def accept(permit: Permit, by, *, at: dt.datetime, note: str = "", position=None) -> Permit:
    """Acceptance by the owner (not the applicant), then the permit may close (AQ 3064.2 §5.7)."""
    permit = _lock(permit)
    _in(permit, (S.COMPLETED,), _("accept"))
    if permit.applicant_id == by.pk:
        raise Refused(
            [
                Reason(
                    "accept.own_permit",
                    _("The owner accepts the work, not its applicant."),
                    clause="AQ 3064.2-2025 5.7",
                )
            ]
        )
    _signature(permit, by, SignatureAction.ACCEPT, at, position, note)
    permit.accept(by=by, at=at, note=note)
    permit.save()
    events.permit_event(permit, "accepted", at=at, by=by, note=note)
    return permit


@service
def close(permit: Permit, by, *, at: dt.datetime) -> Permit:
    permit = _lock(permit)
    _in(permit, (S.ACCEPTED,), _("close"))
    _signature(permit, by, SignatureAction.CLOSE, at)
    permit.close(by=by, at=at)
    permit.save()
    events.permit_event(permit, "closed", at=at, by=by)
    return permit


@service
def cancel(permit: Permit, by, *, at: dt.datetime, reason: str) -> Permit:
    """Cancel with a reason: before approval its applicant or an approver of its site (one who
    may approve it: not the applicant); once approved (not yet started, or suspended), only such
    an approver (AQ 3064.2 §5.7: cancellation with its own approval)."""
    if not str(reason or "").strip():
        raise InvalidInput(FieldError("reason", "required", _("Give the reason for cancelling.")))
    permit = _lock(permit)
    _in(
        permit,
        (S.DRAFT, S.SUBMITTED, S.IN_APPROVAL, S.APPROVED, S.SUSPENDED, S.REJECTED),
        _("cancel"),
    )
    approver = may(by, "permits.approve", permit)
    if permit.status not in (S.APPROVED, S.SUSPENDED) and not (
        approver or permit.applicant_id == by.pk
    ):
        raise Refused(
            [
                Reason(
                    "cancel.not_allowed",
                    _(
                        "A permit is cancelled by its applicant before approval, or by an "
                        "approver of its site."
                    ),
                    clause="AQ 3064.2-2025 5.7",
                )
            ]
        )
    if permit.status in (S.APPROVED, S.SUSPENDED) and not approver:
        raise Refused(
            [
                Reason(
                    "cancel.needs_approver",
                    _("An approved permit is cancelled by an approver of its site."),
                    clause="AQ 3064.2-2025 5.7",
                )
            ]
        )
    _signature(permit, by, SignatureAction.CANCEL, at, note=reason)
    permit.steps.filter(status__in=[StepStatus.WAITING, StepStatus.PENDING]).update(
        status=StepStatus.VOID
    )
    permit.cancel(by=by, at=at, reason=reason)
    permit.save()
    events.permit_event(permit, "cancelled", at=at, by=by, reason=reason)
    return permit


@service
def change_permit(permit: Permit, by, *, at: dt.datetime, reason: str, data: Mapping) -> Permit:
    """A change of content, scope, place or time after approval: the old permit closes and a new,
    linked draft carries the change (GB 30871-2022 §4.16–4.17, AQ 3064.2 §5.8)."""
    if not str(reason or "").strip():
        raise InvalidInput(FieldError("reason", "required", _("Give the reason for the change.")))
    old = _lock(permit)
    _in(old, VALID, _("change"))
    base = {
        "work_type": old.work_type.code,
        "site_id": old.site_id,
        "area_id": old.area_id,
        "place": old.place,
        "content": old.content,
        "open_air": old.open_air,
        "planned_start": old.planned_start,
        "planned_end": old.planned_end,
        "work_unit_id": old.work_unit_id,
        "contractor_id": old.contractor_id,
        "work_leader_id": old.work_leader_id,
        "inputs": old.inputs,
        "fields": old.fields,
        "equipment": old.equipment,
        "latitude": old.latitude,
        "longitude": old.longitude,
        "crew": [
            {"person_id": c.person_id, "role": c.role.code, "attrs": c.attrs}
            for c in old.crew.filter(removed_at=None).select_related("role")
        ],
        "linked": list(old.linked.values_list("pk", flat=True)),
    }
    new = create_permit(by, {**base, **data}, at=at)
    new.replaces = old
    new.save(update_fields=["replaces"])
    old.supersede(by=by, at=at, reason=reason, successor=str(new.pk))
    old.save()
    events.permit_event(old, "superseded", at=at, by=by, reason=reason, successor=new.pk)
    return new


def expire_due(*, at: dt.datetime, by=None, limit: int = 1000) -> int:
    """Store the expiry of valid permits past their end (the state is already computed when read;
    this keeps the stored one in step and raises alarm 10 for work still running)."""
    done = 0
    ids = list(
        Permit.objects.filter(status__in=VALID, planned_end__lte=at).values_list("pk", flat=True)[
            :limit
        ]
    )
    for pk in ids:
        with transaction.atomic():
            permit = _lock(pk)
            if permit.status not in VALID or permit.planned_end > at:
                continue
            was = permit.status
            permit.expire(by=by, at=at)
            permit.save()
            events.permit_event(permit, "expired", at=at, by=by, was=was)
            if was in (S.ACTIVE, S.SUSPENDED):
                alarms.raise_alarm(
                    "10",
                    permit=permit,
                    at=at,
                    message=_("Permit %(number)s passed its validity while work was under way.")
                    % {"number": permit.number},
                )
            done += 1
    return done


def flag_overdue_steps(*, at: dt.datetime) -> int:
    """Steps past their time limit (AQ 3064.2 §5.2, §5.9 "approval overdue"): each is reported
    once when it falls due; the notification outbox tells its approvers and escalates to the next
    level by its rule's data (notify: `escalate_after_hours`, `escalate_to`). Returns how many."""
    overdue = 0
    due = ApprovalStep.objects.filter(
        status=StepStatus.PENDING, due_at__lte=at, overdue_at=None
    ).select_related("permit")
    for step in due:
        with transaction.atomic():
            if ApprovalStep.objects.filter(pk=step.pk, overdue_at=None).update(overdue_at=at):
                events.permit_event(
                    step.permit,
                    "step.overdue",
                    at=at,
                    step_id=step.pk,
                    step=step.label,
                    roles=step.roles,
                    due_at=step.due_at.isoformat(),
                )
                overdue += 1
    return overdue


# ---- alarms ---------------------------------------------------------------------------------


ALARM_MOVES = {
    "acknowledge": _lazy("acknowledged"),
    "handle": _lazy("handled"),
    "clear": _lazy("cleared"),
}


def _lock_alarm(alarm, move: str) -> Alarm:
    alarm = Alarm.objects.select_for_update().get(pk=alarm.pk)
    if not can_proceed(getattr(alarm, move)):
        raise Refused(
            [
                Reason(
                    "alarm.state",
                    _("The alarm is %(status)s: it cannot be %(move)s.")
                    % {"status": alarm.get_status_display(), "move": ALARM_MOVES[move]},
                )
            ]
        )
    return alarm


@service
def acknowledge_alarm(alarm, by, *, at: dt.datetime):
    alarm = _lock_alarm(alarm, "acknowledge")
    alarm.acknowledge(by=by, at=at)
    alarm.save()
    events.alarm_changed(alarm, at=at, by=by)
    return alarm


@service
def handle_alarm(alarm, by, *, at: dt.datetime, note: str):
    if not str(note or "").strip():
        raise InvalidInput(FieldError("note", "required", _("Say how the alarm was handled.")))
    alarm = _lock_alarm(alarm, "handle")
    alarm.handle(by=by, at=at, note=note)
    alarm.save()
    events.alarm_changed(alarm, at=at, by=by)
    return alarm


@service
def clear_alarm(alarm, by, *, at: dt.datetime):
    alarm = _lock_alarm(alarm, "clear")
    alarm.clear(by=by, at=at)
    alarm.save()
    events.alarm_changed(alarm, at=at, by=by)
    return alarm


__all__ = [
    "FINAL",
    "Position",
    "accept",
    "acknowledge_alarm",
    "add_attachment",
    "approve",
    "cancel",
    "change_crew",
    "change_permit",
    "check_in",
    "clear_alarm",
    "close",
    "complete",
    "confirm_measure",
    "confirm_measures",
    "create_permit",
    "current_step",
    "delegate",
    "expire_due",
    "handle_alarm",
    "preview_level",
    "record_briefing",
    "record_gas_test",
    "reject",
    "resume",
    "revise",
    "start",
    "submit",
    "suspend",
    "update_draft",
]
