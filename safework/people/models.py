from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from safework.org.models import Department, Position, Site


class Gender(models.TextChoices):
    MALE = "male", _("male")
    FEMALE = "female", _("female")


class Education(models.TextChoices):
    UNKNOWN = "", _("unknown")
    PRIMARY = "primary", _("primary school")
    JUNIOR = "junior_middle", _("junior middle school")
    SENIOR = "senior_middle", _("senior middle / vocational school")
    COLLEGE = "college", _("college")
    BACHELOR = "bachelor", _("bachelor")
    POSTGRADUATE = "postgraduate", _("postgraduate")


class Person(models.Model):
    """One record per human, unique on the normalised resident ID number.

    Gender and birth date are derived from the ID number (people.rules.parse_id_number). Who
    employs the person is history (`Employment`); `current_employment` points at the open one so
    that scope queries stay one join.
    """

    id_number = models.CharField(_("resident ID number"), max_length=18, unique=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100, db_index=True)
    former_names = models.JSONField(_("former names"), default=list, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    education = models.CharField(
        _("education"), max_length=20, choices=Education.choices, blank=True, default=""
    )
    position = models.ForeignKey(
        Position,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="persons",
        verbose_name=_("position"),
    )
    current_employment = models.OneToOneField(
        "Employment",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("current employment"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_synthetic = models.BooleanField(_("synthetic (demo/bench) data"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class ContractorStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    TERMINATED = "terminated", _("terminated")


class Contractor(models.Model):
    """A contractor company (承包商/相关方), identified by its unified social credit code."""

    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ContractorStatus.choices,
        default=ContractorStatus.ACTIVE,
    )
    is_synthetic = models.BooleanField(_("synthetic (demo/bench) data"), default=False)
    # Our side's contact for this contractor (CONTRACTOR-03): told about its staff's
    # certificates and checks beside the contractor's own manager. One of our own staff.
    liaison = models.ForeignKey(
        "people.Person",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="liaison_for",
        verbose_name=_("our liaison"),
        help_text=_("one of our own staff, told about this contractor's staff"),
    )

    class Meta:
        verbose_name = _("contractor")
        verbose_name_plural = _("contractors")
        ordering = ["name"]

    def __str__(self):
        return self.name


class EngagementStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    ENDED = "ended", _("ended")


class ContractorEngagement(models.Model):
    """A contractor's contract at one site: makes its staff visible to and able to work there."""

    contractor = models.ForeignKey(
        Contractor, models.PROTECT, related_name="engagements", verbose_name=_("contractor")
    )
    site = models.ForeignKey(
        Site, models.PROTECT, related_name="engagements", verbose_name=_("site")
    )
    starts_on = models.DateField(_("contract from"))
    ends_on = models.DateField(_("contract until"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=EngagementStatus.choices,
        default=EngagementStatus.ACTIVE,
    )

    class Meta:
        verbose_name = _("contractor engagement")
        verbose_name_plural = _("contractor engagements")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="engagement_ends_after_start",
            )
        ]

    def __str__(self):
        return f"{self.contractor} @ {self.site}"


class EmployerKind(models.TextChoices):
    OWN = "own", _("own enterprise")
    CONTRACTOR = "contractor", _("contractor")


class EmploymentStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    ENDED = "ended", _("ended")


class Employment(models.Model):
    """A period of work for the enterprise or for one contractor; a person keeps their history."""

    person = models.ForeignKey(
        Person, models.PROTECT, related_name="employments", verbose_name=_("person")
    )
    employer_kind = models.CharField(_("employer"), max_length=20, choices=EmployerKind.choices)
    contractor = models.ForeignKey(
        Contractor,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="employments",
        verbose_name=_("contractor"),
    )
    department = models.ForeignKey(
        Department,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="employments",
        verbose_name=_("department"),
    )
    site = models.ForeignKey(
        Site,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="employments",
        verbose_name=_("site"),
        help_text=_("derived from the department; empty for contractors"),
        editable=False,
    )
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(_("until"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=EmploymentStatus.choices,
        default=EmploymentStatus.ACTIVE,
    )

    class Meta:
        verbose_name = _("employment")
        verbose_name_plural = _("employments")
        ordering = ["-started_on"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(employer_kind="own", contractor__isnull=True)
                    | models.Q(employer_kind="contractor", contractor__isnull=False)
                ),
                name="employment_contractor_matches_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(ended_on__isnull=True)
                | models.Q(ended_on__gte=models.F("started_on")),
                name="employment_ends_after_start",
            ),
        ]

    def __str__(self):
        employer = self.contractor or _("own enterprise")
        return f"{self.person} — {employer}"


class HealthConclusion(models.TextChoices):
    FIT = "fit", _("fit")
    RESTRICTED = "restricted", _("fit with restrictions")
    UNFIT = "unfit", _("unfit")


class HealthCheck(models.Model):
    """An occupational medical check: conclusion, restrictions per work type, validity."""

    person = models.ForeignKey(
        Person, models.PROTECT, related_name="health_checks", verbose_name=_("person")
    )
    checked_on = models.DateField(_("checked on"))
    conclusion = models.CharField(_("conclusion"), max_length=20, choices=HealthConclusion.choices)
    restricted_work_types = models.JSONField(
        _("unfit for work types"),
        default=list,
        blank=True,
        help_text=_('work type codes, e.g. ["height"]'),
    )
    restriction_reason = models.CharField(_("restriction reason"), max_length=300, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    institution = models.CharField(_("institution"), max_length=200, blank=True)
    is_synthetic = models.BooleanField(_("synthetic (demo/bench) data"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("health check")
        verbose_name_plural = _("health checks")
        ordering = ["-checked_on"]
        indexes = [models.Index(fields=["person", "-checked_on"])]
        constraints = [
            models.UniqueConstraint(fields=["person", "checked_on"], name="one_check_per_day"),
        ]

    def __str__(self):
        return f"{self.person} {self.checked_on} {self.get_conclusion_display()}"


class BlacklistEntry(models.Model):
    """A bar on a person (by ID number, so it holds before they are registered), audited."""

    id_number = models.CharField(_("resident ID number"), max_length=18, db_index=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=500)
    created_by_label = models.CharField(_("entered by"), max_length=200, editable=False)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist")
        ordering = ["-starts_on"]

    def __str__(self):
        return f"{self.id_number} {self.reason[:40]}"
