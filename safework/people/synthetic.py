"""Synthetic identities for demo, bench and test data: valid check characters, fake sequence.

Sequence numbers 900–999 mark a number as synthetic; region codes are real ones that existed in
the birth year (python-stdnum's own birth-place table decides).
"""

import random
from datetime import date, timedelta

from stdnum.cn import ric

from safework.people.rules import ric_check_char

# Real county-level codes, long-lived (present in python-stdnum's table for 1950–2020 births).
REGION_CODES = (
    "110105",
    "110108",
    "120101",
    "130102",
    "140105",
    "210102",
    "310104",
    "310115",
    "320102",
    "320106",
    "330106",
    "340104",
    "350102",
    "370102",
    "410105",
    "420106",
    "430102",
    "440106",
    "440305",
    "500103",
    "510104",
    "530102",
    "610113",
    "620102",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单解"  # noqa: E501
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红海波宁鹏飞斌辉浩宇晨阳凯亮林峰"
)


def make_id_number(region: str, birth: date, sequence: int, *, female: bool = False) -> str:
    """An 18-character ID number with a correct check character (sequence 900–999)."""
    if not 900 <= sequence <= 999:
        raise ValueError("synthetic sequence numbers are 900–999")
    # The 17th digit's parity is the gender: odd male, even female.
    if (sequence % 2 == 1) == female:
        sequence = sequence - 1 if sequence > 900 else sequence + 1
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + ric_check_char(first17)


def random_identity(rng: random.Random, *, min_age=20, max_age=58, today: date):
    """(id_number, name, birth, gender) drawn from rng, valid under stdnum.cn.ric."""
    while True:
        birth = today - timedelta(days=rng.randint(min_age * 365, max_age * 365))
        female = rng.random() < 0.2
        number = make_id_number(
            rng.choice(REGION_CODES), birth, rng.randint(900, 999), female=female
        )
        if ric.is_valid(number):
            surname = rng.choice(SURNAMES)
            given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            return number, surname + given, birth, "female" if female else "male"
