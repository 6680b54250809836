"""Masking of personal identifiers for roles that may not see them in full: one function per
kind, used by the API, the exports, the admin and the audit views alike.

- ID number: the region code and the last four characters, `110105********1234`.
- Birth date: the year only, `1975-**-**` (the masked ID number hides the whole date; the year
  is kept for age rules).
- Certificate number: most special-operation certificates are numbered with the holder's ID
  number, alone or with a prefix (`T110105…`): the ID number inside it is masked the same way
  (`T110105********1234`).
- Text (messages, import findings, audit labels and payloads): every ID number in it masked; in
  a structure (an audit payload, a registry answer) a value under a birth-date key as well.

Who sees what is decided elsewhere (`accounts.scope.sees_full_id_numbers`, applied by
`accounts.access.shown_*` and the admin); these functions only mask.
"""

from __future__ import annotations

import re
from datetime import date

from safework.people.rules import ric_check_char

# 17 digits and a digit or X, not inside a longer run of digits. Letters may touch it: a
# certificate number's prefix ("T…"), an escape in a URL ("%3D…").
_ID_TOKEN = re.compile(r"(?<!\d)(\d{17}[\dXx])(?!\d)")
_ISO_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}")
_WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
BIRTH_DATE_KEYS = frozenset({"birth_date"})


def mask_id_number(value: str) -> str:
    """110105********1234: region code and last four only."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_birth_date(value: date | str | None) -> str:
    """1975-**-**: the year only; a text that is not an ISO date is masked whole."""
    if value is None or value == "":
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    m = _ISO_DATE.match(text)
    return f"{m.group(1)}-**-**" if m else "****-**-**"


def _valid(token: str) -> bool:
    return ric_check_char(token[:17]) == token[17].upper()


def mask_id_numbers_in(text: str, *, only_valid: bool = False) -> str:
    """`text` with every resident ID number in it masked.

    A number standing alone is masked whatever its check character (a mistyped number in an
    import finding is still nearly someone's); one touching letters (a certificate number's
    prefix, a URL escape) only when its check character is right, so that other codes stay
    readable. `only_valid`: only numbers with a right check character (a whole rendered page,
    whose other 18-digit runs are not ID numbers).
    """

    def mask(m: re.Match) -> str:
        token = m.group(1)
        start, end = m.span(1)
        alone = (start == 0 or text[start - 1] not in _WORD) and (
            end == len(text) or text[end] not in _WORD
        )
        if _valid(token) or (alone and not only_valid):
            return mask_id_number(token.upper())
        return token

    return _ID_TOKEN.sub(mask, text)


def mask_certificate_number(number: str, id_number: str = "") -> str:
    """A certificate number with the holder's ID number in it (equal, or with a prefix or
    suffix, in any letter case) masked as the ID number is; any other ID number in it too."""
    if not number:
        return number
    if id_number and len(id_number) == 18:
        at = number.upper().find(id_number.upper())
        if at >= 0:
            number = number[:at] + mask_id_number(id_number.upper()) + number[at + 18 :]
    return mask_id_numbers_in(number)


def masked(value, key: str = ""):
    """A text or a structure of them (dicts, lists) with ID numbers masked, and birth dates
    (values under a birth-date key) reduced to their year."""
    if key in BIRTH_DATE_KEYS and isinstance(value, str | date):
        return mask_birth_date(value)
    if isinstance(value, str):
        return mask_id_numbers_in(value)
    if isinstance(value, list | tuple):
        return [masked(v, key) for v in value]
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    return value
