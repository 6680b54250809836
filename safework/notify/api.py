"""Notify's API: one's own inbox (list, read, acknowledge) and the diagnosis for a person."""

import datetime as dt

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from safework.accounts.access import READ, WRITE, access
from safework.core.pagination import Page, PageParams, paginate
from safework.core.validation import RowId
from safework.notify import explain as diagnosis
from safework.notify import services
from safework.notify.permissions import INBOX, NOTIFY_DIAGNOSIS
from safework.notify.queries import inbox_of
from safework.people.queries import persons_visible_to

router = Router(tags=["notify"])


class NoticeOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    relation: str
    created_at: dt.datetime
    read_at: dt.datetime | None
    acknowledged_at: dt.datetime | None

    @staticmethod
    def resolve_kind(obj):
        return obj.event.kind


class InboxFilter(Schema):
    unread: bool | None = None
    unacknowledged: bool | None = None


@router.get("/notify/inbox", response=Page[NoticeOut], **access(INBOX, READ))
def list_inbox(request, filters: Query[InboxFilter], page: Query[PageParams]):
    qs = inbox_of(request.user)
    if filters.unread is not None:
        qs = qs.filter(read_at__isnull=filters.unread)
    if filters.unacknowledged is not None:
        qs = qs.filter(acknowledged_at__isnull=filters.unacknowledged)
    return paginate(qs, page)


@router.post("/notify/inbox/{notice_id}/read", response=NoticeOut, **access(INBOX, WRITE))
def read_notice(request, notice_id: RowId):
    return services.mark_read(get_object_or_404(inbox_of(request.user), pk=notice_id))


@router.post("/notify/inbox/{notice_id}/acknowledge", response=NoticeOut, **access(INBOX, WRITE))
def acknowledge_notice(request, notice_id: RowId):
    return services.acknowledge(get_object_or_404(inbox_of(request.user), pk=notice_id))


class ExplainOut(Schema):
    person_id: int
    total: int
    events: list[dict]
    summary: list[str]


@router.get("/notify/explain", response=ExplainOut, **access(NOTIFY_DIAGNOSIS, READ))
def explain(request, person_id: RowId, event: str | None = None):
    # A filter, like a list's: a person outside the caller's scope (or none) has no events here.
    if not persons_visible_to(request.scope).filter(pk=person_id).exists():
        return diagnosis.nobody(person_id)
    return diagnosis.explain(person_id=person_id, event=event)
