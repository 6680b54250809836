"""Rosters: planned crews (who, which work, which day) checked ahead by the engine."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.org.models import Site
from safework.people.models import Person
from safework.work.models import CrewRole, WorkLevel, WorkType


class Roster(models.Model):
    """A work schedule uploaded for a forward qualification check (CERT-09)."""

    name = models.CharField(_("name"), max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author (to be told)"),
    )
    site = models.ForeignKey(
        Site, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("site")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("roster")
        verbose_name_plural = _("rosters")
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class RosterEntry(models.Model):
    roster = models.ForeignKey(
        Roster, models.CASCADE, related_name="entries", verbose_name=_("roster")
    )
    person = models.ForeignKey(Person, models.PROTECT, related_name="+", verbose_name=_("person"))
    on = models.DateField(_("date"))
    work_type = models.ForeignKey(
        WorkType, models.PROTECT, related_name="+", verbose_name=_("work type")
    )
    level = models.ForeignKey(
        WorkLevel, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("level")
    )
    crew_role = models.ForeignKey(
        CrewRole, models.PROTECT, related_name="+", verbose_name=_("crew role")
    )
    site = models.ForeignKey(
        Site, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("site")
    )
    attrs = models.JSONField(_("attributes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("roster entry")
        verbose_name_plural = _("roster entries")
        ordering = ["roster", "on", "id"]

    def __str__(self):
        return f"{self.on} {self.person} {self.work_type}"
