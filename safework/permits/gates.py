"""The hard gates of a permit (GB 30871-2022, AQ 3064.2-2025 §5.4): each returns every reason that
refuses, each naming its clause, never only the first. The services call them before a move and
refuse with all of them (`Refused`); the blocking reasons that AQ 3064.2 codes also raise their
alarms (`permits.alarms`, data: `AlarmType.reason_codes`).

The numbers (validity, gas windows and limits, weather, level bounds) are the `work` app's rule
rows; nothing here holds a number of the standard.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from safework.certs.models import Certificate
from safework.core.refusals import Reason
from safework.core.settings_registry import get_setting
from safework.org import geo
from safework.permits.models import (
    ApprovalStep,
    Blind,
    Briefing,
    CrewAssignment,
    GasTest,
    MeasureItem,
    Permit,
    Presence,
    RiskItem,
)
from safework.permits.workflow import FINAL, PermitStatus
from safework.qualification.engine import CrewMember, assess_crew_over
from safework.qualification.requirements import ATTRIBUTES
from safework.work import calendar as work_calendar
from safework.work import levels, upgrade
from safework.work import rules as work_rules
from safework.work.models import CrewRole, WorkLevel

GUARDIAN = "guardian"
AQ_APPOINTMENT = "AQ 3064.2-2025 5.3.1"


# ---- level ----------------------------------------------------------------------------------


@dataclass
class LevelDecision:
    """The level a permit needs, and why: derived from the inputs, then upgraded for the periods
    its window touches (GB 30871-2022 §5.1.1). `refusals` block submission."""

    needs_permit: bool
    derived: WorkLevel | None
    required: WorkLevel | None
    level: WorkLevel | None  # the applicant's, else the required one
    upgraded: bool = False
    kinds: tuple[str, ...] = ()
    basis: str = ""
    extra_roles: tuple[str, ...] = ()
    confined_space_gas: bool = False
    reasons: list[Reason] = field(default_factory=list)  # why (not blocking)
    refusals: list[Reason] = field(default_factory=list)


def decide_level(work_type, inputs, area, site, start, end, requested=None) -> LevelDecision:
    """Derive, upgrade and check the level. An unknown level ("三级" for hot work) raises
    InvalidInput; a level below what the inputs require raises Refused (`levels.check_level`);
    a level below the upgrade is a refusal in `refusals` (an AQ 3064.2 alarm at submission)."""
    derivation = levels.derive(work_type, inputs or {}, area)
    decision = LevelDecision(
        needs_permit=derivation.needs_permit,
        derived=derivation.level,
        required=derivation.level,
        level=derivation.level,
        confined_space_gas=derivation.confined_space_gas,
        reasons=list(derivation.reasons),
    )
    if not derivation.needs_permit:
        return decision
    span = work_calendar.assess_span(site, start, end)
    decision.basis = span.basis
    decision.kinds = tuple(sorted(span.kinds))
    up = upgrade.upgrade(work_type, derivation.level, span.kinds) if span.kinds else None
    if up is not None:
        decision.required = up.level
        decision.extra_roles = tuple(up.extra_roles)
        decision.reasons += list(up.reasons)
        decision.upgraded = up.level != derivation.level or bool(up.extra_roles)
    decision.level = decision.required
    if requested not in (None, ""):
        chosen = levels.check_level(work_type, requested, derivation)
        decision.level = chosen
        if up is not None and decision.required is not None and chosen.rank < up.level.rank:
            policy = upgrade.policy_for(work_type)
            codes = (policy.alarm_codes or {}) if policy else {}
            for kind in [k for k in upgrade.KIND_ORDER if k in span.kinds]:
                code = codes.get(kind)
                decision.refusals.append(
                    Reason(
                        f"level.not_upgraded.{kind}",
                        _(
                            "The work falls in a %(period)s: it must be managed at %(level)s or "
                            "higher, not %(chosen)s."
                        )
                        % {
                            "period": _period_name(kind),
                            "level": up.level.name,
                            "chosen": chosen.name,
                        },
                        clause=_clauses(up.reasons) or "GB 30871-2022 5.1.1",
                        data={"alarm": code},
                    )
                )
    return decision


def _period_name(kind: str) -> str:
    return {
        "holiday": _("holiday"),
        "rest_day": _("rest day"),
        "night": _("night"),
        "special_period": _("special period"),
    }.get(kind, kind)


def _clauses(reasons) -> str:
    return "; ".join(dict.fromkeys(r.clause for r in reasons if r.clause))


# ---- submission -----------------------------------------------------------------------------


def _crew(permit: Permit) -> list[CrewAssignment]:
    """The current crew with each member's person and role (one query, or none when prefetched)."""
    prefetched = getattr(permit, "_prefetched_objects_cache", {}).get("crew")
    rows = prefetched if prefetched is not None else permit.crew.select_related("person", "role")
    return [c for c in rows if c.removed_at is None]


