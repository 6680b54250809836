from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

LATITUDE = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE = [MinValueValidator(-180), MaxValueValidator(180)]


class Group(models.Model):
    """The enterprise group: the root of sites and company-level departments."""

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=50, unique=True)
    is_synthetic = models.BooleanField(_("synthetic (bench) data"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Site(models.Model):
    """A plant (厂区) with its WGS-84 position."""

    group = models.ForeignKey(Group, models.PROTECT, related_name="sites", verbose_name=_("group"))
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=50, unique=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, validators=LATITUDE
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, validators=LONGITUDE
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]

    def __str__(self):
        return self.name


class HazardClass(models.TextChoices):
    NONE = "none", _("none")
    FIRE_A = "fire_a", _("fire hazard class A (甲)")
    FIRE_B = "fire_b", _("fire hazard class B (乙)")
    FIRE_C = "fire_c", _("fire hazard class C (丙)")
    TOXIC = "toxic", _("toxic")
    MAJOR = "major", _("major hazard installation")


class Area(models.Model):
    """A unit or area (装置/区域) of a site, with its geofence.

    The geofence is either a centre and radius or a polygon of [lat, lon] points; gates and
    location rules read it later.
    """

    site = models.ForeignKey(Site, models.PROTECT, related_name="areas", verbose_name=_("site"))
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=50)
    hazard_class = models.CharField(
        _("hazard class"), max_length=20, choices=HazardClass.choices, default=HazardClass.NONE
    )
    fire_explosion_hazard = models.BooleanField(_("fire/explosion hazardous place"), default=False)
    # What decides a hot-work level and the excavation gas rule (GB 30871-2022 5.1, 5.5, 11.10).
    fixed_hot_work_area = models.BooleanField(_("approved fixed hot-work area"), default=False)
    process_or_tank_area = models.BooleanField(_("process unit or tank area"), default=False)
    buried_flammable_lines = models.BooleanField(
        _("buried flammable or toxic lines or pits"), default=False
    )
    tank_farm_major_dike = models.BooleanField(
        _("inside the dike of a major-hazard tank farm of flammables"), default=False
    )
    center_latitude = models.DecimalField(
        _("centre latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=LATITUDE,
    )
    center_longitude = models.DecimalField(
        _("centre longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=LONGITUDE,
    )
    radius_m = models.PositiveIntegerField(_("radius (m)"), null=True, blank=True)
    polygon = models.JSONField(_("polygon [[lat, lon], …]"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="area_code_per_site"),
        ]

    def __str__(self):
        return f"{self.site.name} / {self.name}" if self.site_id else self.name


class DepartmentKind(models.TextChoices):
    COMPANY = "company", _("company")
    WORKSHOP = "workshop", _("workshop")
    TEAM = "team", _("team")
    OFFICE = "office", _("office")


class Department(models.Model):
    """A node of the department tree (公司/车间/班组).

    `site` is empty for company-level departments that span sites; a person's site is the nearest
    ancestor department's site. `path` ("/1/5/9/") makes a subtree one indexed prefix query.
    """

    group = models.ForeignKey(
        Group, models.PROTECT, related_name="departments", verbose_name=_("group")
    )
    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    site = models.ForeignKey(
        Site,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="departments",
        verbose_name=_("site"),
    )
    effective_site = models.ForeignKey(
        Site,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("effective site"),
    )
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=50, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=DepartmentKind.choices)
    path = models.CharField(_("tree path"), max_length=500, db_index=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["path"]

    def __str__(self):
        return self.name


class Position(models.Model):
    """A post (岗位): what a person is employed to do; it decides which crew roles they may take."""

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=50, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["name"]

    def __str__(self):
        return self.name
