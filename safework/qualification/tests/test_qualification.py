"""The qualification engine: crews, certificates, people facts at their boundaries, fail-closed."""

import datetime as dt
from unittest import mock

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from safework.certs import services
from safework.certs.models import CertificateItem
from safework.certs.rules import RuleBook, first_unpassed_review
from safework.core.errors import InvalidInput
from safework.core.models import Setting
from safework.org.models import Position
from safework.people.models import BlacklistEntry, Employment, HealthCheck
from safework.people.tests.factories import EngagementFactory, HealthCheckFactory
from safework.qualification import engine as qualification
from safework.qualification import facts
from safework.qualification.engine import CrewMember
from safework.qualification.models import Requirement
from safework.qualification.tests.qualification_fixtures import (
    HOT_WORK_ATTRS,
    SHANGHAI,
    D,
    at,
    certificate,
    codes,
    contractor_at,
    hot_work_crew,
    member,
    plant_training,
    site,
)
from safework.work.models import PositionPermission, WorkLevel

pytestmark = pytest.mark.django_db

ORDER30_CLAUSE = "安监总局令第30号 第十九条、第二十一条、第二十二条"
WELDER_CLAUSE = "GB 30871-2022 4.9；安监总局令第30号 附件 特种作业目录 2"
DAY = dt.timedelta(days=1)


@pytest.fixture
def here(catalogue):
    return site()


def welder_check(person, here, on=D, attrs=HOT_WORK_ATTRS, **kwargs):
    return qualification.check(
        person, "hot_work", "level1", "worker", here, at(on), attrs, **kwargs
    )


def crew_of(welder, guardian, tester) -> list[CrewMember]:
    return [
        CrewMember(welder.pk, "worker"),
        CrewMember(guardian.pk, "guardian"),
        CrewMember(tester.pk, "gas_tester"),
    ]


def crew_check(crew, here, on=D, attrs=HOT_WORK_ATTRS):
    return qualification.check_crew(crew_of(*crew), "hot_work", "level1", here, at(on), attrs)


# --- the crew -------------------------------------------------------------------------------------


def test_a_qualified_hot_work_crew_is_allowed(here):
    decision = crew_check(hot_work_crew(here), here)
    assert decision.allowed, decision.reasons
    assert decision.reasons == ()


def test_welder_whose_certificate_expired_yesterday_is_refused_with_the_clause(here):
    crew = hot_work_crew(here)
    welding = crew[0].certificates.get(item__code="2.1")
    welding.valid_until = D - DAY
    welding.save()

    decision = crew_check(crew, here)

    assert not decision.allowed
    (reason,) = decision.reasons
    assert reason.code == "cert.expired"
    assert reason.subject == welding.number
    assert WELDER_CLAUSE in reason.clause  # the requirement row
    assert ORDER30_CLAUSE in reason.clause  # the catalogue rule in force
    assert reason.data["person_id"] == crew[0].pk
    assert reason.data["requirement"] == "hot-work-welder"
    assert str(D - DAY) in reason.message


def test_the_same_check_dated_before_the_expiry_allows_it(here):
    crew = hot_work_crew(here)
    crew[0].certificates.filter(item__code="2.1").update(valid_until=D - DAY)
    assert crew_check(crew, here, on=D - DAY).allowed  # valid through the expiry day
    assert not crew_check(crew, here, on=D).allowed


def test_a_member_who_is_not_the_applicant_is_checked_too(here):
    welder, guardian, tester = hot_work_crew(here)
    tester.certificates.filter(item__code="GAS-TESTER").update(valid_until=D - DAY)

    crew = qualification.assess_crew(
        crew_of(welder, guardian, tester),
        "hot_work",
        "level1",
        here,
        at(D),
        HOT_WORK_ATTRS,
    )

    assert not crew.decision.allowed
    assert [m.decision.allowed for m in crew.members] == [True, True, False]
    assert [r.code for r in crew.members[2].decision.reasons] == ["cert.expired"]
    assert crew.decision.reasons[0].data["person_id"] == tester.pk


def test_every_reason_of_every_member_is_reported(here):
    welder, guardian, tester = hot_work_crew(here)
    welder.certificates.filter(item__code="2.1").update(valid_until=D - DAY)
    HealthCheck.objects.filter(person=welder).update(valid_until=D - DAY)
    BlacklistEntry.objects.create(
        id_number=guardian.id_number, reason="伪造证书", starts_on=D - DAY, created_by_label="t"
    )
    decision = crew_check((welder, guardian, tester), here)
    assert codes(decision) == ["cert.expired", "medical.expired", "person.blacklisted"]


