"""Pure identity rules: resident ID numbers (GB 11643) and credit codes (GB 32100)."""

import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric

RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class IdNumberError(ValueError):
    """A resident ID number that cannot be accepted; `code` says why, for row errors and the API."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: date
    gender: str  # "male" / "female"
    converted_from_15: bool = False


def normalise_id_text(raw) -> str:
    """NFKC first (full-width digits otherwise fail with a misleading checksum error), trim,
    drop inner spaces, upper-case X."""
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw))
    return "".join(text.split()).upper()


def ric_check_char(first17: str) -> str:
    return RIC_CHECK[sum(int(d) * w for d, w in zip(first17, RIC_WEIGHTS, strict=True)) % 11]


@lru_cache(maxsize=16384)
def region_in_force_since(region: str, year: int) -> bool:
    """Whether the region code was in force at some time in or after `year` (the birth year).

    A number is assigned at or after birth with the code of the place of registration then, and
    keeps it when districts are renamed or merged (decisions.md, "Resident ID numbers"). So a
    code created after the birth year is valid (stdnum.cn.ric refuses it: it demands the code in
    the birth year itself) and a code abolished before the birth year is not. The codes and the
    years each was in force ("[1983-]鼓楼区", "[-1991]东郊区,[1992-]东丽区") are python-stdnum's
    table `stdnum/cn/loc.dat`, read the way `ric.get_birth_place` reads it.
    """
    info: dict[str, str] = {}
    for _part, props in numdb.get("cn/loc").info(region):
        info.update(props)
    counties = info.get("county")
    if not counties:
        return False  # unknown code (or a province without this county)
    for county in counties.split(","):
        if not county.startswith("["):
            return True  # in force with no recorded end
        years = county[1:].split("]", 1)[0]
        end = years.split("-", 1)[1] if "-" in years else ""
        if not end or int(end) >= year:
            return True
    return False


def upgrade_15(value: str) -> str:
    """A first-generation 15-digit number as 18: insert "19" before the year, add the check."""
    first17 = value[:6] + "19" + value[6:]
    return first17 + ric_check_char(first17)


def parse_id_number(raw, *, allow_15: bool = False) -> IdNumber:
    """Normalise and check an ID number, or raise IdNumberError with a code saying why."""
    value = normalise_id_text(raw)
    if not value:
        raise IdNumberError("id_number.required", "ID number is empty")
    converted = False
    # isdigit() alone takes other scripts' digits (Arabic-Indic ٠١٢…), which int() reads.
    if len(value) == 15 and value.isascii() and value.isdigit():
        if not allow_15:
            raise IdNumberError(
                "id_number.fifteen_digits",
                "15-digit first-generation ID number; give the 18-digit number",
            )
        value, converted = upgrade_15(value), True
    if len(value) != 18:
        raise IdNumberError(
            "id_number.length", f"ID number must have 18 characters, not {len(value)}"
        )
    if not (value.isascii() and value[:17].isdigit() and (value[17].isdigit() or value[17] == "X")):
        raise IdNumberError("id_number.format", "ID number must be 17 digits and a digit or X")
    try:
        birth = ric.get_birth_date(value)
    except stdnum_errors.ValidationError:
        raise IdNumberError("id_number.birth_date", "ID number has an impossible birth date")
    if ric_check_char(value[:17]) != value[17]:
        raise IdNumberError("id_number.checksum", "ID number check character is wrong")
    if not region_in_force_since(value[:6], birth.year):
        raise IdNumberError(
            "id_number.invalid", "ID number is not valid: unknown or abolished region code"
        )
    gender = "male" if int(value[16]) % 2 == 1 else "female"
    return IdNumber(value=value, birth_date=birth, gender=gender, converted_from_15=converted)


class UsccError(ValueError):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def normalise_uscc(raw) -> str:
    return "".join(unicodedata.normalize("NFKC", str(raw or "")).split()).upper()


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(raw) -> str:
    """GB 32100 with our own routine: stdnum.cn.uscc rejects valid codes starting A, N or Y."""
    value = normalise_uscc(raw)
    if len(value) == 15 and value.isascii() and value.isdigit():
        raise UsccError(
            "uscc.registration_number",
            "15-digit business registration number from before 2015; give the 18-character code",
        )
    if len(value) != 18:
        raise UsccError("uscc.length", f"credit code must have 18 characters, not {len(value)}")
    if any(c not in USCC_ALPHABET for c in value):
        raise UsccError(
            "uscc.format", "credit code has characters outside GB 32100 (no I, O, S, V, Z)"
        )
    if uscc_check_char(value[:17]) != value[17]:
        raise UsccError("uscc.checksum", "credit code check character is wrong")
    return value
