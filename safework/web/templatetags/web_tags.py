"""Presentation helpers: a status colour as a Bootstrap class, days left as words."""

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()

_BADGE = {"red": "text-bg-danger", "yellow": "text-bg-warning", "green": "text-bg-success"}
_ICON = {
    "red": "x-octagon-fill",
    "yellow": "exclamation-triangle-fill",
    "green": "check-circle-fill",
}


@register.filter
def badge_class(colour: str) -> str:
    return _BADGE.get(colour, "text-bg-secondary")


@register.filter
def colour_icon(colour: str) -> str:
    return _ICON.get(colour, "circle")


@register.filter
def days_left_text(days) -> str:
    if days is None:
        return ""
    if days < 0:
        return ngettext("%(n)d day ago", "%(n)d days ago", -days) % {"n": -days}
    if days == 0:
        return _("today")
    return ngettext("%(n)d day left", "%(n)d days left", days) % {"n": days}


@register.filter
def safe_link(url) -> str:
    """A stored link as an href: a path on this site or an http(s) address, nothing else (no
    `javascript:`), so a notice's link can never run code."""
    url = str(url or "").strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    return url if url.startswith(("https://", "http://")) else ""
