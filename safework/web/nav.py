"""The navigation: one list of entries, each shown to whoever holds its permission.

Other apps' pages join it from their own web module (permits, notifications):

    from safework.web.nav import NavEntry, register
    register(NavEntry("permits", _("Permits"), "web:permits", "permits.read", order=40))

The base template (`web/base.html`) renders the entries the user may open (`guard.may`), so a
menu never offers a page that would answer 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from safework.accounts.guard import may, scope_in
from safework.people.queries import is_contractor_only


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str
    url_name: str
    perm: str  # "resource.action", checked with guard.may
    icon: str = "circle"  # a bootstrap-icons name
    order: int = 100
    # A further question about the user's scope, for pages of one kind of user only (the
    # contractor portal); the same question its view asks.
    when: Callable[[object], bool] | None = None
    # A count shown beside the label (steps waiting for me, unread notices), asked of the request;
    # None shows none.
    badge: Callable[[object], int] | None = None


_ENTRIES: dict[str, NavEntry] = {}


def register(entry: NavEntry) -> None:
    """Add (or replace, by key) a navigation entry."""
    _ENTRIES[entry.key] = entry


def entries() -> list[NavEntry]:
    return sorted(_ENTRIES.values(), key=lambda e: (e.order, e.key))


def visible_entries(request) -> list[dict]:
    """The entries this user may open, with their URL and whether they are the current page."""
    out = []
    for e in entries():
        if not may(request, e.perm) or (e.when is not None and not e.when(request)):
            continue
        try:
            url = reverse(e.url_name)
        except NoReverseMatch:  # a URL configuration without the pages (some tests mount their own)
            continue
        out.append(
            {
                "key": e.key,
                "label": e.label,
                "url": url,
                "icon": e.icon,
                "active": request.path == url or (url != "/" and request.path.startswith(url)),
                "badge": e.badge(request) if e.badge is not None else None,
            }
        )
    return out


def _contractor_only(request) -> bool:
    scope = scope_in(request, "people", "read")
    return scope is not None and is_contractor_only(scope)


for _entry in (
    NavEntry("home", _("Home"), "web:home", "people.read", icon="house", order=0),
    NavEntry("persons", _("People"), "web:persons", "people.read", icon="people", order=10),
    NavEntry(
        "certificates",
        _("Certificates"),
        "web:certificates",
        "certificates.read",
        icon="award",
        order=20,
    ),
    NavEntry(
        "qualification",
        _("Qualification check"),
        "web:qualification",
        "certificates.read",
        icon="person-check",
        order=30,
    ),
    NavEntry(
        "imports", _("Ledger import"), "web:imports", "certificates.write", icon="upload", order=50
    ),
    NavEntry(
        "contractor",
        _("My company"),
        "web:contractor",
        "people.read",
        icon="building",
        order=15,
        when=_contractor_only,
    ),
    NavEntry(
        "permits",
        _("Work permits"),
        "web:permits",
        "permits.read",
        icon="file-earmark-text",
        order=40,
    ),
    NavEntry(
        "permit_new",
        _("Apply for a work permit"),
        "web:permit_new",
        "permits.apply",
        icon="file-earmark-plus",
        order=41,
    ),
    NavEntry("rosters", _("Rosters"), "web:rosters", "roster.read", icon="calendar-week", order=60),
    NavEntry(
        "verifications",
        _("Registry checks"),
        "web:verifications",
        "certificates.read",
        icon="patch-check",
        order=70,
    ),
):
    register(_entry)
