"""Cell values of a ledger: dates, ID numbers, names, codes. A clean parse or a `ValueProblem`,
never a guess.

Dates: date cells, Excel serial numbers, "2023.05.12", "2023年5月12日", "2023/5/12", "2023-5-12" and
ISO dates with a midnight time. ID numbers: NFKC first (full-width digits), 15-digit first-
generation numbers converted to 18 with a note; a number stored as a numeric cell is accepted only
when it is exact (a float keeps 15 digits, and never the final X).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache

from django.utils.translation import gettext as _

from safework.people.rules import (
    IdNumber,
    IdNumberError,
    normalise_id_text,
    parse_id_number,
    region_in_force_since,
    ric_check_char,
)

EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 (with Excel's 1900 leap-day bug)
EARLIEST = dt.date(1950, 1, 1)  # no certificate or check in a ledger is older
LATEST = dt.date(2099, 12, 31)
FLOAT_EXACT = 2**53  # integers below this survive a float cell exactly


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


_CJK = re.compile(r"^[\u3400-\u9fff\u00b7\u2022·]+$")


def name(value) -> str:
    """A person's name: NFKC, trimmed; a Chinese name padded to align ("王  伟") loses spaces."""
    value = text(value)
    compact = "".join(value.split())
    if _CJK.match(compact):
        return compact
    return " ".join(value.split())


def code_text(value, *, field: str) -> str:
    """A code or number printed on a certificate; a numeric cell must be exact."""
    if isinstance(value, float) and not (value.is_integer() and abs(value) < FLOAT_EXACT):
        raise ValueProblem(
            f"{field}.numeric",
            _("The cell holds a number that lost digits; format the column as text."),
        )
    return "".join(text(value).split()).upper()


# ---- dates ---------------------------------------------------------------------------------

_DOTTED = re.compile(r"^(\d{4})([./\-])(\d{1,2})\2(\d{1,2})$")
_CHINESE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$")
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
    m = _DOTTED.match(value) or _CHINESE.match(value)
    if m:
        groups = [g for g in m.groups() if g not in {".", "/", "-"}]
        y, mo, d = (int(g) for g in groups)
    elif m := _ISO_MIDNIGHT.match(value):
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
        # An Excel serial number: a date cell that lost its date format.
        if value < 61 or value != value or value > 2958465:
            raise _bad_date()
        return _checked(EXCEL_EPOCH + dt.timedelta(days=int(value)))
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


# ---- ID numbers ----------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+?\d+$")


def _fast_parse(value: str) -> IdNumber | None:
    """The checks of people.rules.parse_id_number for a well-formed 18-character number, with the
    region look-up cached (in people.rules); None sends the value to the full routine (which
    names the error)."""
    if len(value) != 18 or not value.isascii() or not value[:17].isdigit():
        return None  # isdigit() alone takes other scripts' digits (Arabic-Indic ٠١٢…)
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
    if ric_check_char(value[:17]) != value[17] or not region_in_force_since(value[:6], birth.year):
        return None
    gender = "male" if int(value[16]) % 2 == 1 else "female"
    return IdNumber(value=value, birth_date=birth, gender=gender)


def id_number(value) -> IdNumber:
    """The ID number of a cell, or ValueProblem (codes of people.rules, plus id_number.numeric)."""
    if isinstance(value, bool):
        raise ValueProblem("id_number.format", _("An ID number is 17 digits and a digit or X."))
    if isinstance(value, int | float):
        if not float(value).is_integer() or abs(value) >= FLOAT_EXACT:
            raise ValueProblem(
                "id_number.numeric",
                _(
                    "The ID number was stored as a number and lost its last digits or its "
                    "final X; format the column as text and type it again."
                ),
            )
        value = str(int(value))
    raw = normalise_id_text(value).lstrip("'`")  # a CSV keeps the apostrophe typed in Excel
    if _SCIENTIFIC.match(raw):
        raise ValueProblem(
            "id_number.numeric",
            _(
                "The ID number was stored as a number (%(value)s) and lost its last digits; "
                "format the column as text and type it again."
            )
            % {"value": raw},
        )
    parsed = _fast_parse(raw)
    if parsed is not None:
        return parsed
    try:
        return parse_id_number(raw, allow_15=True)
    except IdNumberError as exc:
        raise ValueProblem(exc.code, _id_message(exc.code))


def _id_message(code: str) -> str:
    messages = {
        "id_number.required": _("The ID number is required."),
        "id_number.length": _("An ID number has 18 characters."),
        "id_number.format": _("An ID number is 17 digits followed by a digit or X."),
        "id_number.birth_date": _("The birth date in the ID number is impossible."),
        "id_number.checksum": _("The check character of the ID number is wrong."),
        "id_number.invalid": _("The ID number is not valid (region or birth date)."),
    }
    return messages.get(code, _("The ID number is not valid."))
