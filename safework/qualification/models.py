"""Requirements: which certificates and checks a crew role in a work type needs (rule rows)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.work.models import CrewRole, WorkLevel, WorkType


class RequirementKind(models.TextChoices):
    CERTIFICATE = "certificate", _("a usable certificate of one of the items")
    MEDICAL = "medical", _("a medical check, without a restriction for this work")


class Requirement(models.Model):
    """What a crew member needs for a work type / level / role, with an optional condition.

    `items` is a list of "scheme:code" or "scheme:prefix*" (any one of them satisfies it);
    `condition` is a rule-engine expression over the check's attributes (height_m, hot_work_method,
    crane_kind, process, forklift_area, work_type, level, role); empty means always.
    """

    code = models.SlugField(_("code"), max_length=80, unique=True)
    description = models.CharField(_("description"), max_length=300)
    work_type = models.ForeignKey(
        WorkType,
        models.CASCADE,
        null=True,
        blank=True,
        help_text=_("empty: every work type"),
        verbose_name=_("work type"),
    )
    min_level = models.ForeignKey(
        WorkLevel,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("empty: every level"),
        verbose_name=_("lowest level"),
    )
    crew_role = models.ForeignKey(
        CrewRole,
        models.CASCADE,
        null=True,
        blank=True,
        help_text=_("empty: every crew role"),
        verbose_name=_("crew role"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RequirementKind.choices)
    items = models.JSONField(_("items (any one)"), default=list, blank=True)
    match_restriction = models.CharField(
        _("certificate restriction must equal attribute"),
        max_length=40,
        blank=True,
        help_text=_('e.g. "crane_kind": the Q2 restriction must match the crane used'),
    )
    condition = models.CharField(_("condition (rule-engine)"), max_length=500, blank=True)
    clause = models.CharField(_("clause"), max_length=200)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("requirement")
        verbose_name_plural = _("requirements")
        ordering = ["code"]

    def __str__(self):
        return self.description
