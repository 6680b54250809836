"""The outbox and fan-out: one event row per (kind, key), recipients by relation, deliveries
exactly once, rules and channels as data, escalation after the configured time."""

import datetime as dt

import pytest

from safework.accounts.models import Role
from safework.accounts.tests.world import grant, make_user, world_fixture
from safework.notify import services
from safework.notify.models import Channel, ChannelBinding, Delivery, Event, NotifyRule
from safework.notify.tests.helpers import AT, cert_event, told

notify_world = world_fixture(catalogue=True)


def test_emit_twice_is_one_event(notify_world, db):
    person = notify_world.person_of(Role.WORKER)
    first = cert_event(person)
    again = cert_event(person)
    assert again.pk == first.pk
    assert Event.objects.filter(kind="cert.expiring").count() == 1


def test_expiry_warning_reaches_person_leaders_and_site_safety_officer(notify_world, db):
    w = notify_world
    event = cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    services.fan_out(now=AT)
    assert told(event) == {
        "worker": "person",
        "team_leader": "team_leader",
        "workshop_head": "workshop_head",
        "safety_officer": "safety_officer",
    }


def test_fan_out_twice_adds_nothing(notify_world, db):
    w = notify_world
    event = cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    services.fan_out(now=AT)
    count = Delivery.objects.filter(event=event).count()
    Event.objects.filter(pk=event.pk).update(fanned_out_at=None)  # as if a worker died after
    services.fan_out(now=AT)
    assert Delivery.objects.filter(event=event).count() == count == 4


def test_contractor_staff_warning_reaches_their_manager(notify_world, db):
    w = notify_world
    event = cert_event(w.p_x, site_id=w.site_a.pk)
    services.fan_out(now=AT)
    assert told(event)["contractor_manager"] == "contractor_manager"
    assert "other_manager" not in told(event)


def test_roster_author_and_liaison_come_from_the_hint(notify_world, db):
    w = notify_world
    author = make_user("author")
    event = services.emit(
        "roster.unqualified",
        key="roster:1:entry:1",
        subject_label="x",
        payload={"person": w.p_own.name, "day": "2027-03-02", "work_type": "动火"},
        site_id=w.site_a.pk,
        person_id=w.p_own.pk,
        at=AT,
        recipients_hint={"roster_author": [author.pk]},
    )
    services.fan_out(now=AT)
    assert told(event) == {"author": "roster_author", "safety_officer": "safety_officer"}


def test_approver_is_who_holds_the_step_role_at_the_site(notify_world, db):
    w = notify_world
    here, elsewhere = make_user("approver_a"), make_user("approver_b")
    grant(here, Role.SAFETY_OFFICER, site=w.site_a)
    grant(elsewhere, Role.SAFETY_OFFICER, site=w.site_b)
    event = services.emit(
        "permit.approval_waiting",
        key="permit:7:step:2",
        subject_label="DH20270301-001",
        payload={
            "permit_id": 7,
            "number": "DH20270301-001",
            "step": "安全部门审批",
            "roles": ["safety_officer"],
            "site_id": w.site_a.pk,
            "due_at": "2027-03-01T02:00:00Z",
            "url": "/permits/7/",
        },
        site_id=w.site_a.pk,
        at=AT,
    )
    services.fan_out(now=AT)
    assert set(told(event)) == {"safety_officer", "approver_a"}
    notice = Delivery.objects.get(event=event, user=here)
    assert "DH20270301-001" in notice.title
    assert "2027-03-01 10:00" in notice.body  # 02:00 UTC is 10:00 in Shanghai
    assert notice.url == "http://127.0.0.1:8000/permits/7/"


def test_rule_switched_off_tells_nobody(notify_world, db):
    NotifyRule.objects.filter(code="cert-expiring").update(enabled=False)
    event = cert_event(notify_world.person_of(Role.WORKER))
    services.fan_out(now=AT)
    assert not Delivery.objects.filter(event=event).exists()


def test_site_rule_overrides_the_general_one(notify_world, db):
    w = notify_world
    general = NotifyRule.objects.get(code="cert-expiring")
    NotifyRule.objects.create(
        code="cert-expiring-site-a",
        kind=general.kind,
        name="site A: person only",
        stages=[120, 30],
        recipients=["person"],
        channels=["inbox"],
        site=w.site_a,
    )
    person = w.person_of(Role.WORKER)
    at_a = cert_event(person, site_id=w.site_a.pk, key="a")
    at_b = cert_event(person, site_id=w.site_b.pk, key="b")
    stage_60_at_a = cert_event(person, site_id=w.site_a.pk, key="c", stage=60)
    services.fan_out(now=AT)
    assert told(at_a) == {"worker": "person"}
    assert "team_leader" in told(at_b)
    assert told(stage_60_at_a) == {}  # 60 is not among site A's stages


