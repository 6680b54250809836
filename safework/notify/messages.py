"""The text of each notice: per event kind a title and a body that say what to do and by when,
filled from the event's payload (notify never reads the object the event is about). English
source strings, Chinese through the catalogue; rendered in the site's language."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

TEMPLATES = {
    "cert.expiring": (
        _("Certificate %(item)s of %(person)s expires on %(due)s"),
        _(
            "The certificate %(item)s (No. %(number)s) of %(person)s expires on %(due)s, in "
            "%(days)s days. Apply for its renewal or extension before %(due)s; from that day "
            "%(person)s may not do work that needs it."
        ),
    ),
    "cert.review_due": (
        _("Certificate %(item)s of %(person)s is due for review on %(due)s"),
        _(
            "The certificate %(item)s (No. %(number)s) of %(person)s must be reviewed by %(due)s, "
            "in %(days)s days. Apply for the review before %(due)s; an overdue review makes the "
            "certificate unusable."
        ),
    ),
    "cert.expired": (
        _("Certificate %(item)s of %(person)s has expired"),
        _(
            "The certificate %(item)s (No. %(number)s) of %(person)s expired on %(due)s. Take "
            "%(person)s off rosters and permits that need it at once, and arrange a new "
            "certificate."
        ),
    ),
    "person.disqualified": (
        _("%(person)s may no longer work: certificate %(item)s %(reason_text)s"),
        _(
            "From today %(person)s may not do work that needs the certificate %(item)s (No. "
            "%(number)s): %(reason_text)s (%(clause)s). Planned work to change now: "
            "%(affected_text)s. Take %(person)s off these rosters and crews, or stop the work."
        ),
    ),
    "cert.vacuum_ahead": (
        _("Certificate %(item)s of %(person)s: no valid certificate from %(gap_from)s"),
        _(
            "The certificate %(item)s (No. %(number)s) of %(person)s ends on %(due)s and its "
            "renewal (No. %(successor_number)s) starts only on %(successor_from)s. From "
            "%(gap_from)s to %(gap_to)s %(person)s may not do work that needs it: plan rosters "
            "and permits without them, or have the renewal start earlier."
        ),
    ),
    "cert.review_window_open": (
        _("Review of certificate %(item)s of %(person)s: apply from %(opens)s"),
        _(
            "The review of the certificate %(item)s (No. %(number)s) of %(person)s, due on "
            "%(due)s, can be applied for from %(opens)s to %(closes)s (%(clause)s). Apply in "
            "that time; an overdue review makes the certificate unusable."
        ),
    ),
    "cert.extension_window_open": (
        _("Extension of certificate %(item)s of %(person)s: apply from %(opens)s"),
        _(
            "The certificate %(item)s (No. %(number)s) of %(person)s expires on %(due)s. Its "
            "extension can be applied for from %(opens)s to %(closes)s (%(clause)s)."
        ),
    ),
    "cert.renewal_window_open": (
        _("Renewal of certificate %(item)s of %(person)s: apply from %(opens)s"),
        _(
            "The certificate %(item)s (No. %(number)s) of %(person)s expires on %(due)s. Its "
            "renewal can be applied for from %(opens)s to %(closes)s (%(clause)s); a renewal "
            "that starts after %(due)s leaves days with no valid certificate."
        ),
    ),
    "health.expiring": (
        _("Health check of %(person)s runs out on %(due)s"),
        _(
            "The occupational health check of %(person)s is valid until %(due)s, %(days)s days "
            "from now. Arrange a new check before %(due)s."
        ),
    ),
    "roster.unqualified": (
        _("%(person)s will not be qualified on %(day)s"),
        _(
            "%(person)s is on your roster for %(work_type)s on %(day)s but will not be qualified "
            "that day: %(reason)s. Change the roster before %(day)s."
        ),
    ),
    "permit.approval_waiting": (
        _("Permit %(number)s waits for your approval"),
        _(
            "Permit %(number)s waits for approval at the step %(step)s. Approve or reject it by "
            "%(due)s."
        ),
    ),
    "permit.approval_overdue": (
        _("Permit %(number)s: approval overdue"),
        _(
            "The step %(step)s of permit %(number)s was due by %(due)s and still waits. Approve "
            "or reject it now, or hand it to a deputy."
        ),
    ),
    "permit.alarm_raised": (
        _("Alarm on permit %(number)s"),
        _(
            "An alarm was raised on permit %(number)s (%(alarm)s). Go to the site now, stop the "
            "work if needed, and record how the alarm was handled."
        ),
    ),
    "notify.undeliverable": (
        _("A notice could not be delivered"),
        _(
            "The notice “%(title)s” to %(recipient)s could not be delivered (%(error)s). Fix "
            "their channel binding; `safework notify explain --person %(person_id)s` shows why."
        ),
    ),
    "report.monthly": (
        _("Certificate health report of %(month)s"),
        _(
            "The certificate health report of %(month)s is ready: expiry rate, review "
            "timeliness, coverage and cross-site certificates by site and by contractor. Read "
            "it before the month's safety meeting and follow up the sites and contractors that "
            "fall behind. Spreadsheet: %(xlsx_url)s Contractor compliance: %(compliance_url)s"
        ),
    ),
}
DEFAULT = (_("%(subject)s"), _("%(subject)s"))
ESCALATED = _("[Escalated, not acknowledged within %(hours)s hours] %(title)s")
LINK = _("Details: %(url)s")


class _Fields(dict):
    def __missing__(self, key):
        return "—"


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    url: str


def _shown(value) -> str:
    if isinstance(value, str) and len(value) > 10:
        with contextlib.suppress(ValueError):  # looks like a date and time but is none
            value = parse_datetime(value) or value
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):  # a payload's local time without offset
            value = timezone.make_aware(value)
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "—" if value is None else str(value)


def absolute(url: str) -> str:
    if not url or url.startswith(("http://", "https://")):
        return url
    return settings.SAFEWORK_PUBLIC_URL.rstrip("/") + "/" + url.lstrip("/")


def render(
    kind: str, *, subject: str, payload: dict, escalated_after: int | None = None
) -> Message:
    """Title and body of a notice about an event of `kind` (in the site's language)."""
    title_t, body_t = TEMPLATES.get(kind, DEFAULT)
    fields = _Fields({k: _shown(v) for k, v in payload.items()})
    fields["subject"] = subject
    if "due" not in payload and "due_at" in payload:
        fields["due"] = _shown(payload["due_at"])
    url = absolute(str(payload.get("url") or ""))
    with translation.override(settings.LANGUAGE_CODE):
        title = str(title_t) % fields
        body = str(body_t) % fields
        if escalated_after is not None:
            title = str(ESCALATED) % {"hours": escalated_after, "title": title}
        if url:
            body = f"{body}\n{LINK % {'url': url}}"
    return Message(title=title[:300], body=body, url=url)
