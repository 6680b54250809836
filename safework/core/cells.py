"""What the cells of an uploaded table mean: headers by their synonyms, text, dates.

Every reader of uploaded sheets (the certificate ledger, the roster) matches headers and reads
dates here, so a header or a date one of them takes is not refused by the other, and an Excel
serial number counts from one epoch. A cell is a clean value or a `ValueProblem` with a code,
never a guess. The file itself is read by `core.tabular`.

Headers: each table lists, per canonical column, the headers that mean it, the first being the one
its template writes (`HeaderSynonyms`). Matching ignores spaces (full-width ones too), line breaks,
full-width forms ("／"), case, a trailing colon and a bracketed remark ("身份证号码（必填）",
"作业高度(m)"). A header joining synonyms of one column with "/", "、" or "|" ("工种/作业类别")
means that column; one joining synonyms of two columns ("姓名/工种") means neither. When two
columns of a sheet mean the same canonical column, the synonym listed first wins.

Dates: date cells, Excel serial numbers, "2023.05.12", "2023年5月12日", "2023/5/12", "2023-5-12"
(spaces around the separators allowed, one separator throughout) and ISO dates with a midnight
time; 12/05/2023 is refused, as day and month could be either.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext as _

EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 (with Excel's 1900 leap-day bug)
# Serial numbers a date cell can hold: 61 is 1900-03-01 (below it the leap-day bug shifts the day),
# 2958465 is 9999-12-31, Excel's last day.
SERIAL_FIRST, SERIAL_LAST = 61, 2958465
EARLIEST = dt.date(1950, 1, 1)  # no certificate, check or rostered day in a table is older
LATEST = dt.date(2099, 12, 31)
FLOAT_EXACT = 2**53  # integers below this survive a float cell exactly
HEADER_SCAN_ROWS = 30  # title rows above the header are skipped, up to this many rows


class ValueProblem(ValueError):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(message)


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value) -> str:
    """A text cell, NFKC-normalised and trimmed; a whole number from a numeric cell as digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < FLOAT_EXACT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


# ---- headers -----------------------------------------------------------------------------------

_REMARK = re.compile(r"[（(【\[].*?[）)】\]]")
_JOINED = re.compile(r"[/、|\\]")


def normalise_header(value) -> str:
    """身份证号码（必填） / '身份证\\n号码：' / full-width / 'Work Type' → 身份证号码 / worktype."""
    if value is None:
        return ""
    key = _REMARK.sub("", unicodedata.normalize("NFKC", str(value)))
    return "".join(key.split()).strip("*:：").casefold()


@dataclass(frozen=True)
class HeaderRow:
    """The row a table's header was found in and the column index of each canonical column."""

    index: int  # 0-based row of the sheet
    columns: dict[str, int]  # canonical → 0-based column index
    complete: bool  # every required column is there


class HeaderSynonyms:
    """One table's headers: canonical column → the headers that mean it, best first."""

    def __init__(self, columns: Mapping[str, Sequence[str]]):
        self.table: dict[str, tuple[str, int]] = {}
        for canonical, synonyms in columns.items():
            for rank, synonym in enumerate(synonyms):
                key = normalise_header(synonym)
                held = self.table.setdefault(key, (canonical, rank))
                if held[0] != canonical:  # a header meaning two columns would be a guess
                    raise ValueError(f"header {synonym!r} means both {held[0]} and {canonical}")

    def meaning(self, value) -> tuple[str, int] | None:
        """(canonical, rank) of a header cell, or None: a synonym, or synonyms of one column
        joined."""
        key = normalise_header(value)
        hit = self.table.get(key)
        if hit is not None or not _JOINED.search(key):
            return hit
        parts = [self.table.get(p) for p in _JOINED.split(key) if p]
        if not parts or None in parts or len({c for c, _rank in parts}) != 1:
            return None
        return parts[0][0], min(rank for _c, rank in parts)

    def match(self, row: Sequence) -> dict[str, tuple[int, int]]:
        """canonical → (column index, synonym rank), the best-ranked column for each."""
        out: dict[str, tuple[int, int]] = {}
        for idx, cell in enumerate(row):
            hit = self.meaning(cell)
            if hit is None:
                continue
            canonical, rank = hit
            if canonical not in out or rank < out[canonical][1]:
                out[canonical] = (idx, rank)
        return out

    def find(
        self, rows: Sequence[Sequence], required: Collection[str], *, scan: int = HEADER_SCAN_ROWS
    ) -> HeaderRow | None:
        """The first of the first `scan` rows naming every required column (title rows above it
        are skipped); else the row naming most columns, not complete; None when no row names
        any."""
        best: HeaderRow | None = None
        for i, row in enumerate(rows[:scan]):
            columns = {c: idx for c, (idx, _rank) in self.match(row).items()}
            if all(c in columns for c in required):
                return HeaderRow(i, columns, complete=True)
            if columns and (best is None or len(columns) > len(best.columns)):
                best = HeaderRow(i, columns, complete=False)
        return best