def _engine_attrs(permit: Permit) -> dict:
    """The permit's inputs and fields that the qualification engine reads (height, method…)."""
    source = {**(permit.fields or {}), **(permit.inputs or {})}
    if "method" in source and "hot_work_method" not in source:
        source["hot_work_method"] = source["method"]
    return {k: source[k] for k in ATTRIBUTES if source.get(k) not in (None, "")}


def qualification_instants(permit: Permit, person_ids) -> list[dt.datetime]:
    """The instants the crew is checked at: the planned start, the last minute of the planned
    end, and the first instant after each certificate of theirs that ends inside the window."""
    end = permit.planned_end - dt.timedelta(minutes=1)
    instants = {permit.planned_start, max(end, permit.planned_start)}
    first_day = timezone.localdate(permit.planned_start)
    last_day = timezone.localdate(end)
    ends = Certificate.objects.filter(
        person_id__in=person_ids, valid_until__gte=first_day, valid_until__lt=last_day
    ).values_list("valid_until", flat=True)
    return sorted(instants | _after_ends(permit, ends))


def _after_ends(permit: Permit, ends) -> set[dt.datetime]:
    """The first instant after each certificate end day (`ends`) that lies inside the window
    (after the planned start, not after the last minute of the planned end)."""
    end = permit.planned_end - dt.timedelta(minutes=1)
    first_day = timezone.localdate(permit.planned_start)
    last_day = timezone.localdate(end)
    tz = timezone.get_current_timezone()
    out = set()
    for day in set(ends):
        if day is None or not first_day <= day < last_day:
            continue
        after = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        if permit.planned_start < after <= end:
            out.add(after)
    return out


def _certificate_instants(permit: Permit):
    """`more_instants` for the engine: the certificate ends inside the window, from the crew's
    facts the engine reads anyway (no query of its own, unlike `qualification_instants`)."""

    def instants(facts) -> set[dt.datetime]:
        return _after_ends(
            permit,
            (c.valid_until for pf in facts.persons.values() for c in pf.certificates),
        )

    return instants


def qualification_reasons(permit: Permit, crew=None) -> list[Reason]:
    """The engine's answer for the whole crew over the whole window (every instant above)."""
    crew = _crew(permit) if crew is None else crew
    if not crew:
        return []
    members = [CrewMember(c.person_id, c.role.code, c.attrs or None) for c in crew]
    names = {c.person_id: c.person.name for c in crew}
    out, seen = [], set()
    attrs = _engine_attrs(permit)
    end = permit.planned_end - dt.timedelta(minutes=1)
    window = sorted({permit.planned_start, max(end, permit.planned_start)})
    level = permit.level.code if permit.level_id else None
    decisions = assess_crew_over(
        members,
        permit.work_type,
        level,
        permit.site_id,
        window,
        attrs,
        more_instants=_certificate_instants(permit),
    )
    for decision in decisions:
        at = decision.at
        for member in decision.members:
            for r in member.decision.blocking:
                key = (member.person_id, r.code, r.subject)
                if key in seen:
                    continue
                seen.add(key)
                when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
                out.append(
                    Reason(
                        r.code,
                        _("%(name)s at %(when)s: %(message)s")
                        % {"name": names[member.person_id], "when": when, "message": r.message},
                        clause=r.clause,
                        subject=r.subject or names[member.person_id],
                        data={
                            **(r.data or {}),
                            "person_id": member.person_id,
                            "at": at.isoformat(),
                        },
                    )
                )
    return out


