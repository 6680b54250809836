"""Electronic work permits (GB 30871-2022, AQ 3064.2-2025): the permit, its crew, approval steps
and signatures, measures, risk analysis, briefings, gas tests, presence, blinds, its timeline,
and the AQ 3064.2 alarms with their closed loop.

The state of a permit and of an alarm changes only through `permits.workflow`; every other write
goes through `permits.services`, which checks the gates and writes the audit and the timeline.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from safework.org.models import LATITUDE, LONGITUDE, Area, Department, Site
from safework.people.models import Contractor, Person
from safework.permits.workflow import AlarmWorkflow, PermitStatus, PermitWorkflow
from safework.work.models import CrewRole, WorkLevel, WorkType

USER = settings.AUTH_USER_MODEL


def _position_fields():
    """A position as the signer's device gave it (decisions: lat, lon, accuracy in metres)."""
    return (
        models.DecimalField(
            _("latitude"),
            max_digits=9,
            decimal_places=6,
            null=True,
            blank=True,
            validators=LATITUDE,
        ),
        models.DecimalField(
            _("longitude"),
            max_digits=9,
            decimal_places=6,
            null=True,
            blank=True,
            validators=LONGITUDE,
        ),
        models.PositiveIntegerField(_("accuracy (m)"), null=True, blank=True),
    )