# --- local date --------------------------------------------------------------------------------


def test_an_instant_at_2330_utc_is_the_next_local_day(here):
    welder = member(here)
    welder.certificates.filter(item__code="2.1").update(valid_until=D)
    late_utc = dt.datetime(D.year, D.month, D.day, 23, 30, tzinfo=dt.UTC)  # 07:30 on D+1 locally
    before_midnight = dt.datetime(D.year, D.month, D.day, 23, 59, tzinfo=SHANGHAI)

    refused = qualification.check(
        welder, "hot_work", "level1", "worker", here, late_utc, HOT_WORK_ATTRS
    )
    allowed = qualification.check(
        welder, "hot_work", "level1", "worker", here, before_midnight, HOT_WORK_ATTRS
    )

    assert codes(refused) == ["cert.expired"]
    assert allowed.allowed


def test_a_naive_instant_is_an_input_error(here):
    with pytest.raises(InvalidInput) as exc:
        qualification.check(
            member(here), "hot_work", "level1", "worker", here, dt.datetime(2026, 3, 10)
        )
    assert exc.value.errors[0].field == "at"


# --- input errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("work_type", "level", "field", "code"),
    [
        ("hot_work", "IV", "level", "invalid_level"),
        ("hot_work", None, "level", "required"),
        ("confined_space", "level1", "level", "invalid_level"),
        ("welding", "level1", "work_type", "unknown_work_type"),
    ],
)
def test_bad_work_type_or_level_is_an_input_error(here, work_type, level, field, code):
    with pytest.raises(InvalidInput) as exc:
        qualification.check(member(here), work_type, level, "worker", here, at(D), HOT_WORK_ATTRS)
    assert [(e.field, e.code) for e in exc.value.errors] == [(field, code)]


def test_levels_and_roles_by_chinese_name_and_types_without_levels(here):
    welder = member(here)
    assert welder_check(welder, here).allowed
    by_name = qualification.check(welder, "动火作业", "一级", "作业人", here, at(D), HOT_WORK_ATTRS)
    assert by_name.allowed
    blinding = qualification.check(welder, "blinding", None, "worker", here, at(D))
    assert blinding.allowed, blinding.reasons


def test_unknown_role_and_attributes_are_input_errors(here):
    welder, guardian, _t = hot_work_crew(here)
    with pytest.raises(InvalidInput) as exc:
        qualification.check_crew(
            [CrewMember(welder.pk, "worker", {"height": 3}), CrewMember(guardian.pk, "boss")],
            "hot_work",
            "level1",
            here,
            at(D),
            {"height_m": "high"},
        )
    assert exc.value.errors[0].field == "attrs.height_m"
    with pytest.raises(InvalidInput) as exc:
        qualification.check_crew(
            [CrewMember(welder.pk, "worker", {"height": 3}), CrewMember(guardian.pk, "boss")],
            "hot_work",
            "level1",
            here,
            at(D),
            HOT_WORK_ATTRS,
        )
    fields = {(e.field, e.code) for e in exc.value.errors}
    assert fields == {("crew.0.attrs.height", "unknown_attribute"), ("crew.1.role", "unknown_role")}


# --- requirement conditions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "needs_3x"), [(1.99, False), (2.0, True), (2, True), ("2.0", True), (0, False)]
)
def test_hot_work_at_height_needs_a_height_certificate_from_2_m(here, height, needs_3x):
    welder = member(here)
    attrs = {"hot_work_method": "cutting", "height_m": height}
    decision = welder_check(welder, here, attrs=attrs)
    if needs_3x:
        (reason,) = decision.reasons
        assert reason.code == "cert.missing"
        assert reason.data["requirement"] == "hot-work-at-height"
        assert reason.clause.startswith("企业制度")
    else:
        assert decision.allowed, decision.reasons
    certificate(welder, "special_operation", "3.2")
    assert welder_check(welder, here, attrs=attrs).allowed


def test_no_welding_certificate_needed_for_grinding(here):
    helper = member(here, certs=())
    assert not welder_check(helper, here).allowed
    grinding = {"hot_work_method": "grinding", "height_m": 1}
    assert welder_check(helper, here, attrs=grinding).allowed


@pytest.mark.parametrize(
    ("attrs", "missing"),
    [
        ({"hot_work_method": "welding"}, "height_m"),
        ({"height_m": 1.0}, "hot_work_method"),
    ],
)
def test_an_attribute_a_condition_needs_refuses_when_absent(here, attrs, missing):
    decision = welder_check(member(here), here, attrs=attrs)
    assert not decision.allowed
    (reason,) = decision.reasons
    assert reason.code == "check.attribute_missing"
    assert reason.data["attribute"] == missing
    assert missing in reason.message