def submit_reasons(permit: Permit, at: dt.datetime, decision: LevelDecision) -> list[Reason]:
    """Everything that refuses a submission (issue 14 item 6, 'submit')."""
    reasons = list(decision.refusals)
    wt = permit.work_type
    rule = work_rules.permit_rule(wt, permit.level, timezone.localdate(permit.planned_start))
    crew = _crew(permit)
    roles = {c.role.code for c in crew}

    if not decision.needs_permit:
        reasons.append(
            Reason(
                "level.no_permit",
                _("This work needs no permit: %(why)s")
                % {"why": "；".join(str(r.message) for r in decision.reasons)},
                clause=_clauses(decision.reasons),
            )
        )
    # Validity: measured between instants to the minute (decisions).
    refusal = work_rules.validity_refusal(rule, permit.planned_start, permit.planned_end)
    if refusal is not None:
        reasons.append(refusal)
    if permit.planned_end <= at:
        reasons.append(
            Reason("permit.expired", _("The planned end has passed."), clause="GB 30871-2022 4.16")
        )
    # Appointment at least a day ahead, or the emergency path with its reason (AQ 3064.2 §5.3.1).
    if timezone.localdate(permit.planned_start) <= timezone.localdate(permit.created_at):
        if not permit.is_emergency:
            reasons.append(
                Reason(
                    "appointment.too_late",
                    _(
                        "Work must be appointed at least one day ahead; same-day work takes the "
                        "emergency path with its reason."
                    ),
                    clause=AQ_APPOINTMENT,
                )
            )
        elif not permit.emergency_reason.strip():
            reasons.append(
                Reason(
                    "appointment.emergency_reason",
                    _("The emergency path needs its reason."),
                    clause=AQ_APPOINTMENT,
                )
            )
    # Required people and fields.
    if permit.work_leader_id is None:
        reasons.append(
            Reason("crew.no_leader", _("No work leader is named."), clause="GB 30871-2022 附录A")
        )
    if GUARDIAN not in roles:
        reasons.append(
            Reason("crew.no_guardian", _("No guardian is named."), clause="GB 30871-2022 4.10")
        )
    missing = [r for r in rule.required_roles or [] if r not in roles and r != GUARDIAN]
    # The roles' names are read only to name a missing one.
    role_names = dict(CrewRole.objects.values_list("code", "name")) if missing else {}
    for role in missing:
        reasons.append(
            Reason(
                "crew.role_missing",
                _("The crew has no %(role)s.") % {"role": role_names.get(role, role)},
                clause=getattr(rule, "roles_clause", "") or rule.max_clause or wt.clause,
                subject=role,
            )
        )
    if not permit.place.strip() or not permit.content.strip():
        reasons.append(
            Reason(
                "permit.incomplete",
                _("The place and the work content are required."),
                clause="GB 30871-2022 4.18",
            )
        )
    # JSA and measures present (both asked in one statement).
    has_risks, has_measures = (
        Permit.objects.filter(pk=permit.pk)
        .annotate(
            has_risks=Exists(RiskItem.objects.filter(permit=OuterRef("pk"))),
            has_measures=Exists(MeasureItem.objects.filter(permit=OuterRef("pk"), involved=True)),
        )
        .values_list("has_risks", "has_measures")
        .get()
    )
    if not has_risks:
        reasons.append(
            Reason(
                "jsa.missing",
                _("No job hazard analysis (JSA) is recorded."),
                clause="GB 30871-2022 4.1; AQ 3064.2-2025 5.4.5",
            )
        )
    if not has_measures:
        reasons.append(
            Reason(
                "measures.missing",
                _("No safety measure is listed."),
                clause="GB 30871-2022 4.11 c)",
            )
        )
    reasons += _blind_reasons(permit)
    reasons += _plan_reasons(permit, rule)
    reasons += _link_reasons(permit, for_start=False)
    reasons += qualification_reasons(permit, crew)
    return reasons


