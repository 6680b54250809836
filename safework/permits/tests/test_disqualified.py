"""Issue 15 item 6, on the day: a certificate that turns red (revoked, past its last valid day,
its review overdue, a registry verdict of another name or not found) lists its holder's future
roster entries and open permits to the roster's author, the permit's applicant and its work
leader, and leaves one `person.disqualified` event (person, certificate, reason, clause) for the
gate integration; a second scan, a later cancellation or a later expiry adds nothing."""

import datetime as dt

import pytest
import time_machine

from safework.accounts.models import User
from safework.certs import services as certs
from safework.certs.models import Certificate, RevocationGround, Verification
from safework.notify import scan
from safework.notify import services as notify
from safework.notify.models import Delivery, Event
from safework.permits.tests.world import D, at, build_world, create
from safework.qualification import engine as qualification
from safework.registry import verification
from safework.registry.client import reset_registries
from safework.registry.fake import FakeRecord, FakeRegistry
from safework.rosters.models import Roster, RosterEntry
from safework.work.models import CrewRole, WorkType

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
KIND = "person.disqualified"
# The clause of the 2.1 welding rule in force on D (Order 19 applies from 1 June 2026).
ORDER30 = "安监总局令第30号 第十九条、第二十一条、第二十二条"


@pytest.fixture
def w(catalogue):
    qualification.clear_caches()
    with time_machine.travel(at(D - DAY, 8), tick=False):
        world = build_world()
        world.permit = create(world)  # the welder is on its crew, D 10:00–17:00
        world.leader_user = User.objects.create(username="leader", person=world.leader)
        world.author = User.objects.create(username="author", first_name="车间主任")
        roster = Roster.objects.create(name="三月排班", author=world.author, site=world.site)
        for day in (D - 2 * DAY, D + 2 * DAY, D + 3 * DAY):
            RosterEntry.objects.create(
                roster=roster,
                person=world.welder,
                on=day,
                work_type=WorkType.objects.get(code="hot_work"),
                crew_role=CrewRole.objects.get(code="worker"),
                site=world.site,
            )
        world.cert = Certificate.objects.get(person=world.welder, item__code="2.1")
        yield world


def _told(event) -> dict[str, str]:
    rows = Delivery.objects.filter(event=event, channel="inbox").select_related("user")
    return {d.user.username: d.relation for d in rows}


def test_a_revoked_certificate_lists_planned_work_to_those_responsible(w):
    with time_machine.travel(at(D - DAY, 9), tick=False):
        certs.revoke_certificate(
            cert=w.cert, ground="accident", reason="responsible for an accident", on=D - DAY
        )
        certs.cancel_certificate(cert=w.cert, reason="revoked", on=D - DAY)
        notify.fan_out()
    event = Event.objects.get(kind=KIND)  # once, though it was cancelled afterwards
    p = event.payload
    assert event.person_id == w.welder.pk and p["person"] == w.welder.name
    assert p["certificate"]["id"] == w.cert.pk and p["certificate"]["number"] == w.cert.number
    assert p["reason"] == "cert.revoked"
    assert p["clause"] == RevocationGround.objects.get(code="accident").clause
    listed = [(a["what"], a["day"]) for a in p["affected"]]
    # The past entry is not planned work any more; the permit is open (a draft).
    assert listed == [
        ("permit", f"{D.isoformat()} 10:00"),
        ("roster_entry", (D + 2 * DAY).isoformat()),
        ("roster_entry", (D + 3 * DAY).isoformat()),
    ]
    assert _told(event) == {
        "author": "roster_author",
        "applicant": "permit_applicant",
        "leader": "work_leader",
        "officer": "safety_officer",
    }
    body = Delivery.objects.get(event=event, user=w.author).body
    assert (D + 2 * DAY).isoformat() in body and w.welder.name in body


def test_a_revocation_from_a_later_day_waits_for_that_day(w):
    with time_machine.travel(at(D - DAY, 9), tick=False):
        certs.revoke_certificate(cert=w.cert, ground="accident", reason="accident", on=D + DAY)
        assert not Event.objects.filter(kind=KIND).exists()
        assert scan.run_scan(at=at(D, 9))["disqualified"] == 0
        assert scan.run_scan(at=at(D + DAY, 9))["disqualified"] == 1
    (event,) = Event.objects.filter(kind=KIND)
    assert [a["day"] for a in event.payload["affected"]] == [
        (D + 2 * DAY).isoformat(),
        (D + 3 * DAY).isoformat(),
    ]  # the permit ended on D