# ---- dates -------------------------------------------------------------------------------------

_DOTTED = re.compile(r"^(\d{4})\s*([./\-])\s*(\d{1,2})\s*\2\s*(\d{1,2})$")
_CHINESE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")
_ISO_MIDNIGHT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T]00:00(?::00(?:\.0+)?)?$")
_RANGE_SEP = re.compile(r"\s*(?:至|到|~|～|—|–|－|-{1,2})\s*")


def _checked(d: dt.date) -> dt.date:
    if not EARLIEST <= d <= LATEST:
        raise ValueProblem(
            "date.out_of_range",
            _("The date %(date)s is outside %(start)s–%(end)s.")
            % {"date": d.isoformat(), "start": EARLIEST.year, "end": LATEST.year},
        )
    return d


def _bad_date() -> ValueProblem:
    return ValueProblem(
        "date.format",
        _("Not a date: use 2023-05-12, 2023.05.12, 2023/5/12 or 2023年5月12日."),
    )


@lru_cache(maxsize=65536)
def _date_from_text(value: str) -> dt.date:
    if m := _DOTTED.match(value):
        y, mo, d = (int(g) for g in m.group(1, 3, 4))
    elif m := _CHINESE.match(value) or _ISO_MIDNIGHT.match(value):
        y, mo, d = (int(g) for g in m.groups())
    else:
        raise _bad_date()
    try:
        day = dt.date(y, mo, d)
    except ValueError:
        raise ValueProblem(
            "date.invalid", _("%(value)s is not a calendar date.") % {"value": value}
        )
    return _checked(day)


def excel_serial_date(value: int | float) -> dt.date:
    """The day of an Excel serial number (a date cell that lost its date format); the time of
    day a fraction holds is dropped."""
    if not SERIAL_FIRST <= value <= SERIAL_LAST:  # NaN compares false: refused too
        raise _bad_date()
    return _checked(EXCEL_EPOCH + dt.timedelta(days=int(value)))


def date_value(value) -> dt.date | None:
    """A cell as a date, None when blank, else ValueProblem."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return _checked(value.date())
    if isinstance(value, dt.date):
        return _checked(value)
    if isinstance(value, dt.time | dt.timedelta | bool):
        raise _bad_date()
    if isinstance(value, int | float):
        return excel_serial_date(value)
    return _date_from_text(unicodedata.normalize("NFKC", str(value)).strip())


def date_range(value) -> tuple[dt.date, dt.date] | None:
    """ "2019.05.12-2025.05.11" or "2019年5月12日至2025年5月11日" in one cell, else None."""
    if not isinstance(value, str):
        return None
    raw = unicodedata.normalize("NFKC", value).strip()
    for m in _RANGE_SEP.finditer(raw):
        left, right = raw[: m.start()], raw[m.end() :]
        try:
            return _date_from_text(left), _date_from_text(right)
        except ValueProblem:
            continue
    return None
