"""The inbox (own notices only: read, acknowledge) and the diagnosis by API and command."""

import io
import json

import pytest
import time_machine
from django.core.management import call_command
from django.utils import translation

from safework.accounts.models import Role
from safework.accounts.tests.world import API, world_fixture
from safework.notify import services, worker
from safework.notify.models import Channel, ChannelBinding, Delivery
from safework.notify.testing import Receiver
from safework.notify.tests.helpers import AT, cert_event

notify_world = world_fixture(catalogue=True)


def _notices(w):
    event = cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    services.fan_out(now=AT)
    return event


def test_inbox_lists_reads_and_acknowledges_own_notices(notify_world, db):
    w = notify_world
    _notices(w)
    client = w.clients[Role.WORKER]
    page = client.get(f"{API}/notify/inbox?unread=true").json()
    assert page["total"] == 1
    (notice,) = page["items"]
    assert notice["kind"] == "cert.expiring" and "2027-03-31" in notice["title"]
    read = client.post(f"{API}/notify/inbox/{notice['id']}/read").json()
    assert read["read_at"] is not None and read["acknowledged_at"] is None
    acked = client.post(f"{API}/notify/inbox/{notice['id']}/acknowledge").json()
    assert acked["acknowledged_at"] is not None
    assert client.get(f"{API}/notify/inbox?unacknowledged=true").json()["total"] == 0


def test_someone_elses_notice_is_404(notify_world, db):
    w = notify_world
    _notices(w)
    leader_notice = Delivery.objects.get(user=w.users[Role.TEAM_LEADER])
    response = w.clients[Role.WORKER].post(f"{API}/notify/inbox/{leader_notice.pk}/acknowledge")
    assert response.status_code == 404
    assert w.clients[Role.WORKER].get(f"{API}/notify/inbox").json()["total"] == 1


def test_explain_names_the_missing_binding_and_the_disabled_channel(notify_world, db):
    w = notify_world
    Channel.objects.filter(code="wecom").update(enabled=False)
    _notices(w)
    person = w.person_of(Role.WORKER)
    with translation.override("en"):
        report = w.clients[Role.SAFETY_OFFICER].get(
            f"{API}/notify/explain?person_id={person.pk}",
            headers={"accept-language": "en"},
        )
    assert report.status_code == 200
    (event,) = report.json()["events"]
    assert event["rule"]["code"] == "cert-expiring"
    person_channels = {
        c["channel"]: c["state"]
        for rel in event["recipients"]
        if rel["relation"] == "person"
        for c in rel["resolved"][0]["channels"]
    }
    assert person_channels == {
        "inbox": "ok",
        "email": "no_binding",
        "wecom": "channel_off",
        "dingtalk": "no_binding",
        "webhook": "no_binding",
    }
    assert {d["channel"] for d in event["deliveries"]} == {"inbox"}


def test_explain_outside_the_scope_shows_nothing_and_a_worker_may_not(notify_world, db):
    w = notify_world
    other_site = w.p_b  # site B: outside the site-A safety officer's scope
    cert_event(other_site, site_id=w.site_b.pk)
    services.fan_out(now=AT)
    response = w.clients[Role.SAFETY_OFFICER].get(f"{API}/notify/explain?person_id={other_site.pk}")
    assert response.status_code == 200  # a filter, as a list's: nothing about them shows
    assert (response.json()["total"], response.json()["events"]) == (0, [])
    admin = w.clients[Role.ADMINISTRATOR].get(f"{API}/notify/explain?person_id={other_site.pk}")
    kinds = {e["event"]["kind"] for e in admin.json()["events"]}
    assert kinds == {"cert.expiring", "notify.undeliverable"}  # p_b has no login or binding
    mine = w.person_of(Role.WORKER)
    response = w.clients[Role.WORKER].get(f"{API}/notify/explain?person_id={mine.pk}")
    assert response.status_code == 403


@pytest.fixture
def failing_receiver():
    r = Receiver(fail_first=10**6)
    r.url = r.start()
    yield r
    r.stop()


def test_explain_command_shows_attempts_with_their_errors(notify_world, db, failing_receiver):
    w = notify_world
    user = w.users[Role.WORKER]
    ChannelBinding.objects.create(
        user=user, channel="webhook", address=failing_receiver.url + "/h", secret="k"
    )
    _notices(w)
    with time_machine.travel(AT, tick=False):
        worker.deliver_batch(worker="t")
    out = io.StringIO()
    with translation.override("en"):
        call_command("notify", "explain", "--person", user.person.id_number, stdout=out)
    text = out.getvalue()
    assert "cert-expiring" in text
    assert "webhook] pending (1)" in text
    assert "HTTP 500" in text
    assert f"Delivery to {user.username} over webhook fails: HTTP 500" in text
    assert "Nobody holds the relation contractor_manager" not in text  # an own employee
    out = io.StringIO()
    call_command("notify", "explain", "--person", str(user.person.pk), "--json", stdout=out)
    assert json.loads(out.getvalue())["events"][0]["event"]["kind"] == "cert.expiring"


def test_explain_says_when_a_contractor_has_no_liaison(notify_world, db):
    w = notify_world
    cert_event(w.p_x, site_id=w.site_a.pk)
    services.fan_out(now=AT)
    out = io.StringIO()
    with translation.override("en"):
        call_command("notify", "explain", "--person", str(w.p_x.pk), stdout=out)
    assert f"Contractor {w.contractor_x.name} has no liaison of ours" in out.getvalue()
    w.contractor_x.liaison = w.p_own
    w.contractor_x.save()
    out = io.StringIO()
    with translation.override("en"):
        call_command("notify", "explain", "--person", str(w.p_x.pk), stdout=out)
    assert "has no liaison" not in out.getvalue()
    assert f"liaison: {w.p_own.name}" in out.getvalue()


def _explain_queries(person) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.notify.explain import explain

    with CaptureQueriesContext(connection) as ctx:
        report = explain(person_id=person.pk)
    return report["total"], len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["own", "contractor"])
def test_explain_reads_the_same_number_of_queries_for_1_and_10_events(notify_world, db, who):
    w = notify_world
    person = w.person_of(Role.WORKER) if who == "own" else w.p_x
    w.contractor_x.liaison = w.p_own
    w.contractor_x.save()
    ChannelBinding.objects.create(person=person, channel="email", address="a@example.com")
    cert_event(person, stage=30, site_id=w.site_a.pk)
    services.fan_out(now=AT)
    one = _explain_queries(person)
    # Nine more: other stages, other sites (other safety officers), one with no site, one the
    # rule's stages do not list, one of a kind with no rule.
    sites = [w.site_a.pk, w.site_b.pk, None]
    for i, stage in enumerate([90, 60, 15, 7, 0, 45, 30, 60]):
        cert_event(
            person, stage=stage, key=f"cert:more{i}:2027-03-31:{stage}", site_id=sites[i % 3]
        )
    services.emit(
        "cert.unknown_kind",
        key=f"x:{person.pk}",
        subject_label=person.name,
        payload={},
        site_id=w.site_b.pk,
        person_id=person.pk,
        at=AT,
    )
    services.fan_out(now=AT)
    ten = _explain_queries(person)
    assert (one[0], ten[0]) == (1, 10)
    assert ten[1] == one[1]
