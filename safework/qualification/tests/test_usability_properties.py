"""One usability answer: the engine, the lists and the coverage report agree.

Properties over generated data, on SQLite and PostgreSQL alike (unmarked):

1. For every scheme and item kind, a record written through the services (create, correct,
   review, renew, revoke, cancel; an internal item given a longer end) is usable on a day in
   the engine (`check`, the requirement naming its item) exactly when the SQL twin
   (`certs.queries.with_status`) and the per-object function (`status_of`) say so, on the days
   where the answer can change: the end of validity, the review due day, the start, the day
   of a revocation, the internal cap.
2. For a random person (own or contractor staff, random certificates, medical check and
   settings) and random work, the coverage report's "held" for each requirement row equals the
   engine's answer for that row.

Plus the boundary of the internal cap written out with literal dates.
"""

import contextlib
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safework.certs import services
from safework.certs.models import Certificate, CertificateItem, Verification
from safework.certs.queries import status_of, with_status
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.errors import InvalidInput
from safework.core.models import Setting
from safework.core.refusals import Refused
from safework.core.scope import Scope
from safework.org.models import Position
from safework.org.tests.factories import DepartmentFactory, SiteFactory
from safework.people.tests.factories import (
    ContractorFactory,
    EmploymentFactory,
    EngagementFactory,
    HealthCheckFactory,
    PersonFactory,
)
from safework.qualification import engine
from safework.qualification.coverage import coverage
from safework.qualification.models import Requirement
from safework.qualification.requirements import MissingAttribute, Work, applies, parse_attrs
from safework.work.models import CrewRole, PositionPermission, WorkType

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.timedelta(days=1)
D = dt.date
PROBE = "probe-item"
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI)


@pytest.fixture
def late_clock():
    # Records are entered after every issue date drawn (an issue date in the future is refused).
    with time_machine.travel(dt.datetime(2031, 1, 1, tzinfo=dt.UTC), tick=False):
        yield


def blocking_for(decision, code: str) -> list:
    return [r for r in decision.reasons if r.blocking and (r.data or {}).get("requirement") == code]


def engine_met(decision, code: str) -> bool:
    """The engine's answer for one requirement row: met when it gave no blocking reason."""
    return not blocking_for(decision, code)


def qualified_worker(site):
    """Own staff at `site`, employed, with a position; their other rows are not asked about."""
    person = PersonFactory(position=Position.objects.get(code="general-worker"))
    EmploymentFactory(person=person, department=DepartmentFactory(site=site))
    return person


# --- 1. engine-usable == list-usable, every scheme and item kind ------------------------------


def construction_number(it: CertificateItem, issued_on: dt.date, n: int) -> str:
    trade = it.trade_code or "01"
    return f"京A{trade}{issued_on.year:04d}{n:06d}"


@st.composite
def record_story(draw, items):
    """A record of a random item and what happens to it, with a day near one of its edges."""
    # Each scheme as often as the others, so the few internal items are not drowned out.
    scheme = draw(st.sampled_from(sorted({i.scheme.code for i in items})))
    it = draw(st.sampled_from([i for i in items if i.scheme.code == scheme]))
    issued = draw(st.dates(min_value=D(2019, 1, 1), max_value=D(2026, 12, 31)))
    given_end = draw(
        st.one_of(
            st.none(),  # the rule's default
            st.integers(0, 4000).map(lambda d: issued + d * DAY),  # internal: often capped
        )
    )
    return {
        "item": it,
        "issued_on": issued,
        "valid_from": issued + draw(st.sampled_from([0, 0, 0, 5])) * DAY,
        "valid_until": given_end,
        "restriction": draw(st.sampled_from(it.restriction_kinds)) if it.restriction_kinds else "",
        "long_review_interval": draw(st.booleans()),
        "verification": draw(st.sampled_from([Verification.VERIFIED] * 3 + Verification.values)),
        "review": draw(st.sampled_from([None, None, 0, 1, 30])),  # days before due it is applied
        "renew_after": draw(st.one_of(st.none(), st.integers(30, 3000))),
        "renew_gap": draw(st.sampled_from([0, 0, 10])),  # the renewal starts later: a vacuum
        "end": draw(st.sampled_from([None, None, None, "revoke", "cancel"])),
        "end_offset": draw(st.integers(0, 2000)),
        "blocking": draw(st.booleans()),
        # The day asked: an edge of one of the records, on it or a day either side (mostly).
        "edge": draw(st.sampled_from(["end", "end", "end", "start", "review", "state"])),
        "anchor": draw(st.integers(0, 10_000)),
        "day_offset": draw(st.one_of(*[st.sampled_from([-1, 0, 0, 1])] * 3, st.integers(-90, 90))),
    }


