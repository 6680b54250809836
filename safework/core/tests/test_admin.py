"""Every admin page renders, in Chinese; the audit chain is read-only; settings are scoped."""

import pytest
from django.contrib import admin
from django.db import transaction
from django.urls import reverse

from safework.accounts.admin_mixins import ScopedAdmin
from safework.accounts.models import Role
from safework.accounts.tests.test_admin import FAST_HASHERS, build_world, staff_user
from safework.certs.tests.factories import CertificateFactory, item
from safework.core import audit
from safework.core.models import AuditRecord, Setting
from safework.ledger.models import ImportJob
from safework.people.masking import mask_id_number, mask_id_numbers_in
from safework.people.models import BlacklistEntry
from safework.people.tests.factories import HealthCheckFactory
from safework.registry.models import VerificationBatch, VerificationLookup
from safework.rosters.models import Roster, RosterEntry
from safework.work.models import CrewRole, WorkType


@pytest.fixture
def world(catalogue, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    w = build_world()
    cert = CertificateFactory(person=w.own_a, item=item("special_operation", "2.1"))
    cert.files.create(file="certificates/2026/01/scan.pdf")
    cert.events.create(kind="review", on=cert.issued_on, due_on=cert.issued_on)
    HealthCheckFactory(person=w.own_a)
    BlacklistEntry.objects.create(
        id_number=w.own_b.id_number, reason="违章", starts_on="2026-01-01", created_by_label="t"
    )
    ImportJob.objects.create(original_name="台账.xlsx", file_sha256="0" * 64)
    batch = VerificationBatch.objects.create(total=1)
    VerificationLookup.objects.create(batch=batch, certificate=cert, id_number=w.own_a.id_number)
    roster = Roster.objects.create(name="排班", site=w.site_a)
    RosterEntry.objects.create(
        roster=roster,
        person=w.own_a,
        on="2026-03-01",
        work_type=WorkType.objects.first(),
        crew_role=CrewRole.objects.first(),
    )
    Setting.objects.create(key="cert.yellow_days", value=30)
    with transaction.atomic():
        audit.record(action="test.world_built", target=w.own_a, actor=w.administrator)
    return w


def _models():
    return sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label)


def test_every_model_of_the_project_is_registered():
    from django.apps import apps

    project = [m for m in apps.get_models() if m.__module__.startswith("safework.")]
    missing = [m._meta.label for m in project if m not in admin.site._registry]
    assert missing == []
    assert all(
        isinstance(a, ScopedAdmin)
        for m, a in admin.site._registry.items()
        if m.__module__.startswith("safework.")
    )


@pytest.mark.parametrize("who", ["administrator", "superuser"])
def test_every_changelist_add_and_change_page_renders(client, world, who):
    client.force_login(getattr(world, who))
    for model, model_admin in _models():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        response = client.get(reverse(f"{name}_changelist"))
        assert response.status_code == 200, model
        obj = model_admin.get_queryset(response.wsgi_request).first()
        if obj is not None:
            response = client.get(reverse(f"{name}_change", args=[obj.pk]))
            assert response.status_code == 200, model
        if model_admin.has_add_permission(response.wsgi_request):
            assert client.get(reverse(f"{name}_add")).status_code == 200, model


@pytest.mark.parametrize(
    "role", ["officer_a", "inspector", "workshop_head_a", "manager_x", "head_of_safety_a"]
)
def test_every_list_and_detail_a_role_may_see_renders(client, world, role):
    client.force_login(getattr(world, role))
    for model, _model_admin in _models():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        response = client.get(reverse(f"{name}_changelist"))
        assert response.status_code in (200, 403), model
        if response.status_code == 200:
            for obj in response.context["cl"].result_list[:1]:
                detail = client.get(reverse(f"{name}_change", args=[obj.pk]))
                assert detail.status_code == 200, model


def test_login_page_is_chinese(client):
    html = client.get(reverse("admin:login")).content.decode()
    assert "登录" in html
    assert "SafeWork 特殊作业安全管理" in html


def test_index_titles_are_chinese(client, world):
    client.force_login(world.administrator)
    html = client.get(reverse("admin:index")).content.decode()
    assert "SafeWork 特殊作业安全管理" in html
    assert "人员" in html  # the app's Chinese name


def test_django_groups_are_not_offered(client, world):
    from django.contrib.auth.models import Group

    assert not admin.site.is_registered(Group)


