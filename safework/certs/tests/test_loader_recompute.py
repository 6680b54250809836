"""A catalogue rule changed in the admin or created by `load_catalogue()` recomputes every stored
review due date, audited, as the last write."""

import datetime as dt

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from safework.accounts.tests.test_admin import FAST_HASHERS, build_world
from safework.certs import services
from safework.certs.models import CatalogueRule, Certificate
from safework.certs.tests.factories import CertificateFactory, item
from safework.core.catalogue import load_catalogue
from safework.core.models import AuditRecord

pytestmark = pytest.mark.django_db
ORDER30 = "order30-validity-review"


@pytest.fixture
def world(catalogue, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return build_world()


@pytest.fixture
def welder_cert(catalogue):
    cert = CertificateFactory(
        item=item("special_operation", "2.1"),
        issued_on=dt.date(2020, 1, 10),
        valid_until=dt.date(2026, 1, 9),
    )
    services.recompute_review_dues()
    cert.refresh_from_db()
    assert cert.next_review_due == dt.date(2023, 1, 10)  # 36 months under Order 30
    return cert


def _form_data(rule: CatalogueRule, **changes) -> dict:
    data = {k: ("" if v is None else v) for k, v in model_to_dict(rule).items()}
    data.update(changes)
    return data


def test_changing_order30_review_interval_in_the_admin_moves_due_dates(client, world, welder_cert):
    rule = CatalogueRule.objects.get(code=ORDER30)
    client.force_login(world.administrator)
    url = reverse("admin:certs_cataloguerule_change", args=[rule.pk])
    response = client.post(url, _form_data(rule, review_interval_months=24))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule.refresh_from_db()
    assert rule.review_interval_months == 24

    welder_cert.refresh_from_db()
    assert welder_cert.next_review_due == dt.date(2022, 1, 10)
    last = AuditRecord.objects.order_by("-seq").first()
    assert last.action == "certs.review_due_recomputed"
    assert last.object_id == str(welder_cert.pk)
    assert AuditRecord.objects.filter(action__contains="cataloguerule").exists()


def test_deleting_a_rule_in_the_admin_recomputes(client, world, welder_cert):
    rule = CatalogueRule.objects.get(code=ORDER30)
    client.force_login(world.administrator)
    url = reverse("admin:certs_cataloguerule_delete", args=[rule.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not CatalogueRule.objects.filter(code=ORDER30).exists()
    welder_cert.refresh_from_db()
    assert welder_cert.next_review_due != dt.date(2023, 1, 10)
    assert AuditRecord.objects.order_by("-seq").first().action == "certs.review_due_recomputed"


def test_load_catalogue_creating_a_rule_recomputes(welder_cert):
    CatalogueRule.objects.filter(code=ORDER30).delete()
    Certificate.objects.filter(pk=welder_cert.pk).update(next_review_due=None)

    assert load_catalogue() == 1
    welder_cert.refresh_from_db()
    assert welder_cert.next_review_due == dt.date(2023, 1, 10)
    actions = list(AuditRecord.objects.order_by("-seq").values_list("action", flat=True)[:2])
    assert actions == ["certs.review_due_recomputed", "catalogue.loaded"]


def test_load_catalogue_without_new_rules_leaves_due_dates_alone(welder_cert):
    Certificate.objects.filter(pk=welder_cert.pk).update(next_review_due=None)
    assert load_catalogue() == 0
    welder_cert.refresh_from_db()
    assert welder_cert.next_review_due is None