def test_channel_switched_off_is_not_used(notify_world, db):
    w = notify_world
    user = w.users[Role.WORKER]
    ChannelBinding.objects.create(user=user, channel="email", address="w@example.com")
    Channel.objects.filter(code="email").update(enabled=False)
    event = cert_event(user.person, site_id=w.site_a.pk)
    services.fan_out(now=AT)
    assert not Delivery.objects.filter(event=event, channel="email").exists()
    Channel.objects.filter(code="email").update(enabled=True)
    other = cert_event(user.person, site_id=w.site_a.pk, key="again")
    services.fan_out(now=AT)
    assert Delivery.objects.get(event=other, channel="email").address == "w@example.com"


def test_person_without_login_or_binding_is_reported_to_the_administrator(notify_world, db):
    w = notify_world
    event = cert_event(w.p_own, site_id=w.site_a.pk)  # p_own has no user and no binding
    services.fan_out(now=AT)
    report = Event.objects.get(kind="notify.undeliverable")
    assert report.person_id == w.p_own.pk
    services.fan_out(now=AT)
    assert told(report) == {"administrator": "administrator"}
    assert event.pk == report.payload["event_id"]


@pytest.mark.parametrize(
    ("waited", "escalated"),
    [(dt.timedelta(hours=72) - dt.timedelta(seconds=1), False), (dt.timedelta(hours=72), True)],
)
def test_unacknowledged_warning_escalates_after_the_rule_time(notify_world, db, waited, escalated):
    w = notify_world
    head = make_user("safety_head_a")
    grant(head, Role.SAFETY_HEAD, site=w.site_a)
    event = cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    services.fan_out(now=AT)
    services.escalate_unacknowledged(now=AT + waited)
    up = Delivery.objects.filter(event=event, escalation_of__isnull=False)
    expected = {"safety_head", "safety_head_a"} if escalated else set()
    assert {d.user.username for d in up} == expected
    if escalated:
        assert up.first().title.startswith("【升级")


def test_acknowledged_warning_does_not_escalate(notify_world, db):
    w = notify_world
    event = cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    services.fan_out(now=AT)
    services.acknowledge(Delivery.objects.get(event=event, user=w.users[Role.WORKER]), at=AT)
    services.escalate_unacknowledged(now=AT + dt.timedelta(hours=100))
    assert not Delivery.objects.filter(event=event, escalation_of__isnull=False).exists()


def test_someone_no_channel_reaches_is_reported_once_a_day(notify_world, db):
    w = notify_world
    cert_event(w.p_own, site_id=w.site_a.pk, key="one")
    cert_event(w.p_own, site_id=w.site_a.pk, key="two")
    services.fan_out(now=AT)
    assert Event.objects.filter(kind="notify.undeliverable").count() == 1
    cert_event(w.p_own, site_id=w.site_a.pk, key="three")
    services.fan_out(now=AT + dt.timedelta(days=1))
    assert Event.objects.filter(kind="notify.undeliverable").count() == 2


def test_our_liaison_for_the_contractor_is_told_about_its_staff(notify_world, db):
    """The contractor's `liaison` (one of our own staff, with a login) is told about its
    staff's certificates; another contractor's staff and our own staff are not theirs."""
    w = notify_world
    liaison = make_user("liaison", person=w.p_own)
    w.contractor_x.liaison = w.p_own
    w.contractor_x.save()
    theirs = cert_event(w.p_x, site_id=w.site_a.pk)
    other = cert_event(w.p_y, site_id=w.site_a.pk)
    services.fan_out(now=AT)
    assert told(theirs)["liaison"] == "liaison"
    assert Delivery.objects.get(event=theirs, user=liaison, channel="inbox").relation == "liaison"
    assert "liaison" not in told(other)


def test_a_liaison_without_a_login_is_reached_by_their_own_binding(notify_world, db):
    w = notify_world
    w.contractor_x.liaison = w.p_own
    w.contractor_x.save()
    ChannelBinding.objects.create(person=w.p_own, channel="email", address="liaison@example.com")
    event = cert_event(w.p_x, site_id=w.site_a.pk)
    services.fan_out(now=AT)
    mail = Delivery.objects.get(event=event, relation="liaison")
    assert (mail.channel, mail.address, mail.person_id, mail.user_id) == (
        "email",
        "liaison@example.com",
        w.p_own.pk,
        None,
    )


def test_without_a_liaison_nobody_is_told_as_liaison(notify_world, db):
    w = notify_world
    event = cert_event(w.p_x, site_id=w.site_a.pk)
    services.fan_out(now=AT)
    assert not Delivery.objects.filter(event=event, relation="liaison").exists()
