"""Synthetic identities for the demo enterprise and the bench group.

Both draw ID numbers through `people.synthetic.make_id_number` (sequence 900–999, correct check
character) from **disjoint** sets of real region codes, so a demo number and a bench number can
never be equal, whatever order the two seeds run in. Names are real-looking (surname + one or two
given characters): what marks a person as synthetic is `Person.is_synthetic`, the 900–999
sequence in the ID number and the "（演示）" / "（压测）" organisation they belong to, not a
mangled name, so name matching, pinyin and sorting behave as they do with real data.
"""

from __future__ import annotations

import datetime as dt
import random

from stdnum.cn import ric

from safework.people.synthetic import GIVEN, REGION_CODES, SURNAMES, make_id_number

# The demo enterprise sits in Jiangsu and Shandong, so most of its people come from there, plus
# the provinces contract labour typically comes from. Several of these county codes only exist
# from the 1980s on in python-stdnum's table; `demo_identity` redraws until stdnum accepts.
DEMO_REGIONS = (
    "320102",  # 南京 玄武区
    "320106",  # 南京 鼓楼区
    "320111",  # 南京 浦口区
    "320113",  # 南京 栖霞区
    "320116",  # 南京 六合区
    "321324",  # 宿迁 泗洪县
    "320724",  # 连云港 灌南县
    "370102",  # 济南 历下区
    "370303",  # 淄博 张店区
    "370305",  # 淄博 临淄区
    "370321",  # 淄博 桓台县
    "371321",  # 临沂 沂南县
    "341221",  # 阜阳 临泉县
    "411627",  # 周口 太康县
)
# The bench takes the rest of the shared list: codes valid for every birth year it draws.
BENCH_REGIONS = tuple(code for code in REGION_CODES if code not in DEMO_REGIONS)


def random_name(rng: random.Random) -> str:
    """Surname and one or two given characters (two in two names of three)."""
    r = rng.random
    name = SURNAMES[int(r() * len(SURNAMES))] + GIVEN[int(r() * len(GIVEN))]
    return name + GIVEN[int(r() * len(GIVEN))] if r() < 2 / 3 else name


def demo_identity(
    rng: random.Random,
    *,
    anchor: dt.date,
    min_age: int = 20,
    max_age: int = 56,
    female_share: float = 0.15,
) -> tuple[str, str, dt.date, str]:
    """(id_number, name, birth date, gender) from the demo regions, valid under stdnum.cn.ric.

    `anchor` is a fixed date, not today, so the same rng gives the same numbers on every run.
    """
    while True:
        birth = anchor - dt.timedelta(days=rng.randint(min_age * 365, max_age * 365))
        female = rng.random() < female_share
        number = make_id_number(
            rng.choice(DEMO_REGIONS), birth, rng.randint(900, 999), female=female
        )
        if ric.is_valid(number):
            return number, random_name(rng), birth, "female" if female else "male"


class BenchIdentities:
    """Unique bench ID numbers, drawn from one rng: deterministic for a seed.

    Checking each number with stdnum costs ~30 µs (300,000 numbers: 9 s), so the (region, birth
    year) pairs stdnum accepts are worked out once and draws outside them are redrawn.
    """

    def __init__(self, rng: random.Random, *, now: dt.date, min_age=20, max_age=58):
        self.rng = rng
        self.now = now
        self.min_days, self.max_days = min_age * 365, max_age * 365
        first = (now - dt.timedelta(days=self.max_days)).year
        last = (now - dt.timedelta(days=self.min_days)).year
        self.valid = {
            (region, year)
            for region in BENCH_REGIONS
            for year in range(first, last + 1)
            if ric.is_valid(make_id_number(region, dt.date(year, 6, 15), 901))
        }
        self.used: set[str] = set()

    def draw(self) -> tuple[str, str, dt.date, str]:
        # random() scaled by hand: randint/choice cost three times as much, 300,000 times over.
        random, span, regions = self.rng.random, self.max_days - self.min_days + 1, BENCH_REGIONS
        while True:
            birth = self.now - dt.timedelta(days=self.min_days + int(random() * span))
            region = regions[int(random() * len(regions))]
            female = random() < 0.15
            sequence = 900 + int(random() * 100)
            if (region, birth.year) not in self.valid:
                continue
            number = make_id_number(region, birth, sequence, female=female)
            if number in self.used:
                continue
            self.used.add(number)
            return number, random_name(self.rng), birth, "female" if female else "male"