@pytest.mark.parametrize(("scan_day", "events"), [(D + 2 * DAY, 0), (D + 3 * DAY, 1)])
def test_expiry_is_found_by_the_scan_the_day_after_the_last_valid_day(w, scan_day, events):
    Certificate.objects.filter(pk=w.cert.pk).update(valid_until=D + 2 * DAY)
    # 23:30 in Shanghai: the scan asks about the site's local date.
    when = dt.datetime.combine(scan_day, dt.time(23, 30), tzinfo=at(D).tzinfo)
    assert scan.run_scan(at=when)["disqualified"] == events
    assert scan.run_scan(at=when)["disqualified"] == 0  # a second run adds nothing
    if events:
        event = Event.objects.get(kind=KIND)
        assert event.payload["reason"] == "cert.expired"
        # The entry on the first day without the certificate is listed, the one before not.
        assert [a["day"] for a in event.payload["affected"]] == [(D + 3 * DAY).isoformat()]


def test_another_record_of_the_item_in_force_is_no_disqualification(w):
    Certificate.objects.filter(pk=w.cert.pk).update(valid_until=D + 2 * DAY)
    newer = Certificate.objects.get(pk=w.cert.pk)
    newer.pk = None
    newer.number = "NEW-1"
    newer.valid_from, newer.valid_until = D, D + 700 * DAY
    newer.save()
    assert scan.run_scan(at=at(D + 3 * DAY, 9))["disqualified"] == 0


# --- the review overdue (the look-back is the default 7 days) ------------------------------------


@pytest.mark.parametrize(
    ("due", "events"),
    [
        (D, 0),  # due today: the review may still be passed today
        (D - DAY, 1),  # today is the first day overdue
        (D - 7 * DAY, 1),  # the first overdue day is inside the look-back
        (D - 8 * DAY, 0),  # overdue since before the look-back: not news
    ],
)
def test_a_review_overdue_is_found_by_the_scan(w, due, events):
    Certificate.objects.filter(pk=w.cert.pk).update(next_review_due=due)
    assert scan.run_scan(at=at(D, 8))["disqualified"] == events
    if events:
        event = Event.objects.get(kind=KIND)
        assert event.stage == "review_overdue"
        assert event.payload["reason"] == "cert.review_overdue"
        assert event.payload["clause"] == ORDER30
        assert [a["day"] for a in event.payload["affected"]] == [
            f"{D.isoformat()} 10:00",
            (D + 2 * DAY).isoformat(),
            (D + 3 * DAY).isoformat(),
        ]
    else:
        assert not Event.objects.filter(kind=KIND).exists()


def test_a_review_overdue_is_reported_once_even_after_a_later_expiry(w):
    Certificate.objects.filter(pk=w.cert.pk).update(next_review_due=D - DAY, valid_until=D + DAY)
    assert scan.run_scan(at=at(D, 8))["disqualified"] == 1
    assert scan.run_scan(at=at(D + DAY, 8))["disqualified"] == 0
    # Expired from D + 2 (and still review-overdue): the same certificate, not news.
    assert scan.run_scan(at=at(D + 2 * DAY, 8))["disqualified"] == 0
    assert list(Event.objects.filter(kind=KIND).values_list("stage", flat=True)) == [
        "review_overdue"
    ]


def test_a_review_overdue_with_another_record_in_force_is_no_disqualification(w):
    Certificate.objects.filter(pk=w.cert.pk).update(next_review_due=D - DAY)
    newer = Certificate.objects.get(pk=w.cert.pk)
    newer.pk = None
    newer.number = "NEW-1"
    newer.valid_from, newer.valid_until, newer.next_review_due = D - DAY, D + 700 * DAY, None
    newer.save()
    assert scan.run_scan(at=at(D, 8))["disqualified"] == 0


# --- registry verdicts ---------------------------------------------------------------------------


@pytest.fixture
def registry(settings):
    reset_registries()
    with FakeRegistry(()) as server:
        settings.REGISTRY_URL = server.url
        settings.REGISTRY_TIMEOUT = 2
        settings.REGISTRY_RETRIES = 0
        yield server
    reset_registries()


