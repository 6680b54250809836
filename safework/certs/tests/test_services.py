"""The certificate life cycle services: validation, windows by the rule row, events, audit."""

import datetime as dt

import pytest

from safework.certs import services
from safework.certs.models import Certificate, CertificateEvent, CertState, EventKind
from safework.certs.queries import status_of, with_status
from safework.certs.rules import Status
from safework.certs.tests.factories import CertificateFactory, item
from safework.certs.tests.test_rules import shipped_catalogue_fixture
from safework.core.errors import InvalidInput
from safework.core.models import AuditRecord
from safework.core.refusals import Refused
from safework.people.tests.factories import PersonFactory

catalogue = shipped_catalogue_fixture()
D = dt.date
ORDER30 = "安监总局令第30号 第十九条、第二十一条、第二十二条"
ORDER19 = "应急管理部令第19号（2026-06-01施行）"
TSG = "TSG Z6001-2019 第二十二条、第二十五条"
CONSTRUCTION = "建质〔2008〕75号 第二十二条、第二十三条"

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(catalogue):
    return PersonFactory()


def create(person, scheme, code, **kw):
    it = item(scheme, code)
    kw.setdefault("number", "C0001")
    return services.create_certificate(person=person, scheme=it.scheme, item=it, **kw)


def codes(exc_info):
    if isinstance(exc_info.value, InvalidInput):
        return [(e.field, e.code) for e in exc_info.value.errors]
    return [(r.code, r.clause) for r in exc_info.value.reasons]


def audit_actions():
    return list(AuditRecord.objects.order_by("seq").values_list("action", flat=True))


# --- create ----------------------------------------------------------------------------------


def test_create_fills_dates_from_the_rule_in_force_and_is_audited(person):
    cert = create(person, "special_operation", "2.1", number="ｔ１２３ ", issued_on=D(2023, 5, 31))
    assert cert.number == "T123"  # NFKC, trimmed, upper case
    assert (cert.valid_from, cert.valid_until) == (D(2023, 5, 31), D(2029, 5, 30))
    assert cert.first_issued_on == D(2023, 5, 31)
    assert cert.next_review_due == D(2026, 5, 31)
    assert cert.catalogue_version == "2010"
    assert audit_actions() == ["catalogue.loaded", "certs.certificate_created"]
    tsg = create(person, "special_equipment", "N1", issued_on=D(2024, 3, 1))
    assert (tsg.valid_until, tsg.next_review_due) == (D(2028, 2, 29), None)


def test_item_must_belong_to_the_scheme(person):
    q2 = item("special_equipment", "Q2")
    with pytest.raises(InvalidInput) as exc:
        services.create_certificate(
            person=person,
            scheme=item("special_operation", "2.1").scheme,
            item=q2,
            number="X",
            issued_on=D(2024, 1, 1),
            restriction="tower",
        )
    assert codes(exc) == [("item", "item.wrong_scheme")]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"valid_until": D(2024, 1, 9)}, [("valid_until", "date.order")]),
        ({"first_issued_on": D(2024, 1, 11)}, [("first_issued_on", "date.order")]),
        ({"valid_from": D(2024, 1, 9)}, [("valid_from", "date.order")]),
        ({"number": "  "}, [("number", "required")]),
        ({"restriction": "tower"}, [("restriction", "restriction.not_allowed")]),
    ],
)
def test_bad_fields_are_422_and_nothing_is_saved(person, fields, errors):
    with pytest.raises(InvalidInput) as exc:
        create(person, "special_operation", "2.1", issued_on=D(2024, 1, 10), **fields)
    assert codes(exc) == errors
    assert not Certificate.objects.exists()
    assert audit_actions() == ["catalogue.loaded"]


def test_a_q2_needs_a_crane_kind_from_the_item(person):
    with pytest.raises(InvalidInput) as exc:
        create(person, "special_equipment", "Q2", issued_on=D(2024, 1, 10))
    assert codes(exc) == [("restriction", "restriction.required")]
    with pytest.raises(InvalidInput) as exc:
        create(person, "special_equipment", "Q2", issued_on=D(2024, 1, 10), restriction="truck")
    assert codes(exc) == [("restriction", "restriction.invalid")]
    cert = create(person, "special_equipment", "Q2", issued_on=D(2024, 1, 10), restriction="tower")
    assert cert.restriction == "tower"