def test_a_guardian_needs_no_work_attributes(here):
    guardian = member(here, position="team-leader", certs=(("internal", "GUARDIAN"),))
    decision = qualification.check(guardian, "hot_work", "special", "guardian", here, at(D))
    assert decision.allowed, decision.reasons


def test_hazardous_process_needs_the_item_of_that_process(here):
    operator = member(here, position="process-operator", certs=(("special_operation", "9.3"),))
    ask = {
        "work_type": "confined_space",
        "level": None,
        "role": "worker",
        "site": here,
        "at": at(D),
    }
    assert qualification.check(operator, **ask).allowed  # no process named
    assert qualification.check(operator, **ask, attrs={"process": "9.3"}).allowed
    refused = qualification.check(operator, **ask, attrs={"process": "9.4"})
    assert codes(refused) == ["cert.missing"]
    assert refused.reasons[0].data["requirement"] == "hazardous-process-operator"


@pytest.mark.parametrize("method", ["焊接", "Welding", "气割"])
def test_welding_written_in_chinese_or_capitals_needs_the_welding_certificate(here, method):
    helper = member(here, certs=())
    decision = welder_check(helper, here, attrs={"hot_work_method": method, "height_m": 1})
    assert "cert.missing" in codes(decision)
    assert any(r.data.get("requirement") == "hot-work-welder" for r in decision.reasons), [
        r.data for r in decision.reasons
    ]


@pytest.mark.parametrize(
    ("attrs", "field"),
    [
        ({"process": "*"}, "attrs.process"),
        ({"process": "2.1"}, "attrs.process"),
        ({"process": "9.*"}, "attrs.process"),
        ({"height_task": "ladder"}, "attrs.height_task"),
    ],
)
def test_free_text_attributes_outside_their_choices_are_input_errors(here, attrs, field):
    operator = member(here, position="process-operator", certs=(("special_operation", "9.3"),))
    with pytest.raises(InvalidInput) as exc:
        qualification.check(operator, "confined_space", None, "worker", here, at(D), attrs)
    assert [(e.field, e.code) for e in exc.value.errors] == [(field, "invalid_choice")]


def test_a_process_named_in_chinese_is_its_item(here):
    operator = member(here, position="process-operator", certs=(("special_operation", "9.3"),))
    ask = ("confined_space", None, "worker", here, at(D))
    assert qualification.check(operator, *ask, {"process": "氯化"}).allowed
    assert codes(qualification.check(operator, *ask, {"process": "硝化工艺"})) == ["cert.missing"]


def test_forklift_driver_in_the_area_needs_n1(here):
    driver = member(here, position="forklift-driver", certs=())
    ask = {"work_type": "lifting", "level": "III", "role": "worker", "site": here, "at": at(D)}
    assert codes(qualification.check(driver, **ask, attrs={"crane_kind": "mobile"})) == [
        "cert.missing"  # lifting operator Q2
    ]
    certificate(driver, "special_equipment", "Q2", restriction="mobile")
    assert qualification.check(driver, **ask, attrs={"crane_kind": "mobile"}).allowed
    area = {"crane_kind": "mobile", "forklift_area": True}
    assert codes(qualification.check(driver, **ask, attrs=area)) == ["cert.missing"]
    certificate(driver, "special_equipment", "N1")
    assert qualification.check(driver, **ask, attrs=area).allowed


def test_crane_kind_must_match_the_q2_restriction(here):
    operator = member(here, position="crane-operator", certs=())
    q2 = certificate(operator, "special_equipment", "Q2", restriction="tower")
    ask = {"work_type": "lifting", "level": "II", "role": "worker", "site": here, "at": at(D)}

    refused = qualification.check(operator, **ask, attrs={"crane_kind": "mobile"})
    missing = qualification.check(operator, **ask)

    (reason,) = refused.reasons
    assert reason.code == "cert.restriction_mismatch"
    assert reason.subject == q2.number
    assert "tower" in reason.message and "mobile" in reason.message
    assert "TSG Z6001-2019" in reason.clause
    assert qualification.check(operator, **ask, attrs={"crane_kind": "tower"}).allowed
    assert codes(missing) == ["check.attribute_missing"]
    assert missing.reasons[0].data["attribute"] == "crane_kind"


def test_requirement_rows_are_data_and_edits_apply_at_once(here):
    welder = member(here)
    assert welder_check(welder, here).allowed
    req = Requirement.objects.get(code="hot-work-welder")
    req.condition = 'hot_work_method in ["welding", "cutting"] and height_m >= 0'
    req.items = ["special_operation:2.2"]  # pressure welding only, say
    req.save()
    assert codes(welder_check(welder, here)) == ["cert.missing"]
    req.effective_to = D
    req.save()
    assert welder_check(welder, here).allowed


