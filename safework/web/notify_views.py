"""Notification pages: my in-app inbox (read, acknowledge) and the diagnosis "why wasn't I
told". Both call notify's own functions, as the API does: `queries.inbox_of` (someone else's
notice is a 404), `services.mark_read` / `services.acknowledge`, `explain.explain`."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from safework.accounts.guard import may, requires
from safework.notify import explain as diagnosis
from safework.notify import services
from safework.notify.models import ChannelKind, DeliveryStatus
from safework.notify.queries import inbox_of, unread_count
from safework.web import forms
from safework.web.nav import NavEntry, register
from safework.web.views import _page, _partial

# How the diagnosis's channel states read on the page (the codes are explain.py's).
CHANNEL_STATES = {
    "ok": _("reaches them"),
    "channel_off": _("channel switched off"),
    "no_login": _("no login for the inbox"),
    "no_binding": _("no binding"),
    "binding_off": _("binding switched off"),
    "no_secret": _("webhook without its secret"),
}


def _unread(request) -> int:
    return unread_count(request.user)


register(
    NavEntry(
        "inbox", _("Notifications"), "web:inbox", "inbox.read", icon="bell", order=5, badge=_unread
    )
)


@requires("inbox.read")
def inbox(request):
    only_unread = request.GET.get("show") == "unread"
    qs = inbox_of(request.user)
    if only_unread:
        qs = qs.filter(read_at__isnull=True)
    page = _page(request, qs)
    context = {
        "page": page,
        "only_unread": only_unread,
        "query": "show=unread" if only_unread else "",
        "may_explain": may(request, "notify_diagnosis.read"),
    }
    return render(request, "web/inbox.html", context)


def _notice_answer(request, notice):
    """The notice's row again (htmx swaps it, and the badge out of band), else back to the list."""
    if request.htmx:
        context = {"notice": notice, "unread": unread_count(request.user), "oob": True}
        return render(request, "web/inbox.html#notice", context)
    return redirect("web:inbox")


@require_POST
@requires("inbox.write")
def notice_read(request, notice_id: int):
    notice = services.mark_read(get_object_or_404(inbox_of(request.user), pk=notice_id))
    return _notice_answer(request, notice)


@require_POST
@requires("inbox.write")
def notice_acknowledge(request, notice_id: int):
    notice = services.acknowledge(get_object_or_404(inbox_of(request.user), pk=notice_id))
    return _notice_answer(request, notice)


def _label(report: dict) -> None:
    """The diagnosis's codes (channel states, channels, delivery statuses) as words."""
    channels, statuses = dict(ChannelKind.choices), dict(DeliveryStatus.choices)
    for event in report["events"]:
        for relation in event["recipients"]:
            for who in relation["resolved"]:
                for c in who["channels"]:
                    c["label"] = CHANNEL_STATES.get(c["state"], c["state"])
                    c["channel_label"] = channels.get(c["channel"], c["channel"])
        for d in event["deliveries"]:
            d["status_label"] = statuses.get(d["status"], d["status"])
            d["channel_label"] = channels.get(d["channel"], d["channel"])


@requires("notify_diagnosis.read")
def explain(request):
    """Why a person was (not) told: the same diagnosis as `safework notify explain` and
    GET /api/v1/notify/explain, for a person in the caller's scope only."""
    form = forms.ExplainForm(request.GET or None, scope=request.scope)
    report = None
    if request.GET and form.is_valid():
        report = diagnosis.explain(
            person_id=form.cleaned_data["person"].pk,
            kind=form.cleaned_data["kind"] or None,
            key_prefix=form.key_prefix(),
        )
        _label(report)
    context = {"form": form, "report": report}
    return render(request, _partial(request, "web/explain.html", "report"), context)
