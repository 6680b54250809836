"""Internal qualifications are valid as long as their rule says, and that is what is stored.

Annual plant training counts one year from completion, whatever end a form or a ledger gives;
the certificate services, the ledger import and the demo seeds all store the capped end, so the
lists, the admin, the exports and the engine read one answer from the stored fields.
"""

import datetime as dt
import json

import pytest
import time_machine

from safework.certs import services
from safework.certs.models import CatalogueRule, Certificate, CertificateItem
from safework.certs.rules import RuleBook, bounded_valid_until, validity_limit
from safework.certs.tests.factories import item
from safework.core.models import AuditRecord
from safework.people.tests.factories import PersonFactory

D = dt.date
PLANT_CLAUSE = "企业规定：年度安全培训（自完成之日起一年）"

# --- the rule, on built objects ----------------------------------------------------------------

INTERNAL, ORDER30 = 3, 1
PLANT = CertificateItem(pk=301, scheme_id=INTERNAL, code="PLANT-ANNUAL", calendar_year=False)
GUARDIAN = CertificateItem(pk=302, scheme_id=INTERNAL, code="GUARDIAN", calendar_year=True)
ENTRY = CertificateItem(pk=303, scheme_id=INTERNAL, code="CONTRACTOR-ENTRY")
WELDING = CertificateItem(pk=121, scheme_id=ORDER30, code="2.1")
BOOK = RuleBook(
    [
        CatalogueRule(
            pk=1,
            scheme_id=INTERNAL,
            item_id=301,
            code="plant",
            validity_months=12,
            clause="年度",
            effective_from=D(2000, 1, 1),
        ),
        CatalogueRule(
            pk=2,
            scheme_id=INTERNAL,
            item_id=303,
            code="entry",
            clause="随合同",
            effective_from=D(2000, 1, 1),
        ),
        CatalogueRule(
            pk=3,
            scheme_id=ORDER30,
            code="order30",
            validity_months=72,
            clause="第30号",
            effective_from=D(2000, 1, 1),
        ),
    ],
    unregistered_schemes=[INTERNAL],
)


def bounded(it, issued, until, valid_from=None):
    return bounded_valid_until(
        BOOK, it, issued_on=issued, valid_from=valid_from or issued, valid_until=until
    )


def test_annual_training_ends_the_day_before_the_anniversary():
    limit = validity_limit(BOOK, PLANT, D(2025, 3, 10))
    assert (limit.last_day, limit.clause) == (D(2026, 3, 9), "年度")
    end, cap = bounded(PLANT, D(2025, 3, 10), D(2030, 1, 1))
    assert (end, cap.rule.code) == (D(2026, 3, 9), "plant")
    # The anniversary itself and an earlier end are kept as given.
    assert bounded(PLANT, D(2025, 3, 10), D(2026, 3, 9)) == (D(2026, 3, 9), None)
    assert bounded(PLANT, D(2025, 3, 10), D(2025, 6, 30)) == (D(2025, 6, 30), None)
    # Completed on 29 February: a year later is 28 February, so valid through the 27th.
    assert bounded(PLANT, D(2024, 2, 29), D(2025, 12, 31))[0] == D(2025, 2, 27)


def test_calendar_year_items_end_on_31_december():
    assert bounded(GUARDIAN, D(2025, 3, 10), D(2028, 3, 9))[0] == D(2025, 12, 31)
    assert bounded(GUARDIAN, D(2025, 3, 10), D(2025, 12, 31)) == (D(2025, 12, 31), None)


def test_printed_dates_of_registered_schemes_and_rules_without_months_are_kept():
    # An authority's certificate is valid until the date it printed, even past the default.
    assert validity_limit(BOOK, WELDING, D(2024, 1, 10)) is None
    assert bounded(WELDING, D(2024, 1, 10), D(2035, 1, 1)) == (D(2035, 1, 1), None)
    # The contractor's site induction runs with the contract: no months, no cap.
    assert bounded(ENTRY, D(2025, 3, 10), D(2029, 1, 1)) == (D(2029, 1, 1), None)


def test_a_record_starting_after_its_limit_keeps_one_day():
    # Completed 2025-03-10, valid only from 2026-04-01: the rule has already ended it; the end
    # cannot precede the start, so the record is valid on its first day only.
    assert bounded(PLANT, D(2025, 3, 10), D(2027, 1, 1), valid_from=D(2026, 4, 1))[0] == (
        D(2026, 4, 1)
    )