def _verify(cert, when):
    batch = verification.start_verification(by=None, certificate_ids=[cert.pk], enqueue=False)
    with time_machine.travel(when, tick=False):
        verification.run_verification_batch(batch.pk)


@pytest.mark.parametrize(
    ("registry_name", "status"),
    [("王强", "registry_mismatch"), (None, "registry_not_found")],
)
def test_a_registry_verdict_reports_the_holder_in_its_transaction(
    w, registry, registry_name, status
):
    if registry_name:  # the registry holds the number under another person's name
        registry.set_records(
            [
                FakeRecord(
                    id_number=w.welder.id_number,
                    number=w.cert.number,
                    name=registry_name,
                    scheme="special_operation",
                    item="2.1",
                    issued_on=w.cert.issued_on,
                    valid_until=w.cert.valid_until,
                )
            ]
        )
    _verify(w.cert, at(D, 8))
    assert Certificate.objects.get(pk=w.cert.pk).verification == status.removeprefix("registry_")
    event = Event.objects.get(kind=KIND)
    assert event.stage == status and event.payload["reason"] == f"cert.{status}"
    assert event.payload["clause"] == ORDER30
    assert event.payload["affected_count"] == 3  # the permit on D and the two later entries
    notify.fan_out()
    assert _told(event)["author"] == "roster_author"
    # The scan's backstop finds the verdict but not news; neither is a later expiry.
    assert scan.run_scan(at=at(D, 9))["disqualified"] == 0
    Certificate.objects.filter(pk=w.cert.pk).update(valid_until=D + DAY)
    assert scan.run_scan(at=at(D + 2 * DAY, 9))["disqualified"] == 0
    assert Event.objects.filter(kind=KIND).count() == 1


def test_a_verified_record_reports_nobody(w, registry):
    registry.set_records(
        [
            FakeRecord(
                id_number=w.welder.id_number,
                number=w.cert.number,
                name=w.welder.name,
                scheme="special_operation",
                item="2.1",
            )
        ]
    )
    _verify(w.cert, at(D, 8))
    assert Certificate.objects.get(pk=w.cert.pk).verification == Verification.VERIFIED
    assert not Event.objects.filter(kind=KIND).exists()


def test_a_verdict_on_a_record_long_expired_reports_nobody(w, registry):
    # Renewed long ago: the registry has forgotten the old number, the holder is qualified.
    Certificate.objects.filter(pk=w.cert.pk).update(valid_until=D - 100 * DAY)
    newer = Certificate.objects.get(pk=w.cert.pk)
    newer.pk = None
    newer.number = "NEW-1"
    newer.valid_from, newer.valid_until, newer.next_review_due = D - 99 * DAY, D + 700 * DAY, None
    newer.save()
    _verify(w.cert, at(D, 8))
    assert Certificate.objects.get(pk=w.cert.pk).verification == Verification.NOT_FOUND
    assert not Event.objects.filter(kind=KIND).exists()


@pytest.mark.parametrize(
    ("verified_at", "events"),
    [
        (at(D - 7 * DAY, 0), 1),  # the first local day of the look-back, just after midnight
        (at(D - 8 * DAY, 23), 0),  # the evening before: outside it
        (at(D, 7), 1),
    ],
)
def test_the_scan_backstops_a_verdict_recorded_within_the_look_back(w, verified_at, events):
    Certificate.objects.filter(pk=w.cert.pk).update(
        verification=Verification.NOT_FOUND, verified_at=verified_at
    )
    assert scan.run_scan(at=at(D, 8))["disqualified"] == events
    assert scan.run_scan(at=at(D, 9))["disqualified"] == 0
    stages = list(Event.objects.filter(kind=KIND).values_list("stage", flat=True))
    assert stages == ["registry_not_found"] * events


def test_a_verdict_on_a_record_not_yet_in_force_reports_nobody(w, registry):
    # A new record starting tomorrow concerns no work planned under it yet (not_yet_valid).
    Certificate.objects.filter(pk=w.cert.pk).update(valid_from=D + DAY)
    _verify(w.cert, at(D, 8))
    assert Certificate.objects.get(pk=w.cert.pk).verification == Verification.NOT_FOUND
    assert not Event.objects.filter(kind=KIND).exists()
    assert scan.run_scan(at=at(D, 9))["disqualified"] == 0
