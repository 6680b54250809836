"""The qualification engine: may this person, or this crew, do this work here at this instant?

    check(person, work_type, level, role, site, at, attrs=None) -> Decision
    check_crew(members: [CrewMember], work_type, level, site, at, attrs=None) -> Decision
    assess_crew(...) -> CrewDecision        the same, with one decision per member (the API)
    answer(questions) -> list[Decision]     many questions, one fetch (the roster forward check)

`at` is required: the engine never reads the clock. A door that means "now" passes
`timezone.now()` itself. A rule "on a date" uses the local date of `at` (`on =
timezone.localdate(at)`): 23:30 UTC is the next day in Shanghai. Every reason is reported, for
every member, each with its clause and subject (the person, or the certificate number), never
just the first.

What is checked for each member (certificates.md "Requirements", decisions.md "The qualification
engine"), each under the house rule (`work.HouseRule`) in force on `on`, whose clause a refusal
names: the person is active and has an employment in force on `on` (history, not today's
employer: a roster for next month sees the employment of next month); contractor staff's
contractor (of that employment) is active and engaged at the site on `on`; no blacklist entry
for their ID number is in force; their position may take the crew role in this work type up to
this level (`PositionPermission`; the person's recorded position, which keeps no history); and
every `Requirement` row that applies (work type, minimum level, crew role, effective dates,
condition over the check's attributes) is met: a usable certificate of one of its items
(`rules.certificate_status`), or a valid medical check without a restriction for this work. A
house rule with no row in force on `on` is not applied; one the engine knows with no row at all
means an incomplete catalogue, and the answer is "cannot decide".

Input errors (an unknown work type, a level the work type does not have, an unknown crew role,
a bad attribute) raise `InvalidInput` (422 in the API): they are not refusals.

Fail-closed: an exception while reading facts or settings (database, settings registry) answers
`allowed=False` with `check.cannot_decide`, never "allowed"; so does a condition that needs an
attribute the check lacks (`check.attribute_missing`, naming it).

Cost: the facts of all persons asked about are read in one round trip whatever the crew size or
the number of requirement rows (`qualification.facts`). The catalogue (requirement rows, items,
rule book, position matrix, work types, house rules) and the settings are cached per process: a
save or delete of any of those rows in this process clears the cache at once (signals), and a
change made by another process is seen after at most `CACHE_SECONDS`. Facts about persons
(certificates, health checks, blacklist, employment) are never cached.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection, models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.certs.models import (
    CatalogueRule,
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
    ContractorStatus,
    EmployerKind,
    EmploymentStatus,
    EngagementStatus,
    Person,
)
from safework.qualification.facts import Facts, PersonFacts, fetch_facts
from safework.qualification.models import Requirement
from safework.qualification.requirements import (
    ABSENCE_RULE,
    CONTRACTOR_MEDICAL_RULE,
    INTERNAL,
    ConditionError,
    ItemIndex,
    ItemRef,
    MissingAttribute,
    RuleSettings,
    Subject,
    Work,
    condition_holds,
    in_scope,
    parse_attrs,
    requirement_reasons,
    shipped_equivalents,
)
from safework.work.models import CrewRole, HouseRule, PositionPermission, WorkLevel, WorkType

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30.0
MEDICAL_ITEM = "MEDICAL"

# House rules the engine applies itself (`work.HouseRule` codes; the clauses are the rows').
EMPLOYED_RULE = "person.employed"
CONTRACTOR_RULE = "contractor.engaged"
BLACKLIST_RULE = "person.blacklist"
POSITION_RULE = "position.permission"
HOUSE_RULES = (
    EMPLOYED_RULE,
    CONTRACTOR_RULE,
    BLACKLIST_RULE,
    POSITION_RULE,
    ABSENCE_RULE,
    CONTRACTOR_MEDICAL_RULE,
)
# The one clause that stays in code: it is given exactly when the catalogue (where clauses live)
# or another fact could not be read.
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
    house_rules: dict[str, tuple[HouseRule, ...]] = field(default_factory=dict)  # by code
    _rows_for: dict = field(default_factory=dict, repr=False, compare=False)
    _house_on: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def work_types_by_code(self) -> dict[str, WorkType]:
        return {wt.code: wt for wt in self.work_types.values()}

    def requirements_for(self, work: Work) -> tuple[Requirement, ...]:
        """The rows whose filters (`requirements.in_scope`: active, dates, work type, crew role,
        level) let this work through, memoised per work and day; each row's condition over the
        member's attributes is still to be evaluated."""
        key = (work.work_type.pk, work.level.pk if work.level else None, work.role.pk, work.on)
        rows = self._rows_for.get(key)
        if rows is None:
            if len(self._rows_for) > 4096:  # roster dates come from users: stay bounded
                self._rows_for.clear()
            rows = self._rows_for[key] = tuple(r for r in self.requirements if in_scope(r, work))
        return rows

    def house_rules_on(self, on: dt.date) -> dict[str, str]:
        """The clause of each house rule in force on `on`, by code (memoised per day); a rule
        with no row in force then is absent. Raises MissingHouseRule when a rule the engine
        applies has no row at any date: the catalogue is incomplete."""
        clauses = self._house_on.get(on)
        if clauses is None:
            missing = [code for code in HOUSE_RULES if code not in self.house_rules]
            if missing:
                raise MissingHouseRule(missing)
            if len(self._house_on) > 4096:  # roster dates come from users: stay bounded
                self._house_on.clear()
            clauses = self._house_on[on] = {
                code: row.clause
                for code, rows in self.house_rules.items()
                if (row := _in_force_row(rows, on)) is not None
            }
        return clauses

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

    @cached_property
    def _role_index(self) -> dict[int | str, CrewRole]:
        """Each role by id, code and normalised name (the first role wins a clash, as a scan
        in order would): every member of every check names one."""
        index: dict[int | str, CrewRole] = {}
        for r in self.roles.values():
            for key in (r.pk, r.code, _text(r.name)):
                index.setdefault(key, r)
        return index

    def role(self, value, *, field_name: str = "role") -> CrewRole:
        """A crew role by instance, code or name (作业人 → worker)."""
        if isinstance(value, CrewRole):
            value = value.pk
        value = _text(value)
        found = self._role_index.get(value) if isinstance(value, int | str) else None
        if found is not None:
            return found
        known = ", ".join(r.code for r in self.roles.values())
        raise InvalidInput(
            FieldError(
                field_name,
                "unknown_role",
                _("Unknown crew role %(value)s; known: %(known)s.")
                % {"value": value, "known": known},
            )
        )