class Permit(PermitWorkflow):
    """One special-work permit of one work type (a job of several types is several linked permits,
    GB 30871-2022 §4.6)."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(
        _("permit number"), max_length=30, unique=True, null=True, blank=True, editable=False
    )
    work_type = models.ForeignKey(
        WorkType, models.PROTECT, related_name="+", verbose_name=_("work type")
    )
    level = models.ForeignKey(
        WorkLevel,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("level"),
    )
    derived_level = models.ForeignKey(
        WorkLevel,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("level required by the inputs"),
    )
    level_basis = models.JSONField(_("why this level"), default=list, blank=True)
    upgraded = models.BooleanField(_("upgraded (升级管理)"), default=False)
    upgrade_kinds = models.JSONField(_("upgrade periods"), default=list, blank=True)
    calendar_basis = models.CharField(_("calendar basis"), max_length=200, blank=True)

    site = models.ForeignKey(Site, models.PROTECT, related_name="+", verbose_name=_("site"))
    area = models.ForeignKey(
        Area, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("area")
    )
    place = models.CharField(_("exact place"), max_length=300)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True, validators=LATITUDE
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=LONGITUDE,
    )
    content = models.TextField(_("work content"))
    open_air = models.BooleanField(_("open-air work"), default=True)

    is_emergency = models.BooleanField(_("emergency (same-day) path"), default=False)
    emergency_reason = models.TextField(_("reason for the emergency path"), blank=True)
    planned_start = models.DateTimeField(_("planned start"))
    planned_end = models.DateTimeField(_("planned end"))

    applicant = models.ForeignKey(
        USER, models.PROTECT, related_name="+", verbose_name=_("applicant")
    )
    work_unit = models.ForeignKey(
        Department,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("work unit (own department)"),
    )
    contractor = models.ForeignKey(
        Contractor,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("work unit (contractor)"),
    )
    work_leader = models.ForeignKey(
        Person,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("work leader"),
    )
    inputs = models.JSONField(_("level inputs"), default=dict, blank=True)
    fields = models.JSONField(_("type-specific and custom fields"), default=dict, blank=True)
    equipment = models.TextField(_("equipment"), blank=True)
    linked = models.ManyToManyField(
        "self", blank=True, symmetrical=True, verbose_name=_("linked permits")
    )
    replaces = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("replaces (changed permit)"),
    )

    created_at = models.DateTimeField(_("created at"))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.TextField(_("cancellation reason"), blank=True)
    reject_reason = models.TextField(_("rejection reason"), blank=True)
    change_reason = models.TextField(_("change reason"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("work permit")
        verbose_name_plural = _("work permits")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The ledger by site (permits.queries.ledger_page / ledger_count, one way of
            # visibility at a time): the page read in order, the count from the index alone (the
            # trailing columns answer the other filters; as key columns, since SQLite has no
            # INCLUDE).
            models.Index(
                fields=["site", "status", "-planned_start", "-id", "contractor", "planned_end"],
                name="permit_site_status",
            ),
            models.Index(fields=["site", "-planned_start", "-id"], name="permit_site_start"),
            models.Index(
                fields=[
                    "site",
                    "work_type",
                    "level",
                    "-planned_start",
                    "-id",
                    "status",
                    "contractor",
                    "planned_end",
                ],
                name="permit_site_type",
            ),
            models.Index(fields=["work_type", "level", "-planned_start"], name="permit_type"),
            models.Index(fields=["-planned_start", "-id"], name="permit_start"),
            models.Index(fields=["applicant", "-created_at"], name="permit_applicant"),
            models.Index(fields=["contractor", "-planned_start"], name="permit_contractor"),
            models.Index(fields=["area", "-planned_start"], name="permit_area"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(planned_end__gt=models.F("planned_start")),
                name="permit_ends_after_start",
            ),
        ]

    def __str__(self):
        label = self.number or _("draft #%(id)s") % {"id": self.pk}
        return f"{label} {self.work_type.name if self.work_type_id else ''}".strip()

    def status_at(self, at) -> str:
        """The status as read at the instant `at`: a valid permit past its end is expired whether
        or not the sweep has stored it (AQ 3064.2 alarm 10)."""
        valid = (PermitStatus.APPROVED, PermitStatus.ACTIVE, PermitStatus.SUSPENDED)
        if self.status in valid and at >= self.planned_end:
            return PermitStatus.EXPIRED
        return self.status


class PermitNumberCounter(models.Model):
    """The last serial given per permit prefix and local day: numbers are unique and never reused
    (decisions: prefix + date + serial, assigned at submission)."""

    prefix = models.CharField(max_length=4)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "day"], name="permit_counter_unique")
        ]

    def __str__(self):
        return f"{self.prefix}{self.day:%Y%m%d}-{self.last:03d}"


class CrewAssignment(models.Model):
    """A person in a crew role on a permit. A member added after approval sends the permit back
    to approval (AQ 3064.2 §5.6.4); a removed member keeps their row (`removed_at`)."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="crew")
    person = models.ForeignKey(Person, models.PROTECT, related_name="+", verbose_name=_("person"))
    role = models.ForeignKey(CrewRole, models.PROTECT, related_name="+", verbose_name=_("role"))
    attrs = models.JSONField(_("own attributes"), default=dict, blank=True)
    added_at = models.DateTimeField(_("added at"))
    added_after_approval = models.BooleanField(_("added after approval"), default=False)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("crew member")
        verbose_name_plural = _("crew")
        # The permit's children order by the column `permit_id`, not by `permit` (which follows
        # Permit's own ordering: a JOIN of the permit table into every per-permit read).
        ordering = ["permit_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["permit", "person", "role"],
                condition=models.Q(removed_at__isnull=True),
                name="crew_member_once",
            )
        ]

    def __str__(self):
        return f"{self.person} ({self.role})"


class StepStatus(models.TextChoices):
    WAITING = "waiting", _("waiting for an earlier step")
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    VOID = "void", _("void (route replaced)")


