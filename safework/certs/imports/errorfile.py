"""The downloadable list of a job's findings: row number, column, cell, value, code, message."""

from __future__ import annotations

from collections import Counter

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.certs.imports import xlsx
from safework.certs.imports.plan import Issue


def header() -> list[str]:
    return [_("row"), _("column"), _("cell"), _("value"), _("code"), _("message"), _("level")]


_LEVELS = {
    "error": gettext_lazy("error"),
    "note": gettext_lazy("note"),
    "review": gettext_lazy("for review"),
}


def _rows(issues):
    for i in issues:
        d = i.as_dict() if isinstance(i, Issue) else i
        yield [
            d["row"] or None,
            d["column"],
            d["cell"],
            d["value"],
            d["code"],
            d["message"],
            str(_LEVELS.get(d.get("level", "error"), d.get("level", ""))),
        ]


def xlsx_bytes(issues) -> bytes:
    wb = xlsx.new_workbook()
    xlsx.add_sheet(wb, _("errors"), header(), _rows(issues), widths=[8, 16, 8, 24, 28, 60, 8])
    return xlsx.to_bytes(wb)


def csv_bytes(issues) -> bytes:
    return xlsx.csv_bytes(header(), _rows(issues))


def summary(issues: list[dict], *, first: int = 50) -> dict:
    """Counts by code and the first findings, for the job's API answer."""
    errors = [i for i in issues if i.get("level", "error") == "error"]
    notes = [i for i in issues if i.get("level") == "note"]
    return {
        "errors": len(errors),
        "notes": len(notes),
        "by_code": dict(Counter(i["code"] for i in issues).most_common()),
        "first": issues[:first],
    }
