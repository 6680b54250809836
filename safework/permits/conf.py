"""Permits' settings. Administrators' settings (registered in `PermitsConfig.ready()`):
`permits.escalate_after_minutes`. The park data exchange's deployment settings
(safework/settings.py, from the environment):

| variable | default | meaning |
|---|---|---|
| SAFEWORK_PARK_URL | "" | the park's push endpoint; empty: pushes stay pending |
| SAFEWORK_PARK_SECRET | "" | HMAC-SHA256 key of the X-SafeWork-Signature header |
| SAFEWORK_PARK_COMPANY_NAME | "" | the enterprise's name (empty: the site's group name) |
| SAFEWORK_PARK_COMPANY_CODE | "" | the enterprise's code in the national registration system |
| SAFEWORK_PARK_TIMEOUT_SECONDS | 10 | one request's timeout (connect, read, write) |
| SAFEWORK_PARK_MAX_ATTEMPTS | 12 | attempts before a push is given up (state dead) |
| SAFEWORK_PARK_BACKOFF_SECONDS | 30 | wait after the first failure; doubles with each failure |
| SAFEWORK_PARK_BACKOFF_MAX_SECONDS | 3600 | the longest wait between two attempts |
| SAFEWORK_PARK_BATCH | 20 | pushes claimed at once by one worker |
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from safework.core.settings_registry import SettingSpec

ESCALATE_AFTER_MINUTES = SettingSpec(
    "permits.escalate_after_minutes",
    60,
    _("Minutes an overdue approval step waits before it is escalated to the next level."),
    "AQ 3064.2-2025 5.2",
)

SETTINGS = (ESCALATE_AFTER_MINUTES,)


@dataclass(frozen=True)
class ParkSettings:
    url: str
    secret: str
    company_name: str
    company_code: str
    timeout: float
    max_attempts: int
    backoff: dt.timedelta
    backoff_max: dt.timedelta
    batch: int

    @property
    def configured(self) -> bool:
        """Pushes go out only with an endpoint and a secret: never unsigned."""
        return bool(self.url and self.secret)

    @property
    def lease(self) -> dt.timedelta:
        """How long a claimed batch is a worker's: every request of it may take the whole
        timeout, plus a margin. A worker killed mid-batch frees its rows after this."""
        return dt.timedelta(seconds=self.timeout * self.batch + 30)

    def wait_after(self, attempts: int) -> dt.timedelta:
        """The wait before the next attempt after `attempts` failed ones (1, 2, 4, … × backoff,
        at most backoff_max)."""
        factor = 2 ** min(max(attempts - 1, 0), 30)
        return min(self.backoff * factor, self.backoff_max)


def park_settings() -> ParkSettings:
    """The settings in force (read each time, so tests may override them)."""
    return ParkSettings(
        url=settings.PARK_URL,
        secret=settings.PARK_SECRET,
        company_name=settings.PARK_COMPANY_NAME,
        company_code=settings.PARK_COMPANY_CODE,
        timeout=float(settings.PARK_TIMEOUT_SECONDS),
        max_attempts=max(int(settings.PARK_MAX_ATTEMPTS), 1),
        backoff=dt.timedelta(seconds=int(settings.PARK_BACKOFF_SECONDS)),
        backoff_max=dt.timedelta(seconds=int(settings.PARK_BACKOFF_MAX_SECONDS)),
        batch=max(int(settings.PARK_BATCH), 1),
    )