class ApprovalStep(models.Model):
    """One step of a permit's route, copied from the routing rules at submission (so a later
    change of the rules does not change a permit under way)."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    round = models.PositiveSmallIntegerField(_("approval round"), default=1)
    stage = models.CharField(_("stage"), max_length=20, default="approval")
    label = models.CharField(_("step"), max_length=200)
    roles = models.JSONField(_("roles (several: countersign by all)"))
    clause = models.CharField(_("clause"), max_length=300, blank=True)
    on_site_required = models.BooleanField(_("signed on site"), default=True)
    time_limit_minutes = models.PositiveIntegerField(_("time limit (min)"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=StepStatus.choices, default=StepStatus.WAITING
    )
    activated_at = models.DateTimeField(_("pending since"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("reported overdue at"), null=True, blank=True)

    class Meta:
        verbose_name = _("approval step")
        verbose_name_plural = _("approval steps")
        ordering = ["permit_id", "round", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["permit", "round", "order"], name="approval_step_order_unique"
            )
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="step_status_due")]

    def __str__(self):
        return self.label


class SignatureAction(models.TextChoices):
    APPROVE = "approve", _("approve")
    REJECT = "reject", _("reject")
    CONFIRM_MEASURE = "confirm_measure", _("confirm a measure")
    BRIEF = "brief", _("safety briefing")
    GAS_TEST = "gas_test", _("gas test")
    START = "start", _("start")
    SUSPEND = "suspend", _("suspend")
    RESUME = "resume", _("resume")
    COMPLETE = "complete", _("complete")
    ACCEPT = "accept", _("accept")
    CLOSE = "close", _("close")
    CANCEL = "cancel", _("cancel")


class Signature(models.Model):
    """A signature: the authenticated user, the time, the position (and an optional drawn image);
    a drawn image alone never authenticates (decisions)."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="signatures")
    step = models.ForeignKey(
        ApprovalStep, models.CASCADE, null=True, blank=True, related_name="signatures"
    )
    action = models.CharField(_("action"), max_length=20, choices=SignatureAction.choices)
    role = models.CharField(_("signed as"), max_length=30, blank=True)
    user = models.ForeignKey(USER, models.PROTECT, related_name="+", verbose_name=_("signer"))
    signer_label = models.CharField(_("signer"), max_length=200)
    delegated_by = models.ForeignKey(
        USER,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("on behalf of"),
    )
    at = models.DateTimeField(_("signed at"))
    latitude, longitude, accuracy_m = _position_fields()
    on_site = models.BooleanField(_("on site"), null=True)
    image = models.TextField(_("drawn signature (data URL)"), blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["permit_id", "at", "id"]
        constraints = [
            # One approval per role and step: two approvers pressing at once cannot both count.
            models.UniqueConstraint(
                fields=["step", "role"],
                condition=models.Q(action="approve"),
                name="one_approval_per_step_role",
            )
        ]

    def __str__(self):
        return f"{self.signer_label} {self.get_action_display()}"


class Delegation(models.Model):
    """An approver's delegation of one step role at one site in a time window (AQ 3064.2
    §5.5.3): only to someone who holds that same role there."""

    delegator = models.ForeignKey(USER, models.CASCADE, related_name="+", verbose_name=_("from"))
    delegate = models.ForeignKey(USER, models.CASCADE, related_name="+", verbose_name=_("to"))
    role = models.CharField(_("role"), max_length=30)
    site = models.ForeignKey(Site, models.CASCADE, related_name="+", verbose_name=_("site"))
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="delegation_window"
            )
        ]

    def __str__(self):
        return f"{self.delegator} → {self.delegate} ({self.role})"


