"""The meaning of uploaded cells, shared by the ledger import and the roster: headers by synonyms,
Excel serial dates, date text."""

import datetime as dt

import pytest

from safework.core.cells import HeaderSynonyms, ValueProblem, date_value, normalise_header

HEADERS = HeaderSynonyms(
    {
        "id_number": ("身份证号码", "身份证号", "idnumber"),
        "item": ("作业类别", "工种"),
        "name": ("姓名",),
        "height_m": ("作业高度", "作业高度(m)", "高度"),
    }
)


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("身份证号码（必填）", "身份证号码"),
        ("身份证\n号码：", "身份证号码"),
        (" 身份证号码* ", "身份证号码"),
        ("ＩＤ Number", "idnumber"),
        ("作业高度(m)", "作业高度"),
        (None, ""),
    ],
)
def test_a_header_is_compared_without_spaces_case_width_or_remark(written, key):
    assert normalise_header(written) == key


def test_a_header_means_its_column_or_nothing():
    assert HEADERS.meaning("身份证号") == ("id_number", 1)
    assert HEADERS.meaning("ID_NUMBER") is None  # the underscore is part of the header
    assert HEADERS.meaning("IdNumber") == ("id_number", 2)
    assert HEADERS.meaning("工种/作业类别") == ("item", 0)  # synonyms of one column joined
    assert HEADERS.meaning("姓名/工种") is None  # of two columns: neither
    assert HEADERS.meaning("备注") is None


def test_the_synonym_listed_first_wins_over_a_later_column():
    assert HEADERS.match(["身份证号", "姓名", "身份证号码"]) == {
        "id_number": (2, 0),
        "name": (1, 0),
    }


def test_one_header_may_not_mean_two_columns():
    with pytest.raises(ValueError, match="身份证"):
        HeaderSynonyms({"id_number": ("身份证",), "number": ("身份证（号）",)})


def test_the_header_row_is_found_below_title_rows_within_the_scan():
    rows = [["2026年三月排班"], [], ["姓名", "身份证号", "作业类别"], ["张三", "x", "y"]]
    found = HEADERS.find(rows, ("name", "id_number"))
    assert (found.index, found.columns, found.complete) == (
        2,
        {"name": 0, "id_number": 1, "item": 2},
        True,
    )
    assert HEADERS.find(rows, ("name", "id_number"), scan=2) is None
    partial = HEADERS.find([["姓名"], ["姓名", "工种"]], ("name", "id_number"))
    assert (partial.index, partial.complete) == (1, False)  # the row naming most columns


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (46091, dt.date(2026, 3, 10)),  # an Excel serial number
        (46091.75, dt.date(2026, 3, 10)),  # with a time of day
        (18264, dt.date(1950, 1, 1)),  # the first day a table may hold
        (73050, dt.date(2099, 12, 31)),  # the last
        ("2026 年 3 月 10 日", dt.date(2026, 3, 10)),
        ("2026 - 3 - 10", dt.date(2026, 3, 10)),
        ("2026.3.10", dt.date(2026, 3, 10)),
        ("2026-03-10T00:00", dt.date(2026, 3, 10)),
        (" ", None),
    ],
)
def test_dates(raw, expected):
    assert date_value(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (18263, "date.out_of_range"),  # 1949-12-31
        (73051, "date.out_of_range"),  # 2100-01-01
        (60, "date.format"),  # before Excel's 1900 leap-day bug: no day is sure
        (float("nan"), "date.format"),
        (True, "date.format"),
        ("2026/3-10", "date.format"),  # two separators
        ("10/03/2026", "date.format"),  # day first or month first: never guessed
        ("2026-02-29", "date.invalid"),
    ],
)
def test_dates_that_are_errors(raw, code):
    with pytest.raises(ValueProblem) as exc:
        date_value(raw)
    assert exc.value.code == code