# --- the write paths ------------------------------------------------------------------------------


def after_of(action):
    record = AuditRecord.objects.filter(action=action).order_by("-seq").first()
    return json.loads(record.payload)["after"]


@pytest.fixture
def clock():
    with time_machine.travel(dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.mark.django_db
def test_services_store_the_capped_end_and_audit_the_given_one(catalogue, clock):
    plant = item("internal", "PLANT-ANNUAL")
    person = PersonFactory()
    cert = services.create_certificate(
        person=person,
        scheme=plant.scheme,
        item=plant,
        number="P-1",
        issued_on=D(2025, 3, 10),
        valid_until=D(2027, 12, 31),
    )
    cert.refresh_from_db()
    assert cert.valid_until == D(2026, 3, 9)
    after = after_of("certs.certificate_created")
    assert after["valid_until"] == "2026-03-09"
    assert after["valid_until_given"] == "2027-12-31"
    assert (after["validity_rule"], after["validity_clause"]) == (
        "internal-plant-annual",
        PLANT_CLAUSE,
    )

    # A correction of the completion date moves the cap with it.
    cert = services.update_certificate(
        cert=cert, issued_on=D(2025, 6, 1), valid_from=D(2025, 6, 1), valid_until=D(2027, 1, 1)
    )
    assert cert.valid_until == D(2026, 5, 31)
    assert after_of("certs.certificate_updated")["valid_until_given"] == "2027-01-01"

    renewed = services.renew_certificate(
        cert=cert, number="P-2", issued_on=D(2026, 5, 20), valid_until=D(2030, 1, 1)
    )
    assert renewed.valid_until == D(2027, 5, 19)
    assert after_of("certs.certificate_renewed")["valid_until_given"] == "2030-01-01"


@pytest.mark.django_db
def test_services_keep_an_authoritys_printed_end(catalogue, clock):
    weld = item("special_operation", "2.1")
    cert = services.create_certificate(
        person=PersonFactory(),
        scheme=weld.scheme,
        item=weld,
        number="W-1",
        issued_on=D(2024, 1, 10),
        valid_until=D(2031, 1, 9),  # longer than the six-year default: as printed
    )
    assert cert.valid_until == D(2031, 1, 9)
    assert "valid_until_given" not in after_of("certs.certificate_created")


@pytest.mark.django_db
def test_the_ledger_import_stores_the_capped_end_with_a_note(
    catalogue, clock, django_capture_on_commit_callbacks, settings, tmp_path
):
    from safework.ledger.models import JobStatus
    from safework.ledger.services import start_import
    from safework.ledger.testing import identities, upload, xlsx_bytes

    settings.MEDIA_ROOT = tmp_path / "media"
    ids = [number for number, _name in identities(3, seed=13)]
    rows = [
        ["姓名", "身份证号码", "操作项目", "证书编号", "发证日期", "有效期至"],
        ["甲", ids[0], "年度安全培训", "T-1", "2025-03-10", "2027-12-31"],  # longer: capped
        ["乙", ids[1], "年度安全培训", "T-2", "2025-03-10", "2026-03-09"],  # the rule's year
        ["丙", ids[2], "2.1", "W-1", "2024-01-10", "2031-01-09"],  # printed: kept
    ]

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            job = start_import(
                by=None, file_obj=upload("台账.xlsx", xlsx_bytes(rows)), original_name="台账.xlsx"
            )
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.errors
        return job

    job = run()
    stored = dict(Certificate.objects.values_list("number", "valid_until"))
    assert stored == {"T-1": D(2026, 3, 9), "T-2": D(2026, 3, 9), "W-1": D(2031, 1, 9)}
    notes = {e["row"]: e for e in job.errors if e["code"] == "valid_until.capped"}
    assert sorted(notes) == [2]
    assert notes[2]["level"] == "note"
    assert "2026-03-09" in notes[2]["message"] and PLANT_CLAUSE in notes[2]["message"]
    # The same ledger again: the stored record already says what the row means.
    again = run()
    assert (again.created_count, again.updated_count) == (0, 0)
    assert dict(Certificate.objects.values_list("number", "valid_until")) == stored
