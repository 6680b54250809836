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
