"""Park data exchange (AQ 3064.2 §8): placeholder outbox writer until the push lands."""

import datetime as dt

from django.db.models import Max

from safework.permits.models import Alarm, ParkPush, Permit


def _enqueue(kind: str, obj_uuid, payload: dict, at: dt.datetime) -> None:
    last = ParkPush.objects.filter(kind=kind, object_uuid=obj_uuid).aggregate(v=Max("version"))
    ParkPush.objects.create(
        kind=kind,
        object_uuid=obj_uuid,
        version=(last["v"] or 0) + 1,
        payload=payload,
        next_attempt_at=at,
        created_at=at,
    )


def enqueue_permit(permit: Permit, *, at: dt.datetime) -> None:
    _enqueue(ParkPush.Kind.PERMIT, permit.uuid, {"number": permit.number}, at)


def enqueue_alarm(alarm: Alarm, *, at: dt.datetime) -> None:
    _enqueue(ParkPush.Kind.ALARM, alarm.uuid, {"code": alarm.alarm_type_id}, at)