def write_story(story, person, n) -> list[Certificate]:
    """The records of a story, written through the services (as every door writes them)."""
    it = story["item"]
    issued = story["issued_on"]
    number = (
        construction_number(it, issued, n)
        if it.scheme.code == "construction"
        else f"P{n:06d}-{it.code}"
    )
    end = story["valid_until"]
    if end is None and it.scheme.code == "internal" and it.code == "CONTRACTOR-ENTRY":
        end = issued + 200 * DAY  # no rule months: the end must be given
    try:
        cert = services.create_certificate(
            person=person,
            scheme=it.scheme,
            item=it,
            number=number,
            issued_on=issued,
            valid_from=story["valid_from"],
            valid_until=end,
            restriction=story["restriction"],
            long_review_interval=story["long_review_interval"] and it.scheme.code != "internal",
        )
    except InvalidInput:
        return []  # e.g. an end before the start: nothing is written
    made = [cert]
    if story["review"] is not None and cert.next_review_due is not None:
        with contextlib.suppress(Refused):  # outside the window: the review stays unpassed
            services.record_review(cert=cert, on=cert.next_review_due - story["review"] * DAY)
    if story["renew_after"] is not None:
        renewed_on = issued + story["renew_after"] * DAY
        with contextlib.suppress(Refused, InvalidInput):  # e.g. issued before the old one
            made.append(
                services.renew_certificate(
                    cert=cert,
                    number=(
                        construction_number(it, renewed_on, n + 500_000)
                        if it.scheme.code == "construction"
                        else f"R{n:06d}-{it.code}"
                    ),
                    issued_on=renewed_on,
                    valid_from=renewed_on + story["renew_gap"] * DAY,
                    valid_until=(renewed_on + 400 * DAY) if it.code == "CONTRACTOR-ENTRY" else None,
                )
            )
    if story["end"]:
        target = made[-1]
        on = target.issued_on + story["end_offset"] * DAY
        if story["end"] == "revoke":
            ground = services.grounds_for(target.scheme_id).order_by("code").first()
            services.revoke_certificate(cert=target, ground=ground, reason="事故", on=on)
        else:
            services.cancel_certificate(cert=target, reason="本人申请", on=on)
    Certificate.objects.filter(pk__in=[c.pk for c in made]).update(
        verification=story["verification"]
    )
    return list(Certificate.objects.filter(pk__in=[c.pk for c in made]))


def edge_day(certs, edge: str, anchor: int) -> dt.date:
    """A day where a status can change: a record's last valid day (for an internal item given
    a longer end, the cap), its first day, its review due day, the day it was revoked or
    cancelled; its last day when the record has no such edge."""
    days = {
        "end": [c.valid_until for c in certs],
        "start": [c.valid_from for c in certs],
        "review": [c.next_review_due for c in certs if c.next_review_due],
        "state": [c.state_changed_on for c in certs if c.state_changed_on],
    }[edge] or [c.valid_until for c in certs]
    return days[anchor % len(days)]


@pytest.mark.django_db
@settings(PROPERTY_SETTINGS, max_examples=100)
@given(data=st.data())
def test_engine_and_lists_agree_for_every_scheme_and_item(catalogue, late_clock, data):
    items = list(
        CertificateItem.objects.filter(is_active=True)
        .select_related("scheme")
        .order_by("scheme__code", "code")
    )
    story = data.draw(record_story(items))
    with transaction.atomic():
        engine.clear_caches()
        it = story["item"]
        site = SiteFactory()
        person = qualified_worker(site)
        if story["blocking"]:
            Setting.objects.create(key="cert.unverified_blocking", value=True)
        Requirement.objects.create(
            code=PROBE,
            description="probe",
            kind="certificate",
            items=[f"{it.scheme.code}:{it.code}"],
            clause="probe clause",
            effective_from=D(2000, 1, 1),
        )
        certs = write_story(story, person, data.draw(st.integers(1, 99_999)))
        if certs:
            on = edge_day(certs, story["edge"], story["anchor"]) + story["day_offset"] * DAY
            rows = {c.pk: c for c in with_status(Certificate.objects.filter(person=person), on=on)}
            for c in certs:
                per_object = status_of(c, on=on)
                row = rows[c.pk]
                assert (row.status, row.usable, row.colour, row.days_left) == (
                    per_object.status,
                    per_object.usable,
                    per_object.colour,
                    per_object.days_left,
                ), f"{c.item.code} {c.number} on {on}"
            decision = engine.check(person, "excavation", None, "worker", site, at(on))
            listed = any(row.usable for row in rows.values())
            assert engine_met(decision, PROBE) == listed, (
                f"{it.scheme.code}:{it.code} on {on}: engine "
                f"{[r.code for r in blocking_for(decision, PROBE)]} vs list "
                f"{[(r.number, r.status, r.valid_until) for r in rows.values()]}"
            )
        transaction.set_rollback(True)
    engine.clear_caches()