def _blind_reasons(permit: Permit) -> list[Reason]:
    if permit.work_type.code != "blinding":
        return []
    out = []
    blinds = list(permit.blinds.all())
    if not blinds:
        out.append(
            Reason(
                "blind.missing",
                _("A blinding permit lists its blind."),
                clause="GB 30871-2022 7.11",
            )
        )
    actions: dict[tuple[str, str], set[str]] = {}
    for b in blinds:
        actions.setdefault((b.line, b.number), set()).add(b.action)
    for (line, number), acts in actions.items():
        if len(acts) > 1:
            out.append(
                Reason(
                    "blind.both_ways",
                    _(
                        "Blind %(number)s on %(line)s is inserted and removed on one permit: "
                        "inserting and removing are two permits."
                    )
                    % {"number": number, "line": line},
                    clause="GB 30871-2022 7.11; AQ 3064.2-2025 5.4.4",
                    subject=number,
                )
            )
    lines = {b.line for b in blinds}
    if lines:
        live = [s for s in PermitStatus.values if s not in FINAL and s != PermitStatus.DRAFT]
        clash = (
            Blind.objects.filter(line__in=lines, permit__status__in=live)
            .exclude(permit=permit)
            .filter(
                permit__planned_start__lt=permit.planned_end,
                permit__planned_end__gt=permit.planned_start,
            )
            .select_related("permit")
        )
        for other in clash:
            out.append(
                Reason(
                    "blind.same_line",
                    _(
                        "Pipeline %(line)s already has blinding work %(number)s at the same time: "
                        "never two blinding jobs on one pipeline at once."
                    )
                    % {"line": other.line, "number": other.permit.number or other.permit_id},
                    clause="GB 30871-2022 7.10",
                    subject=other.line,
                )
            )
    return out


def _plan_reasons(permit: Permit, rule) -> list[Reason]:
    if not rule.plan_required:
        return []
    fields = permit.fields or {}
    if str(fields.get("plan_ref") or "").strip():  # the approved plan's reference (Annex A)
        return []
    return [
        Reason(
            "plan.missing",
            _("This work needs its approved written plan: give the plan's reference."),
            clause=rule.plan_clause or "GB 30871-2022 9.2.1",
        )
    ]


def _link_reasons(permit: Permit, *, for_start: bool, at=None) -> list[Reason]:
    """Hot work inside a confined space is two permits, linked (GB 30871-2022 §4.6)."""
    need = (permit.inputs or {}).get("inside_confined_space") and permit.work_type.code != (
        "confined_space"
    )
    if not need:
        return []
    linked = [p for p in permit.linked.all() if p.work_type.code == "confined_space"]
    if not linked:
        return [
            Reason(
                "link.missing",
                _("Work inside a confined space needs its linked confined-space permit."),
                clause="GB 30871-2022 4.6",
            )
        ]
    if for_start and not any(
        p.status in (PermitStatus.APPROVED, PermitStatus.ACTIVE)
        and p.status_at(at) != PermitStatus.EXPIRED
        for p in linked
    ):
        return [
            Reason(
                "link.not_valid",
                _("The linked confined-space permit is not approved or active."),
                clause="GB 30871-2022 4.6",
                subject=", ".join(p.number or str(p.pk) for p in linked),
            )
        ]
    return []


# ---- start ----------------------------------------------------------------------------------


def _gas_tests(permit: Permit) -> list[GasTest]:
    """The permit's analyses, newest first: the prefetched ones, else one query (ordered on the
    test's own columns: the model's `permit` ordering would join the permit table)."""
    cached = getattr(permit, "_prefetched_objects_cache", {}).get("gas_tests")
    if cached is not None:
        return list(cached)
    return list(GasTest.objects.filter(permit_id=permit.pk).order_by("-taken_at", "-id"))


def gas_needed(permit: Permit) -> bool:
    rule = work_rules.permit_rule(
        permit.work_type, permit.level, timezone.localdate(permit.planned_start)
    )
    if (permit.inputs or {}).get("confined_space_gas"):
        return True
    if not rule.gas_test_required:
        return False
    if rule.gas_test_in_hazard_area_only:
        return bool(permit.area_id and permit.area.fire_explosion_hazard)
    return True


