"""The qualification engine: may this person, or this crew, do this work here at this instant?

    check(person, work_type, level, role, site, at, attrs=None) -> Decision
    check_crew(members, work_type, level, site, at, attrs=None) -> Decision
    assess_crew(...) -> CrewDecision        the same, with one decision per member (the API)
    answer(questions) -> list[Decision]     many questions, one fetch (the roster forward check)

A rule "on a date" uses the local date of `at` (`on = timezone.localdate(at)`): 23:30 UTC is the
next day in Shanghai. Every reason is reported, for every member, each with its clause and
subject (the person, or the certificate number), never just the first.

What is checked for each member (certificates.md "Requirements", decisions.md "The qualification
engine"): the person is active and employed on `on`; contractor staff's contractor is active and
engaged at the site on `on`; no blacklist entry for their ID number is in force; their position
may take the crew role in this work type up to this level (`PositionPermission`); and every
`Requirement` row that applies (work type, minimum level, crew role, effective dates, condition
over the check's attributes) is met: a usable certificate of one of its items
(`rules.certificate_status`), or a valid medical check without a restriction for this work.

Input errors (an unknown work type, a level the work type does not have, an unknown crew role,
a bad attribute) raise `InvalidInput` (422 in the API): they are not refusals.

Fail-closed: an exception while reading facts or settings (database, settings registry) answers
`allowed=False` with `check.cannot_decide`, never "allowed"; so does a condition that needs an
attribute the check lacks (`check.attribute_missing`, naming it).

Cost: the facts of all persons asked about are read in a fixed handful of queries, whatever the
crew size or the number of requirement rows: persons with employment, contractor and whether any
blacklist entry names them; their certificates (plus, rarely, predecessors held under another
record set); health checks; and only when needed the blacklist entries of those named and the
engagements of contractor staff's contractors: three queries for a crew of own staff. The
catalogue (requirement rows, items, rule book, position matrix, work types) and the settings are
cached per process: a save or delete of any of those rows in this process clears the cache at once
(signals), and a change made by another process is seen after at most `CACHE_SECONDS`. Facts about
persons (certificates, health checks, blacklist, employment) are never cached.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.certs.models import (
    CatalogueRule,
    Certificate,
    CertificateItem,
    RevocationGround,
    Scheme,
)
from safework.certs.queries import status_settings
from safework.certs.rules import RuleBook
from safework.core.errors import FieldError, InvalidInput
from safework.core.models import Setting
from safework.core.refusals import Decision, Reason
from safework.core.settings_registry import get_setting
from safework.org.models import Position
from safework.people.models import (
    BlacklistEntry,
    ContractorEngagement,
    ContractorStatus,
    EmployerKind,
    EmploymentStatus,
    EngagementStatus,
    HealthCheck,
    Person,
)
from safework.qualification.models import Requirement
from safework.qualification.requirements import (
    INTERNAL,
    ConditionError,
    ItemIndex,
    ItemRef,
    MissingAttribute,
    RuleSettings,
    Subject,
    Work,
    applies,
    parse_attrs,
    requirement_reasons,
    shipped_equivalents,
)
from safework.work.models import CrewRole, PositionPermission, WorkLevel, WorkType

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30.0
MEDICAL_ITEM = "MEDICAL"

# Facts that no catalogue row holds get these clauses (enterprise rules, not law).
PERSON_CLAUSE = "企业规定：在册且在岗人员方可作业"
CONTRACTOR_CLAUSE = "企业规定：承包商资格有效且在本厂区有有效合同"
BLACKLIST_CLAUSE = "企业规定：相关方黑名单"
POSITION_CLAUSE = "企业规定：岗位作业权限矩阵"
CANNOT_DECIDE_CLAUSE = "SafeWork：无法确认时不予放行"


# --- the catalogue and settings, cached per process ----------------------------------------------


def _text(value):
    """Text compared after NFKC (full-width letters, Ⅱ → II) and trimming; other values as is."""
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip()
    return value


@dataclass(frozen=True)
class Catalogue:
    """Everything the engine reads from catalogue tables, loaded in one go."""

    work_types: dict[int, WorkType]
    levels: dict[int, list[WorkLevel]]  # work type id → levels by rank
    roles: dict[int, CrewRole]
    positions: dict[int, Position]
    permissions: dict[int, list[PositionPermission]]  # position id → rows
    requirements: tuple[Requirement, ...]
    items: ItemIndex
    book: RuleBook
    medical_item: ItemRef | None
    _rows_for: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def work_types_by_code(self) -> dict[str, WorkType]:
        return {wt.code: wt for wt in self.work_types.values()}

    def requirements_for(self, work_type: WorkType, role: CrewRole) -> tuple[Requirement, ...]:
        """The rows whose work type and crew role filters let this work through (memoised);
        `requirements.applies` still checks levels, dates and conditions."""
        key = (work_type.pk, role.pk)
        rows = self._rows_for.get(key)
        if rows is None:
            rows = self._rows_for[key] = tuple(
                r
                for r in self.requirements
                if r.work_type_id in (None, work_type.pk) and r.crew_role_id in (None, role.pk)
            )
        return rows

    def work_type(self, value, *, field_name: str = "work_type") -> WorkType:
        """A WorkType by instance, code or name (动火作业 → hot_work)."""
        if isinstance(value, WorkType):
            value = value.pk
        value = _text(value)
        for wt in self.work_types.values():
            if value in (wt.pk, wt.code, _text(wt.name)):
                return wt
        known = ", ".join(wt.code for wt in self.work_types.values())
        raise InvalidInput(
            FieldError(
                field_name,
                "unknown_work_type",
                _("Unknown work type %(value)s; known: %(known)s.")
                % {"value": value, "known": known},
            )
        )

    def level(self, work_type: WorkType, value, *, field_name: str = "level") -> WorkLevel | None:
        """The work type's level by instance, code or name; None for a type without levels."""
        levels = self.levels.get(work_type.pk, [])
        if isinstance(value, WorkLevel):
            value = value.pk
        value = _text(value)
        if value in (None, ""):
            if not levels:
                return None
            raise InvalidInput(
                FieldError(
                    field_name,
                    "required",
                    _("%(work)s needs a level: one of %(codes)s.")
                    % {"work": work_type.name, "codes": ", ".join(lv.code for lv in levels)},
                )
            )
        for lv in levels:
            if value in (lv.pk, lv.code, _text(lv.name)):
                return lv
        if not levels:
            message = _("%(work)s has no levels; leave the level empty.") % {"work": work_type.name}
        else:
            message = _("Not a level of %(work)s; one of %(codes)s.") % {
                "work": work_type.name,
                "codes": ", ".join(lv.code for lv in levels),
            }
        raise InvalidInput(FieldError(field_name, "invalid_level", message))

    def role(self, value, *, field_name: str = "role") -> CrewRole:
        """A crew role by instance, code or name (作业人 → worker)."""
        if isinstance(value, CrewRole):
            value = value.pk
        value = _text(value)
        for r in self.roles.values():
            if value in (r.pk, r.code, _text(r.name)):
                return r
        known = ", ".join(r.code for r in self.roles.values())
        raise InvalidInput(
            FieldError(
                field_name,
                "unknown_role",
                _("Unknown crew role %(value)s; known: %(known)s.")
                % {"value": value, "known": known},
            )
        )


