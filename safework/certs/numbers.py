"""Certificate numbers: how one is written, and whether it has its scheme's format.

The API's certificate services and the ledger import both ask here, so a number one of them takes
the other takes too, refused under the same code. The formats are data: `catalogue/numbers.yaml`
gives, per scheme, the provinces that may open a number and the clause the format comes from; an
item's trade code is its catalogue row's `trade_code` (construction.yaml). A scheme without a
format takes a number as printed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from django.utils.translation import gettext as _

from safework.certs.models import CertificateItem

NUMBERS_FILE = Path(__file__).parent / "catalogue" / "numbers.yaml"
CONSTRUCTION = "construction"


def normalise_number(raw) -> str:
    """A certificate number as printed, without full-width characters or spaces, upper case."""
    return "".join(unicodedata.normalize("NFKC", str(raw or "")).split()).upper()


@dataclass(frozen=True)
class NumberFormat:
    pattern: re.Pattern  # groups: province, city, trade, year, serial
    clause: str


@cache
def formats() -> dict[str, NumberFormat]:
    """Scheme code → its number format, from numbers.yaml."""
    with NUMBERS_FILE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    construction = data[CONSTRUCTION]
    provinces = "".join(re.escape(str(p)) for p in construction["provinces"])
    pattern = re.compile(
        rf"""^(?P<province>[{provinces}])  (?P<city>[A-Z])  (?P<trade>[0-9]{{2}})
             (?P<year>[0-9]{{4}})  (?P<serial>[0-9]{{6}})$""",
        re.VERBOSE,
    )
    return {CONSTRUCTION: NumberFormat(pattern, str(construction["clause"]))}


@dataclass(frozen=True)
class NumberProblem:
    code: str
    message: str


def number_problem(number: str, *, scheme_code: str, item: CertificateItem) -> NumberProblem | None:
    """Why a (normalised) number is not one of its scheme's, or None when it is or the scheme has
    no format."""
    form = formats().get(scheme_code)
    if form is None:
        return None
    match = form.pattern.match(number)
    if match is None:
        return NumberProblem(
            "number.format",
            _(
                "A construction certificate number has 14 characters: province, city "
                "letter, 2-digit trade code, 4-digit year, 6-digit serial (晋A012008000001)."
            ),
        )
    if item.trade_code and match["trade"] != item.trade_code:
        return NumberProblem(
            "number.trade_code",
            _("Trade code %(found)s in the number does not match item %(item)s (%(code)s).")
            % {"found": match["trade"], "item": item.code, "code": item.trade_code},
        )
    return None
