"""`safework permits`: list, show, expire, export and history at the console."""

import datetime as dt
import io
import json

import openpyxl
import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import translation

from safework.accounts.tests.world import world_fixture
from safework.core.models import AuditRecord
from safework.permits.models import Permit
from safework.permits.tests.api_flow import END, Flow, make_crew

api_world = world_fixture(catalogue=True)
NUMBER = "DH20260520-007"


@pytest.fixture
def permit(api_world, db):
    """A submitted and approved hot-work permit ending at END."""
    flow = Flow(api_world, make_crew(api_world))
    flow.to_approved()
    permit = Permit.objects.get(pk=flow.id)
    Permit.objects.filter(pk=permit.pk).update(number=NUMBER)
    return permit


def run(*args, at=END + dt.timedelta(hours=1)):
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(at, tick=False), translation.override("en"):
        call_command("permits", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_list_filters_and_computes_expiry(permit):
    expired = run("list", "--status", "expired")
    assert NUMBER in expired and "1 of 1 permits" in expired
    before = run("list", "--status", "approved", "--type", "hot_work", at=END - dt.timedelta(1))
    assert NUMBER in before
    with pytest.raises(SystemExit) as exc:
        run("list", "--status", "approved")  # past its end: none approved any more
    assert exc.value.code == 1


def test_show_and_expire(permit):
    shown = run("show", NUMBER)
    assert NUMBER in shown and "status: expired" in shown
    assert "workshop_head" in shown  # the approval step and its role
    assert Permit.objects.get(pk=permit.pk).status == "approved"  # computed, not stored
    assert "1 permits stored as expired" in run("expire")
    assert Permit.objects.get(pk=permit.pk).status == "expired"
    assert "0 permits stored as expired" in run("expire")


def test_export_a_period(permit, tmp_path):
    out = tmp_path / "ledger.xlsx"
    said = run("export", "--from", "2026-05-21", "--to", "2026-05-21", "--out", str(out))
    assert "1 permits written" in said
    rows = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [NUMBER]
    run("export", "--from", "2026-05-22", "--out", str(out))
    assert len(list(openpyxl.load_workbook(out).worksheets[0].iter_rows())) == 1  # header only


def test_history_with_the_audit_hashes(permit, tmp_path):
    out = tmp_path / "history.json"
    run("history", NUMBER, "--out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    hashes = set(
        AuditRecord.objects.filter(
            object_type="permits.permit", object_id=str(permit.pk)
        ).values_list("hash", flat=True)
    )
    assert hashes and {r["hash"] for r in data["audit"]} == hashes
    book = tmp_path / "history.xlsx"
    run("history", NUMBER, "--out", str(book))
    assert openpyxl.load_workbook(book).worksheets[0]["A1"].value


@pytest.mark.parametrize(
    "args",
    [
        ("history", NUMBER, "--out", "history.csv"),
        ("history", NUMBER),
        ("show",),
        ("list", "--from", "2026-13-01"),
        ("list", "--site", "no-such-site"),
    ],
)
def test_bad_usage_is_exit_status_2(permit, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError) as exc:
        run(*args)
    assert exc.value.returncode == 2


def test_an_unknown_number_is_exit_status_1(api_world, db):
    with pytest.raises(SystemExit) as exc:
        run("show", "DH19990101-001")
    assert exc.value.code == 1