def _load_catalogue() -> Catalogue:
    work_types = {wt.pk: wt for wt in WorkType.objects.all()}
    levels: dict[int, list[WorkLevel]] = {}
    for lv in WorkLevel.objects.order_by("work_type_id", "rank"):
        lv.work_type = work_types[lv.work_type_id]
        levels.setdefault(lv.work_type_id, []).append(lv)
    levels_by_id = {lv.pk: lv for lvs in levels.values() for lv in lvs}
    roles = {r.pk: r for r in CrewRole.objects.all()}
    positions = {p.pk: p for p in Position.objects.all()}
    permissions: dict[int, list[PositionPermission]] = {}
    for row in PositionPermission.objects.all():
        row.max_level = levels_by_id.get(row.max_level_id) if row.max_level_id else None
        permissions.setdefault(row.position_id, []).append(row)
    requirements = []
    for req in Requirement.objects.filter(is_active=True).order_by("code"):
        req.min_level = levels_by_id.get(req.min_level_id) if req.min_level_id else None
        requirements.append(req)
    schemes = dict(Scheme.objects.values_list("pk", "code"))
    refs = [
        ItemRef(
            i.pk, i.scheme_id, schemes[i.scheme_id], i.code, i.name, i.calendar_year, i.category
        )
        for i in CertificateItem.objects.all()
    ]
    clause, mapping = shipped_equivalents()
    items = ItemIndex(refs, mapping, clause)
    return Catalogue(
        work_types=work_types,
        levels=levels,
        roles=roles,
        positions=positions,
        permissions=permissions,
        requirements=tuple(requirements),
        items=items,
        book=RuleBook.load(),
        medical_item=items.by_key.get(f"{INTERNAL}:{MEDICAL_ITEM}"),
    )


