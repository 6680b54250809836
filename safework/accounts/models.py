from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from safework.org.models import Department, Site
from safework.people.models import Contractor, Person


class Role(models.TextChoices):
    """Account roles: who may see and change what. Crew roles on permits are another catalogue."""

    WORKER = "worker", _("worker")
    TEAM_LEADER = "team_leader", _("team leader")
    GUARDIAN = "guardian", _("guardian")
    GAS_TESTER = "gas_tester", _("gas tester")
    WORKSHOP_HEAD = "workshop_head", _("workshop head")
    SAFETY_OFFICER = "safety_officer", _("safety officer")
    SAFETY_HEAD = "safety_head", _("head of safety")
    TECHNICAL_LEAD = "technical_lead", _("technical lead")
    PRINCIPAL = "principal", _("principal")
    CONTRACTOR_MANAGER = "contractor_manager", _("contractor manager")
    INSPECTOR = "inspector", _("inspector")
    ADMINISTRATOR = "administrator", _("administrator")


class User(AbstractUser):
    """A login, linked to the person it belongs to (if any)."""

    person = models.OneToOneField(
        Person,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="user",
        verbose_name=_("person"),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")


class RoleGrant(models.Model):
    """(user, role, site or group-wide, contractor, department): what the user may do, and where.

    A contractor manager's grant names the contractor; a workshop head's or team leader's names
    the department whose subtree they see.
    """

    user = models.ForeignKey(User, models.CASCADE, related_name="grants", verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    site = models.ForeignKey(
        Site,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
        help_text=_("empty: group-wide"),
    )
    contractor = models.ForeignKey(
        Contractor,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contractor"),
    )
    department = models.ForeignKey(
        Department,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("department"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("role grant")
        verbose_name_plural = _("role grants")
        constraints = [
            # NULL means "any"/"none" here, so two group-wide grants are duplicates too.
            models.UniqueConstraint(
                models.F("user"),
                models.F("role"),
                Coalesce("site", 0),
                Coalesce("contractor", 0),
                Coalesce("department", 0),
                name="grant_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(role="contractor_manager") | models.Q(contractor__isnull=False),
                name="contractor_manager_names_contractor",
            ),
        ]

    def __str__(self):
        where = self.site or _("group-wide")
        return f"{self.user} {self.get_role_display()} @ {where}"


class ApiToken(models.Model):
    """A credential for scripts: acts as its user, optionally narrowed (read-only, resources).

    Only a keyed hash of the token is stored; the token itself is shown once, at creation. The
    prefix (part of the token) finds the row; a revoked or expired token, or one whose user is
    inactive, authenticates nobody.
    """

    user = models.ForeignKey(
        User, models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    digest = models.CharField(_("digest"), max_length=64, editable=False)
    read_only = models.BooleanField(_("read only"), default=False)
    resources = models.JSONField(
        _("resources"), default=list, blank=True, help_text=_("empty: every resource")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