def test_a_condition_that_does_not_compile_refuses(here):
    Requirement.objects.filter(code="hot-work-welder").update(condition="height_m >>> 2")
    qualification.clear_caches()
    decision = welder_check(member(here), here)
    assert codes(decision) == ["check.cannot_decide"]
    assert decision.reasons[0].data["requirement"] == "hot-work-welder"


def test_min_level_rows_apply_from_that_level_up(here):
    Requirement.objects.create(
        code="special-hot-work-extra",
        description="特级动火另需监护培训",
        work_type_id=Requirement.objects.get(code="hot-work-welder").work_type_id,
        min_level=WorkLevel.objects.get(work_type__code="hot_work", code="special"),
        crew_role=None,
        kind="certificate",
        items=["internal:GUARDIAN"],
        clause="测试条款",
        effective_from=dt.date(2000, 1, 1),
    )
    welder = member(here)
    assert welder_check(welder, here).allowed
    special = qualification.check(
        welder, "hot_work", "special", "worker", here, at(D), HOT_WORK_ATTRS
    )
    assert codes(special) == ["cert.missing"]
    assert special.reasons[0].clause == "测试条款"


# --- certificate statuses -------------------------------------------------------------------------


def test_vacuum_names_both_certificates(here):
    welder = member(here, certs=())
    old = certificate(
        welder,
        "special_operation",
        "2.1",
        issued_on=dt.date(2020, 3, 1),
        valid_until=D - dt.timedelta(days=10),
    )
    new = certificate(
        welder,
        "special_operation",
        "2.1",
        issued_on=D - dt.timedelta(days=20),
        valid_from=D + dt.timedelta(days=5),
        predecessor=old,
    )

    decision = welder_check(welder, here)

    (reason,) = decision.reasons
    assert reason.code == "cert.vacuum"
    assert old.number in reason.subject and new.number in reason.subject
    assert old.number in reason.message and new.number in reason.message
    assert reason.data["ended_certificate_id"] == old.pk
    assert reason.data["certificate_id"] == new.pk
    assert welder_check(welder, here, on=D + dt.timedelta(days=5)).allowed


def test_a_renewal_issued_early_keeps_the_old_record_usable(here):
    welder = member(here, certs=())
    old = certificate(welder, "special_operation", "2.1", valid_until=D + dt.timedelta(days=3))
    certificate(
        welder,
        "special_operation",
        "2.1",
        issued_on=D - dt.timedelta(days=2),
        valid_from=D + dt.timedelta(days=4),
        predecessor=old,
    )
    assert welder_check(welder, here).allowed
    assert welder_check(welder, here, on=D + dt.timedelta(days=4)).allowed


def test_order30_review_overdue_but_no_review_under_order19(here):
    book = RuleBook.load()
    welder = member(here, certs=())
    order30 = certificate(
        welder,
        "special_operation",
        "2.1",
        issued_on=dt.date(2020, 5, 10),
        valid_until=dt.date(2026, 5, 9),
    )
    due, rule = first_unpassed_review(order30, book, [])
    assert due == dt.date(2023, 5, 10)
    order30.next_review_due = due
    order30.save()

    refused = welder_check(welder, here)

    (reason,) = refused.reasons
    assert reason.code == "cert.review_overdue"
    assert rule.clause in reason.clause and rule.clause == ORDER30_CLAUSE
    assert "2023-05-10" in reason.message

    other = member(here, certs=())
    order19 = certificate(
        other,
        "special_operation",
        "2.1",
        issued_on=dt.date(2023, 6, 1),
        valid_until=dt.date(2029, 5, 31),
    )
    assert first_unpassed_review(order19, book, []) is None  # due 2026-06-01: Order 19
    assert welder_check(other, here, on=dt.date(2026, 7, 1)).allowed


def test_the_best_failing_record_is_reported(here):
    welder = member(here, certs=())
    certificate(welder, "special_operation", "2.1", valid_until=dt.date(2025, 1, 1))
    revoked = certificate(
        welder, "special_operation", "2.2", state="revoked", state_reason="违章作业"
    )
    mismatch = certificate(welder, "special_operation", "2.3", verification="mismatch")
    decision = welder_check(welder, here)
    (reason,) = decision.reasons
    assert reason.code == "cert.registry_mismatch"  # nearest to usable
    assert reason.subject == mismatch.number
    mismatch.delete()
    (reason,) = welder_check(welder, here).reasons
    assert reason.code == "cert.expired"
    assert reason.subject != revoked.number