def test_construction_number_must_carry_the_item_trade_code(person):
    cert = create(person, "construction", "01", number="晋A012008000001", issued_on=D(2024, 1, 1))
    assert cert.valid_until == D(2025, 12, 31)
    with pytest.raises(InvalidInput) as exc:
        create(person, "construction", "02", number="晋A012008000002", issued_on=D(2024, 1, 1))
    assert codes(exc) == [("number", "number.trade_code")]
    for bad in ("晋A01200800001", "XA012008000001", "晋a012008000001x"):
        with pytest.raises(InvalidInput) as exc:
            create(person, "construction", "01", number=bad, issued_on=D(2024, 1, 1))
        assert codes(exc) == [("number", "number.format")]


def test_a_number_is_kept_as_the_import_keeps_it(person):
    # Full-width characters and spaces typed inside the number go, as a ledger import drops
    # them, so both doors store one natural key for one certificate.
    written = "黔ａ01 2008 000001"
    cert = create(person, "construction", "01", number=written, issued_on=D(2024, 1, 1))
    assert cert.number == "黔A012008000001"


def test_natural_key_is_unique_with_a_clear_error(person):
    create(person, "special_operation", "2.1", number="110105194912310021", issued_on=D(2024, 1, 1))
    with pytest.raises(InvalidInput) as exc:
        create(
            PersonFactory(),
            "special_operation",
            "2.1",
            number="110105194912310021",
            issued_on=D(2024, 1, 1),
        )
    assert codes(exc) == [("number", "certificate.duplicate")]
    # The same number may repeat across items, and on another issue date.
    create(person, "special_operation", "3.1", number="110105194912310021", issued_on=D(2024, 1, 1))
    create(person, "special_operation", "2.1", number="110105194912310021", issued_on=D(2024, 2, 1))


def test_an_item_without_a_validity_needs_an_end_date(person):
    with pytest.raises(InvalidInput) as exc:
        create(person, "internal", "CONTRACTOR-ENTRY", issued_on=D(2026, 1, 5))
    assert codes(exc) == [("valid_until", "required")]
    cert = create(
        person, "internal", "CONTRACTOR-ENTRY", issued_on=D(2026, 1, 5), valid_until=D(2026, 6, 30)
    )
    assert cert.valid_until == D(2026, 6, 30)
    guardian = create(person, "internal", "GUARDIAN", issued_on=D(2026, 1, 5))
    assert guardian.valid_until == D(2029, 1, 4)


# --- update ----------------------------------------------------------------------------------


def test_update_corrects_dates_and_the_review_due_date_follows(person):
    cert = create(person, "special_operation", "2.1", issued_on=D(2023, 6, 1))
    assert cert.next_review_due is None
    cert = services.update_certificate(
        cert=cert, issued_on=D(2023, 5, 31), valid_from=D(2023, 5, 31)
    )
    assert cert.next_review_due == D(2026, 5, 31)
    last = AuditRecord.objects.order_by("-seq").first()
    assert last.action == "certs.certificate_updated"
    assert '"issued_on":"2023-06-01"' in last.payload  # the before-values


def test_update_refuses_unknown_fields_and_duplicates(person):
    a = create(person, "special_operation", "2.1", number="A", issued_on=D(2024, 1, 1))
    create(person, "special_operation", "2.1", number="B", issued_on=D(2024, 1, 1))
    with pytest.raises(InvalidInput) as exc:
        services.update_certificate(cert=a, state="revoked")
    assert codes(exc) == [("state", "not_editable")]
    with pytest.raises(InvalidInput) as exc:
        services.update_certificate(cert=a, number="b")
    assert codes(exc) == [("number", "certificate.duplicate")]