@pytest.mark.django_db
def test_the_internal_cap_day_is_the_last_usable_day_everywhere(catalogue, late_clock):
    """Annual plant training completed 2025-03-10 and entered as valid to 2027-12-31 is usable
    through 2026-03-09 and not on 2026-03-10, in the lists and in the engine alike."""
    site = SiteFactory()
    person = qualified_worker(site)
    plant = item("internal", "PLANT-ANNUAL")
    cert = services.create_certificate(
        person=person,
        scheme=plant.scheme,
        item=plant,
        number="PA-1",
        issued_on=D(2025, 3, 10),
        valid_until=D(2027, 12, 31),
    )
    HealthCheckFactory(person=person, checked_on=D(2026, 1, 5))
    for on, usable in ((D(2026, 3, 9), True), (D(2026, 3, 10), False)):
        row = with_status(Certificate.objects.filter(pk=cert.pk), on=on).get()
        assert (row.usable, status_of(cert, on=on).usable) == (usable, usable)
        decision = engine.check(person, "excavation", None, "worker", site, at(on))
        codes = [r.code for r in blocking_for(decision, "all-plant-annual-training")]
        assert codes == ([] if usable else ["cert.expired"])


# --- 2. coverage == engine -----------------------------------------------------------------------

# The items the shipped requirements name, their equivalents, and one item nothing asks for.
HELD_ITEMS = [
    ("internal", "PLANT-ANNUAL"),
    ("internal", "GUARDIAN"),
    ("internal", "GAS-TESTER"),
    ("special_operation", "1.1"),
    ("special_operation", "1.2"),
    ("special_operation", "2.1"),
    ("special_operation", "3.1"),
    ("special_operation", "3.2"),
    ("special_operation", "9.3"),
    ("special_equipment", "Q1"),
    ("special_equipment", "Q2"),
    ("special_equipment", "N1"),
    ("construction", "01"),
    ("construction", "02"),
    ("construction", "11"),
    ("special_operation", "4.1"),
]
ON_DAYS = st.dates(min_value=D(2025, 6, 1), max_value=D(2027, 6, 30))


# Per work type, the items its rows name and their equivalents (drawn more often, so that the
# equivalents, the crane kinds and the absence rule decide many examples).
NAMED_FOR = {
    "temporary_power": [("special_operation", "1.2"), ("construction", "01")],
    "height": [
        ("special_operation", "3.1"),
        ("construction", "02"),
        ("special_operation", "3.2"),
        ("construction", "11"),
    ],
    "hot_work": [
        ("special_operation", "2.1"),
        ("special_operation", "3.1"),
        ("construction", "02"),
    ],
    "lifting": [("special_equipment", "Q2"), ("special_equipment", "Q1")],
    "confined_space": [("internal", "GUARDIAN"), ("internal", "GAS-TESTER")],
    "blinding": [("special_equipment", "N1"), ("special_operation", "9.3")],
}


@st.composite
def held_certificate(draw, work_type: str):
    """A record dated around the day asked (offsets in days from it), mostly in force."""
    scheme, code = draw(st.sampled_from(HELD_ITEMS) | st.sampled_from(NAMED_FOR[work_type]))
    started = draw(st.integers(-2000, 30))
    return {
        "scheme": scheme,
        "code": code,
        "from": started,
        "until": draw(st.one_of(st.integers(-60, 60), st.integers(0, 1500), st.integers(0, 1500))),
        "state": draw(st.sampled_from(["active"] * 5 + ["revoked"])),
        "verification": draw(st.sampled_from([Verification.VERIFIED] * 3 + Verification.values)),
        "last_practised": draw(st.one_of(st.none(), st.none(), st.integers(150, 200))),
        "kind": draw(st.integers(0, 10)),
    }


