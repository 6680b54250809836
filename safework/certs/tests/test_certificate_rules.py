"""Rules of certificates.md the first version lacked (issue 17, items 10 and 13): the ground of
a revocation, the 3-year bar after false entries or deception, the TSG Z6001 age limit of 65 on
extensions, overlapping versions of one catalogue rule, internal items outside any registry, and
a medical height restriction that rules out any work from 2 m."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from safework.certs import services
from safework.certs.models import (
    CatalogueRule,
    Certificate,
    RevocationGround,
    Scheme,
    Verification,
)
from safework.certs.queries import status_of, status_settings, with_status
from safework.certs.rules import Status, StatusSettings
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.catalogue import apply_catalogue_update, load_catalogue
from safework.core.errors import InvalidInput
from safework.core.models import Setting
from safework.core.refusals import Refused
from safework.org.tests.factories import SiteFactory
from safework.people.models import HealthCheck
from safework.people.rules import ric_check_char
from safework.people.tests.factories import PersonFactory
from safework.qualification import engine as qualification
from safework.qualification.tests.qualification_fixtures import D as CHECK_DAY
from safework.qualification.tests.qualification_fixtures import at, certificate, member

D = dt.date
BAR_CLAUSE = "安监总局令第30号 第三十条第二款（3年内不得再次申请）"
TSG = "TSG Z6001-2019 第二十二条、第二十五条"

pytestmark = pytest.mark.django_db


def codes(exc_info):
    if isinstance(exc_info.value, InvalidInput):
        return [(e.field, e.code) for e in exc_info.value.errors]
    return [(r.code, r.clause) for r in exc_info.value.reasons]


ENTERED_AT = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def create(person, scheme, code, **kw):
    it = item(scheme, code)
    kw.setdefault("number", f"C{Certificate.objects.count() + 1:05d}")
    # Entered after every issue date the cases use: an issue date in the future is refused.
    with time_machine.travel(ENTERED_AT, tick=False):
        cert = services.create_certificate(person=person, scheme=it.scheme, item=it, **kw)
    Certificate.objects.filter(pk=cert.pk).update(verification=Verification.VERIFIED)
    cert.refresh_from_db()
    return cert


def both(cert, on):
    """(per-object status, SQL status): they must agree."""
    row = with_status(Certificate.objects.filter(pk=cert.pk), on=on).get()
    return status_of(cert, on=on).status, row.status


# --- (a) a revocation records its ground -----------------------------------------------------


def test_a_revocation_needs_a_ground_of_the_certificates_scheme(catalogue):
    person = PersonFactory()
    weld = create(person, "special_operation", "2.1", issued_on=D(2022, 1, 10))
    forklift = create(person, "special_equipment", "N1", issued_on=D(2024, 1, 10))
    with pytest.raises(InvalidInput) as exc:
        services.revoke_certificate(cert=weld, ground="", reason="伪造", on=D(2024, 3, 10))
    assert codes(exc) == [("ground", "required")]
    with pytest.raises(InvalidInput) as exc:
        services.revoke_certificate(cert=weld, ground="bribe", reason="伪造", on=D(2024, 3, 10))
    assert codes(exc) == [("ground", "invalid_choice")]
    # Art. 30 of Order No. 30 is about special-operation certificates only.
    with pytest.raises(InvalidInput) as exc:
        services.revoke_certificate(
            cert=forklift, ground="false_entries", reason="x", on=D(2024, 3, 10)
        )
    assert codes(exc) == [("ground", "invalid_choice")]
    assert Certificate.objects.filter(state="revoked").count() == 0

    weld = services.revoke_certificate(
        cert=weld, ground="false_entries", reason="学历证明伪造", on=D(2024, 3, 10)
    )
    assert weld.revocation_ground.code == "false_entries"
    assert weld.revocation_ground.clause == "安监总局令第30号 第三十条第一款第（四）项"
    assert (weld.revoked_on, weld.reapply_allowed_from) == (D(2024, 3, 10), D(2027, 3, 10))
    event = weld.events.get()
    assert "特种作业操作证记载虚假信息" in event.reason and "学历证明伪造" in event.reason
    forklift = services.revoke_certificate(
        cert=forklift, ground="authority_decision", reason="决定书", on=D(2024, 3, 10)
    )
    assert forklift.reapply_allowed_from is None  # this ground bars nothing


# --- (b) the 3-year bar after false entries or deception -------------------------------------


@pytest.mark.parametrize(
    ("ground", "issued_on", "barred"),
    [
        ("false_entries", D(2024, 3, 9), False),  # before the revocation: not a new application
        ("false_entries", D(2024, 3, 10), True),  # the day of revocation
        ("false_entries", D(2027, 3, 9), True),  # the last day of the 3 years
        ("false_entries", D(2027, 3, 10), False),  # 3 years after: allowed again
        ("deception", D(2025, 6, 1), True),
        ("accident", D(2025, 6, 1), False),  # Art. 30 ¶2 names only false entries, deception
    ],
)
def test_a_new_certificate_within_three_years_of_a_revocation_is_not_usable(
    catalogue, ground, issued_on, barred
):
    person = PersonFactory()
    old = create(person, "special_operation", "2.1", number="OLD", issued_on=D(2022, 1, 10))
    services.revoke_certificate(cert=old, ground=ground, reason="x", on=D(2024, 3, 10))
    new = create(person, "special_operation", "2.1", number="NEW", issued_on=issued_on)
    other_item = create(person, "special_operation", "3.1", number="3.1", issued_on=issued_on)
    someone_else = create(PersonFactory(), "special_operation", "2.1", issued_on=issued_on)
    on = issued_on + dt.timedelta(days=10)
    expected = Status.REAPPLY_BARRED if barred else Status.VALID
    assert both(new, on) == (expected, expected)
    assert both(other_item, on) == (Status.VALID, Status.VALID)
    assert both(someone_else, on) == (Status.VALID, Status.VALID)
    status = status_of(new, on=on)
    assert status.usable is not barred
    if barred:
        assert (status.colour, status.clause) == ("red", BAR_CLAUSE)
        assert status.reason(subject="NEW").code == "cert.reapply_barred"


def test_the_engine_refuses_a_certificate_issued_during_the_bar(catalogue):
    here = SiteFactory()
    welder = member(here, certs=())
    old = certificate(welder, "special_operation", "2.1", number="OLD", issued_on=D(2022, 1, 10))
    services.revoke_certificate(cert=old, ground="deception", reason="代考", on=D(2025, 1, 10))
    certificate(welder, "special_operation", "2.1", number="NEW", issued_on=D(2025, 6, 10))
    decision = qualification.check(
        welder,
        "hot_work",
        "level2",
        "worker",
        here,
        at(CHECK_DAY),
        {"hot_work_method": "welding", "height_m": 0.5},
    )
    assert not decision.allowed
    (reason,) = [r for r in decision.reasons if r.subject == "NEW"]
    assert reason.code == "cert.reapply_barred"
    assert BAR_CLAUSE in reason.clause


def test_revocation_over_the_api_takes_a_ground(catalogue, client, django_user_model):
    from safework.accounts.models import Role, RoleGrant

    admin = django_user_model.objects.create_user("admin17", password="x")
    RoleGrant.objects.create(user=admin, role=Role.ADMINISTRATOR)
    client.force_login(admin)
    cert = create(PersonFactory(), "special_operation", "2.1", issued_on=D(2024, 1, 10))
    url = f"/api/v1/certificates/{cert.pk}/revoke"
    missing = client.post(url, {"reason": "伪造"}, content_type="application/json")
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["ground"]
    unknown = client.post(
        url, {"reason": "伪造", "ground": "nope"}, content_type="application/json"
    )
    assert (unknown.status_code, unknown.json()["errors"][0]["code"]) == (422, "invalid_choice")
    done = client.post(
        url,
        {"reason": "伪造", "ground": "false_entries", "on": "2025-01-10"},
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["revocation_ground"], body["revoked_on"], body["reapply_allowed_from"]) == (
        "false_entries",
        "2025-01-10",
        "2028-01-10",
    )
    grounds = client.get("/api/v1/catalogue/revocation-grounds").json()["items"]
    bars = {g["code"]: g["reapply_bar_months"] for g in grounds}
    assert bars["false_entries"] == bars["deception"] == 36
    assert bars["accident"] is None


# --- (c) TSG Z6001: no extension past the age of 65 --------------------------------------------


def person_born(born: dt.date):
    first17 = f"110105{born:%Y%m%d}901"
    number = first17 + ric_check_char(first17)
    return PersonFactory(id_number=number, birth_date=born)


@pytest.mark.parametrize(
    ("on", "refused"),
    [
        (D(2026, 5, 19), False),  # the day before the 65th birthday
        (D(2026, 5, 20), False),  # the 65th birthday: aged 65, still "≤ 65"
        (D(2026, 5, 21), True),  # the next day: past 65
    ],
)
def test_tsg_extension_is_refused_past_the_age_of_65(catalogue, on, refused):
    holder = person_born(D(1961, 5, 20))
    cert = create(holder, "special_equipment", "N1", issued_on=D(2022, 7, 1))
    assert cert.valid_until == D(2026, 6, 30)  # the window: 2026-04-01 … 2026-05-31
    if not refused:
        assert services.record_extension(cert=cert, on=on).valid_until == D(2030, 6, 30)
        return
    with pytest.raises(Refused) as exc:
        services.record_extension(cert=cert, on=on)
    assert codes(exc) == [("cert.extension.age_limit", TSG)]
    assert exc.value.reasons[0].data["max_age_years"] == 65
    cert.refresh_from_db()
    assert cert.valid_until == D(2026, 6, 30) and not cert.events.exists()


def test_the_age_limit_is_data_and_construction_has_none(catalogue):
    holder = person_born(D(1960, 1, 1))  # 66 in 2026
    cert = create(holder, "special_equipment", "N1", issued_on=D(2022, 7, 1))
    CatalogueRule.objects.filter(code="tsg-z6001-2019").update(extension_max_age_years=70)
    assert services.record_extension(cert=cert, on=D(2026, 5, 1)).valid_until == D(2030, 6, 30)
    building = create(
        holder, "construction", "01", number="苏A012024000001", issued_on=D(2024, 7, 1)
    )
    extended = services.record_extension(cert=building, on=D(2026, 6, 1))
    assert extended.valid_until == D(2028, 6, 30)


# --- (d) overlapping versions of one rule are refused ----------------------------------------


def rule(code, start, end=None, **kw):
    kw.setdefault("scheme", Scheme.objects.get(code="special_operation"))
    return CatalogueRule(
        code=code, validity_months=72, clause="测试", effective_from=start, effective_to=end, **kw
    )


def test_model_validation_refuses_an_overlapping_version(catalogue):
    weld = item("special_operation", "2.1")
    # The scheme's rows: Order 30 until 2026-06-01 (exclusive), Order 19 from that day.
    with pytest.raises(ValidationError) as exc:
        rule("order30-extra", D(2026, 5, 31), D(2026, 6, 2)).full_clean()
    message = " ".join(exc.value.message_dict["effective_from"])
    assert "order30-validity-review" in message and "order19-validity-renewal" in message
    # An item's own versions are another rule: they may sit beside the scheme's.
    first = rule("weld-a", D(2020, 1, 1), D(2026, 6, 1), item=weld)
    first.full_clean()
    first.save()
    rule("weld-b", D(2026, 6, 1), item=weld).full_clean()  # adjacent: [from, to) ends before
    with pytest.raises(ValidationError):
        rule("weld-c", D(2026, 5, 31), item=weld).full_clean()
    with pytest.raises(ValidationError):
        rule("weld-d", D(2010, 1, 1), item=weld).full_clean()  # open-ended covers the rest
    first.effective_to = D(2027, 1, 1)
    first.full_clean()  # editing the row itself does not clash with itself


def test_admin_refuses_an_overlapping_version(catalogue, client, django_user_model):
    from safework.accounts.models import Role, RoleGrant

    admin = django_user_model.objects.create_user("admin17", password="x", is_staff=True)
    RoleGrant.objects.create(user=admin, role=Role.ADMINISTRATOR)
    client.force_login(admin)
    scheme = Scheme.objects.get(code="special_operation")
    data = {
        "scheme": scheme.pk,
        "item": "",
        "code": "order19-draft",
        "validity_months": "72",
        "clause": "草案",
        "effective_from": "2027-01-01",
        "effective_to": "",
        "note": "",
    }
    response = client.post("/admin/certs/cataloguerule/add/", data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "order19-validity-renewal" in errors["effective_from"][0]
    assert not CatalogueRule.objects.filter(code="order19-draft").exists()


def test_loading_or_updating_the_catalogue_refuses_overlapping_versions(catalogue):
    # An administrator replaced Order 19's row by their own version; the shipped row, loaded
    # again, would overlap it.
    CatalogueRule.objects.filter(code="order19-validity-renewal").delete()
    rule("order19-local", D(2026, 6, 1)).save()
    for load in (load_catalogue, apply_catalogue_update):
        with pytest.raises(InvalidInput) as exc:
            load()
        assert {e.code for e in exc.value.errors} == {"rule.overlap"}
        assert "order19-local" in exc.value.errors[0].message
        assert not CatalogueRule.objects.filter(code="order19-validity-renewal").exists()
    with pytest.raises(CommandError, match="order19-local"):
        call_command("catalogue", "update")


# --- item 13: internal items are never "unverified" --------------------------------------------


@pytest.mark.parametrize("blocking", [False, True])
def test_internal_items_are_never_unverified(catalogue, blocking):
    Setting.objects.create(key="cert.unverified_blocking", value=blocking)
    person = PersonFactory()
    guardian = CertificateFactory(
        person=person,
        item=item("internal", "GUARDIAN"),
        issued_on=D(2025, 1, 5),
        valid_until=D(2028, 1, 4),
        verification=Verification.UNVERIFIED,
    )
    weld = CertificateFactory(
        person=person,
        item=item("special_operation", "2.1"),
        issued_on=D(2025, 1, 5),
        valid_until=D(2031, 1, 4),
        verification=Verification.UNVERIFIED,
    )
    on = D(2026, 1, 5)
    assert both(guardian, on) == (Status.VALID, Status.VALID)
    assert status_of(guardian, on=on).usable
    assert both(weld, on) == (Status.UNVERIFIED, Status.UNVERIFIED)
    assert status_of(weld, on=on).usable is not blocking
    assert status_settings() == StatusSettings(unverified_blocking=blocking)


def test_the_engine_takes_an_unverified_internal_item(catalogue):
    Setting.objects.create(key="cert.unverified_blocking", value=True)
    here = SiteFactory()
    guardian = member(here, position="team-leader", certs=())
    certificate(
        guardian, "internal", "GUARDIAN", issued_on=D(2025, 3, 1), verification="unverified"
    )
    guardian.certificates.filter(item__code="PLANT-ANNUAL").update(verification="unverified")
    decision = qualification.check(guardian, "hot_work", "level2", "guardian", here, at(CHECK_DAY))
    assert decision.allowed, decision.reasons


# --- item 13: a height restriction rules out any work from 2 m ---------------------------------


@pytest.mark.parametrize(
    ("height", "restricted"), [(0.5, False), (1.99, False), (2, True), (3, True)]
)
def test_a_height_restriction_rules_out_hot_work_at_height(catalogue, height, restricted):
    here = SiteFactory()
    welder = member(here, certs=(("special_operation", "2.1"), ("special_operation", "3.2")))
    HealthCheck.objects.filter(person=welder).update(
        conclusion="restricted", restricted_work_types=["height"], restriction_reason="高血压"
    )
    attrs = {"hot_work_method": "welding", "height_m": height}
    decision = qualification.check(
        welder, "hot_work", "level2", "worker", here, at(CHECK_DAY), attrs
    )
    if not restricted:
        assert decision.allowed, decision.reasons
        return
    (reason,) = decision.reasons
    assert reason.code == "medical.restricted"
    assert "GB 30871-2022 3.8" in reason.clause
    assert "高血压" in reason.message
    assert reason.data["restricted_work_type"] == "height"


def test_a_height_restriction_needs_the_height_of_other_work(catalogue):
    here = SiteFactory()
    guardian = member(here, position="team-leader", certs=(("internal", "GUARDIAN"),))
    HealthCheck.objects.filter(person=guardian).update(
        conclusion="restricted", restricted_work_types=["height"], restriction_reason="眩晕"
    )
    unknown = qualification.check(guardian, "hot_work", "level2", "guardian", here, at(CHECK_DAY))
    assert [r.code for r in unknown.reasons] == ["check.attribute_missing"]
    assert unknown.reasons[0].data["attribute"] == "height_m"
    low = qualification.check(
        guardian, "hot_work", "level2", "guardian", here, at(CHECK_DAY), {"height_m": 1}
    )
    assert low.allowed, low.reasons


def test_the_height_threshold_is_catalogue_data(catalogue):
    from safework.work.models import WorkType

    height = WorkType.objects.get(code="height")
    assert (float(height.from_height_m), height.height_clause) == (
        2.0,
        "GB 30871-2022 3.8（距坠落基准面2 m及以上）",
    )
    assert RevocationGround.objects.filter(reapply_bar_months=36).count() == 2