def test_revoked_and_not_yet_valid(here):
    welder = member(here, certs=())
    revoked = certificate(welder, "special_operation", "2.1", state="revoked", state_reason="违章")
    (reason,) = welder_check(welder, here).reasons
    assert (reason.code, reason.subject) == ("cert.revoked", revoked.number)
    assert "违章" in reason.message
    revoked.delete()
    certificate(welder, "special_operation", "2.1", issued_on=D, valid_from=D + DAY)
    assert codes(welder_check(welder, here)) == ["cert.not_yet_valid"]


def test_unverified_warns_and_blocks_when_the_setting_says_so(here):
    welder = member(here)
    welder.certificates.filter(item__code="2.1").update(verification="unverified")

    warned = welder_check(welder, here)
    assert warned.allowed
    (warning,) = warned.reasons
    assert (warning.code, warning.blocking) == ("cert.unverified", False)

    Setting.objects.create(key="cert.unverified_blocking", value=True)
    blocked = welder_check(welder, here)
    assert not blocked.allowed
    assert [(r.code, r.blocking) for r in blocked.reasons] == [("cert.unverified", True)]


def test_a_verified_certificate_is_preferred_over_an_unverified_one(here):
    welder = member(here)
    certificate(welder, "special_operation", "2.2", verification="unverified")
    assert welder_check(welder, here).reasons == ()


def test_construction_items_count_as_order30_only_where_the_setting_says(here):
    electrician = member(here, position="electrician", certs=(("construction", "01"),))
    ask = {
        "work_type": "temporary_power",
        "level": None,
        "role": "worker",
        "site": here,
        "at": at(D),
    }
    assert codes(qualification.check(electrician, **ask)) == ["cert.missing"]

    Setting.objects.create(key="cert.construction_counts_as_order30", site_id=here.pk, value=True)
    allowed = qualification.check(electrician, **ask)
    assert allowed.allowed
    assert [(r.code, r.blocking) for r in allowed.reasons] == [("cert.equivalent", False)]

    elsewhere = site()
    electrician.current_employment.department.site = elsewhere
    assert codes(qualification.check(electrician, **{**ask, "site": elsewhere})) == ["cert.missing"]


def test_construction_electrician_never_counts_for_high_voltage(here):
    Setting.objects.create(key="cert.construction_counts_as_order30", value=True)
    Requirement.objects.filter(code="temporary-power-electrician").update(
        items=["special_operation:1.1"]
    )
    qualification.clear_caches()
    electrician = member(here, position="electrician", certs=(("construction", "01"),))
    decision = qualification.check(electrician, "temporary_power", None, "worker", here, at(D))
    assert codes(decision) == ["cert.missing"]


# --- plant training ------------------------------------------------------------------------------


def test_plant_training_is_valid_one_year_from_completion(here):
    welder = member(here)
    training = welder.certificates.get(item__code="PLANT-ANNUAL")
    # Recorded with an end beyond the rule's year: the record keeps the rule's year.
    training = services.update_certificate(
        cert=training,
        issued_on=dt.date(2025, 3, 10),
        valid_from=dt.date(2025, 3, 10),
        valid_until=dt.date(2027, 12, 31),
    )
    assert training.valid_until == dt.date(2026, 3, 9)

    assert welder_check(welder, here, on=dt.date(2026, 3, 9)).allowed
    refused = welder_check(welder, here, on=dt.date(2026, 3, 10))
    (reason,) = refused.reasons
    assert reason.code == "cert.expired"
    assert reason.data["requirement"] == "all-plant-annual-training"
    assert "年度安全培训" in reason.clause


def test_plant_training_of_a_calendar_year_item_ends_on_31_december(here):
    CertificateItem.objects.filter(code="PLANT-ANNUAL").update(calendar_year=True)
    qualification.clear_caches()
    welder = member(here, medical_on=dt.date(2025, 11, 1))
    training = welder.certificates.get(item__code="PLANT-ANNUAL")
    training = services.update_certificate(
        cert=training,
        issued_on=dt.date(2025, 3, 10),
        valid_from=dt.date(2025, 3, 10),
        valid_until=dt.date(2026, 3, 9),
    )
    assert training.valid_until == dt.date(2025, 12, 31)
    assert welder_check(welder, here, on=dt.date(2025, 12, 31)).allowed
    assert codes(welder_check(welder, here, on=dt.date(2026, 1, 1))) == ["cert.expired"]


