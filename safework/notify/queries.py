"""Reads of notifications: a user's inbox (only their own notices)."""

from django.db.models import QuerySet

from safework.notify.models import ChannelKind, Delivery


def inbox_of(user) -> QuerySet[Delivery]:
    """The user's in-app notices, newest first; someone else's are not there (404)."""
    return (
        Delivery.objects.filter(user_id=user.pk, channel=ChannelKind.INBOX)
        .select_related("event")
        .order_by("-created_at", "-pk")
    )


def unread_count(user) -> int:
    """How many of the user's in-app notices they have not opened yet."""
    return inbox_of(user).filter(read_at__isnull=True).order_by().count()
