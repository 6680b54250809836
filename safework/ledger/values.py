"""Cell values of a ledger: names, certificate numbers, ID numbers. A clean parse or a
`ValueProblem`, never a guess. Text, blanks and dates are read as every uploaded table reads them
(`core.cells`, re-exported here for the ledger's checks).

ID numbers: NFKC first (full-width digits), 15-digit first-generation numbers converted to 18 with
a note; a number stored as a numeric cell is accepted only when it is exact (a float keeps 15
digits, and never the final X).
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils.translation import gettext as _

from safework.certs.numbers import normalise_number
from safework.core.cells import FLOAT_EXACT, ValueProblem, date_range, date_value, is_blank, text
from safework.people.rules import (
    IdNumber,
    IdNumberError,
    normalise_id_text,
    parse_id_number,
    region_in_force_since,
    ric_check_char,
)
from safework.people.services import _id_message as id_message

__all__ = [
    "FLOAT_EXACT",
    "ValueProblem",
    "code_text",
    "date_range",
    "date_value",
    "id_number",
    "is_blank",
    "name",
    "text",
]

_CJK = re.compile(r"^[\u3400-\u9fff\u00b7\u2022·]+$")


def name(value) -> str:
    """A person's name: NFKC, trimmed; a Chinese name padded to align ("王  伟") loses spaces."""
    value = text(value)
    compact = "".join(value.split())
    if _CJK.match(compact):
        return compact
    return " ".join(value.split())


def code_text(value, *, field: str) -> str:
    """A number printed on a certificate, as `certs.numbers` writes it; a numeric cell must be
    exact."""
    if isinstance(value, float) and not (value.is_integer() and abs(value) < FLOAT_EXACT):
        raise ValueProblem(
            f"{field}.numeric",
            _("The cell holds a number that lost digits; format the column as text."),
        )
    return normalise_number(text(value))


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
        raise ValueProblem(exc.code, id_message(exc))