def test_no_plant_training_at_all(here):
    welder = member(here)
    welder.certificates.filter(item__code="PLANT-ANNUAL").delete()
    (reason,) = welder_check(welder, here).reasons
    assert (reason.code, reason.subject) == ("cert.missing", welder.name)


# --- people facts ---------------------------------------------------------------------------------


def test_medical_is_valid_through_its_valid_until_day(here):
    welder = member(here)
    HealthCheck.objects.filter(person=welder).update(valid_until=D)
    assert welder_check(welder, here, on=D).allowed
    (reason,) = welder_check(welder, here, on=D + DAY).reasons
    assert reason.code == "medical.expired"
    assert "GB 30871-2022 4.9" in reason.clause


def test_medical_without_valid_until_uses_the_catalogue_default(here):
    welder = member(here, medical_on=dt.date(2025, 3, 10))
    assert welder_check(welder, here, on=dt.date(2026, 3, 9)).allowed
    (reason,) = welder_check(welder, here, on=dt.date(2026, 3, 10)).reasons
    assert reason.code == "medical.expired"
    assert "职业健康检查有效期1年" in reason.clause  # the MEDICAL rule row's clause


def test_the_latest_medical_check_on_or_before_the_day_counts(here):
    welder = member(here)
    HealthCheckFactory(
        person=welder,
        checked_on=D + DAY,
        conclusion="restricted",
        restricted_work_types=["hot_work"],
        restriction_reason="视力",
    )
    assert welder_check(welder, here, on=D).allowed
    assert codes(welder_check(welder, here, on=D + DAY)) == ["medical.restricted"]


def test_no_medical_check(here):
    welder = member(here)
    HealthCheck.objects.filter(person=welder).delete()
    assert codes(welder_check(welder, here)) == ["medical.missing"]


def test_unfit_and_restricted_medical_checks(here):
    scaffolder = member(here, position="scaffolder", certs=(("special_operation", "3.1"),))
    HealthCheck.objects.filter(person=scaffolder).update(
        conclusion="restricted", restricted_work_types=["height"], restriction_reason="高血压"
    )
    ask = {"work_type": "height", "level": "II", "role": "worker", "site": here, "at": at(D)}
    attrs = {"height_task": "scaffolding"}
    (reason,) = qualification.check(scaffolder, **ask, attrs=attrs).reasons
    assert reason.code == "medical.restricted"
    assert "高血压" in reason.message

    welder = member(here)
    HealthCheck.objects.filter(person=welder).update(
        conclusion="restricted", restricted_work_types=["height"], restriction_reason="高血压"
    )
    assert welder_check(welder, here).allowed  # restricted for height, not for hot work
    HealthCheck.objects.filter(person=welder).update(conclusion="unfit")
    assert codes(welder_check(welder, here)) == ["medical.unfit"]


@pytest.mark.parametrize(("age_days", "allowed"), [(92, True), (93, False)])
def test_contractor_medical_at_most_three_months_old(here, age_days, allowed):
    # Checked 2026-03-01 (92 days before): 3 months later is 2026-06-01, still allowed.
    contractor = contractor_at(here)
    on = dt.date(2026, 6, 1)
    worker = member(
        here,
        contractor=contractor,
        medical_on=on - dt.timedelta(days=age_days),
    )
    HealthCheck.objects.filter(person=worker).update(valid_until=dt.date(2027, 1, 1))
    worker.certificates.filter(item__code="PLANT-ANNUAL").update(
        issued_on=dt.date(2026, 1, 5), valid_until=dt.date(2027, 1, 4)
    )
    decision = welder_check(worker, here, on=on)
    assert decision.allowed is allowed
    if not allowed:
        (reason,) = decision.reasons
        assert reason.code == "medical.contractor_too_old"
        assert reason.data["age_days"] == 93


def test_own_staff_need_no_recent_medical(here):
    welder = member(here, medical_on=D - dt.timedelta(days=200))
    assert welder_check(welder, here).allowed


def test_contractor_must_be_active_and_engaged_at_the_site_on_the_day(here):
    contractor = contractor_at(here, ends_on=D)
    worker = member(here, contractor=contractor)
    assert welder_check(worker, here, on=D).allowed  # the last day of the contract
    (reason,) = welder_check(worker, here, on=D + DAY).reasons
    assert reason.code == "contractor.not_engaged"

    other_site = site()
    assert codes(welder_check(worker, other_site)) == ["contractor.not_engaged"]
    EngagementFactory(contractor=contractor, site=other_site, status="suspended")
    assert codes(welder_check(worker, other_site)) == ["contractor.not_engaged"]

    contractor.status = "suspended"
    contractor.save()
    assert codes(welder_check(worker, here)) == ["contractor.inactive"]
    no_site = qualification.check(
        worker, "hot_work", "level1", "worker", None, at(D), HOT_WORK_ATTRS
    )
    assert codes(no_site) == ["contractor.inactive", "contractor.site_unknown"]


