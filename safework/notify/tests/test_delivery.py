"""Delivery over real peers: an SMTP server (aiosmtpd) and a local HTTP receiver started by the
test; retries with backoff, every attempt recorded, the administrator told when nothing works."""

import datetime as dt
import email
import json
from email.policy import default as email_policy

import pytest
import time_machine
from django.test import override_settings

from safework.accounts.models import Role
from safework.accounts.tests.world import world_fixture
from safework.core.models import Setting
from safework.notify import channels, services, worker
from safework.notify.models import Attempt, ChannelBinding, Delivery, DeliveryStatus, Event
from safework.notify.testing import Receiver, SmtpServer, dingtalk_sign_ok
from safework.notify.tests.helpers import AT, cert_event

notify_world = world_fixture(catalogue=True)


@pytest.fixture
def receiver():
    r = Receiver()
    r.url = r.start()
    yield r
    r.stop()


def _worker_user(w, channel, address, secret=""):
    user = w.users[Role.WORKER]
    ChannelBinding.objects.create(user=user, channel=channel, address=address, secret=secret)
    return user


def test_email_reaches_a_real_smtp_server_in_chinese(notify_world, db):
    w = notify_world
    _worker_user(w, "email", "worker@example.com")
    with SmtpServer() as smtp, override_settings(MAILERS=smtp.mailer):
        cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
        with time_machine.travel(AT, tick=False):
            services.fan_out()
            assert worker.deliver_batch(worker="t") == 1
    (envelope,) = smtp.messages
    assert envelope.rcpt_tos == ["worker@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email_policy)
    assert "到期" in message["Subject"]
    body = message.get_content()
    assert "2027-03-31" in body
    assert "http://127.0.0.1:8000/admin/certs/certificate/1/change/" in body
    assert Delivery.objects.get(channel="email").status == DeliveryStatus.SENT


def test_webhook_is_signed_with_hmac_and_carries_the_key(notify_world, db, receiver):
    w = notify_world
    _worker_user(w, "webhook", receiver.url + "/hook", secret="s3cret")
    cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    with time_machine.travel(AT, tick=False):
        services.fan_out()
        worker.deliver_batch(worker="t")
    (req,) = receiver.requests
    expected = channels.webhook_signature("s3cret", req.headers["X-SafeWork-Timestamp"], req.body)
    assert req.headers["X-SafeWork-Signature"] == expected
    d = Delivery.objects.get(channel="webhook")
    assert req.headers["X-SafeWork-Delivery"] == d.key
    assert req.json()["kind"] == "cert.expiring"


def test_dingtalk_robot_url_is_signed_and_wecom_errcode_is_an_error(notify_world, db, receiver):
    w = notify_world
    _worker_user(w, "dingtalk", receiver.url + "/robot/send?access_token=t", secret="SECabc")
    cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    with time_machine.travel(AT, tick=False):
        services.fan_out()
        worker.deliver_batch(worker="t")
    assert dingtalk_sign_ok(receiver.requests[0].path, "SECabc")
    assert receiver.requests[0].json()["msgtype"] == "markdown"

    receiver.errcode = 310000  # "keywords not in content", as a robot answers with HTTP 200
    _worker_user(w, "wecom", receiver.url + "/cgi-bin/webhook/send?key=k")
    cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk, key="second")
    with time_machine.travel(AT, tick=False):
        services.fan_out()
        worker.deliver_batch(worker="t")
    wecom = Delivery.objects.filter(channel="wecom").get()
    assert wecom.status == DeliveryStatus.PENDING
    assert "errcode 310000" in wecom.last_error


def test_retries_back_off_and_every_attempt_is_recorded(notify_world, db, receiver):
    w = notify_world
    receiver.fail_first = 2
    _worker_user(w, "webhook", receiver.url + "/hook", secret="k")
    cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    with time_machine.travel(AT, tick=False) as clock:
        services.fan_out()
        worker.deliver_batch(worker="t")  # 500
        clock.shift(dt.timedelta(seconds=59))
        assert worker.deliver_batch(worker="t") == 0  # first retry waits 60 s
        clock.shift(dt.timedelta(seconds=1))
        assert worker.deliver_batch(worker="t") == 1  # 500 again
        clock.shift(dt.timedelta(seconds=119))
        assert worker.deliver_batch(worker="t") == 0  # then 120 s
        clock.shift(dt.timedelta(seconds=1))
        assert worker.deliver_batch(worker="t") == 1
    d = Delivery.objects.get(channel="webhook")
    assert d.status == DeliveryStatus.SENT and d.attempts == 3
    assert [a.ok for a in Attempt.objects.filter(delivery=d)] == [False, False, True]
    assert "HTTP 500" in Attempt.objects.filter(delivery=d).first().error
    assert len(receiver.requests) == 3


def test_undeliverable_message_goes_to_the_administrator(notify_world, db, receiver):
    w = notify_world
    Setting.objects.create(key="notify.max_attempts", value=2)
    receiver.fail_first = 10**6
    _worker_user(w, "webhook", receiver.url + "/hook", secret="k")
    event = cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk)
    with time_machine.travel(AT, tick=False) as clock:
        services.fan_out()
        worker.deliver_batch(worker="t")
        clock.shift(dt.timedelta(minutes=1))
        worker.deliver_batch(worker="t")
        d = Delivery.objects.get(channel="webhook")
        assert d.status == DeliveryStatus.FAILED
        report = Event.objects.get(kind="notify.undeliverable")
        assert report.payload["event_id"] == event.pk
        services.fan_out()
    admin_notice = Delivery.objects.get(event=report, user=w.users[Role.ADMINISTRATOR])
    assert "HTTP 500" in admin_notice.body
    assert "safework notify explain" in admin_notice.body
    # The second failure is recorded too, and no third attempt is made.
    with time_machine.travel(AT + dt.timedelta(days=1), tick=False):
        assert worker.deliver_batch(worker="t") == 0
    assert Attempt.objects.filter(delivery=d).count() == 2
    assert json.loads(json.dumps(report.payload))["relation"] == "person"


def test_one_batch_sends_concurrently_and_stores_each_outcome_once(notify_world, db, receiver):
    """Twelve notices in one batch over four sending threads, the first three answered 500: the
    nine others are sent once each, the three failed ones wait for their retry, and every
    request has exactly one attempt row."""
    w = notify_world
    receiver.fail_first = 3
    _worker_user(w, "webhook", receiver.url + "/hook", secret="k")
    for i in range(12):
        cert_event(w.person_of(Role.WORKER), site_id=w.site_a.pk, key=f"batch-{i}")
    with (
        override_settings(NOTIFY_CONCURRENCY=4),
        time_machine.travel(AT, tick=False),
    ):
        worker._POOL = None  # a pool of this test's size
        services.fan_out()
        assert worker.deliver_batch(worker="t", limit=50) == 12
        assert worker.deliver_batch(worker="t", limit=50) == 0  # the failed ones wait 60 s
    worker._POOL = None
    rows = Delivery.objects.filter(channel="webhook")
    assert sorted(rows.values_list("status", flat=True)) == ["pending"] * 3 + ["sent"] * 9
    assert all(d.claim == "" and d.lease_until is None for d in rows)
    assert Attempt.objects.filter(delivery__in=rows).count() == 12
    assert Attempt.objects.filter(delivery__in=rows, ok=True).count() == 9
    assert len(receiver.requests) == 12
    assert len(receiver.accepted) == 9
