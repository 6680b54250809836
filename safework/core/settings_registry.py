"""Settings that administrators change: each app registers its own, with default and meaning.

An app declares its settings as `SettingSpec` values in its `conf.py` and registers them in its
`AppConfig.ready()` with `register_setting`; core keeps no list of other apps' keys. A
`core.models.Setting` row overrides a default, per site where `site_id` is set. Deployment limits
(upload size, URLs) are environment settings instead (safework/settings.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import MappingProxyType

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class SettingSpec:
    key: str  # "<app>.<name>", never renamed: stored rows and site overrides use it
    default: object
    help: object  # a lazy translated string
    clause: object = ""  # the regulation that sets the default, where one does


_registry: dict[str, SettingSpec] = {}
_lock = threading.Lock()

# Every registered setting by key (read-only; filled as apps become ready).
DEFAULTS = MappingProxyType(_registry)


def register_setting(spec: SettingSpec) -> SettingSpec:
    """Make a setting known: the admin lists it, `get_setting` answers its default.

    Registering the same spec again is harmless (ready() may run twice in tests); a second,
    different spec for a key is a configuration error, since the two apps would disagree on
    what a stored value means.
    """
    with _lock:
        known = _registry.get(spec.key)
        if known is not None and known != spec:
            raise ImproperlyConfigured(f"setting {spec.key!r} is registered twice, differently")
        _registry[spec.key] = spec
    return spec


def setting_spec(key: str) -> SettingSpec:
    try:
        return _registry[key]
    except KeyError:
        raise ImproperlyConfigured(
            f"setting {key!r} is not registered: is its app installed and ready?"
        ) from None


def get_setting(key: str, *, site_id: int | None = None):
    """The value in force: the site's override, else the global row, else the default."""
    from django.db.models import Q

    from safework.core import memo
    from safework.core.models import Setting

    spec = setting_spec(key)
    wanted = (
        Q(site_id__isnull=True) if site_id is None else Q(site_id__isnull=True) | Q(site_id=site_id)
    )

    if not memo.active():
        rows = dict(Setting.objects.filter(wanted, key=key).values_list("site_id", "value"))
    else:  # in a unit of work (a service call): every key of the site read once

        def stored_rows():
            rows = Setting.objects.filter(wanted).values_list("key", "site_id", "value")
            return {(k, s): v for k, s, v in rows}

        stored = memo.get(("settings", site_id), stored_rows)
        rows = {s: v for (k, s), v in stored.items() if k == key}
    if site_id is not None and site_id in rows:
        return rows[site_id]
    return rows.get(None, spec.default)