@st.composite
def crew_member(draw, work_type: str):
    """A person's facts, in days from the day asked: certificates, the latest medical check
    (its age around the 3 months contractor staff may not exceed), the site's settings."""
    medical = st.fixed_dictionaries(
        {
            "age": st.one_of(st.integers(85, 100), st.integers(0, 500)),
            "conclusion": st.sampled_from(["fit", "fit", "restricted", "unfit"]),
            "restricted": st.lists(
                st.sampled_from(["height", "hot_work", "lifting", "confined_space"]),
                max_size=2,
                unique=True,
            ),
            "valid_days": st.one_of(st.none(), st.integers(0, 500)),
        }
    )
    return {
        "contractor": draw(st.booleans()),
        "certs": draw(st.lists(held_certificate(work_type), min_size=1, max_size=6)),
        "medical": draw(st.one_of(st.none(), medical, medical, medical)),
        "equivalents": draw(st.booleans()),
        "blocking": draw(st.booleans()),
    }


@st.composite
def work_asked(draw):
    return {
        "work_type": draw(
            st.sampled_from(
                ["hot_work", "height", "lifting", "temporary_power", "confined_space", "blinding"]
            )
        ),
        "role": draw(
            st.sampled_from(["worker", "worker", "worker", "guardian", "gas_tester", "signaller"])
        ),
        "level": draw(st.integers(0, 3)),
        "on": draw(ON_DAYS),
        "attrs": {
            "height_m": draw(st.sampled_from([0, 1.9, 2, 5])),
            "hot_work_method": draw(st.sampled_from(["welding", "cutting", "grinding", "other"])),
            "height_task": draw(st.sampled_from(["scaffolding", "installation", "other"])),
            "crane_kind": draw(st.sampled_from(["mobile", "tower", "bridge_gantry"])),
            "forklift_area": draw(st.booleans()),
            **({"process": "9.3"} if draw(st.booleans()) else {}),
        },
    }


def build_member(m, w, site, work_type: WorkType, level, role: CrewRole):
    """The person of `m`, whose position may take exactly the work asked about."""
    position = Position.objects.create(code="probe-position", name="试验岗位")
    PositionPermission.objects.create(
        position=position, work_type=work_type, crew_role=role, max_level=level
    )
    person = PersonFactory(position=position)
    if m["contractor"]:
        contractor = ContractorFactory()
        EngagementFactory(contractor=contractor, site=site, starts_on=D(2020, 1, 1))
        EmploymentFactory(
            person=person, employer_kind="contractor", contractor=contractor, department=None
        )
    else:
        EmploymentFactory(person=person, department=DepartmentFactory(site=site))
    for n, c in enumerate(m["certs"]):
        it = item(c["scheme"], c["code"])
        kinds = it.restriction_kinds or [""]
        valid_from = w["on"] + c["from"] * DAY
        CertificateFactory(
            person=person,
            item=it,
            number=f"H{n}",
            issued_on=valid_from,
            valid_from=valid_from,
            valid_until=max(valid_from, w["on"] + c["until"] * DAY),
            state=c["state"],
            state_changed_on=valid_from if c["state"] != "active" else None,
            verification=c["verification"],
            restriction=kinds[c["kind"] % len(kinds)],
            last_practised_on=(
                w["on"] - c["last_practised"] * DAY if c["last_practised"] is not None else None
            ),
        )
    if m["medical"] is not None:
        checked = w["on"] - m["medical"]["age"] * DAY
        days = m["medical"]["valid_days"]
        HealthCheckFactory(
            person=person,
            checked_on=checked,
            conclusion=m["medical"]["conclusion"],
            restricted_work_types=m["medical"]["restricted"],
            valid_until=checked + days * DAY if days is not None else None,
        )
    if m["equivalents"]:
        Setting.objects.create(key="cert.construction_counts_as_order30", value=True)
    if m["blocking"]:
        Setting.objects.create(key="cert.unverified_blocking", value=True)
    return person


@st.composite
def member_and_work(draw):
    w = draw(work_asked())
    return draw(crew_member(w["work_type"])), w


