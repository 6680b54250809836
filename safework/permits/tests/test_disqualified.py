"""Issue 15 item 6, on the day: a certificate that turns red (revoked, or past its last valid
day) lists its holder's future roster entries and open permits to the roster's author, the
permit's applicant and its work leader, and leaves one `person.disqualified` event (person,
certificate, reason, clause) for the gate integration; a second scan or a later cancellation
adds nothing."""

import datetime as dt

import pytest
import time_machine

from safework.accounts.models import User
from safework.certs import services as certs
from safework.certs.models import Certificate, RevocationGround
from safework.notify import scan
from safework.notify import services as notify
from safework.notify.models import Delivery, Event
from safework.permits.tests.world import D, at, build_world, create
from safework.qualification import engine as qualification
from safework.rosters.models import Roster, RosterEntry
from safework.work.models import CrewRole, WorkType

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
KIND = "person.disqualified"


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