def _load_settings(site_id: int | None) -> RuleSettings:
    def value(key):
        return get_setting(key, site_id=site_id)

    return RuleSettings(
        status=status_settings(site_id=site_id),  # the thresholds every status reader uses
        construction_counts_as_order30=bool(value("cert.construction_counts_as_order30")),
        contractor_medical_max_age_months=int(value("people.contractor_medical_max_age_months")),
        absence_rule_enabled=bool(value("cert.absence_rule_enabled")),
        absence_months=int(value("cert.absence_months")),
    )


class _Cache:
    """Per-process values with a time to live, cleared at once by `clear()`.

    A generation counter keeps a load that started before a clear from storing stale rows.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict = {}
        self._generation = 0

    def get(self, key, load):
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        generation = self._generation
        value = load()
        with self._lock:
            if generation == self._generation:
                self._values[key] = (value, now + CACHE_SECONDS)
        return value

    def clear(self):
        with self._lock:
            self._generation += 1
            self._values.clear()


_catalogue_cache = _Cache()
_settings_cache = _Cache()


def catalogue() -> Catalogue:
    return _catalogue_cache.get("catalogue", _load_catalogue)


def rule_settings(site_id: int | None) -> RuleSettings:
    return _settings_cache.get(site_id, lambda: _load_settings(site_id))


def clear_caches(**_signal_kwargs) -> None:
    """Forget the cached catalogue and settings (signals call it on every save or delete)."""
    _catalogue_cache.clear()
    _settings_cache.clear()


_CATALOGUE_MODELS = (
    Scheme,
    CertificateItem,
    CatalogueRule,
    WorkType,
    WorkLevel,
    CrewRole,
    PositionPermission,
    Requirement,
    RevocationGround,
    Position,
)
for _model in (*_CATALOGUE_MODELS, Setting):
    for _signal in (post_save, post_delete):
        _signal.connect(
            clear_caches, sender=_model, dispatch_uid=f"qualification-{_model.__name__}"
        )


# --- facts about persons --------------------------------------------------------------------------


@dataclass
class PersonFacts:
    person: Person
    certificates: list[Certificate] = field(default_factory=list)
    health_checks: list[HealthCheck] = field(default_factory=list)
    blacklist: list[BlacklistEntry] = field(default_factory=list)
    engagements: list[ContractorEngagement] = field(default_factory=list)


@dataclass
class Facts:
    persons: dict[int, PersonFacts]
    certificates: dict[int, Certificate]  # by id, incl. predecessors


# The hot queries, built once (each call only adds its filter). No lazy loads: FETCH_RAISE makes
# a forgotten select_related an error in tests rather than a query per person. order_by(): the
# models' default orderings would join persons, schemes and items just to sort.
_PERSONS = (
    Person.objects.fetch_mode(models.FETCH_RAISE)
    .select_related("current_employment__contractor")
    # Blacklist entries are rare: the person row says whether any names them, and only those
    # entries are read (one round trip less in the common case).
    .annotate(on_blacklist=Exists(BlacklistEntry.objects.filter(id_number=OuterRef("id_number"))))
    .order_by()
)
_CERTIFICATES = Certificate.objects.fetch_mode(models.FETCH_RAISE).order_by()
_HEALTH_CHECKS = HealthCheck.objects.fetch_mode(models.FETCH_RAISE).order_by()


def fetch_facts(person_ids: Iterable[int], *, until: dt.date | None = None) -> Facts:
    """Every fact the engine reads about these persons, in a fixed handful of queries.

    `until` bounds the health checks read (the latest on or before the date asked is used).
    """
    ids = sorted(set(person_ids))
    persons = {p.pk: PersonFacts(p) for p in _PERSONS.filter(pk__in=ids)}
    certificates: dict[int, Certificate] = {}
    for c in _CERTIFICATES.filter(person_id__in=ids):
        certificates[c.pk] = c
        persons[c.person_id].certificates.append(c)
    missing = {c.predecessor_id for c in certificates.values() if c.predecessor_id} - set(
        certificates
    )
    if missing:
        for c in _CERTIFICATES.filter(pk__in=missing):
            certificates[c.pk] = c
    checks = _HEALTH_CHECKS.filter(person_id__in=ids)
    if until is not None:
        checks = checks.filter(checked_on__lte=until)
    for h in checks:
        persons[h.person_id].health_checks.append(h)
    by_number = {pf.person.id_number: pf for pf in persons.values() if pf.person.on_blacklist}
    if by_number:
        for b in (
            BlacklistEntry.objects.fetch_mode(models.FETCH_RAISE)
            .filter(id_number__in=list(by_number))
            .order_by()
        ):
            by_number[b.id_number].blacklist.append(b)
    by_contractor: dict[int, list[PersonFacts]] = {}
    for pf in persons.values():
        emp = pf.person.current_employment
        if emp is not None and emp.employer_kind == EmployerKind.CONTRACTOR:
            by_contractor.setdefault(emp.contractor_id, []).append(pf)
    if by_contractor:
        for e in (
            ContractorEngagement.objects.fetch_mode(models.FETCH_RAISE)
            .filter(contractor_id__in=list(by_contractor))
            .order_by()
        ):
            for pf in by_contractor[e.contractor_id]:
                pf.engagements.append(e)
    return Facts(persons, certificates)


# --- one member -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One crew member's question: may person do `work` at site on `work.on`?"""

    person_id: int
    work: Work
    site_id: int | None