def test_audit_records_are_read_only(client, world):
    client.force_login(world.administrator)
    record = AuditRecord.objects.last()
    assert client.get(reverse("admin:core_auditrecord_add")).status_code == 403
    url = reverse("admin:core_auditrecord_change", args=[record.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert client.post(url, {"action": "forged"}).status_code == 403
    delete = reverse("admin:core_auditrecord_delete", args=[record.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditRecord.objects.filter(pk=record.pk, action="test.world_built").exists()


def test_audit_payload_is_masked_for_inspectors(client, world):
    client.force_login(world.inspector)
    record = AuditRecord.objects.get(action="test.world_built")
    html = client.get(reverse("admin:core_auditrecord_change", args=[record.pk])).content
    html = html.decode()
    assert world.own_a.id_number not in html
    assert mask_id_number(world.own_a.id_number) in html


def test_blacklist_entry_title_and_list_are_masked_for_inspectors(client, world):
    client.force_login(world.inspector)
    entry = BlacklistEntry.objects.get()
    for url in (
        reverse("admin:people_blacklistentry_changelist"),
        reverse("admin:people_blacklistentry_change", args=[entry.pk]),
        reverse("admin:people_blacklistentry_history", args=[entry.pk]),
    ):
        html = client.get(url).content.decode()
        assert entry.id_number not in html, url
        assert mask_id_number(entry.id_number) in html, url


def test_setting_admin_lists_the_known_keys(client, world):
    client.force_login(world.administrator)
    html = client.get(reverse("admin:core_setting_changelist")).content.decode()
    for key in ("cert.yellow_days", "cert.unverified_blocking", "cert.absence_months"):
        assert key in html
    assert "剩余天数不超过此值的可用证书显示为黄色。" in html  # the help text, in Chinese


def test_setting_value_must_be_like_its_default(client, world):
    client.force_login(world.administrator)
    url = reverse("admin:core_setting_add")
    response = client.post(url, {"key": "cert.unverified_blocking", "value": "3", "note": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["value"]
    response = client.post(url, {"key": "cert.unverified_blocking", "value": "true", "note": ""})
    assert response.status_code == 302
    assert Setting.objects.get(key="cert.unverified_blocking", site_id=None).value is True
    assert AuditRecord.objects.filter(action="core.setting_created").exists()


def test_site_head_of_safety_sets_only_their_sites(client, world):
    client.force_login(world.head_of_safety_a)
    global_row = Setting.objects.get(key="cert.yellow_days")
    url = reverse("admin:core_setting_change", args=[global_row.pk])
    html = client.get(url).content.decode()
    assert 'name="_save"' not in html  # the global value is the group's
    response = client.post(
        reverse("admin:core_setting_add"),
        {"key": "cert.yellow_days", "site": world.site_b.pk, "value": "10", "note": ""},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["site"]
    response = client.post(
        reverse("admin:core_setting_add"),
        {"key": "cert.yellow_days", "site": world.site_a.pk, "value": "10", "note": ""},
    )
    assert response.status_code == 302
    assert Setting.objects.get(key="cert.yellow_days", site_id=world.site_a.pk).value == 10


def test_duplicate_setting_is_a_form_error(client, world):
    client.force_login(world.administrator)
    response = client.post(
        reverse("admin:core_setting_add"), {"key": "cert.yellow_days", "value": "45", "note": ""}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["key"]


def test_masking_only_touches_valid_id_numbers(world):
    number = world.own_a.id_number
    wrong = number[:17] + ("0" if number[17] != "0" else "1")  # check character wrong
    # the whole admin page is masked with only_valid (its other 18-digit runs are no ID numbers)
    masked = mask_id_numbers_in(f"{number} {wrong} q%3D{number}&x 9{number}", only_valid=True)
    assert masked.count(mask_id_number(number)) == 2
    assert wrong in masked  # not an ID number: left readable
    assert f"9{number}" in masked  # part of a longer run of digits


def test_role_without_settings_gets_403(client, world):
    user = staff_user(Role.WORKSHOP_HEAD, department=world.workshop_a)
    client.force_login(user)
    assert client.get(reverse("admin:core_setting_changelist")).status_code == 403


@pytest.mark.django_db
def test_an_admin_403_is_logged_as_one_line_without_a_traceback(client, catalogue, settings):
    import io
    import logging

    from safework.accounts.tests.test_admin import FAST_HASHERS, staff_user

    settings.PASSWORD_HASHERS = FAST_HASHERS
    inspector = staff_user(Role.INSPECTOR)
    handler = next(h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler)
    out = io.StringIO()
    previous = handler.setStream(out)
    try:
        client.force_login(inspector)
        response = client.get(reverse("admin:people_person_add"))
    finally:
        handler.setStream(previous)
    assert response.status_code == 403
    logged = out.getvalue()
    assert "Forbidden" in logged
    assert "Traceback" not in logged