def gas_reasons(
    permit: Permit,
    at: dt.datetime,
    *,
    since: dt.datetime | None = None,
    code_missing: str = "gas.missing",
) -> list[Reason]:
    """A passing analysis taken at most the rule's window before `at` at every required point,
    and none failing after it (GB 30871-2022 5.3.1 c, 6.3; AQ 3064.2-2025 5.4.3)."""
    if not gas_needed(permit):
        return []
    rule = work_rules.permit_rule(
        permit.work_type, permit.level, timezone.localdate(permit.planned_start)
    )
    window = dt.timedelta(minutes=rule.gas_window_minutes or 30)
    clause = rule.gas_clause or "GB 30871-2022 5.3.1 c)"
    earliest = at - window
    if since is not None:
        earliest = max(earliest, since)
    every = _gas_tests(permit)
    tests = [t for t in every if earliest <= t.taken_at <= at]
    if not tests:
        # Stale only by a test of this stretch of work: one from before a pause does not count,
        # so a resume without a new analysis is `code_missing` (AQ 3064.2 alarm 03, not 01).
        older = [
            t for t in every if t.taken_at < earliest and (since is None or t.taken_at >= since)
        ]
        if older:
            return [
                Reason(
                    "gas.stale",
                    _("The last gas analysis is more than %(min)s minutes old.")
                    % {"min": int(window.total_seconds() // 60)},
                    clause=clause,
                )
            ]
        return [Reason(code_missing, _("No gas analysis before the start."), clause=clause)]
    out = []
    failing = [t for t in tests if not t.passed]
    for t in failing:
        out.append(
            Reason(
                "gas.failed",
                _("Gas analysis at %(point)s failed: %(gas)s %(value)s %(unit)s (limit %(limit)s).")
                % {
                    "point": t.point,
                    "gas": t.gas,
                    "value": t.value,
                    "unit": t.unit,
                    "limit": t.limit,
                },
                clause=t.clause,
                subject=t.point,
            )
        )
    points = set(rule.gas_points or [])
    missing = points - {t.point for t in tests if t.passed}
    if missing:
        out.append(
            Reason(
                "gas.points_missing",
                _("No passing analysis at: %(points)s.") % {"points": "、".join(sorted(missing))},
                clause=clause,
            )
        )
    return out


def start_reasons(permit: Permit, at: dt.datetime, weather: dict | None) -> list[Reason]:
    """Everything that refuses a start (issue 14 item 6, 'start')."""
    reasons = []
    if at < permit.planned_start:
        reasons.append(
            Reason(
                "permit.not_yet", _("The planned start has not come."), clause="GB 30871-2022 4.16"
            )
        )
    # Measures confirmed item by item by the named person. Each read below asks only for the
    # rows that refuse, on the table's own columns (single-permit queries need no join to the
    # permit for its ordering).
    unconfirmed = (
        MeasureItem.objects.filter(permit_id=permit.pk, involved=True, confirmed_at=None)
        .order_by("order", "id")
        .values_list("text", "clause")
    )
    for text, clause in unconfirmed:
        reasons.append(
            Reason(
                "measures.unconfirmed",
                _("Measure not confirmed: %(text)s") % {"text": text},
                clause=clause or "GB 30871-2022 4.11 c)",
                subject=text[:60],
            )
        )
    # The current crew, each member with whether a briefing of this permit covered them and
    # whether they checked in, in person, since approval: one query.
    since = permit.approved_at or permit.created_at
    crew = (
        CrewAssignment.objects.filter(permit_id=permit.pk, removed_at=None)
        .order_by("id")
        .annotate(
            briefed=Exists(
                Briefing.recipients.through.objects.filter(
                    briefing__permit_id=permit.pk, person_id=OuterRef("person_id")
                )
            ),
            present=Exists(
                Presence.objects.filter(
                    permit_id=permit.pk, person_id=OuterRef("person_id"), kind="in", at__gte=since
                )
            ),
        )
        .values_list("person__name", "briefed", "present")
    )
    crew = list(crew)
    unbriefed = [name for name, briefed, _present in crew if not briefed]
    if unbriefed:
        reasons.append(
            Reason(
                "briefing.missing",
                _("Not briefed: %(names)s.") % {"names": "、".join(unbriefed)},
                clause="GB 30871-2022 4.4",
            )
        )
    # Gas analysis within the window.
    reasons += gas_reasons(permit, at)
    # Crew and guardian checked in, in person, since approval.
    absent = [name for name, _briefed, present in crew if not present]
    if absent:
        reasons.append(
            Reason(
                "presence.missing",
                _("Not checked in on site: %(names)s.") % {"names": "、".join(absent)},
                clause="AQ 3064.2-2025 5.6.5",
            )
        )
    # The shift leader's check before ignition and other before-start steps.
    unsigned = (
        ApprovalStep.objects.filter(permit_id=permit.pk, stage="before_start")
        .exclude(status__in=("approved", "void"))
        .order_by("round", "order", "id")
        .values_list("label", "clause")
    )
    for label, clause in unsigned:
        reasons.append(
            Reason(
                "step.before_start",
                _("Not yet signed: %(step)s.") % {"step": label},
                clause=clause,
            )
        )
    reasons += weather_reasons(permit, weather)
    reasons += _link_reasons(permit, for_start=True, at=at)
    return reasons


def weather_reasons(permit: Permit, weather: dict | None) -> list[Reason]:
    """Weather stops for open-air work (GB 30871-2022 §5.2.15, §8.2.6, §9.2.4)."""
    stops = list(work_rules.weather_stops(permit.work_type))
    stops = [s for s in stops if not s.open_air_only or permit.open_air]
    if not stops:
        return []
    if weather is None:
        return [
            Reason(
                "weather.missing",
                _("Give the wind force and the weather at the start."),
                clause="; ".join(s.clause for s in stops),
            )
        ]
    force = weather.get("wind_force")
    conditions = set(weather.get("conditions") or [])
    out = []
    for s in stops:
        if s.unless_upgraded and permit.upgraded:
            continue
        if force is not None and s.min_wind_force is not None and int(force) >= s.min_wind_force:
            out.append(
                Reason(
                    "weather.wind",
                    _("Wind force %(force)s: this work stops from force %(min)s.")
                    % {"force": force, "min": s.min_wind_force},
                    clause=s.clause,
                )
            )
        hit = conditions & set(s.conditions or [])
        if hit:
            out.append(
                Reason(
                    "weather.condition",
                    _("This work stops in: %(what)s.") % {"what": "、".join(sorted(hit))},
                    clause=s.clause,
                )
            )
    return out


# ---- on-site signing ------------------------------------------------------------------------


def position_reason(
    permit: Permit, position: dict | None, *, required: bool
) -> tuple[bool | None, Reason | None]:
    """(on_site, refusal): where the on-site rule is on, a position outside the area's fence,
    unknown, or less accurate than the setting refuses (decisions; AQ 3064.2-2025 §5.5.2)."""
    clause = "GB 30871-2022 4.11 a); AQ 3064.2-2025 5.5.2"
    area = permit.area
    limit = get_setting("work.position_accuracy_m", site_id=permit.site_id)
    lat = lon = acc = None
    if position:
        try:
            lat = Decimal(str(position.get("lat")))
            lon = Decimal(str(position.get("lon")))
            acc = Decimal(str(position.get("accuracy_m")))
        except (InvalidOperation, TypeError, ValueError):
            lat = lon = acc = None
    known = lat is not None and acc is not None and acc <= Decimal(str(limit))
    on_site = None
    if known and geo.has_fence(area):
        on_site = geo.inside_fence(area, lat, lon)
    if not required:
        return on_site, None
    if not known or on_site is None:
        return None, Reason(
            "sign.position_unknown",
            _(
                "Your position is unknown or not accurate enough (%(limit)s m): sign at the work "
                "site with location on."
            )
            % {"limit": limit},
            clause=clause,
        )
    if not on_site:
        return False, Reason(
            "sign.off_site",
            _("You are not at the work site: approvals are signed on site."),
            clause=clause,
        )
    return True, None


def onsite_required(permit: Permit, step_flag: bool) -> bool:
    return bool(step_flag) and bool(get_setting("work.onsite_signing", site_id=permit.site_id))


def open_steps(permit: Permit):
    return [s for s in permit.steps.all() if s.status in ("pending",)]


def crew_q(person_id: int) -> Q:
    return Q(crew__person_id=person_id, crew__removed_at=None)
