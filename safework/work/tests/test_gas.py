"""Gas pass criteria at their bounds; the unit is part of the reading."""

import pytest

from safework.core.errors import InvalidInput
from safework.work.gas import judge


@pytest.mark.parametrize(
    ("value", "lel", "passed"),
    [
        ("0.5", 5, True),
        ("0.51", 5, False),
        ("0.5", 4, True),
        ("0.2", "3.99", True),
        ("0.21", "3.99", False),
        ("0.3", "1.5", False),
    ],
)
def test_combustible_by_lower_explosive_limit(work_catalogue, value, lel, passed):
    v = judge("combustible", value, "%vol", lel_percent=lel)
    assert v.passed is passed
    assert v.clause.startswith("GB 30871-2022 5.3.2")
    assert v.code == ("work.gas.passed" if passed else "work.gas.too_high")


@pytest.mark.parametrize(
    ("value", "enriched", "code"),
    [
        ("19.49", False, "work.gas.too_low"),
        ("19.5", False, "work.gas.passed"),
        ("21", False, "work.gas.passed"),
        ("21.01", False, "work.gas.too_high"),
        ("23.5", True, "work.gas.passed"),
        ("23.51", True, "work.gas.too_high"),
        ("19.49", True, "work.gas.too_low"),
    ],
)
def test_oxygen(work_catalogue, value, enriched, code):
    v = judge("o2", value, "%vol", oxygen_enriched=enriched)
    assert v.code == code
    assert v.passed is (code == "work.gas.passed")
    assert v.clause.startswith("GB 30871-2022 6.4")


@pytest.mark.parametrize(
    ("gas", "at_limit", "past"),
    [
        ("h2s", "10", "10.01"),
        ("co", "20", "20.01"),
        ("nh3", "30", "30.01"),
        ("cl2", "1", "1.01"),
        ("hcn", "1", "1.01"),
    ],
)
def test_toxic_limits(work_catalogue, gas, at_limit, past):
    assert judge(gas, at_limit, "mg/m3").passed is True
    over = judge(gas, past, "mg/m³")
    assert over.passed is False
    assert "GBZ 2.1-2019" in over.clause


def test_percent_lel_is_not_percent_by_volume(work_catalogue):
    with pytest.raises(InvalidInput) as exc:
        judge("combustible", "10", "%LEL", lel_percent=5)
    error = exc.value.errors[0]
    assert error.field == "unit"
    assert error.code == "unit_mismatch"
    assert "%LEL" in error.message and "%vol" in error.message


def test_combustible_needs_its_lel(work_catalogue):
    with pytest.raises(InvalidInput) as exc:
        judge("combustible", "0.1", "%vol")
    assert exc.value.errors[0].field == "lel_percent"


@pytest.mark.parametrize("bad", ["-0.1", "abc", None, True])
def test_bad_readings(work_catalogue, bad):
    with pytest.raises(InvalidInput) as exc:
        judge("o2", bad, "%vol")
    assert exc.value.errors[0].field == "value"


def test_unknown_gas(work_catalogue):
    with pytest.raises(InvalidInput) as exc:
        judge("unobtainium", "1", "mg/m3")
    assert exc.value.errors[0].field == "gas"
