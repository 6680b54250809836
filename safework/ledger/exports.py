"""Export of the certificates a user may see, with their status on a date, as xlsx.

The status is the one status function's (`certs.queries.statuses_of`: `rules.certificate_status`
of the stored record, as the lists, the admin and the engine read it), read in chunks so that a
large export keeps a fixed number of queries per chunk. ID numbers, and certificate numbers
(often the holder's ID number), are shown as the user may see them. Every text cell is escaped
against formula injection (`xlsx.safe`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from safework.accounts.shown import shown_id_number, shown_number
from safework.certs.models import Certificate, Verification
from safework.certs.queries import certificates_visible_to, status_settings, statuses_of
from safework.certs.rules import RuleBook, Status
from safework.core import xlsx
from safework.core.scope import Scope

CHUNK = 2000


@dataclass(frozen=True)
class ExportFilter:
    scheme: str = ""
    contractor_id: int | None = None
    site_id: int | None = None
    department_id: int | None = None


def certificates_for_export(scope: Scope, flt: ExportFilter = ExportFilter()):  # noqa: B008
    qs = certificates_visible_to(scope).select_related(
        "person",
        "person__current_employment__contractor",
        "person__current_employment__department",
        "item",
        "scheme",
    )
    if flt.scheme:
        qs = qs.filter(scheme__code=flt.scheme)
    if flt.contractor_id:
        qs = qs.filter(person__current_employment__contractor_id=flt.contractor_id)
    if flt.site_id:
        qs = qs.filter(person__current_employment__site_id=flt.site_id)
    if flt.department_id:
        qs = qs.filter(person__current_employment__department_id=flt.department_id)
    return qs.order_by("person__name", "person_id", "scheme__code", "item__code", "-issued_on")


def header() -> list[str]:
    return [
        pgettext("person", "name"),
        _("ID number"),
        _("employer"),
        _("department"),
        _("scheme"),
        _("item code"),
        _("item"),
        _("restriction"),
        _("certificate number"),
        _("first issued on"),
        _("issued on"),
        _("valid from"),
        _("valid until"),
        _("next review due"),
        _("status"),
        _("colour"),
        _("days left"),
        _("usable"),
        _("verification"),
        _("issuing authority"),
        _("code in the ledger"),
    ]


def _rows(user, qs, on: dt.date, progress=None):
    book = RuleBook.load()
    settings = status_settings()
    labels = dict(Status.choices)
    verification = dict(Verification.choices)
    own = _("own enterprise")
    chunk: list[Certificate] = []
    done = 0

    def flush():
        statuses = statuses_of(chunk, on=on, book=book, settings=settings)
        for c in chunk:
            s = statuses[c.pk]
            emp = c.person.current_employment
            yield [
                c.person.name,
                shown_id_number(user, c.person.id_number),
                (emp.contractor.name if emp and emp.contractor else own) if emp else "",
                emp.department.name if emp and emp.department else "",
                c.scheme.name,
                c.item.code,
                c.item.name,
                c.restriction,
                shown_number(user, c.number, c.person.id_number),
                c.first_issued_on,
                c.issued_on,
                c.valid_from,
                c.valid_until,
                s.next_review_due,
                str(labels.get(s.status, s.status)),
                str(s.colour.label),
                s.days_left,
                _("yes") if s.usable else _("no"),
                str(verification.get(c.verification, c.verification)),
                c.issuing_authority,
                c.legacy_code,
            ]

    for cert in qs.iterator(chunk_size=CHUNK):
        chunk.append(cert)
        if len(chunk) >= CHUNK:
            yield from flush()
            done += len(chunk)
            chunk = []
            if progress:
                progress(done)
    if chunk:
        yield from flush()
        if progress:
            progress(done + len(chunk))


def export_certificates(
    *, user, scope: Scope, on: dt.date, flt: ExportFilter, progress=None
) -> bytes:
    """The xlsx of the certificates `scope` sees, with their status on `on`.

    `progress(done, total)` is called once with the count and then after each chunk of rows."""
    wb = xlsx.new_workbook()
    qs = certificates_for_export(scope, flt)
    report = None
    if progress:
        total = qs.count()
        progress(0, total)

        def report(done):
            progress(done, total)

    widths = [10, 20, 18, 14, 18, 8, 24, 10, 20, 11, 11, 11, 11, 11, 10, 7, 7, 6, 10, 20, 8]
    rows = _rows(user, qs, on, progress=report)
    xlsx.add_sheet(wb, _("certificates"), header(), rows, widths=widths)
    return xlsx.to_bytes(wb)
