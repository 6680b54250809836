"""The permit pages: the ledger and one permit, for whoever may read it, 404 for others."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from safework.accounts.models import User
from safework.demo.enterprise import seed_demo
from safework.demo.permits import load_calendars, seed_permits
from safework.permits.models import Permit

pytestmark = pytest.mark.django_db
FAST = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(settings, tmp_path):
    settings.PASSWORD_HASHERS = FAST
    settings.VAR_DIR = tmp_path
    seed_demo()
    load_calendars()
    seed_permits(now=timezone.now() - dt.timedelta(minutes=1))


def _client(username):
    c = Client()
    c.force_login(User.objects.get(username=username))
    return c


def test_safety_officer_sees_the_ledger_and_a_permit_with_its_qr(demo):
    c = _client("demo_safety_officer")
    page = c.get("/work-permits/")
    assert page.status_code == 200
    active = Permit.objects.filter(status="active").first()
    assert active.number in page.content.decode()
    detail = c.get(f"/work-permits/{active.pk}/")
    text = detail.content.decode()
    assert detail.status_code == 200 and "<svg" in text and active.number in text
    assert c.get("/work-permits/?status=expired").status_code == 200


def test_a_contractor_manager_cannot_open_the_sites_permits(demo):
    c = _client("demo_contractor_manager")
    permit = Permit.objects.exclude(contractor__isnull=False).first()
    assert c.get(f"/work-permits/{permit.pk}/").status_code == 404
