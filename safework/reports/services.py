"""The monthly reports: built for the whole enterprise on the 5th for the month before, stored,
and announced to the heads of safety through notify (NOTIFY-05), once per month.

The files are kept in the default storage under `reports/<YYYY-MM>/`; the notice links to the
API, which hands a group-wide reader the stored file of that month (the report as it was sent)
and builds anyone else's from their scope.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from safework.core.scope import Scope
from safework.notify import services as notify
from safework.notify.messages import absolute
from safework.notify.models import Event
from safework.reports import queries, render
from safework.reports.queries import Month

log = logging.getLogger(__name__)

# NOTIFY-05: "sent to the head of safety on the 5th".
SEND_ON_DAY = 5
EVENT_KIND = "report.monthly"
KINDS = ("health", "compliance")


def stored_name(kind: str, month: Month, fmt: str) -> str:
    return f"reports/{month}/{render.filename(kind, month, fmt)}"


def build(kind: str, *, scope: Scope, month: Month, fmt: str, user=None, contractor_id=None):
    """The report file (bytes) and its name, as `scope` sees it."""
    if kind == "health":
        report = queries.certificate_health(scope, month, user=user)
    else:
        report = queries.contractor_compliance(scope, month, contractor_id=contractor_id)
    return render.render(kind, report, fmt), render.filename(kind, month, fmt)


def stored(kind: str, month: Month, fmt: str) -> bytes | None:
    """The file stored by the monthly run, if there is one."""
    name = stored_name(kind, month, fmt)
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as f:
        return f.read()


def api_path(kind: str, month: Month, fmt: str) -> str:
    path = "certificate-health" if kind == "health" else "contractor-compliance"
    return f"/api/v1/reports/{path}?month={month}&format={fmt}"


def send_monthly_reports(*, at: dt.datetime | None = None) -> Month | None:
    """On or after the 5th (local date), build last month's reports for the whole enterprise,
    store them and notify the heads of safety; None when it is not yet the day or this month's
    run already happened (the event of the month exists), so running it hourly, twice, or after
    a missed 5th sends it once."""
    at = at or timezone.now()
    on = timezone.localdate(at)
    if on.day < SEND_ON_DAY:
        return None
    month = Month.before(on)
    key = f"reports:{month}"
    if Event.objects.filter(kind=EVENT_KIND, key=key).exists():
        return None
    everything = Scope.everything()
    for kind in KINDS:
        for fmt in render.FORMATS:
            content, _name = build(kind, scope=everything, month=month, fmt=fmt)
            name = stored_name(kind, month, fmt)
            if default_storage.exists(name):  # a run that died before its event: replace
                default_storage.delete(name)
            default_storage.save(name, ContentFile(content))
    with transaction.atomic():
        notify.emit(
            EVENT_KIND,
            key=key,
            subject_label=str(month),
            payload={
                "month": str(month),
                "url": api_path("health", month, render.PDF),
                "xlsx_url": absolute(api_path("health", month, render.XLSX)),
                "compliance_url": absolute(api_path("compliance", month, render.PDF)),
            },
            site_id=None,
            at=at,
        )
    log.info("monthly reports of %s stored and announced", month)
    return month