class MeasureItem(models.Model):
    """A safety measure of the permit's checklist: involved or not, confirmed by the named person
    item by item (evidence photo optional). Template items keep their clause; others their
    author."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="measures")
    order = models.PositiveSmallIntegerField(_("order"))
    code = models.CharField(_("code"), max_length=60, blank=True)
    text = models.TextField(_("measure"))
    clause = models.CharField(_("clause"), max_length=300, blank=True)
    involved = models.BooleanField(_("involved"), default=True)
    author_label = models.CharField(_("added by"), max_length=200, blank=True)
    confirmer = models.ForeignKey(
        Person,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to be confirmed by"),
    )
    confirmed_by = models.ForeignKey(
        USER,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    photo = models.FileField(_("evidence photo"), upload_to="permits/measures/", blank=True)

    class Meta:
        verbose_name = _("safety measure")
        verbose_name_plural = _("safety measures")
        ordering = ["permit_id", "order"]

    def __str__(self):
        return self.text[:60]


class RiskItem(models.Model):
    """A line of the job hazard analysis (JSA): the hazard and its controls."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="risks")
    order = models.PositiveSmallIntegerField(_("order"))
    hazard = models.TextField(_("hazard"))
    controls = models.TextField(_("controls"))
    from_template = models.BooleanField(_("from the template"), default=False)
    author_label = models.CharField(_("added by"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("risk analysis item")
        verbose_name_plural = _("risk analysis")
        ordering = ["permit_id", "order"]

    def __str__(self):
        return self.hazard[:60]


class Briefing(models.Model):
    """A safety briefing (安全交底, GB 30871-2022 §4.4): who briefed whom, when."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="briefings")
    briefer = models.ForeignKey(
        Person, models.PROTECT, related_name="+", verbose_name=_("briefed by")
    )
    recipients = models.ManyToManyField(Person, related_name="+", verbose_name=_("briefed"))
    content = models.TextField(_("content"), blank=True)
    at = models.DateTimeField(_("at"))
    recorded_by = models.ForeignKey(USER, models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("safety briefing")
        verbose_name_plural = _("safety briefings")
        ordering = ["permit_id", "at"]

    def __str__(self):
        return f"{self.briefer} @ {self.at:%Y-%m-%d %H:%M}"


class GasTest(models.Model):
    """A gas analysis: time, sampling point, gas, value and unit, instrument and its calibration,
    tester and position; pass/fail judged against the rule, which is cited."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="gas_tests")
    taken_at = models.DateTimeField(_("sampled at"))
    point = models.CharField(_("sampling point"), max_length=100)
    gas = models.CharField(_("gas"), max_length=40)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=20)
    lel_percent = models.DecimalField(
        _("lower explosive limit (%)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    instrument = models.CharField(_("instrument id"), max_length=100)
    calibrated_on = models.DateField(_("calibration date"), null=True, blank=True)
    tester = models.ForeignKey(Person, models.PROTECT, related_name="+", verbose_name=_("tester"))
    recorded_by = models.ForeignKey(USER, models.PROTECT, related_name="+")
    latitude, longitude, accuracy_m = _position_fields()
    passed = models.BooleanField(_("passed"))
    limit = models.CharField(_("limit"), max_length=200)
    clause = models.CharField(_("clause"), max_length=300)

    class Meta:
        verbose_name = _("gas test")
        verbose_name_plural = _("gas tests")
        ordering = ["permit_id", "-taken_at"]
        indexes = [models.Index(fields=["permit", "-taken_at"], name="gas_test_latest")]

    def __str__(self):
        return f"{self.gas} {self.value} {self.unit} @ {self.point}"


class Presence(models.Model):
    """A crew member or guardian checked in (or out) in person, with the position."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="presence")
    person = models.ForeignKey(Person, models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, default="in")
    at = models.DateTimeField(_("at"))
    latitude, longitude, accuracy_m = _position_fields()
    recorded_by = models.ForeignKey(USER, models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["permit_id", "at"]

    def __str__(self):
        return f"{self.person} {self.kind} @ {self.at:%H:%M}"


class Blind(models.Model):
    """A blind of a blinding permit (GB 30871-2022 §7): one permit per blind per operation."""

    class Action(models.TextChoices):
        INSERT = "insert", _("insert")
        REMOVE = "remove", _("remove")

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="blinds")
    line = models.CharField(_("pipeline"), max_length=200)
    medium = models.CharField(_("medium"), max_length=100)
    temperature_c = models.DecimalField(_("temperature (°C)"), max_digits=7, decimal_places=2)
    pressure_mpa = models.DecimalField(_("pressure (MPa)"), max_digits=7, decimal_places=3)
    size = models.CharField(_("size"), max_length=50)
    number = models.CharField(_("blind number"), max_length=50)
    action = models.CharField(_("insert or remove"), max_length=10, choices=Action.choices)

    class Meta:
        verbose_name = _("blind")
        verbose_name_plural = _("blinds")
        indexes = [models.Index(fields=["line"], name="blind_line")]

    def __str__(self):
        return f"{self.line} #{self.number} {self.get_action_display()}"


class Attachment(models.Model):
    permit = models.ForeignKey(Permit, models.CASCADE, related_name="attachments")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=30, blank=True)
    file = models.FileField(_("file"), upload_to="permits/attachments/")
    uploaded_by = models.ForeignKey(USER, models.PROTECT, related_name="+")
    at = models.DateTimeField(_("uploaded at"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.name


class PermitEvent(models.Model):
    """The permit's timeline: every move, signature, test and alarm, in order. The notification
    outbox and the park push read it; the permit page shows it."""

    permit = models.ForeignKey(Permit, models.CASCADE, related_name="events")
    at = models.DateTimeField(_("at"))
    kind = models.CharField(_("event"), max_length=60)
    actor = models.ForeignKey(USER, models.SET_NULL, null=True, blank=True, related_name="+")
    actor_label = models.CharField(_("by"), max_length=200, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("permit event")
        verbose_name_plural = _("permit events")
        ordering = ["permit_id", "at", "id"]

    def __str__(self):
        return f"{self.kind} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def label(self) -> str:
        """The event in words (a kind not named in EVENT_LABELS shows as its code)."""
        return str(EVENT_LABELS.get(self.kind, self.kind))


# The timeline's event kinds in words, for the permit page and exports.
EVENT_LABELS = {
    "created": _("draft created"),
    "edited": _("draft edited"),
    "submitted": _("submitted"),
    "routed": _("sent for approval"),
    "step.waiting": _("step waiting for its signer"),
    "step.overdue": _("step past its time limit"),
    "signed": _("signed"),
    "step.approved": _("step approved"),
    "approved": _("approved"),
    "rejected": _("rejected"),
    "revised": _("revised after rejection"),
    "reapproval": _("back to approval"),
    "crew.changed": _("crew changed"),
    "measure.confirmed": _("measure confirmed"),
    "briefing": _("safety briefing recorded"),
    "gas_test": _("gas test recorded"),
    "presence.in": _("checked in on site"),
    "presence.out": _("checked out"),
    "attachment": _("attachment added"),
    "started": _("work started"),
    "suspended": _("suspended"),
    "resumed": _("resumed"),
    "completed": _("work completed"),
    "accepted": _("accepted"),
    "closed": _("closed"),
    "cancelled": _("cancelled"),
    "expired": _("expired"),
    "superseded": _("replaced by a new permit"),
    "alarm.raised": _("alarm raised"),
    "alarm.acknowledged": _("alarm acknowledged"),
    "alarm.handled": _("alarm handled"),
    "alarm.cleared": _("alarm cleared"),
}


class AlarmType(models.Model):
    """An alarm type of AQ 3064.2 Table A.4 (catalogue data): its code, trigger and clause, and
    the refusal codes of the gates that raise it."""

    code = models.CharField(_("code"), max_length=4, unique=True)
    name = models.CharField(_("name"), max_length=200)
    trigger = models.TextField(_("trigger"))
    clause = models.CharField(_("clause"), max_length=300)
    reason_codes = models.JSONField(_("raised by the refusals"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("alarm type")
        verbose_name_plural = _("alarm types")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class Alarm(AlarmWorkflow):
    """An alarm with its closed loop (raised → acknowledged → handled → cleared). Not tied to
    permits only: a sensor alarm (a later issue) has no permit and names its source."""

    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    alarm_type = models.ForeignKey(
        AlarmType, models.PROTECT, related_name="+", verbose_name=_("alarm type")
    )
    key = models.CharField(_("deduplication key"), max_length=200, unique=True)
    permit = models.ForeignKey(
        Permit,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="alarms",
        verbose_name=_("permit"),
    )
    site = models.ForeignKey(Site, models.PROTECT, related_name="+", verbose_name=_("site"))
    source_label = models.CharField(_("source"), max_length=200, blank=True)
    message = models.TextField(_("message"))
    details = models.JSONField(_("details"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        USER, models.PROTECT, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(USER, models.PROTECT, null=True, blank=True, related_name="+")
    note = models.TextField(_("handling note"), blank=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_by = models.ForeignKey(USER, models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["site", "status", "-raised_at"], name="alarm_site_status"),
            models.Index(fields=["alarm_type", "-raised_at"], name="alarm_type_time"),
        ]

    def __str__(self):
        return f"{self.alarm_type_id} {self.message[:60]}"


class ParkPush(models.Model):
    """The park data exchange outbox (AQ 3064.2 §8.2): one row per change of a permit's approval
    flow or an alarm's state, written in the change's transaction, delivered in order per object,
    retried until the receiver confirms; `version` lets the receiver drop a repeat."""

    class Kind(models.TextChoices):
        PERMIT = "permit", _("permit")
        ALARM = "alarm", _("alarm")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        DEAD = "dead", _("given up")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_uuid = models.UUIDField()
    version = models.PositiveIntegerField()
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("park push")
        verbose_name_plural = _("park pushes")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_uuid", "version"], name="park_push_version_unique"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="park_push_due")]

    def __str__(self):
        return f"{self.kind} {self.object_uuid} v{self.version} {self.state}"
