"""Name matching for registry answers: exact → normalised → pinyin (any reading) → former name."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safework.registry.client import RegistryAnswer
from safework.registry.fake import HOMOPHONES, other_name, respelled
from safework.registry.models import LookupOutcome
from safework.registry.verification import (
    assess,
    match_name,
    normalise_name,
    readings,
    same_pinyin,
)


@pytest.mark.parametrize(
    ("registry_name", "person_name", "how"),
    [
        ("张伟", "张伟", "exact"),
        ("张 伟", "张伟", "normalised"),  # a space to align two-character names
        ("张伟\u3000", "张伟", "normalised"),  # trailing full-width space
        (" 王\u3000建国 ", "王建国", "normalised"),
        ("阿依古丽·买买提", "阿依古丽买买提", "normalised"),  # middle dot of minority names
        ("ＡＢＣ", "abc", "normalised"),  # full-width Latin letters, case
        ("善丽", "单丽", "pinyin"),  # 单 read shan
        ("丹丽", "单丽", "pinyin"),  # 单 read dan
        ("增志红", "曾志红", "pinyin"),  # 曾 read zeng
        ("层志红", "曾志红", "pinyin"),  # 曾 read ceng
        ("谢明", "解明", "pinyin"),  # 解 read xie
        ("王强", "李强", None),
        ("张伟", "张伟伟", None),  # different length
        ("", "张伟", None),
        ("张伟", "", None),
    ],
)
def test_match_name(registry_name, person_name, how):
    assert match_name(registry_name, person_name) == how


def test_pinyin_needs_every_character_to_share_a_reading():
    assert same_pinyin("单丽", "善力")  # shan + li: tones and meaning do not count
    assert not same_pinyin("单丽", "善美")  # the surname agrees, the given name does not
    assert not same_pinyin("单丽", "王丽")


def test_readings_are_per_character_not_per_phrase():
    # pypinyin reads the phrase 曾经 as ceng only; the surname 曾 is zeng.
    assert readings("曾") == {"zeng", "ceng"}
    assert match_name("增经", "曾经") == "pinyin"


def test_former_name_of_the_person():
    assert match_name("李娜", "李静", former_names=["李娜"]) == "former_name"
    assert match_name("李 娜", "李静", former_names=["李娜"]) == "former_name"  # normalised too
    assert match_name("李娜", "李静", former_names=["王芳"]) is None


def test_former_name_known_to_the_registry():
    # The holder was renamed at the registry; SafeWork still has the old name.
    assert match_name("李静", "李娜", registry_former_names=["李娜"]) == "former_name"
    assert match_name("李静", "李娜", registry_former_names=["王芳"]) is None


def test_earlier_ways_of_matching_win():
    # The same text is "exact" even when it is also a former name and has the same pinyin.
    assert match_name("李娜", "李娜", former_names=["李娜"]) == "exact"
    assert match_name("李 娜", "李娜", former_names=["李 娜"]) == "normalised"


@given(st.text(min_size=1, max_size=6))
def test_a_name_matches_itself_and_normalising_is_idempotent(name):
    assert match_name(name, name) == "exact"
    assert normalise_name(normalise_name(name)) == normalise_name(name)


_HAN = st.text(alphabet="单善曾增层解谢张章王汪李理丽力伟强", min_size=1, max_size=4)


@given(_HAN, _HAN)
def test_matching_is_symmetric(a, b):
    assert (match_name(a, b) is None) == (match_name(b, a) is None)


@pytest.mark.parametrize(("surname", "homophone"), sorted(HOMOPHONES.items()))
def test_fake_registry_homophones_share_a_reading(surname, homophone):
    assert readings(surname) & readings(homophone)
    assert match_name(respelled(surname + "伟"), surname + "伟") == "pinyin"


@pytest.mark.parametrize("name", ["钱伟", "孙丽", "单丽", "曾志红", "欧阳明", "王", "荪强"])
def test_fake_registry_other_name_never_matches(name):
    assert match_name(other_name(name), name) is None


def test_respelled_without_homophone_matches_after_normalising():
    assert match_name(respelled("艾伟"), "艾伟") == "normalised"


def _answer(status="valid", name="张伟", former=()):
    return RegistryAnswer(status=status, name=name, former_names=tuple(former))


@pytest.mark.parametrize(
    ("answer", "outcome", "how"),
    [
        (_answer(), LookupOutcome.VERIFIED, "exact"),
        (_answer(name="章伟"), LookupOutcome.VERIFIED, "pinyin"),
        (_answer(name="王强"), LookupOutcome.MISMATCH, None),
        # The registry's status comes first: a revoked certificate is revoked whoever holds it.
        (_answer("revoked", name="王强"), LookupOutcome.REVOKED, None),
        (_answer("expired"), LookupOutcome.EXPIRED, "exact"),
        (RegistryAnswer(status="not_found"), LookupOutcome.NOT_FOUND, None),
        (_answer(name="张三", former=["张伟"]), LookupOutcome.VERIFIED, "former_name"),
    ],
)
def test_assess(answer, outcome, how):
    verdict = assess(answer, name="张伟")
    assert (verdict.outcome, verdict.name_match) == (outcome, how)
