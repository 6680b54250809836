"""Logging filters, configured by settings.LOGGING (so importing no model)."""

from django.core.exceptions import PermissionDenied


class ExpectedRefusalFilter:
    """A 403 (PermissionDenied) is an expected answer to a user without the right, not a fault,
    so it is logged as one line without the traceback Django attaches to it."""

    def filter(self, record) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