@pytest.mark.django_db
@settings(PROPERTY_SETTINGS, max_examples=100)
@given(case=member_and_work())
def test_coverage_equals_the_engine_for_random_persons_and_work(catalogue, case):
    m, w = case
    with transaction.atomic():
        engine.clear_caches()
        site = SiteFactory()
        work_type = WorkType.objects.get(code=w["work_type"])
        levels = list(work_type.levels.order_by("rank"))
        level = levels[w["level"] % len(levels)] if levels else None
        role = CrewRole.objects.get(code=w["role"])
        person = build_member(m, w, site, work_type, level, role)
        decision = engine.check(person, work_type, level, role, site, at(w["on"]), w["attrs"])
        report = coverage(scope=Scope.everything(), on=w["on"], site_id=site.pk, attrs=w["attrs"])
        held = {r.requirement.code: r.held for r in report.rows if r.person.pk == person.pk}
        cat = engine.catalogue()
        attrs = parse_attrs(w["attrs"], processes=engine.catalogue().items.process_choices())
        work = Work(work_type, level, role, w["on"], attrs)
        compared = 0
        for req in cat.requirements:
            try:
                if not applies(req, work):  # the engine asks nothing of this row here
                    continue
            except MissingAttribute:
                continue
            assert req.code in held, f"{req.code} applies to the work but is not a need"
            assert held[req.code] == engine_met(decision, req.code), (
                f"{req.code}: coverage {held[req.code]} vs engine "
                f"{[(r.code, r.message) for r in blocking_for(decision, req.code)]}"
            )
            compared += 1
        assert compared >= 2  # plant training and the medical check apply to all work
        transaction.set_rollback(True)
    engine.clear_caches()


@pytest.mark.django_db
def test_coverage_sees_equivalents_crane_kinds_and_the_contractor_medical_age(catalogue):
    """The three answers the coverage report used to get wrong, beside the engine's."""
    site = SiteFactory()
    on = D(2026, 6, 1)
    lifting = WorkType.objects.get(code="lifting")
    worker = CrewRole.objects.get(code="worker")
    contractor_staff = {
        "contractor": True,
        "certs": [],
        "medical": None,
        "equivalents": True,
        "blocking": False,
    }
    person = build_member(contractor_staff, {"on": on}, site, lifting, None, worker)
    # A tower-crane Q2 (not a mobile one), a construction electrician's card (1.2 equivalent),
    # plant training, and a medical check dated 3 months and 1 day before the day.
    for scheme, code, restriction in (
        ("special_equipment", "Q2", "tower"),
        ("construction", "01", ""),
        ("internal", "PLANT-ANNUAL", ""),
    ):
        CertificateFactory(
            person=person,
            item=item(scheme, code),
            restriction=restriction,
            issued_on=D(2026, 1, 5),
            valid_until=D(2027, 1, 4),
            verification="verified",
            number=f"{code}-1" if scheme != "construction" else "京A012026000001",
        )
    HealthCheckFactory(person=person, checked_on=on - relativedelta(months=3) - DAY)

    def held(**attrs):
        report = coverage(scope=Scope.everything(), on=on, site_id=site.pk, attrs=attrs)
        return {r.requirement.code: (r.held, r.evidence) for r in report.rows}

    mobile, tower, unknown = held(crane_kind="mobile"), held(crane_kind="tower"), held()
    assert mobile["lifting-operator"][0] is False
    assert tower["lifting-operator"][0] is True
    assert unknown["lifting-operator"] == (True, "Q2 Q2-1 (tower) → 2027-01-04")
    assert mobile["all-medical-fit"][0] is False  # 3 months and a day old for contractor staff
    decision = engine.check(person, lifting, "III", worker, site, at(on), {"crane_kind": "mobile"})
    assert [r.code for r in blocking_for(decision, "lifting-operator")] == [
        "cert.restriction_mismatch"
    ]
    assert [r.code for r in blocking_for(decision, "all-medical-fit")] == [
        "medical.contractor_too_old"
    ]
    # Temporary power: the position now takes it; the construction card counts as 1.2.
    PositionPermission.objects.create(
        position=person.position,
        work_type=WorkType.objects.get(code="temporary_power"),
        crew_role=worker,
    )
    engine.clear_caches()
    power = held(crane_kind="tower")["temporary-power-electrician"]
    assert power == (True, "01 京A012026000001 → 2027-01-04")
    decision = engine.check(person, "temporary_power", None, worker, site, at(on))
    assert engine_met(decision, "temporary-power-electrician")