def _in_force(starts_on: dt.date, ends_on: dt.date | None, on: dt.date) -> bool:
    """From and until days both inclusive."""
    return starts_on <= on and (ends_on is None or on <= ends_on)


def _person_reasons(pf: PersonFacts, q: Question, who: Subject) -> list[Reason]:
    person, on = pf.person, q.work.on
    reasons = []
    if not person.is_active:
        reasons.append(
            Reason(
                "person.inactive",
                _("The person's record is inactive."),
                PERSON_CLAUSE,
                who.label,
                data=who.data(),
            )
        )
    emp = person.current_employment
    if emp is None:
        reasons.append(
            Reason(
                "person.not_employed",
                _("The person has no current employment."),
                PERSON_CLAUSE,
                who.label,
                data=who.data(),
            )
        )
    elif emp.status != EmploymentStatus.ACTIVE or not _in_force(emp.started_on, emp.ended_on, on):
        reasons.append(
            Reason(
                "person.not_employed",
                _(
                    "The person's employment (%(status)s, %(start)s – %(end)s) does not cover "
                    "%(on)s."
                )
                % {
                    "status": emp.get_status_display(),
                    "start": emp.started_on,
                    "end": emp.ended_on or "…",
                    "on": on,
                },
                PERSON_CLAUSE,
                who.label,
                data=who.data(employment_id=emp.pk),
            )
        )
    if emp is not None and emp.employer_kind == EmployerKind.CONTRACTOR:
        contractor = emp.contractor
        if contractor.status != ContractorStatus.ACTIVE:
            reasons.append(
                Reason(
                    "contractor.inactive",
                    _("The contractor %(name)s is %(status)s.")
                    % {"name": contractor.name, "status": contractor.get_status_display()},
                    CONTRACTOR_CLAUSE,
                    who.label,
                    data=who.data(contractor_id=contractor.pk),
                )
            )
        if q.site_id is None:
            reasons.append(
                Reason(
                    "contractor.site_unknown",
                    _("Contractor staff: name the site to check the contractor's engagement."),
                    CONTRACTOR_CLAUSE,
                    who.label,
                    data=who.data(contractor_id=contractor.pk),
                )
            )
        elif not any(
            e.site_id == q.site_id
            and e.status == EngagementStatus.ACTIVE
            and _in_force(e.starts_on, e.ends_on, on)
            for e in pf.engagements
        ):
            reasons.append(
                Reason(
                    "contractor.not_engaged",
                    _("The contractor %(name)s has no active engagement at this site on %(on)s.")
                    % {"name": contractor.name, "on": on},
                    CONTRACTOR_CLAUSE,
                    who.label,
                    data=who.data(contractor_id=contractor.pk, site_id=q.site_id),
                )
            )
    for entry in pf.blacklist:
        if _in_force(entry.starts_on, entry.ends_on, on):
            reasons.append(
                Reason(
                    "person.blacklisted",
                    _("On the blacklist from %(start)s until %(end)s: %(why)s")
                    % {"start": entry.starts_on, "end": entry.ends_on or "…", "why": entry.reason},
                    BLACKLIST_CLAUSE,
                    who.label,
                    data=who.data(blacklist_entry_id=entry.pk),
                )
            )
    return reasons


