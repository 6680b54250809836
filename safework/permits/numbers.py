"""Permit numbers (decisions): type prefix + local date + serial per type and day, e.g.
DH20261207-003; unique, never reused, assigned at submission."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from safework.permits.models import PermitNumberCounter


def next_number(prefix: str, at: dt.datetime) -> str:
    """The next number for `prefix` on the local day of `at`. The counter row is locked for the
    rest of the caller's transaction, so two submissions never draw the same serial; a serial
    drawn by a submission that then rolls back is drawn again by the next (it was never shown)."""
    day = timezone.localdate(at)
    try:
        with transaction.atomic():
            PermitNumberCounter.objects.get_or_create(prefix=prefix, day=day)
    except IntegrityError:  # created at the same moment by another submission
        pass
    counter = PermitNumberCounter.objects.select_for_update().get(prefix=prefix, day=day)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{prefix}{day:%Y%m%d}-{counter.last:03d}"