# --- review (Order No. 30) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "refusal"),
    [
        (D(2026, 3, 31), "cert.review.too_early"),  # 61 days before due
        (D(2026, 4, 1), None),  # the window opens 60 days before
        (D(2026, 5, 31), None),  # the due date itself
        (D(2026, 6, 1), "cert.review.late"),
    ],
)
def test_review_inside_the_window_before_the_due_date(person, on, refusal):
    cert = create(person, "special_operation", "2.1", issued_on=D(2023, 5, 31))
    if refusal:
        with pytest.raises(Refused) as exc:
            services.record_review(cert=cert, on=on)
        assert codes(exc) == [(refusal, ORDER30)]
        assert not CertificateEvent.objects.exists()
        return
    cert = services.record_review(cert=cert, on=on, note="8 class hours, test passed")
    assert cert.next_review_due is None  # the next would fall at expiry: renewal
    event = cert.events.get()
    assert (event.kind, event.on, event.due_on, event.passed) == (
        "review",
        on,
        D(2026, 5, 31),
        True,
    )
    assert audit_actions()[-1] == "certs.review_recorded"
    assert status_of(cert, on=D(2026, 6, 1)).status != Status.REVIEW_OVERDUE
    assert with_status(Certificate.objects.filter(pk=cert.pk), on=D(2026, 6, 1)).get().status != (
        Status.REVIEW_OVERDUE
    )


def test_no_review_where_it_would_fall_due_under_order19(person):
    cert = create(person, "special_operation", "2.1", issued_on=D(2023, 6, 1))
    with pytest.raises(Refused) as exc:
        services.record_review(cert=cert, on=D(2026, 5, 15))
    assert codes(exc) == [("cert.review.not_required", ORDER19)]


def test_tsg_certificates_are_not_reviewed_but_extended(person):
    cert = create(person, "special_equipment", "N1", issued_on=D(2022, 7, 1))
    with pytest.raises(Refused) as exc:
        services.record_review(cert=cert, on=D(2026, 5, 15))
    assert codes(exc) == [("cert.review.not_required", TSG)]


def test_a_failed_review_is_kept_and_the_review_stays_due(person):
    cert = create(person, "special_operation", "2.1", issued_on=D(2023, 5, 31))
    cert = services.record_review(cert=cert, on=D(2026, 5, 1), passed=False, note="test failed")
    assert cert.next_review_due == D(2026, 5, 31)
    assert cert.events.get().passed is False
    assert status_of(cert, on=D(2026, 6, 1)).status == Status.REVIEW_OVERDUE
    cert = services.record_review(cert=cert, on=D(2026, 5, 20))  # retrained, passed
    assert cert.next_review_due is None


def test_next_review_counts_from_the_due_date_not_the_review_day(person):
    cert = create(
        person,
        "special_operation",
        "2.1",
        issued_on=D(2010, 8, 1),
        valid_until=D(2022, 7, 31),  # an old ledger's long validity
    )
    assert cert.next_review_due == D(2013, 8, 1)
    cert = services.record_review(cert=cert, on=D(2013, 6, 15))
    assert cert.next_review_due == D(2016, 8, 1)


# --- extension (TSG Z6001, construction) -----------------------------------------------------


@pytest.mark.parametrize(
    ("on", "refusal"),
    [
        (D(2026, 3, 31), "cert.extension.too_early"),
        (D(2026, 4, 1), None),  # the window opens (data: extension_window_open_days)
        (D(2026, 5, 31), None),  # at least one month (30 days) before expiry
        (D(2026, 6, 1), "cert.extension.late"),
    ],
)
def test_tsg_extension_window(person, on, refusal):
    cert = create(person, "special_equipment", "N1", issued_on=D(2022, 7, 1))
    assert cert.valid_until == D(2026, 6, 30)
    if refusal:
        with pytest.raises(Refused) as exc:
            services.record_extension(cert=cert, on=on)
        assert codes(exc) == [(refusal, TSG)]
        cert.refresh_from_db()
        assert cert.valid_until == D(2026, 6, 30)
        return
    cert = services.record_extension(cert=cert, on=on)
    assert cert.valid_until == D(2030, 6, 30)  # the same certificate, four more years
    event = cert.events.get()
    assert (event.kind, event.previous_valid_until, event.new_valid_until) == (
        "extension",
        D(2026, 6, 30),
        D(2030, 6, 30),
    )
    assert audit_actions()[-1] == "certs.certificate_extended"


