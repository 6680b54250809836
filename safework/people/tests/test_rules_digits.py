"""ID numbers and credit codes are ASCII digits: other scripts' digits, which str.isdigit() and
int() accept, are a format error."""

import pytest

from safework.ledger import values
from safework.people.rules import IdNumberError, parse_id_number, validate_uscc
from safework.people.tests.factories import PersonFactory

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def test_arabic_indic_digits_are_not_an_id_number():
    good = PersonFactory.build().id_number
    assert parse_id_number(good).value == good
    other = good.translate(ARABIC_INDIC)
    assert other.isdigit() or other[-1] == "X"
    with pytest.raises(IdNumberError) as exc:
        parse_id_number(other)
    assert exc.value.code == "id_number.format"
    with pytest.raises(IdNumberError) as exc:
        parse_id_number(good[:6] + good[8:17].translate(ARABIC_INDIC), allow_15=True)
    assert exc.value.code == "id_number.length"


def test_the_import_fast_path_refuses_them_too():
    good = PersonFactory.build().id_number
    assert values._fast_parse(good) is not None
    assert values._fast_parse(good.translate(ARABIC_INDIC)) is None
    with pytest.raises(values.ValueProblem) as exc:
        values.id_number(good.translate(ARABIC_INDIC))
    assert exc.value.code == "id_number.format"


def test_a_fifteen_digit_registration_number_in_other_digits_is_not_one():
    with pytest.raises(Exception) as exc:
        validate_uscc("١٢٣٤٥٦٧٨٩٠١٢٣٤٥")
    assert exc.value.code == "uscc.length"
