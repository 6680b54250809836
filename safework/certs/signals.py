"""Signals of certificate records, for the apps above certs that act on them.

`certificates_approved(by, certificate_ids)`: reviewed certificates were written (a contractor's
upload approved); sent after the transaction commits. Registry verification listens, so ledger
never imports registry.
"""

from django.dispatch import Signal

certificates_approved = Signal()
