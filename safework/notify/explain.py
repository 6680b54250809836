"""Diagnosis: why was (or wasn't) a person told about an event?

For each event about the person (or one event): the rule that matched (or none / switched off /
the stage not among its stages), every relation and whom it resolved to, each recipient's
channels (switched on? bound? binding enabled? secret present?), every delivery with its attempts
and errors, and what to fix. A read: it changes nothing.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q
from django.utils.translation import gettext as _

from safework.notify import services
from safework.notify.models import ChannelKind, Delivery, Event

CONTRACTOR_ONLY = ("contractor_manager", "liaison")


def _contractor_staff(person_id) -> bool:
    employment = services.resolver().employment_of(person_id)
    return bool(employment and employment.contractor_id)


def _channel_state(recipient, channel: str, on: set[str]) -> tuple[str, str]:
    """(state, fix) of one channel for one recipient."""
    if channel not in on:
        return "channel_off", _("Switch the channel %(channel)s on (notification channels).") % {
            "channel": channel
        }
    if channel == ChannelKind.INBOX:
        if recipient.user_id:
            return "ok", ""
        return "no_login", _(
            "Give %(who)s a login (user linked to the person) to use the inbox."
        ) % {"who": recipient.label}
    bindings = [b for b in services.bindings_of(recipient) if b.channel == channel]
    if not bindings:
        return "no_binding", _("Bind %(who)s to %(channel)s (channel bindings).") % {
            "who": recipient.label,
            "channel": channel,
        }
    if not any(b.enabled for b in bindings):
        return "binding_off", _("Enable the %(channel)s binding of %(who)s.") % {
            "who": recipient.label,
            "channel": channel,
        }
    if channel == ChannelKind.WEBHOOK and not any(b.secret for b in bindings if b.enabled):
        return "no_secret", _("Set the signing secret of the webhook binding of %(who)s.") % {
            "who": recipient.label
        }
    return "ok", ""


def explain_event(event: Event) -> dict:
    rule = services.rule_of_event(event)
    out = {
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "key": event.key,
            "stage": event.stage,
            "about": event.subject_label,
            "at": event.at.isoformat(),
            "fanned_out": event.fanned_out_at is not None,
        },
        "rule": None,
        "recipients": [],
        "deliveries": [],
        "fixes": [],
    }
    fixes = out["fixes"]
    if rule is None:
        fixes.append(_("No notification rule for %(kind)s: add one.") % {"kind": event.kind})
    else:
        out["rule"] = {
            "code": rule.code,
            "enabled": rule.enabled,
            "stages": rule.stages,
            "recipients": rule.recipients,
            "channels": rule.channels,
            "clause": rule.clause,
        }
        if not rule.enabled:
            fixes.append(_("The rule %(code)s is switched off.") % {"code": rule.code})
        stages = [int(s) for s in rule.stages or []]
        if stages and event.stage.lstrip("-").isdigit() and int(event.stage) not in stages:
            fixes.append(
                _("The stage %(stage)s is not among the stages of rule %(code)s.")
                % {"stage": event.stage, "code": rule.code}
            )
        on = services.enabled_channels()
        for relation in rule.recipients:
            found = services.recipients_of(event, [relation])
            if not found:
                out["recipients"].append({"relation": relation, "resolved": []})
                if relation in CONTRACTOR_ONLY and not _contractor_staff(event.person_id):
                    continue  # own employees have no contractor manager or liaison
                if relation == "liaison":
                    contractor = services.resolver().employment_of(event.person_id).contractor
                    fixes.append(
                        _("Contractor %(name)s has no liaison of ours: set one in its record.")
                        % {"name": contractor.name}
                    )
                    continue
                fixes.append(
                    _("Nobody holds the relation %(relation)s for this event.")
                    % {"relation": relation}
                )
                continue
            resolved = []
            for r in found:
                chans, own_fixes = [], []
                for channel in rule.channels:
                    state, fix = _channel_state(r, channel, on)
                    chans.append({"channel": channel, "state": state, "fix": fix})
                    if state == "channel_off":
                        fixes.append(fix)
                    elif fix:
                        own_fixes.append(fix)
                resolved.append({"user_id": r.user_id, "label": r.label, "channels": chans})
                if not any(c["state"] == "ok" for c in chans):
                    fixes.append(
                        _("No channel reaches %(who)s (%(relation)s).")
                        % {"who": r.label, "relation": relation}
                    )
                    fixes.extend(own_fixes)
            out["recipients"].append({"relation": relation, "resolved": resolved})
    for d in sorted(event.deliveries.all(), key=lambda d: d.pk):  # prefetched by explain()
        out["deliveries"].append(
            {
                "id": d.pk,
                "relation": d.relation,
                "recipient": d.recipient_label,
                "channel": d.channel,
                "status": d.status,
                "attempts": [
                    {"at": a.at.isoformat(), "ok": a.ok, "error": a.error}
                    for a in d.attempt_log.all()
                ],
                "escalated": d.escalation_of_id is not None,
                "acknowledged": d.acknowledged_at is not None,
            }
        )
        if d.last_error and d.status != "sent":
            fixes.append(
                _("Delivery to %(who)s over %(channel)s fails: %(error)s")
                % {"who": d.recipient_label, "channel": d.channel, "error": d.last_error[:200]}
            )
    if rule is not None and rule.enabled and not event.fanned_out_at:
        fixes.append(_("Not processed yet: is the task worker running (make run)?"))
    out["fixes"] = list(dict.fromkeys(fixes))
    return out


def explain(
    *,
    person_id: int,
    event: str | None = None,
    limit: int = 20,
    kind: str | None = None,
    key_prefix: str | None = None,
) -> dict:
    """The diagnosis for a person: events about them, or sent to them, newest first; `event` is
    an event id, a kind, or a key (substring); `kind` and `key_prefix` (the object an event is
    about, e.g. one certificate's "cert:12:") narrow further, together."""
    sent_to = Delivery.objects.filter(Q(person_id=person_id) | Q(user__person_id=person_id)).values(
        "event_id"
    )
    events = Event.objects.filter(Q(person_id=person_id) | Q(pk__in=sent_to))
    if event:
        if event.isdigit():
            events = events.filter(pk=int(event))
        else:
            events = events.filter(Q(kind=event) | Q(key__contains=event))
    if kind:
        events = events.filter(kind=kind)
    if key_prefix:
        events = events.filter(key__startswith=key_prefix)
    deliveries = Delivery.objects.prefetch_related("attempt_log")
    events = events.order_by("-at", "-pk").prefetch_related(Prefetch("deliveries", deliveries))
    # Rules, persons, grants, logins and bindings are read in bulk for all the events shown (one
    # query each), then every event is explained in memory: the queries do not grow with them.
    with services.memoised():
        shown = list(events[:limit])
        services.prime(shown)
        found = []
        for e in shown:
            rule = services.rule_of_event(e)
            if rule is not None:
                found += services.recipients_of(e, list(rule.recipients))
        services.prime_bindings(found)
        rows = [explain_event(e) for e in shown]
    summary = []
    if not rows:
        summary.append(
            _("No event about this person: nothing was due, or the scan has not run yet.")
        )
    return {"person_id": person_id, "total": len(rows), "events": rows, "summary": summary}


def nobody(person_id: int) -> dict:
    """The answer for a person the caller does not see (or who does not exist)."""
    summary = [_("No such person in your scope.")]
    return {"person_id": person_id, "total": 0, "events": [], "summary": summary}