def _position_reasons(person: Person, work: Work, cat: Catalogue, who: Subject) -> list[Reason]:
    """The position permission matrix: the person's position may take this crew role in this
    work type (a row without work type: every type), up to the row's maximum level."""
    if person.position_id is None:
        return [
            Reason(
                "position.not_permitted",
                _("The person has no position, so may not act as %(role)s.")
                % {"role": work.role.name},
                POSITION_CLAUSE,
                who.label,
                data=who.data(role=work.role.code),
            )
        ]
    position = cat.positions.get(person.position_id)
    rows = [
        r
        for r in cat.permissions.get(person.position_id, [])
        if r.crew_role_id == work.role.pk and r.work_type_id in (None, work.work_type.pk)
    ]
    name = position.name if position else str(person.position_id)
    data = who.data(position_id=person.position_id, role=work.role.code)
    if not rows:
        return [
            Reason(
                "position.not_permitted",
                _("Position %(position)s may not act as %(role)s in %(work)s.")
                % {"position": name, "role": work.role.name, "work": work.work_type.name},
                POSITION_CLAUSE,
                who.label,
                data=data,
            )
        ]
    if work.level is None or any(
        r.max_level is None or r.max_level.rank >= work.level.rank for r in rows
    ):
        return []
    highest = max((r.max_level for r in rows), key=lambda lv: lv.rank)
    return [
        Reason(
            "position.not_permitted",
            _("Position %(position)s may act as %(role)s in %(work)s up to %(max)s, not %(level)s.")
            % {
                "position": name,
                "role": work.role.name,
                "work": work.work_type.name,
                "max": highest.name,
                "level": work.level.name,
            },
            _clauses(POSITION_CLAUSE, next((r.clause for r in rows if r.clause), "")),
            who.label,
            data=data,
        )
    ]


def _clauses(*parts: str) -> str:
    return "；".join(p for p in parts if p)


def cannot_decide(person_id: int | None, label: str = "", detail: str = "") -> Reason:
    message = _("Cannot decide: a fact could not be read, so the answer is no.")
    if detail:
        message = f"{message} ({detail})"
    return Reason(
        "check.cannot_decide",
        message,
        CANNOT_DECIDE_CLAUSE,
        label,
        data={"person_id": person_id} if person_id is not None else {},
    )


def _assess(q: Question, facts: Facts, cat: Catalogue, settings: RuleSettings) -> list[Reason]:
    pf = facts.persons.get(q.person_id)
    if pf is None:
        return [cannot_decide(q.person_id, str(q.person_id), _("person not found"))]
    who = Subject(pf.person.pk, pf.person.name)
    work = q.work
    emp = pf.person.current_employment
    is_contractor_staff = emp is not None and emp.employer_kind == EmployerKind.CONTRACTOR
    reasons = _person_reasons(pf, q, who)
    reasons += _position_reasons(pf.person, work, cat, who)
    for req in cat.requirements_for(work.work_type, work.role):
        try:
            if not applies(req, work):
                continue
            reasons += requirement_reasons(
                req,
                work,
                who,
                certs=pf.certificates,
                certs_by_id=facts.certificates,
                checks=pf.health_checks,
                items=cat.items,
                medical_item=cat.medical_item,
                book=cat.book,
                settings=settings,
                is_contractor_staff=is_contractor_staff,
                work_types=cat.work_types_by_code,
            )
        except MissingAttribute as exc:
            reasons.append(
                Reason(
                    "check.attribute_missing",
                    _(
                        "Cannot decide: requirement %(code)s needs the attribute %(name)s, which "
                        "the check does not give."
                    )
                    % {"code": req.code, "name": exc.name},
                    req.clause,
                    who.label,
                    data=who.data(requirement=req.code, attribute=exc.name),
                )
            )
        except ConditionError as exc:
            logger.error("requirement %s: bad condition %r: %s", req.code, req.condition, exc)
            reasons.append(
                Reason(
                    "check.cannot_decide",
                    _("Cannot decide: the condition of requirement %(code)s cannot be evaluated.")
                    % {"code": req.code},
                    req.clause,
                    who.label,
                    data=who.data(requirement=req.code, condition=req.condition),
                )
            )
    return reasons


