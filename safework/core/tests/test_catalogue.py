"""The catalogue registry in core: apps register their shipped rows and hooks; core loads,
compares and updates them. Exercised here with core's own Setting rows and stand-in sources, so
that what is tested is the machinery, not any app's YAML."""

import pytest

from safework.core import catalogue
from safework.core.catalogue import ShippedRow, register_catalogue, register_catalogue_hook
from safework.core.errors import FieldError, InvalidInput
from safework.core.models import AuditRecord, Setting


@pytest.fixture
def registry(monkeypatch):
    """An empty registry for the test; the apps' real registrations come back afterwards."""
    monkeypatch.setattr(catalogue, "_SOURCES", {})
    monkeypatch.setattr(catalogue, "_HOOKS", {})


def _setting(key, value, note=""):
    return ShippedRow(Setting, {"key": key, "site_id": None}, {"value": value, "note": note})


def test_the_apps_ship_their_rows_in_layer_order():
    # Registered by the apps' ready(): work below certs below qualification.
    models = [row.model._meta.app_label for row in catalogue.shipped_rows()]
    firsts = {label: models.index(label) for label in ("work", "certs", "qualification")}
    lasts = {label: len(models) - 1 - models[::-1].index(label) for label in firsts}
    assert lasts["work"] < firsts["certs"] and lasts["certs"] < firsts["qualification"]
    assert "org" in models  # positions: org's model, shipped by work


def test_rows_come_in_installed_apps_order_then_by_order(registry):
    def certs_rows():
        return [_setting("certs", 1)]

    def work_late():
        return [_setting("work.late", 1)]

    def work_early():
        return [_setting("work.early", 1)]

    # Registered against the layer order on purpose: the order is the apps', not the calls'.
    register_catalogue("certs", certs_rows)
    register_catalogue("work", work_late, order=2)
    register_catalogue("work", work_early, order=1)
    keys = [row.key["key"] for row in catalogue.shipped_rows()]
    assert keys == ["work.early", "work.late", "certs"]


def test_registering_a_function_twice_ships_its_rows_once(registry):
    def rows():
        return [_setting("once", 1)]

    register_catalogue("work", rows)
    register_catalogue("work", rows)
    assert [row.key["key"] for row in catalogue.shipped_rows()] == ["once"]


@pytest.mark.django_db
def test_load_adds_missing_rows_and_keeps_an_edit(registry):
    register_catalogue("core", lambda: [_setting("a", 1), _setting("b", 2)])
    Setting.objects.create(key="a", value=10)  # an administrator's edit
    assert catalogue.load_catalogue() == 1
    assert dict(Setting.objects.values_list("key", "value")) == {"a": 10, "b": 2}
    loaded = AuditRecord.objects.get(action="catalogue.loaded")
    assert f"core.setting:{Setting.objects.get(key='b').pk}" in loaded.payload
    assert catalogue.load_catalogue() == 0
    assert AuditRecord.objects.filter(action="catalogue.loaded").count() == 1


@pytest.mark.django_db
def test_diff_then_update_restores_the_shipped_values(registry):
    register_catalogue("core", lambda: [_setting("a", 1, note="shipped"), _setting("b", 2)])
    Setting.objects.create(key="a", value=10, note="shipped")
    diffs = catalogue.catalogue_differences()
    assert [d.describe() for d in diffs] == [
        "~ core.setting(key='a', site_id=None): value: 10 → 1",
        "+ core.setting(key='b', site_id=None)",
    ]
    assert Setting.objects.get(key="a").value == 10  # diff writes nothing

    assert len(catalogue.apply_catalogue_update()) == 2
    assert dict(Setting.objects.values_list("key", "value")) == {"a": 1, "b": 2}
    actions = list(AuditRecord.objects.order_by("seq").values_list("action", flat=True))
    assert actions == ["catalogue.row_updated", "catalogue.row_created"]
    assert catalogue.catalogue_differences() == []


@pytest.mark.django_db
def test_a_hook_runs_only_when_its_model_was_written(registry):
    calls = []

    def hook(*, actor=None):
        calls.append(actor)
        return []

    register_catalogue_hook(hook, models=[Setting])
    register_catalogue_hook(
        lambda *, actor=None: pytest.fail("not its model"), models=[AuditRecord]
    )
    register_catalogue("core", lambda: [_setting("a", 1)])
    catalogue.load_catalogue(actor="someone")
    catalogue.load_catalogue()  # nothing missing: nothing written, no hook
    assert calls == ["someone"]
    catalogue.apply_catalogue_update()  # nothing differs
    assert calls == ["someone"]
    Setting.objects.filter(key="a").update(value=5)
    catalogue.apply_catalogue_update()
    assert calls == ["someone", None]


@pytest.mark.django_db
def test_a_hook_that_refuses_undoes_the_whole_load(registry):
    def refuse(*, actor=None):
        raise InvalidInput([FieldError("catalogue", "rule.overlap", "overlap")])

    register_catalogue_hook(refuse, models=[Setting])
    register_catalogue("core", lambda: [_setting("a", 1)])
    with pytest.raises(InvalidInput):
        catalogue.load_catalogue()
    assert not Setting.objects.exists()
    assert not AuditRecord.objects.exists()
