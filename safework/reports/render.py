"""The two reports as files: xlsx (`core.xlsx`, every cell escaped) and PDF (`core.pdf`, the CJK
font embedded), from one list of columns each, in the site's language (Chinese)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from safework.core import pdf, xlsx
from safework.reports.queries import Figures, Report

XLSX, PDF = "xlsx", "pdf"
FORMATS = (XLSX, PDF)
CONTENT_TYPES = {XLSX: xlsx.XLSX, PDF: "application/pdf"}

Column = tuple[str, Callable[[Figures], object]]


def _pct(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _health_columns() -> list[Column]:
    return [
        (_("valid at month start"), lambda f: f.valid_at_start),
        (_("expired in the month"), lambda f: f.expired),
        (_("expiry rate"), lambda f: f.expiry_rate),
        (_("reviews due"), lambda f: f.reviews_due),
        (_("reviewed in time"), lambda f: f.reviews_timely),
        (_("review timeliness"), lambda f: f.review_timeliness),
        (_("persons in positions requiring a certificate"), lambda f: f.in_positions),
        (_("holding a valid one"), lambda f: f.covered),
        (_("coverage"), lambda f: f.coverage),
        (_("cross-site certificates"), lambda f: f.cross_site),
    ]


def _compliance_columns() -> list[Column]:
    return [
        (_("staff"), lambda f: f.staff),
        (_("valid at month start"), lambda f: f.valid_at_start),
        (_("expired in the month"), lambda f: f.expired),
        (_("expiry rate"), lambda f: f.expiry_rate),
        (_("unusable at month end"), lambda f: f.unusable_at_end),
        (_("anomalies at month end"), lambda f: f.anomalies_at_end),
        (_("unverified at month end"), lambda f: f.unverified_at_end),
        (_("registry spot checks"), lambda f: f.spot_checks),
        (_("spot checks passed"), lambda f: f.spot_checks_passed),
        (_("spot-check pass rate"), lambda f: f.spot_check_pass_rate),
        (_("persons in positions requiring a certificate"), lambda f: f.in_positions),
        (_("holding a valid one"), lambda f: f.covered),
        (_("coverage"), lambda f: f.coverage),
    ]


def _titles(kind: str, report: Report) -> tuple[str, str]:
    if kind == "health":
        title = _("Certificate health report %(month)s")
    else:
        title = _("Contractor compliance report %(month)s")
    return title % {"month": report.month}, _("generated %(at)s") % {
        "at": timezone.localtime(report.generated_at).strftime("%Y-%m-%d %H:%M")
    }


def _definitions(kind: str) -> list[str]:
    out = [
        _(
            "Expiry rate: certificates whose validity ended in the month (last valid day in the "
            "month) / certificates usable on its first day."
        ),
    ]
    if kind == "health":
        out += [
            _(
                "Review timeliness: reviews passed on or before their due date / reviews due in "
                "the month (a review not yet recorded is not in time)."
            ),
        ]
    else:
        out += [
            _(
                "Anomalies: revoked, cancelled, review overdue, vacuum, registry mismatch or not "
                "found. Spot checks: registry verifications dated in the month."
            ),
        ]
    out += [
        _(
            "Coverage: persons in positions that require a certificate who hold a usable one "
            "of the required items on the month's last day / persons in such positions."
        ),
    ]
    if kind == "health":
        out.append(
            _(
                "Cross-site: usable certificates of persons who worked on two or more sites in "
                "the month (rosters, permits)."
            )
        )
    return out


def _sheets(kind: str, report: Report):
    """(sheet title, header, rows) of the report, the same for xlsx and PDF."""
    columns = _health_columns() if kind == "health" else _compliance_columns()
    heads = [h for h, _f in columns]

    def line(label, figures):
        return [label, *(get(figures) for _h, get in columns)]

    sheets = []
    if kind == "health":
        rows = [line(_("total"), report.total)]
        rows += [line(label, f) for label, f in report.by_site]
        sheets.append((_("by site"), [_("site"), *heads], rows))
    rows = [line(label, f) for label, f in report.by_contractor]
    if rows:  # a filter that matched no contractor: the header alone
        rows.append(line(_("total"), report.total))
    sheets.append((_("by contractor"), [_("contractor"), *heads], rows))
    if kind == "health":
        sheets.append(
            (
                _("cross-site certificates"),
                [
                    pgettext("person", "name"),
                    _("ID number"),
                    _("item"),
                    _("certificate number"),
                    _("valid until"),
                    _("sites worked"),
                ],
                [
                    [r.person, r.id_number, r.item, r.number, r.valid_until, r.sites]
                    for r in report.cross_site_rows
                ],
            )
        )
    return sheets


def _rate_columns(header: list[str]) -> set[int]:
    rates = {_("expiry rate"), _("review timeliness"), _("coverage"), _("spot-check pass rate")}
    return {i for i, h in enumerate(header) if h in rates}


def to_xlsx(kind: str, report: Report) -> bytes:
    with translation.override(settings.LANGUAGE_CODE):
        wb = xlsx.new_workbook()
        title, generated = _titles(kind, report)
        for sheet, header, rows in _sheets(kind, report):
            xlsx.add_sheet(wb, sheet, header, rows, widths=[24] + [12] * (len(header) - 1))
        xlsx.add_sheet(
            wb,
            _("definitions"),
            [title],
            [[generated], *([d] for d in _definitions(kind))],
            widths=[120],
        )
        return xlsx.to_bytes(wb)


def to_pdf(kind: str, report: Report) -> bytes:
    return pdf_document(kind, report).write_pdf()


def pdf_document(kind: str, report: Report):
    """The report laid out for print (WeasyPrint's document: its pages hold the text)."""
    with translation.override(settings.LANGUAGE_CODE):
        title, generated = _titles(kind, report)
        tables = []
        for sheet, header, rows in _sheets(kind, report):
            rates = _rate_columns(header)
            shown = [
                [_pct(v) if i in rates else ("" if v is None else v) for i, v in enumerate(row)]
                for row in rows
            ]
            tables.append({"title": sheet, "header": header, "rows": shown})
        return pdf.render_document(
            "reports/report.html",
            {
                "title": title,
                "generated": generated,
                "definitions": _definitions(kind),
                "tables": tables,
            },
        )


def render(kind: str, report: Report, fmt: str) -> bytes:
    return to_xlsx(kind, report) if fmt == XLSX else to_pdf(kind, report)


def filename(kind: str, month, fmt: str) -> str:
    stem = "certificate-health" if kind == "health" else "contractor-compliance"
    return f"{stem}-{month}.{fmt}"