@contextmanager
def _reading():
    """Inside a caller's transaction, read under a savepoint, so that a database error during
    the check leaves the caller's transaction usable (PostgreSQL aborts it otherwise)."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


def answer(questions: Sequence[Question], *, cat: Catalogue | None = None) -> list[Decision]:
    """One decision per question; the facts of all their persons are read once."""
    if not questions:
        return []
    try:
        with _reading():
            cat = cat or catalogue()
            facts = fetch_facts(
                (q.person_id for q in questions), until=max(q.work.on for q in questions)
            )
            settings = {s: rule_settings(s) for s in {q.site_id for q in questions}}
    except Exception:
        logger.exception("qualification check: facts could not be read")
        return [Decision(False, (cannot_decide(q.person_id),)) for q in questions]
    out = []
    for q in questions:
        try:
            reasons = _assess(q, facts, cat, settings[q.site_id])
        except Exception:
            logger.exception("qualification check of person %s failed", q.person_id)
            reasons = [cannot_decide(q.person_id)]
        out.append(Decision.of(reasons))
    return out


# --- the public questions -------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberDecision:
    person_id: int
    role: str
    decision: Decision


@dataclass(frozen=True)
class CrewDecision:
    on: dt.date
    decision: Decision
    members: tuple[MemberDecision, ...]
    work_type: str = ""  # the codes asked about, however they were named
    level: str | None = None


def local_day(at: dt.datetime | None, *, field_name: str = "at") -> dt.date:
    """The local date of an aware instant (None: now); a naive one is an input error."""
    if at is None:
        at = timezone.now()
    if not isinstance(at, dt.datetime) or timezone.is_naive(at):
        raise InvalidInput(
            FieldError(field_name, "invalid_datetime", _("The time must include a time zone."))
        )
    return timezone.localdate(at)


def _pk(value) -> int | None:
    return value.pk if isinstance(value, models.Model) else value


def assess_crew(
    members: Sequence[tuple],
    work_type,
    level,
    site,
    at: dt.datetime | None,
    attrs: Mapping | None = None,
    *,
    field_prefix: str = "crew",
) -> CrewDecision:
    """Check every member; members are (person, role) or (person, role, attrs), where attrs add
    to (and override) the crew's attrs. Person and site: instances or ids; work type, level and
    role: instances, codes or names."""
    on = local_day(at)
    site_id = _pk(site)
    try:
        cat = catalogue()
    except Exception:
        logger.exception("qualification check: catalogue could not be read")
        reasons = [cannot_decide(_pk(m[0])) for m in members]
        return CrewDecision(
            on,
            Decision(False, tuple(reasons)),
            tuple(
                MemberDecision(_pk(m[0]), str(m[1]), Decision(False, (r,)))
                for m, r in zip(members, reasons, strict=True)
            ),
        )
    wt = cat.work_type(work_type)
    lv = cat.level(wt, level)
    processes = cat.items.process_choices()
    crew_attrs = parse_attrs(attrs, processes=processes)
    questions, errors = [], []
    for i, member in enumerate(members):
        person, role, *rest = member
        where = f"{field_prefix}.{i}." if field_prefix else ""
        try:
            crew_role = cat.role(role, field_name=f"{where}role")
            own = parse_attrs(
                rest[0] if rest else None, field_prefix=f"{where}attrs", processes=processes
            )
        except InvalidInput as exc:
            errors += exc.errors
            continue
        work = Work(wt, lv, crew_role, on, {**crew_attrs, **own})
        questions.append(Question(_pk(person), work, site_id))
    if errors:
        raise InvalidInput(errors)
    decisions = answer(questions, cat=cat)
    per_member = tuple(
        MemberDecision(q.person_id, q.work.role.code, d)
        for q, d in zip(questions, decisions, strict=True)
    )
    combined = Decision.of(r for d in decisions for r in d.reasons)
    return CrewDecision(on, combined, per_member, wt.code, lv.code if lv else None)


def check_crew(
    members: Sequence[tuple],
    work_type,
    level,
    site,
    at: dt.datetime | None,
    attrs: Mapping | None = None,
) -> Decision:
    """May this crew do this work at `site` at `at`? Every member is checked, not only the
    applicant; the decision carries every member's reasons."""
    return assess_crew(members, work_type, level, site, at, attrs).decision


def check(
    person,
    work_type,
    level,
    role,
    site,
    at: dt.datetime | None,
    attrs: Mapping | None = None,
) -> Decision:
    """May this person act as `role` in this work at `site` at `at`?"""
    return assess_crew(
        [(person, role)], work_type, level, site, at, attrs, field_prefix=""
    ).decision