def test_construction_extension_within_three_months_keeps_history(person):
    cert = create(person, "construction", "01", number="苏A012024000001", issued_on=D(2024, 7, 1))
    assert cert.valid_until == D(2026, 6, 30)
    with pytest.raises(Refused) as exc:
        services.record_extension(cert=cert, on=D(2026, 3, 29))
    assert codes(exc) == [("cert.extension.too_early", CONSTRUCTION)]
    cert = services.record_extension(cert=cert, on=D(2026, 6, 30))  # the expiry day itself
    assert cert.valid_until == D(2028, 6, 30)
    cert = services.record_extension(cert=cert, on=D(2028, 4, 1))
    assert cert.valid_until == D(2030, 6, 30)
    history = list(cert.events.values_list("previous_valid_until", "new_valid_until"))
    assert history == [(D(2026, 6, 30), D(2028, 6, 30)), (D(2028, 6, 30), D(2030, 6, 30))]
    with pytest.raises(Refused) as exc:
        services.record_extension(cert=cert, on=D(2030, 7, 1))
    assert codes(exc) == [("cert.extension.late", CONSTRUCTION)]


def test_order30_certificates_are_renewed_not_extended(person):
    cert = create(person, "special_operation", "2.1", issued_on=D(2021, 1, 10))
    with pytest.raises(Refused) as exc:
        services.record_extension(cert=cert, on=D(2026, 12, 1))
    assert codes(exc) == [("cert.extension.not_applicable", ORDER19)]


def test_a_failed_extension_changes_nothing_but_is_kept(person):
    cert = create(person, "special_equipment", "N1", issued_on=D(2022, 7, 1))
    cert = services.record_extension(cert=cert, on=D(2026, 5, 1), passed=False)
    assert cert.valid_until == D(2026, 6, 30)
    assert cert.events.get().passed is False


# --- renewal ---------------------------------------------------------------------------------


def test_renewal_is_a_new_linked_record_keeping_the_first_issue_date(person):
    old = create(
        person,
        "special_operation",
        "2.1",
        number="R1",
        issued_on=D(2020, 3, 11),
        first_issued_on=D(2014, 3, 11),
    )
    assert old.valid_until == D(2026, 3, 10)
    new = services.renew_certificate(
        cert=old, number="R1", issued_on=D(2026, 3, 5), valid_from=D(2026, 3, 15)
    )
    assert new.predecessor == old and new.pk != old.pk
    assert new.first_issued_on == D(2014, 3, 11)
    assert (new.valid_from, new.valid_until) == (D(2026, 3, 15), D(2032, 3, 14))
    assert new.next_review_due is None  # Order 19: no periodic review
    event = old.events.get()
    assert (event.kind, event.previous_valid_until, event.new_valid_until) == (
        EventKind.RENEWAL,
        D(2026, 3, 10),
        D(2032, 3, 14),
    )
    assert audit_actions()[-1] == "certs.certificate_renewed"
    # The vacuum between the old end and the new start.
    assert status_of(new, on=D(2026, 3, 10)).status == Status.NOT_YET_VALID
    assert status_of(new, on=D(2026, 3, 11)).status == Status.VACUUM
    assert status_of(new, on=D(2026, 3, 14)).status == Status.VACUUM
    assert status_of(old, on=D(2026, 3, 11)).status == Status.EXPIRED
    with pytest.raises(Refused) as exc:
        services.renew_certificate(cert=old, number="R2", issued_on=D(2026, 4, 1))
    assert codes(exc) == [("cert.renewal.exists", "")]


def test_renewal_must_be_issued_after_the_record_it_renews(person):
    old = create(person, "special_operation", "2.1", issued_on=D(2020, 3, 11))
    with pytest.raises(InvalidInput) as exc:
        services.renew_certificate(cert=old, number="R1", issued_on=D(2020, 3, 11))
    assert codes(exc) == [("issued_on", "date.order")]


