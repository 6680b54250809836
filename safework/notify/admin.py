"""Notify in the admin: the rules, channels and channel bindings administrators edit (database
settings: the SETTINGS resource), and the outbox, deliveries and attempts as read-only views for
the diagnosis. Every row is seen whole by whoever reads settings (administrators, principal,
head of safety)."""

from django.contrib import admin

from safework.accounts.admin_mixins import ScopedAdmin
from safework.accounts.matrix import SETTINGS
from safework.notify.models import (
    Attempt,
    Channel,
    ChannelBinding,
    Delivery,
    Event,
    NotifyRule,
    RunLock,
)


class NotifySettingsAdmin(ScopedAdmin):
    resource = SETTINGS
    global_data = True


@admin.register(NotifyRule)
class NotifyRuleAdmin(NotifySettingsAdmin):
    list_display = ("code", "kind", "name", "stages", "recipients", "channels", "site", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("code", "kind", "name")


@admin.register(Channel)
class ChannelAdmin(NotifySettingsAdmin):
    list_display = ("code", "enabled", "note")


@admin.register(ChannelBinding)
class ChannelBindingAdmin(NotifySettingsAdmin):
    list_display = ("channel", "user", "person", "address", "enabled")
    list_filter = ("channel", "enabled")
    raw_id_fields = ("user", "person")
    audit_exclude = ("secret",)


class OutboxAdmin(NotifySettingsAdmin):
    read_only = True
    deletable = False


@admin.register(Event)
class EventAdmin(OutboxAdmin):
    list_display = ("kind", "key", "stage", "subject_label", "at", "fanned_out_at")
    list_filter = ("kind",)
    search_fields = ("key", "subject_label")


@admin.register(Delivery)
class DeliveryAdmin(OutboxAdmin):
    list_display = ("title", "recipient_label", "relation", "channel", "status", "attempts")
    list_filter = ("status", "channel", "relation")
    search_fields = ("recipient_label", "title", "key")
    exclude = ("secret",)


@admin.register(Attempt)
class AttemptAdmin(OutboxAdmin):
    list_display = ("delivery", "at", "ok", "error", "worker")
    list_filter = ("ok",)


@admin.register(RunLock)
class RunLockAdmin(OutboxAdmin):
    list_display = ("name", "holder", "until")
