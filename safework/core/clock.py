"""Time helpers: instants are aware and stored in UTC; a rule "on a date" uses the local date."""

from datetime import date, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def local_date(at: datetime) -> date:
    """The site's local date of an instant: 23:30 UTC is already the next day in Shanghai."""
    if timezone.is_naive(at):
        raise ValueError("aware datetimes only")
    return timezone.localdate(at)


def start_of_day(on: date) -> datetime:
    """The local midnight that begins `on`, as an aware instant."""
    return timezone.make_aware(datetime(on.year, on.month, on.day))