@pytest.mark.parametrize(
    ("starts", "ends", "blocked"),
    [
        (D, None, True),  # from the first day
        (D + DAY, None, False),
        (D - dt.timedelta(days=30), D, True),  # through the last day
        (D - dt.timedelta(days=30), D - DAY, False),
    ],
)
def test_blacklist_from_and_until_days(here, starts, ends, blocked):
    welder = member(here)
    BlacklistEntry.objects.create(
        id_number=welder.id_number,
        reason="伪造证书",
        starts_on=starts,
        ends_on=ends,
        created_by_label="安全部",
    )
    decision = welder_check(welder, here)
    assert codes(decision) == (["person.blacklisted"] if blocked else [])
    if blocked:
        assert "伪造证书" in decision.reasons[0].message


def test_inactive_person_and_no_employment(here):
    welder = member(here)
    welder.is_active = False
    welder.save()
    assert codes(welder_check(welder, here)) == ["person.inactive"]
    welder.is_active = True
    welder.save()
    Employment.objects.filter(person=welder).delete()
    assert codes(welder_check(welder, here)) == ["person.not_employed"]


def test_employment_must_cover_the_day(here):
    welder = member(here)
    emp = welder.current_employment
    emp.ended_on = D - DAY
    emp.save()
    assert codes(welder_check(welder, here)) == ["person.not_employed"]
    emp.ended_on = None
    emp.status = "suspended"
    emp.save()
    assert codes(welder_check(welder, here)) == ["person.not_employed"]


@pytest.mark.parametrize(
    ("on", "blocked"),
    [(dt.date(2026, 3, 9), False), (dt.date(2026, 3, 10), True), (dt.date(2026, 3, 11), True)],
)
def test_absence_of_six_months_or_more(here, on, blocked):
    # Art. 32: "6 months or more": the day before is allowed, exactly 6 months is not.
    welder = member(here)
    welder.certificates.filter(item__code="2.1").update(last_practised_on=dt.date(2025, 9, 10))
    decision = welder_check(welder, here, on=on)
    if blocked:
        (reason,) = decision.reasons
        assert reason.code == "cert.absence"
        assert reason.clause == "安监总局令第30号 第三十二条"
    else:
        assert decision.allowed, decision.reasons


def test_absence_rule_is_a_setting(here):
    welder = member(here)
    welder.certificates.filter(item__code="2.1").update(last_practised_on=dt.date(2025, 1, 1))
    assert codes(welder_check(welder, here)) == ["cert.absence"]
    Setting.objects.create(key="cert.absence_months", value=18)
    assert welder_check(welder, here).allowed
    Setting.objects.filter(key="cert.absence_months").delete()
    Setting.objects.create(key="cert.absence_rule_enabled", value=False)
    assert welder_check(welder, here).allowed


def test_a_recently_practised_certificate_is_preferred(here):
    welder = member(here)
    welder.certificates.filter(item__code="2.1").update(last_practised_on=dt.date(2025, 1, 1))
    certificate(welder, "special_operation", "2.2", last_practised_on=D - DAY)
    assert welder_check(welder, here).allowed


# --- position permission matrix -------------------------------------------------------------------


def test_position_must_allow_the_role_in_the_work_type(here):
    general = member(here, position="general-worker")
    (reason,) = welder_check(general, here).reasons
    assert reason.code == "position.not_permitted"
    assert reason.data["position_id"] == general.position_id

    general.position = None
    general.save()
    assert codes(welder_check(general, here)) == ["position.not_permitted"]


def test_position_max_level(here):
    welder = member(here)
    PositionPermission.objects.filter(
        position__code="welder", work_type__code="hot_work", crew_role__code="worker"
    ).update(max_level=WorkLevel.objects.get(work_type__code="hot_work", code="level1"))
    qualification.clear_caches()
    assert welder_check(welder, here).allowed
    special = qualification.check(
        welder, "hot_work", "special", "worker", here, at(D), HOT_WORK_ATTRS
    )
    assert codes(special) == ["position.not_permitted"]


def test_a_position_row_without_work_type_covers_every_type(here):
    Position.objects.create(code="all-rounder", name="多面手")
    guardian = member(here, position="all-rounder", certs=(("internal", "GUARDIAN"),))
    assert codes(qualification.check(guardian, "height", "I", "guardian", here, at(D))) == [
        "position.not_permitted"
    ]
    PositionPermission.objects.create(
        position=guardian.position, work_type=None, crew_role_id=_role("guardian")
    )
    assert qualification.check(guardian, "height", "I", "guardian", here, at(D)).allowed