class MissingHouseRule(Exception):
    """A house rule the engine applies has no catalogue row at all (not loaded, or deleted)."""

    def __init__(self, codes: Sequence[str]):
        self.codes = tuple(codes)
        super().__init__(", ".join(codes))


def _in_force_row(rows: Iterable[HouseRule], on: dt.date) -> HouseRule | None:
    """The row in force on `on` (from inclusive, to exclusive), the latest started if several."""
    covering = [
        r
        for r in rows
        if r.effective_from <= on and (r.effective_to is None or on < r.effective_to)
    ]
    return max(covering, key=lambda r: r.effective_from, default=None)


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
    house_rules: dict[str, list[HouseRule]] = {}
    for rule in HouseRule.objects.order_by("code", "effective_from"):
        house_rules.setdefault(rule.code, []).append(rule)
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
        house_rules={code: tuple(rows) for code, rows in house_rules.items()},
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
    HouseRule,
)
for _model in (*_CATALOGUE_MODELS, Setting):
    for _signal in (post_save, post_delete):
        _signal.connect(
            clear_caches, sender=_model, dispatch_uid=f"qualification-{_model.__name__}"
        )


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


def _employment_reasons(pf: PersonFacts, on: dt.date, who: Subject, clause: str) -> list[Reason]:
    """Active, and an employment in force on `on` that is not suspended (an ended one counts
    through its last day)."""
    person = pf.person
    reasons = []
    if not person.is_active:
        reasons.append(
            Reason(
                "person.inactive",
                _("The person's record is inactive."),
                clause,
                who.label,
                data=who.data(),
            )
        )
    emp = pf.employment_on(on)
    if emp is not None and emp.status != EmploymentStatus.SUSPENDED:
        return reasons
    shown = emp or pf.nearest_employment(on)  # the one that does not cover `on`, for the message
    if shown is None:
        reasons.append(
            Reason(
                "person.not_employed",
                _("The person has no employment on record."),
                clause,
                who.label,
                data=who.data(),
            )
        )
        return reasons
    reasons.append(
        Reason(
            "person.not_employed",
            _("The person's employment (%(status)s, %(start)s – %(end)s) does not cover %(on)s.")
            % {
                "status": shown.get_status_display(),
                "start": shown.started_on,
                "end": shown.ended_on or "…",
                "on": on,
            },
            clause,
            who.label,
            data=who.data(employment_id=shown.pk),
        )
    )
    return reasons