# --- revocation, cancellation ----------------------------------------------------------------


def test_revoked_cancelled_and_invalid_are_different_states(person):
    revoked = create(person, "special_operation", "2.1", number="A", issued_on=D(2024, 1, 10))
    cancelled = create(person, "special_operation", "2.1", number="B", issued_on=D(2024, 1, 10))
    lapsed = create(person, "special_equipment", "N1", number="C", issued_on=D(2022, 1, 10))
    with pytest.raises(InvalidInput) as exc:
        services.revoke_certificate(cert=revoked, ground="accident", reason=" ", on=D(2026, 3, 1))
    assert codes(exc) == [("reason", "required")]
    revoked = services.revoke_certificate(
        cert=revoked, ground="accident", reason="responsible for an accident", on=D(2026, 3, 1)
    )
    cancelled = services.cancel_certificate(cert=cancelled, reason="own request", on=D(2026, 3, 1))
    on = D(2026, 3, 1)
    statuses = {c.number: status_of(c, on=on).status for c in (revoked, cancelled, lapsed)}
    assert statuses == {"A": Status.REVOKED, "B": Status.CANCELLED, "C": Status.EXPIRED}
    assert (revoked.state, revoked.state_reason, revoked.state_changed_on) == (
        CertState.REVOKED,
        "responsible for an accident",
        D(2026, 3, 1),
    )
    assert status_of(revoked, on=D(2026, 2, 28)).status != Status.REVOKED  # from that day on
    assert [e.kind for e in revoked.events.all()] == [EventKind.REVOCATION]
    assert audit_actions()[-2:] == ["certs.certificate_revoked", "certs.certificate_cancelled"]


def test_revoked_may_be_cancelled_later_and_stays_unusable_since_revocation(person):
    cert = create(person, "special_operation", "2.1", issued_on=D(2024, 1, 10))
    services.revoke_certificate(
        cert=cert, ground="false_entries", reason="false entries", on=D(2026, 3, 1)
    )
    with pytest.raises(Refused) as exc:
        services.revoke_certificate(
            cert=cert, ground="false_entries", reason="again", on=D(2026, 3, 2)
        )
    assert codes(exc) == [("cert.revoked", "")]
    cert = services.cancel_certificate(cert=cert, reason="revoked", on=D(2026, 4, 1))
    assert (cert.state, cert.state_changed_on) == (CertState.CANCELLED, D(2026, 3, 1))
    assert status_of(cert, on=D(2026, 3, 15)).status == Status.CANCELLED
    with pytest.raises(Refused) as exc:
        services.cancel_certificate(cert=cert, reason="again", on=D(2026, 4, 2))
    assert codes(exc) == [("cert.cancelled", "")]
    kinds = list(cert.events.values_list("kind", flat=True))
    assert kinds == [EventKind.REVOCATION, EventKind.CANCELLATION]


def test_a_revoked_record_takes_no_review_extension_or_renewal(person):
    cert = create(person, "special_operation", "2.1", issued_on=D(2023, 5, 31))
    tsg = create(person, "special_equipment", "N1", issued_on=D(2022, 7, 1))
    for c, ground in ((cert, "deception"), (tsg, "authority_decision")):
        services.revoke_certificate(cert=c, ground=ground, reason="deception", on=D(2026, 1, 1))
    with pytest.raises(Refused) as exc:
        services.record_review(cert=cert, on=D(2026, 5, 1))
    assert codes(exc) == [("cert.revoked", ORDER30)]
    with pytest.raises(Refused):
        services.record_extension(cert=tsg, on=D(2026, 5, 1))
    with pytest.raises(Refused):
        services.renew_certificate(cert=cert, number="N", issued_on=D(2029, 5, 1))


def test_a_record_stored_without_its_due_gets_it_when_recomputed(person):
    cert = CertificateFactory(
        item=item("special_operation", "2.1"), issued_on=D(2023, 5, 31), next_review_due=None
    )
    assert cert.next_review_due is None
    assert services.recompute_review_dues() == 1
    cert.refresh_from_db()
    assert cert.next_review_due == D(2026, 5, 31)
