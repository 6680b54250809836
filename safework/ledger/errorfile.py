"""The downloadable list of a job's findings: row number, column, cell, value, code, message."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core import xlsx
from safework.ledger.plan import Issue


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


OMITTED = "import.findings_omitted"
FIRST_CHARS = 8_000  # the first findings a job's answer shows, in characters of their texts


def _size(finding: dict) -> int:
    return sum(len(v) for v in finding.values() if isinstance(v, str))


def stored(issues) -> list[dict]:
    """The findings kept with the job (each already cut to its bounds): at most
    IMPORT_MAX_STORED_ERRORS of them and IMPORT_MAX_STORED_ERROR_CHARS characters in all; the
    rest are counted, by level and code, in one last finding (the error file has them all)."""
    max_count = getattr(settings, "IMPORT_MAX_STORED_ERRORS", 50_000)
    max_chars = getattr(settings, "IMPORT_MAX_STORED_ERROR_CHARS", 2_000_000)
    kept: list[dict] = []
    chars = 0
    omitted: Counter = Counter()
    by_code: Counter = Counter()
    for issue in issues:
        d = issue.as_dict() if isinstance(issue, Issue) else issue
        size = _size(d)
        if not omitted and len(kept) < max_count and chars + size <= max_chars:
            kept.append(d)
            chars += size
            continue
        omitted[d.get("level", "error")] += 1
        by_code[d["code"]] += 1
    if omitted:
        n = sum(omitted.values())
        kept.append(
            {
                "row": 0,
                "column": "",
                "cell": "",
                "value": str(n),
                "code": OMITTED,
                "message": _(
                    "%(n)s more findings are not shown here; download the error file for all."
                )
                % {"n": n},
                "level": "note",
                "omitted": {
                    "errors": omitted["error"],
                    "notes": omitted["note"],
                    "by_code": dict(by_code.most_common()),
                },
            }
        )
    return kept


def summary(issues: list[dict], *, first: int = 50) -> dict:
    """Counts by code and the first findings (at most `first`, and FIRST_CHARS characters), for
    the job's API answer; findings beyond what the job keeps are counted from its last one."""
    omitted = {"errors": 0, "notes": 0, "by_code": {}}
    if issues and issues[-1].get("code") == OMITTED:
        omitted = issues[-1].get("omitted") or omitted
        issues = issues[:-1]
    errors = sum(1 for i in issues if i.get("level", "error") == "error")
    notes = sum(1 for i in issues if i.get("level") == "note")
    by_code = Counter(i["code"] for i in issues)
    by_code.update(omitted["by_code"])
    shown, chars = [], 0
    for i in issues[:first]:
        chars += _size(i)
        if shown and chars > FIRST_CHARS:
            break
        shown.append(i)
    return {
        "errors": errors + omitted["errors"],
        "notes": notes + omitted["notes"],
        "by_code": dict(by_code.most_common()),
        "first": shown,
        "omitted": omitted["errors"] + omitted["notes"],
    }
