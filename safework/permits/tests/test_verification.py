"""The public verification page (issue 14 item 9): signed token, no login, status read now."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from safework.permits import verification
from safework.permits.models import Permit
from safework.permits.tests.print_world import END, START, hot_work_permit, persons_of

pytestmark = pytest.mark.django_db


def page(token: str):
    return Client().get(reverse("permits:verify", args=[token]))


@pytest.fixture
def permit(catalogue):
    return hot_work_permit(status="approved")


def test_the_token_names_the_permit_and_is_compact_and_url_safe(permit):
    token = verification.token_for(permit)
    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token)
    assert len(token) <= 70
    assert str(permit.pk) != token.split(".")[0]  # the database id is not what it carries
    assert verification.permit_for_token(token).pk == permit.pk


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature altered
        lambda t: ("B" if t[0] != "B" else "C") + t[1:],  # payload altered
        lambda t: t[:30],  # copied incompletely
        lambda t: t.replace(".", ""),  # separator lost
        lambda t: "not-a-token",
        lambda t: "%%%." + t.split(".")[1],  # garbled payload
    ],
)
def test_an_altered_or_garbled_token_is_refused(permit, tamper):
    token = tamper(verification.token_for(permit))
    with pytest.raises(verification.BadToken):
        verification.permit_for_token(token)
    response = page(token)
    assert response.status_code == 400
    assert "核验码无效" in response.content.decode()


def test_a_token_signed_for_another_purpose_is_refused(permit):
    # Same secret key, another salt (e.g. a password-reset or API signature): not a permit token.
    raw = verification.token_for(permit).split(".")[0]
    foreign = signing.Signer(salt="safework.other", sep=".").sign(raw)
    with pytest.raises(verification.BadToken):
        verification.permit_for_token(foreign)


def test_a_genuine_token_of_a_deleted_permit_is_not_found(permit):
    token = verification.token_for(permit)
    Permit.objects.filter(pk=permit.pk).delete()
    response = page(token)
    assert response.status_code == 404
    assert "没有与此核验码对应的作业票" in response.content.decode()


@time_machine.travel(START, tick=False)
def test_the_page_shows_the_approved_permit_without_login_or_id_numbers(permit):
    response = page(verification.token_for(permit))
    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "DH20270310-001",
        "动火作业",
        'class="level">一级<',
        "已批准",
        "2027-03-10 08:00 – 2027-03-10 16:00",
        "一号厂区 / 常减压装置 / E-101换热器出口法兰",
        "焊工1号",
        "李监护",
        "车间主任审核",
        "审批人1",
        "在现场: 是",
        "在现场: 否",
        "动火点周围易燃物已清除",
        "未确认",  # the second measure: involved, not yet confirmed
        "不涉及",  # the third: not involved
        "0.100 %LEL",  # the latest gas test, not the older failing one
    ]:
        assert text in html, text
    assert "0.800" not in html
    for person in persons_of(permit):
        assert person.id_number not in html
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize(
    ("at", "status", "verdict"),
    [
        (END - dt.timedelta(minutes=1), "已批准", "已批准且在有效期内"),
        (END, "已过期", "现在不得在此作业票下作业"),  # at the end: expired when read
    ],
)
def test_the_status_is_read_at_the_moment_the_page_opens(permit, at, status, verdict):
    with time_machine.travel(at, tick=False):
        html = page(verification.token_for(permit)).content.decode()
    assert f'<p class="status">{status}</p>' in html
    assert verdict in html


@pytest.mark.parametrize("status", ["draft", "in_approval", "rejected"])
@time_machine.travel(START, tick=False)
def test_a_permit_not_approved_shows_only_that(catalogue, status):
    permit = hot_work_permit(status=status, number=None)
    html = page(verification.token_for(permit)).content.decode()
    assert "未经批准" in html
    assert "焊工1号" not in html and "李监护" not in html  # nothing to vouch for
    assert 'id="crew"' not in html


@pytest.mark.parametrize("status", ["suspended", "completed", "closed"])
@time_machine.travel(START, tick=False)
def test_an_approved_permit_no_longer_in_force_says_no_work_may_be_done(catalogue, status):
    html = page(verification.token_for(hot_work_permit(status=status))).content.decode()
    assert "现在不得在此作业票下作业" in html
    assert 'id="crew"' in html  # still verifiable: it was approved


@time_machine.travel(START, tick=False)
def test_the_page_runs_under_the_content_security_policy(permit):
    response = page(verification.token_for(permit))
    assert "Content-Security-Policy" in response
    html = response.content.decode()
    assert not re.search(r"<(script|style)\b", html)
    assert not re.search(r"\s(style|on[a-z]+)=", html)
    assert re.search(r'<link rel="stylesheet" href="/static/permits/verify.css">', html)
    assert '<meta name="viewport"' in html


@time_machine.travel(START, tick=False)
def test_the_page_reads_the_same_number_of_queries_for_1_and_10_crew(catalogue):
    counts = []
    for n, number in [(1, "DH20270310-001"), (10, "DH20270310-002")]:
        token = verification.token_for(hot_work_permit(crew=n, number=number))
        with CaptureQueriesContext(connection) as queries:
            html = page(token).content.decode()
        assert f"焊工{n}号" in html
        counts.append(len(queries))
    assert counts[0] == counts[1]


@time_machine.travel(START, tick=False)
def test_the_page_stays_within_its_query_budget(catalogue, django_assert_max_num_queries):
    token = verification.token_for(hot_work_permit(crew=10))
    with django_assert_max_num_queries(6):
        assert page(token).status_code == 200


def test_the_qr_code_encodes_the_public_address(permit, settings):
    settings.SAFEWORK_PUBLIC_URL = "https://safework.example.com/"
    url = verification.verification_url(permit)
    assert url == "https://safework.example.com/permits/verify/" + verification.token_for(permit)
    svg = verification.qr_svg(permit)
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "style=" not in svg
    # The same content as a QR code made directly from that address.
    import segno

    direct = segno.make(url, error="m", micro=False)
    assert svg == direct.svg_inline(scale=4, border=2, title="核验此作业票")


def test_without_a_public_address_the_qr_code_uses_the_request_host(permit, settings, rf):
    settings.SAFEWORK_PUBLIC_URL = ""
    request = rf.get("/", HTTP_HOST="localhost:8000")
    url = verification.verification_url(permit, request)
    assert url.startswith("http://localhost:8000/permits/verify/")
