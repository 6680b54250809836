"""The inbox page (only my notices; mark read and acknowledge by POST with CSRF, through htmx;
someone else's notice is a 404) and the "why wasn't I told" page (notify's own diagnosis, in
the caller's scope)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from safework.accounts.models import Role
from safework.accounts.tests.world import world_fixture
from safework.certs.tests.factories import CertificateFactory, item
from safework.notify import services
from safework.notify.models import Channel, Delivery, NotifyRule
from safework.notify.tests.helpers import AT, cert_event

inbox_world = world_fixture(catalogue=True)


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _notices(w, **payload):
    event = cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk, **payload)
    services.fan_out(now=AT)
    return event


def test_the_inbox_shows_only_my_notices_with_the_unread_count(inbox_world, db):
    w = inbox_world
    _notices(w)
    mine = Delivery.objects.get(user=w.users[Role.WORKER], channel="inbox")
    leaders = Delivery.objects.get(user=w.users[Role.TEAM_LEADER], channel="inbox")
    response = client_for(w.users[Role.WORKER]).get(reverse("web:inbox"))
    assert response.status_code == 200
    assert [n.pk for n in response.context["page"]] == [mine.pk]
    body = response.content.decode()
    assert f'id="notice-{mine.pk}"' in body and f'id="notice-{leaders.pk}"' not in body
    assert mine.title in body
    assert re.search(r'href="https?://[^"]+/admin/certs/certificate/1/change/"', body)  # its link
    inbox = next(e for e in response.context["nav_entries"] if e["key"] == "inbox")
    assert inbox["badge"] == 1


def test_acknowledge_by_htmx_then_again_changes_nothing(inbox_world, db):
    w = inbox_world
    _notices(w)
    notice = Delivery.objects.get(user=w.users[Role.WORKER], channel="inbox")
    client = client_for(w.users[Role.WORKER])
    url = reverse("web:notice_acknowledge", args=[notice.pk])
    first = client.post(url, HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    body = first.content.decode()
    assert body.lstrip().startswith(
        f'<li class="list-group-item sw-notice" id="notice-{notice.pk}"'
    )
    assert 'data-acknowledged="true"' in body
    assert 'id="sw-badge-inbox"' in body and 'hx-swap-oob="true"' in body  # the count, now 0
    notice.refresh_from_db()
    acknowledged, read = notice.acknowledged_at, notice.read_at
    assert acknowledged is not None and read is not None
    again = client.post(url)  # without htmx: back to the list
    assert again.status_code == 302 and again["Location"] == reverse("web:inbox")
    notice.refresh_from_db()
    assert (notice.acknowledged_at, notice.read_at) == (acknowledged, read)
    assert client.get(reverse("web:inbox"), {"show": "unread"}).context["page"].paginator.count == 0


def test_mark_read_leaves_it_to_acknowledge(inbox_world, db):
    w = inbox_world
    _notices(w)
    notice = Delivery.objects.get(user=w.users[Role.WORKER], channel="inbox")
    client = client_for(w.users[Role.WORKER])
    response = client.post(reverse("web:notice_read", args=[notice.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    notice.refresh_from_db()
    assert notice.read_at is not None and notice.acknowledged_at is None
    assert 'data-read="true"' in response.content.decode()


@pytest.mark.parametrize("action", ["web:notice_read", "web:notice_acknowledge"])
def test_someone_elses_notice_is_a_404(inbox_world, db, action):
    w = inbox_world
    _notices(w)
    leaders = Delivery.objects.get(user=w.users[Role.TEAM_LEADER], channel="inbox")
    response = client_for(w.users[Role.WORKER]).post(reverse(action, args=[leaders.pk]))
    assert response.status_code == 404
    leaders.refresh_from_db()
    assert leaders.read_at is None and leaders.acknowledged_at is None


def test_acknowledge_needs_post_and_the_csrf_token(inbox_world, db):
    w = inbox_world
    _notices(w)
    notice = Delivery.objects.get(user=w.users[Role.WORKER], channel="inbox")
    url = reverse("web:notice_acknowledge", args=[notice.pk])
    client = client_for(w.users[Role.WORKER], enforce_csrf_checks=True)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    notice.refresh_from_db()
    assert notice.acknowledged_at is None


def _explain(client, **params):
    return client.get(reverse("web:explain"), params)


def test_explain_shows_the_missing_binding_and_the_channel_switched_off(inbox_world, db):
    w = inbox_world
    Channel.objects.filter(code="wecom").update(enabled=False)
    _notices(w)
    person = w.person_of(Role.WORKER)
    response = _explain(client_for(w.users[Role.SAFETY_OFFICER]), person=person.id_number)
    assert response.status_code == 200
    [event] = response.context["report"]["events"]
    assert event["rule"]["code"] == "cert-expiring"
    body = response.content.decode()
    assert 'data-channel="email" data-state="no_binding"' in body
    assert 'data-channel="wecom" data-state="channel_off"' in body
    assert "没有绑定" in body  # "no binding", as the page says it in Chinese
    assert 'data-channel="inbox" data-state="ok"' in body
    assert 'data-status="sent"' in body or 'data-status="pending"' in body


def test_explain_shows_a_rule_switched_off_and_filters_by_kind(inbox_world, db):
    w = inbox_world
    NotifyRule.objects.filter(code="cert-expiring").update(enabled=False)
    _notices(w)
    person = w.person_of(Role.WORKER)
    client = client_for(w.users[Role.SAFETY_OFFICER])
    response = _explain(client, person=person.id_number, kind="cert.expiring")
    [event] = response.context["report"]["events"]
    assert event["rule"]["enabled"] is False
    body = response.content.decode()
    assert 'class="sw-rule" data-enabled="false"' in body
    assert "cert-expiring" in body and any("cert-expiring" in f for f in event["fixes"])
    other_kind = _explain(client, person=person.id_number, kind="health.expiring")
    assert other_kind.context["report"]["events"] == []


def test_explain_by_certificate_number(inbox_world, db):
    w = inbox_world
    person = w.person_of(Role.WORKER)
    cert = CertificateFactory(person=person, item=item("special_operation", "2.1"))
    _notices(w, key=f"cert:{cert.pk}:2027-03-31:30")
    cert_event(person, key="cert:999999:2027-03-31:30", stage=30)  # another certificate
    client = client_for(w.users[Role.SAFETY_OFFICER])
    response = _explain(client, person=person.id_number, certificate=cert.number)
    assert [e["event"]["key"] for e in response.context["report"]["events"]] == [
        f"cert:{cert.pk}:2027-03-31:30"
    ]
    unknown = _explain(client, person=person.id_number, certificate="NO-SUCH")
    assert unknown.context["report"] is None
    assert unknown.context["form"].errors["certificate"]


def test_explain_in_the_callers_scope_only_and_as_the_api_allows(inbox_world, db):
    w = inbox_world
    officer = client_for(w.users[Role.SAFETY_OFFICER])
    outside = _explain(officer, person=w.p_b.id_number)  # site B's employee
    assert outside.status_code == 200
    assert outside.context["report"] is None
    assert outside.context["form"].errors["person"]
    # The API's permission: the diagnosis is for safety roles, not for workers or contractors.
    for role in (Role.WORKER, Role.CONTRACTOR_MANAGER):
        assert _explain(client_for(w.users[role]), person=w.p_x.id_number).status_code == 403


def test_the_inbox_offers_the_diagnosis_to_whom_may_use_it(inbox_world, db):
    w = inbox_world
    explain = reverse("web:explain")
    assert (
        explain
        in client_for(w.users[Role.SAFETY_OFFICER]).get(reverse("web:inbox")).content.decode()
    )
    assert (
        explain not in client_for(w.users[Role.WORKER]).get(reverse("web:inbox")).content.decode()
    )