def _contractor_reasons(
    pf: PersonFacts, q: Question, facts: Facts, who: Subject, clause: str
) -> list[Reason]:
    """For staff of a contractor on `on`: the contractor is active and engaged at the site then."""
    on = q.work.on
    emp = pf.employment_on(on)
    if emp is None or emp.employer_kind != EmployerKind.CONTRACTOR:
        return []
    contractor = facts.contractors[emp.contractor_id]
    reasons = []
    if contractor.status != ContractorStatus.ACTIVE:
        reasons.append(
            Reason(
                "contractor.inactive",
                _("The contractor %(name)s is %(status)s.")
                % {"name": contractor.name, "status": contractor.get_status_display()},
                clause,
                who.label,
                data=who.data(contractor_id=contractor.pk),
            )
        )
    if q.site_id is None:
        reasons.append(
            Reason(
                "contractor.site_unknown",
                _("Contractor staff: name the site to check the contractor's engagement."),
                clause,
                who.label,
                data=who.data(contractor_id=contractor.pk),
            )
        )
    elif not any(
        e.site_id == q.site_id
        and e.status == EngagementStatus.ACTIVE
        and _in_force(e.starts_on, e.ends_on, on)
        for e in facts.engagements_of(contractor.pk)
    ):
        reasons.append(
            Reason(
                "contractor.not_engaged",
                _("The contractor %(name)s has no active engagement at this site on %(on)s.")
                % {"name": contractor.name, "on": on},
                clause,
                who.label,
                data=who.data(contractor_id=contractor.pk, site_id=q.site_id),
            )
        )
    return reasons


def _blacklist_reasons(pf: PersonFacts, on: dt.date, who: Subject, clause: str) -> list[Reason]:
    return [
        Reason(
            "person.blacklisted",
            _("On the blacklist from %(start)s until %(end)s: %(why)s")
            % {"start": entry.starts_on, "end": entry.ends_on or "…", "why": entry.reason},
            clause,
            who.label,
            data=who.data(blacklist_entry_id=entry.pk),
        )
        for entry in pf.blacklist
        if _in_force(entry.starts_on, entry.ends_on, on)
    ]


