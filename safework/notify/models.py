"""Notifications: rules as data, channel settings and bindings, the outbox of events, and the
deliveries made from them with every attempt.

An `Event` is written by the service that causes it, in the same transaction (`services.emit`),
unique on (kind, key), so emitting again is a no-op. Fan-out matches the event to its
`NotifyRule`, resolves the recipients by relation and their channel bindings, and writes one
`Delivery` per (rule, event, recipient, channel), unique on `key`: that row is sent exactly once
(claimed under a lease by one worker; retried with backoff; every `Attempt` recorded).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    INBOX = "inbox", _("in-app inbox")
    EMAIL = "email", _("e-mail")
    WECOM = "wecom", _("WeCom group robot")
    DINGTALK = "dingtalk", _("DingTalk robot")
    WEBHOOK = "webhook", _("JSON webhook (HMAC signed)")


class Channel(models.Model):
    """A channel as the enterprise has set it up: switched on, and (for bought channels) paid
    for. A channel switched off delivers nothing; the diagnosis says so."""

    code = models.CharField(_("code"), max_length=20, choices=ChannelKind.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")
        ordering = ["code"]

    def __str__(self):
        return self.get_code_display()


class NotifyRule(models.Model):
    """Who is told about an event kind, at which stages, over which channels.

    A row may be narrowed to a certificate scheme or item and to a site; the most specific
    enabled row wins (site and item before scheme before the general row), so one site can warn
    earlier for one item without touching the others.
    """

    code = models.SlugField(_("code"), max_length=80, unique=True)
    kind = models.CharField(_("event kind"), max_length=60, db_index=True)
    name = models.CharField(_("name"), max_length=200)
    stages = models.JSONField(
        _("stages (days before)"),
        default=list,
        blank=True,
        help_text=_("e.g. [90, 60, 30, 15, 7, 0]; empty for events without stages"),
    )
    recipients = models.JSONField(
        _("recipients by relation"),
        default=list,
        help_text=_(
            "person, team_leader, workshop_head, safety_officer, safety_head, "
            "contractor_manager, liaison, roster_author, permit_applicant, work_leader, "
            "approver, administrator"
        ),
    )
    channels = models.JSONField(_("channels"), default=list)
    escalate_after_hours = models.PositiveIntegerField(
        _("escalate if unacknowledged after (hours)"), null=True, blank=True
    )
    escalate_to = models.JSONField(_("escalate to (relations)"), default=list, blank=True)
    scheme_code = models.CharField(_("only for scheme"), max_length=40, blank=True)
    item_code = models.CharField(_("only for item"), max_length=40, blank=True)
    site = models.ForeignKey(
        "org.Site",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("only for site"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    clause = models.CharField(_("clause"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("notification rule")
        verbose_name_plural = _("notification rules")
        ordering = ["kind", "code"]

    def __str__(self):
        return f"{self.code} ({self.kind})"


class ChannelBinding(models.Model):
    """Where a user (or a person without a login) is reached on a channel: an e-mail address, a
    robot URL with its secret, a webhook URL with its HMAC key. Data, edited by administrators."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="channel_bindings",
        verbose_name=_("user"),
    )
    person = models.ForeignKey(
        "people.Person",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person"),
    )
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelKind.choices)
    address = models.CharField(_("address or URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("channel binding")
        verbose_name_plural = _("channel bindings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(person__isnull=False),
                name="binding_names_user_or_person",
            ),
        ]

    def __str__(self):
        return f"{self.channel}: {self.address}"


class Event(models.Model):
    """Something someone must be told about, written in the transaction that caused it.

    Notify never reads the object it is about: `payload` carries what the message needs
    (numbers, names, dates, the link); `key` names kind + object + stage, so that the scan and a
    service emitting the same fact twice write one row.
    """

    kind = models.CharField(_("kind"), max_length=60)
    key = models.CharField(_("key"), max_length=200)
    stage = models.CharField(_("stage"), max_length=20, blank=True)
    subject_label = models.CharField(_("about"), max_length=300)
    payload = models.JSONField(_("payload"), default=dict)
    site_id = models.IntegerField(_("site id"), null=True, blank=True)
    person_id = models.IntegerField(_("person id"), null=True, blank=True, db_index=True)
    recipients_hint = models.JSONField(_("recipients given by the caller"), default=dict)
    at = models.DateTimeField(_("at"))
    fanned_out_at = models.DateTimeField(_("fanned out at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notification event")
        verbose_name_plural = _("notification events")
        ordering = ["-at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="notify_event_once"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="notify_event_pending",
                condition=models.Q(fanned_out_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.subject_label}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed for good")


class Delivery(models.Model):
    """One message to one recipient over one channel; sent at most once, retried until sent or
    out of attempts (then the administrator is told)."""

    key = models.CharField(_("key"), max_length=300, unique=True)
    event = models.ForeignKey(
        Event, models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    rule = models.ForeignKey(
        NotifyRule,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rule"),
    )
    relation = models.CharField(_("relation"), max_length=40)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("user"),
    )
    person_id = models.IntegerField(_("person id"), null=True, blank=True)
    recipient_label = models.CharField(_("recipient"), max_length=200)
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelKind.choices)
    address = models.CharField(_("address"), max_length=500, blank=True)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True, editable=False)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("message"))
    url = models.CharField(_("link"), max_length=500, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    claim = models.CharField(_("claimed by"), max_length=64, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    escalation_of = models.ForeignKey(
        "self",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="escalations",
        verbose_name=_("escalation of"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notify_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["user", "channel", "-created_at"], name="notify_inbox"),
        ]

    def __str__(self):
        return f"{self.channel} → {self.recipient_label}: {self.title}"


class Attempt(models.Model):
    """One try to send a delivery, with its outcome (kept for the diagnosis)."""

    delivery = models.ForeignKey(
        Delivery, models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    at = models.DateTimeField(_("at"))
    ok = models.BooleanField(_("delivered"))
    error = models.TextField(_("error"), blank=True)
    worker = models.CharField(_("worker"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.delivery_id} {self.at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'error'}"


class RunLock(models.Model):
    """A lock with an end: one process at a time runs a notify job (the scan, the delivery
    run). A holder killed mid-run leaves it to expire instead of blocking the job forever,
    which huey's own lock would (it has no expiry on SQLite)."""

    name = models.CharField(_("name"), max_length=60, primary_key=True)
    holder = models.CharField(_("holder"), max_length=100, blank=True)
    until = models.DateTimeField(_("held until"))

    class Meta:
        verbose_name = _("run lock")
        verbose_name_plural = _("run locks")

    def __str__(self):
        return f"{self.name}: {self.holder} until {self.until:%Y-%m-%d %H:%M:%S}"
