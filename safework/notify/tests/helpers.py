"""Shared helpers of notify's tests: an event about a person, the inbox of a user."""

import datetime as dt
import zoneinfo

from safework.notify import services
from safework.notify.models import Delivery

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
AT = dt.datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)


def cert_event(person, *, stage=30, key=None, site_id=None, **payload):
    return services.emit(
        "cert.expiring",
        key=key or f"cert:t{person.pk}:2027-03-31:{stage}",
        subject_label=f"{person.name} 2.1 焊接与热切割作业",
        payload={
            "person": person.name,
            "item": "2.1 焊接与热切割作业",
            "number": "T0001",
            "due": "2027-03-31",
            "days": stage,
            "stage": stage,
            "url": "/admin/certs/certificate/1/change/",
            **payload,
        },
        site_id=site_id,
        person_id=person.pk,
        at=AT,
    )


def told(event, channel="inbox") -> dict[str, str]:
    """username → relation of every delivery of the event over `channel`."""
    rows = Delivery.objects.filter(event=event, channel=channel).select_related("user")
    return {d.user.username if d.user else f"p{d.person_id}": d.relation for d in rows}