def _position_reasons(
    person: Person, work: Work, cat: Catalogue, who: Subject, clause: str
) -> list[Reason]:
    """The position permission matrix: the person's position may take this crew role in this
    work type (a row without work type: every type), up to the row's maximum level."""
    if person.position_id is None:
        return [
            Reason(
                "position.not_permitted",
                _("The person has no position, so may not act as %(role)s.")
                % {"role": work.role.name},
                clause,
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
                clause,
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
            _clauses(clause, next((r.clause for r in rows if r.clause), "")),
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
    try:
        house = cat.house_rules_on(work.on)
    except MissingHouseRule as exc:
        detail = _("house rules missing from the catalogue: %(codes)s") % {
            "codes": ", ".join(exc.codes)
        }
        return [cannot_decide(q.person_id, who.label, detail)]
    emp = pf.employment_on(work.on)
    is_contractor_staff = emp is not None and emp.employer_kind == EmployerKind.CONTRACTOR
    reasons = []
    if (clause := house.get(EMPLOYED_RULE)) is not None:
        reasons += _employment_reasons(pf, work.on, who, clause)
    if (clause := house.get(CONTRACTOR_RULE)) is not None:
        reasons += _contractor_reasons(pf, q, facts, who, clause)
    if (clause := house.get(BLACKLIST_RULE)) is not None:
        reasons += _blacklist_reasons(pf, work.on, who, clause)
    if (clause := house.get(POSITION_RULE)) is not None:
        reasons += _position_reasons(pf.person, work, cat, who, clause)
    for req in cat.requirements_for(work):
        try:
            if not condition_holds(req.condition, work.symbols):
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
                house_rules=house,
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


def _read(person_ids: Iterable[int], until: dt.date, site_ids: Iterable) -> tuple[Facts, dict]:
    """The persons' facts up to `until` and the rule settings of each site."""
    with _reading():
        facts = fetch_facts(person_ids, until=until)
        return facts, {s: rule_settings(s) for s in set(site_ids)}


def answer(
    questions: Sequence[Question],
    *,
    cat: Catalogue | None = None,
    read: tuple[Facts, dict] | None = None,
) -> list[Decision]:
    """One decision per question; the facts of all their persons are read once (`read`: what
    `_read` answered already for these persons, up to the latest day asked, and their sites)."""
    if not questions:
        return []
    try:
        if read is None:
            with _reading():
                cat = cat or catalogue()
                facts = fetch_facts(
                    (q.person_id for q in questions), until=max(q.work.on for q in questions)
                )
                settings = {s: rule_settings(s) for s in {q.site_id for q in questions}}
        else:
            cat = cat or catalogue()
            facts, settings = read
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


@dataclass(frozen=True, slots=True)
class CrewMember:
    """One member of a crew as a caller names them: the person, the crew role they take, and
    what is theirs alone: attributes that add to (and override) the crew's (the height this
    member works at), and a level when theirs differs from the crew's (None: the crew's).

    Role and level: rows, codes or names (作业人 → worker, 一级 → level1)."""

    person_id: int
    role: CrewRole | str
    attrs: Mapping | None = None
    level: WorkLevel | str | None = None


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
    at: dt.datetime | None = None  # the instant asked about


def local_day(at: dt.datetime, *, field_name: str = "at") -> dt.date:
    """The local date of an aware instant; a naive one is an input error. There is no default:
    the engine does not read the clock (a door that means "now" passes `timezone.now()`)."""
    if at is None:
        raise TypeError("`at` is required: pass the instant asked about, e.g. timezone.now()")
    if not isinstance(at, dt.datetime) or timezone.is_naive(at):
        raise InvalidInput(
            FieldError(field_name, "invalid_datetime", _("The time must include a time zone."))
        )
    return timezone.localdate(at)


def _pk(value) -> int | None:
    return value.pk if isinstance(value, models.Model) else value


def assess_crew(
    members: Sequence[CrewMember],
    work_type,
    level,
    site,
    at: dt.datetime,
    attrs: Mapping | None = None,
    *,
    field_prefix: str = "crew",
) -> CrewDecision:
    """Check every member at the instant `at`. Site: an instance or an id; work type and level:
    instances, codes or names."""
    return assess_crew_over(
        members, work_type, level, site, [at], attrs, field_prefix=field_prefix
    )[0]


def assess_crew_over(
    members: Sequence[CrewMember],
    work_type,
    level,
    site,
    instants: Sequence[dt.datetime],
    attrs: Mapping | None = None,
    *,
    field_prefix: str = "crew",
    more_instants: Callable[[Facts], Iterable[dt.datetime]] | None = None,
) -> list[CrewDecision]:
    """`assess_crew` at each of `instants` (a permit's window: its start, its end, each
    certificate's end inside it), the facts of the crew read once for all of them.

    `more_instants(facts)`: further instants that the crew's facts name (a certificate ending
    inside the window), none later than the last of `instants`; the decisions are then for the
    sorted union of both, each with its instant (`at`). The facts are read first for them, so
    the caller needs no query of its own."""
    instants = list(instants)
    days = [local_day(at) for at in instants]
    for m in members:
        if not isinstance(m, CrewMember):
            raise TypeError(f"crew members are CrewMember values, not {type(m).__name__}")
    site_id = _pk(site)
    try:
        cat = catalogue()
    except Exception:
        logger.exception("qualification check: catalogue could not be read")
        reasons = [cannot_decide(m.person_id) for m in members]
        return [
            CrewDecision(
                on,
                Decision(False, tuple(reasons)),
                tuple(
                    MemberDecision(m.person_id, str(m.role), Decision(False, (r,)))
                    for m, r in zip(members, reasons, strict=True)
                ),
            )
            for on in days
        ]
    wt = cat.work_type(work_type)
    lv = cat.level(wt, level)
    processes = cat.items.process_choices()
    crew_attrs = parse_attrs(attrs, processes=processes)
    asked, errors = [], []
    for i, member in enumerate(members):
        where = f"{field_prefix}.{i}." if field_prefix else ""
        try:
            crew_role = cat.role(member.role, field_name=f"{where}role")
            own = parse_attrs(member.attrs, field_prefix=f"{where}attrs", processes=processes)
            own_level = (
                lv
                if member.level is None
                else cat.level(wt, member.level, field_name=f"{where}level")
            )
        except InvalidInput as exc:
            errors += exc.errors
            continue
        asked.append((member.person_id, own_level, crew_role, {**crew_attrs, **own}))
    if errors:
        raise InvalidInput(errors)
    read = None
    if more_instants is not None and asked:
        until = max(days)
        try:
            read = _read((person_id for person_id, *_rest in asked), until, [site_id])
        except Exception:
            # `answer` reads them again and answers "cannot decide" if that fails too.
            logger.exception("qualification check: facts could not be read")
        else:
            instants = sorted(set(instants) | set(more_instants(read[0])))
            days = [local_day(at) for at in instants]
            if max(days) > until:  # health checks were read up to `until` only
                read = None
    questions = [
        Question(person_id, Work(wt, own_level, crew_role, on, member_attrs), site_id)
        for on in days
        for person_id, own_level, crew_role, member_attrs in asked
    ]
    decisions = answer(questions, cat=cat, read=read)
    out = []
    for i, on in enumerate(days):
        these = range(i * len(asked), (i + 1) * len(asked))
        per_member = tuple(
            MemberDecision(questions[j].person_id, questions[j].work.role.code, decisions[j])
            for j in these
        )
        combined = Decision.of(r for j in these for r in decisions[j].reasons)
        out.append(
            CrewDecision(on, combined, per_member, wt.code, lv.code if lv else None, instants[i])
        )
    return out


def check_crew(
    members: Sequence[CrewMember],
    work_type,
    level,
    site,
    at: dt.datetime,
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
    at: dt.datetime,
    attrs: Mapping | None = None,
) -> Decision:
    """May this person (an instance or an id) act as `role` in this work at `site` at `at`?"""
    return assess_crew(
        [CrewMember(_pk(person), role)], work_type, level, site, at, attrs, field_prefix=""
    ).decision