def _role(code):
    from safework.work.models import CrewRole

    return CrewRole.objects.get(code=code).pk


# --- fail-closed ----------------------------------------------------------------------------------


def test_a_database_error_while_reading_facts_refuses(here):
    crew = hot_work_crew(here)
    with mock.patch.object(facts, "read_rows", side_effect=DatabaseError("disk I/O")):
        decision = crew_check(crew, here)
    assert not decision.allowed
    assert {r.code for r in decision.reasons} == {"check.cannot_decide"}
    assert {r.data["person_id"] for r in decision.reasons} == {p.pk for p in crew}
    assert crew_check(crew, here).allowed


def test_a_settings_registry_error_refuses(here):
    welder = member(here)
    with mock.patch.object(qualification, "get_setting", side_effect=RuntimeError("registry")):
        decision = welder_check(welder, here)
    assert (decision.allowed, codes(decision)) == (False, ["check.cannot_decide"])


def test_a_catalogue_error_refuses(here):
    welder = member(here)
    with mock.patch.object(qualification, "_load_catalogue", side_effect=DatabaseError("gone")):
        decision = welder_check(welder, here)
    assert (decision.allowed, codes(decision)) == (False, ["check.cannot_decide"])


def test_an_error_evaluating_one_member_refuses_that_member(here):
    welder, guardian, tester = hot_work_crew(here)
    real = qualification._position_reasons

    def broken(person, *args):
        if person.pk == guardian.pk:
            raise KeyError("bug")
        return real(person, *args)

    with mock.patch.object(qualification, "_position_reasons", broken):
        crew = qualification.assess_crew(
            crew_of(welder, guardian, tester),
            "hot_work",
            "level1",
            here,
            at(D),
            HOT_WORK_ATTRS,
        )
    assert [m.decision.allowed for m in crew.members] == [True, False, True]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_error_inside_a_transaction_leaves_it_usable(catalogue):
    here = site()
    welder = member(here)

    def broken(*args, **kwargs):
        with connection.cursor() as cur:
            cur.execute("SELECT * FROM no_such_table")

    with transaction.atomic():
        with mock.patch.object(qualification, "fetch_facts", broken):
            decision = welder_check(welder, here)
        assert codes(decision) == ["check.cannot_decide"]
        assert welder_check(welder, here).allowed  # the transaction is not aborted


# --- cost -----------------------------------------------------------------------------------------


READS = 1 if connection.vendor == "postgresql" else 7


def _reads(captured) -> list[str]:
    # Inside the test's transaction the engine reads under a savepoint: not a read.
    return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]


def test_query_count_does_not_grow_with_the_crew(here):
    contractor = contractor_at(here)
    crew = [member(here) for _ in range(3)] + [member(here, contractor=contractor)]
    big = crew + [member(here) for _ in range(8)]
    welder_check(crew[0], here)  # warm the catalogue and settings cache

    def ask(people):
        return qualification.check_crew(
            [CrewMember(p.pk, "worker") for p in people],
            "hot_work",
            "level1",
            here,
            at(D),
            HOT_WORK_ATTRS,
        )

    with CaptureQueriesContext(connection) as small_crew:
        assert ask(crew).allowed
    with CaptureQueriesContext(connection) as big_crew:
        assert ask(big).allowed
    # persons, employments, contractors, engagements, blacklist, certificates, health checks,
    # whatever the crew size: one statement list on PostgreSQL (one round trip), seven
    # statements on SQLite (in process)
    assert len(_reads(small_crew)) == len(_reads(big_crew)) == READS


def test_answer_many_questions_with_one_fetch(here):
    people = [member(here) for _ in range(4)]
    cat = qualification.catalogue()
    qualification.rule_settings(here.pk)
    wt = cat.work_type("hot_work")
    questions = [
        qualification.Question(
            p.pk,
            qualification.Work(wt, cat.level(wt, "level1"), cat.role("worker"), on, HOT_WORK_ATTRS),
            here.pk,
        )
        for p in people
        for on in (D, D + dt.timedelta(days=400))
    ]
    with CaptureQueriesContext(connection) as captured:
        decisions = qualification.answer(questions)
    assert len(_reads(captured)) == READS
    assert [d.allowed for d in decisions] == [True, False] * 4


def test_plant_training_helper_makes_a_year(here):
    welder = member(here, certs=())
    t = plant_training(welder, completed=dt.date(2025, 1, 1))
    assert t.valid_until == dt.date(2025, 12, 31)
