"""The permits API: the lifecycle through HTTP, refusals with clauses, field errors, scopes, the
ledger's filters and exports."""

import datetime as dt

import io
import json

import openpyxl
import pytest
import time_machine
from django.utils import translation

from safework.accounts.models import Role
from safework.accounts.tests.world import API, world_fixture
from safework.core.models import AuditRecord
from safework.permits.models import Alarm, Permit
from safework.permits.tests.api_flow import (
    DRAFTED,
    END,
    OFF_SITE,
    ON_SITE,
    START,
    Flow,
    make_crew,
    ok,
)

api_world = world_fixture(catalogue=True)


@pytest.fixture
def flow(api_world, db):
    return Flow(api_world, make_crew(api_world))


def test_lifecycle_from_draft_to_closed(flow):
    created = flow.create()
    assert created["status"] == "draft"
    assert created["level"] == "level2"
    submitted = flow.submit()
    assert submitted["status"] == "in_approval", submitted
    approved = flow.approve()
    assert approved["status"] == "approved", approved
    flow.prepare()
    flow.gas_test(taken_at=START - dt.timedelta(minutes=5))
    started = flow.start()
    assert started["status"] == "active"
    after = END - dt.timedelta(hours=1)
    done = flow.post(Role.SAFETY_OFFICER, "/complete", {"cleaned_up": True}, at=after)
    assert done["status"] == "completed"
    accepted = flow.post(Role.WORKSHOP_HEAD, "/accept", {"note": "合格"}, at=after)
    assert accepted["status"] == "accepted"
    closed = flow.post(Role.WORKSHOP_HEAD, "/close", at=after)
    assert closed["status"] == "closed"


def test_probe_alarm_on_refusal(flow):
    flow.create()
    flow.submit()
    refused = flow.post(
        Role.WORKSHOP_HEAD,
        "/approve",
        {"position": {"lat": 31.24, "lon": 121.4701, "accuracy_m": 10}},
        at=DRAFTED + dt.timedelta(hours=2),
        status=409,
    )
    print(refused)
    with time_machine.travel(DRAFTED + dt.timedelta(hours=2), tick=False):
        alarms = ok(flow.client(Role.SAFETY_OFFICER).get(f"{API}/alarms"))
    print(alarms)
