"""Which catalogue item a ledger cell means: by code or name, across schemes, with old codes.

How a row says it uses an old list (TSG Z6001's 2011 codes):
1. A catalogue-version column (目录版本) naming the old version ("2011", "旧") or the current one
   ("2019", "新") decides.
2. Without it, a code that exists only in the old list (Q3–Q9, N3–N5) is read as old.
3. A code in both lists (Q1, Q2, N1, N2) is read by the issue date: before the day the current
   catalogue took effect (the scheme's earliest rule, 2019-06-01) it is old, from that day current.

An old code maps only where a `LegacyCode` row names its successor (old Q3 → Q1, Q4–Q9 → Q2 with
the crane kind as restriction, old N2 → N1); the certificate keeps the code as printed
(`Certificate.legacy_code`). An old code without successor (old Q1/Q2) is a row error.

A cell is read, in this order, as: a code, an old code or an item's name (with or without 作业);
a ledger name of the catalogue (`CertificateItem.aliases`: 电工, 架子工, 焊工), an error listing
the candidates when several items carry it; a code followed by a name ("2.1 熔化焊接与热切割作业",
"Q3/起重机指挥"), where the name must mean the item the code means (read by the rules above, so an
old code written with today's name of another item is an error naming both); the part after a
"category/" prefix.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _

from safework.certs.models import CatalogueRule, CertificateItem, LegacyCode, Scheme
from safework.certs.numbers import number_problem
from safework.certs.restrictions import restriction_words
from safework.core.cells import FLOAT_EXACT, ValueProblem

SCHEME_ALIASES = {
    "special_operation": ("特种作业", "特种作业操作证", "应急", "安监", "应急管理"),
    "special_equipment": ("特种设备", "特种设备作业人员证", "质监", "市场监管", "特设"),
    "construction": ("建筑施工", "建筑", "住建", "建设", "建筑施工特种作业"),
    "internal": ("内部", "企业内部", "厂内", "企业"),
}
OLD_WORDS = ("旧", "老", "旧版", "旧目录", "OLD")
NEW_WORDS = ("新", "新版", "新目录", "现行", "NEW", "CURRENT")

_REMARK = re.compile(r"[（(](.*?)[）)]")
_LEADING_CODE = re.compile(r"^([A-Z]{1,2}\d{0,2}|\d{1,2}(?:\.\d{1,2})?)(?:[\s:：\-—_/、]*)(.*)$")


def _norm(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def _describe(item: CertificateItem) -> str:
    return f"{item.code} {item.name}（{item.scheme.name}）"


@dataclass(frozen=True)
class ItemMatch:
    item: CertificateItem
    restriction: str = ""
    legacy_code: str = ""


class ItemResolver:
    """The catalogue in memory for one import: items, legacy codes, the date each scheme's current
    catalogue took effect. Answers are cached per distinct cell text."""

    def __init__(self):
        self.schemes = {s.pk: s for s in Scheme.objects.all()}
        items = list(CertificateItem.objects.all())
        for it in items:
            it.scheme = self.schemes[it.scheme_id]
        self.by_code: dict[str, list[CertificateItem]] = {}
        self.by_name: dict[str, list[CertificateItem]] = {}
        self.by_alias: dict[str, list[CertificateItem]] = {}
        self.code_names: dict[str, tuple[str, str]] = {}  # "PLANT-ANNUAL年度…" → (code, name)
        for it in items:
            self.code_names[_norm(it.code + it.name)] = (_norm(it.code), _norm(it.name))
            self.by_code.setdefault(_norm(it.code), []).append(it)
            # "熔化焊接与热切割作业" and "熔化焊接与热切割"; "2.1 熔化焊接与热切割作业" (the
            # template's form) is a code and a name, checked against each other.
            for key in {_norm(it.name), _norm(it.name.removesuffix("作业"))}:
                self.by_name.setdefault(key, []).append(it)
            for alias in it.aliases or ():
                named = self.by_alias.setdefault(_norm(str(alias)), [])
                if it not in named:
                    named.append(it)
        self.legacy: dict[str, list[LegacyCode]] = {}
        for lc in LegacyCode.objects.select_related("new_item"):
            if lc.new_item is not None:
                lc.new_item.scheme = self.schemes[lc.new_item.scheme_id]
            self.legacy.setdefault(_norm(lc.old_code), []).append(lc)
        self.current_since: dict[int, dt.date] = {}
        for rule in CatalogueRule.objects.filter(item__isnull=True).order_by("effective_from"):
            self.current_since.setdefault(rule.scheme_id, rule.effective_from)
        self.scheme_keys: dict[str, Scheme] = {}
        for s in self.schemes.values():
            for key in (s.code, s.name, *SCHEME_ALIASES.get(s.code, ())):
                self.scheme_keys[_norm(key)] = s
        self._cache: dict[tuple, ItemMatch] = {}
        self.codes = sorted({it.code for it in items})

    # ---- public -------------------------------------------------------------------------------

    def scheme(self, raw: str) -> Scheme | None:
        if not raw:
            return None
        found = self.scheme_keys.get(_norm(raw))
        if found is None:
            raise ValueProblem(
                "scheme.unknown",
                _("Unknown certificate scheme “%(value)s”.") % {"value": raw},
            )
        return found

    def resolve(
        self,
        raw,
        *,
        scheme: Scheme | None = None,
        version: str = "",
        restriction: str = "",
        issued_on: dt.date | None = None,
    ) -> ItemMatch:
        """The item of a cell, or ValueProblem naming why not."""
        key = (
            raw if not isinstance(raw, float) else ("f", raw),
            scheme.pk if scheme else None,
            version,
            restriction,
            issued_on,
        )
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(raw, scheme, version, restriction, issued_on)
            self._cache[key] = hit
        return hit

    def check_number(self, match: ItemMatch, number: str) -> None:
        """A number of the item's scheme (a construction number: province, city letter, the
        item's trade code, year, serial), checked as the certificate services check it."""
        item = match.item
        problem = number_problem(number, scheme_code=item.scheme.code, item=item)
        if problem is not None:
            raise ValueProblem(problem.code, problem.message)

    # ---- internals ----------------------------------------------------------------------------

    def _resolve(self, raw, scheme, version, restriction, issued_on) -> ItemMatch:
        if isinstance(raw, float):
            text = self._numeric_code(raw)
        else:
            text = _norm(str(raw or ""))
        if not text:
            raise ValueProblem("item.required", _("The operation item is required."))
        hint = ""
        remark = _REMARK.search(text)
        plain = text
        if remark:
            hint = remark.group(1)
            plain = _REMARK.sub("", text)
        found = None
        for candidate in dict.fromkeys((text, plain)):
            found = self._by_key(candidate, scheme, version, issued_on)
            if found is not None:
                break
        if found is None:
            pair = self.code_names.get(text) or self.code_names.get(plain)
            if pair is None and (m := _LEADING_CODE.match(text)) and m.group(2):
                pair = m.group(1), m.group(2)
            if pair is not None:
                found = self._code_and_name(*pair, scheme, version, issued_on)
        if found is None:
            for sep in ("/", "-", "—", "|"):
                if sep in text:
                    found = self._by_key(text.rsplit(sep, 1)[-1], scheme, version, issued_on)
                    if found is not None:
                        break
        if found is not None:
            return self._with_restriction(found, restriction or hint, explicit=bool(restriction))
        raise ValueProblem(
            "item.unknown",
            _("Unknown operation item “%(value)s” (give its code, e.g. 2.1 or Q2, or its name).")
            % {"value": raw if not isinstance(raw, float) else text},
        )

    def _numeric_code(self, value: float) -> str:
        # "9.10" typed into a number cell is 9.1: accept a number only when one code fits.
        if value.is_integer() and abs(value) < FLOAT_EXACT:
            return str(int(value))
        shown = repr(value)
        fits = [c for c in (shown, shown + "0") if c in self.by_code]
        if len(fits) > 1:
            raise ValueProblem(
                "item.numeric_ambiguous",
                _(
                    "The item was stored as the number %(value)s, which may be %(a)s or %(b)s; "
                    "format the column as text."
                )
                % {"value": shown, "a": fits[0], "b": fits[1]},
            )
        return fits[0] if fits else shown

    def _filter(self, items, scheme):
        return [it for it in items if scheme is None or it.scheme_id == scheme.pk]

    def _version_kind(self, version: str, scheme_ids: set[int], old_versions: set[str]) -> str:
        """ "old", "current" or "" (not given)."""
        if not version:
            return ""
        v = _norm(version)
        if v in OLD_WORDS or v in {_norm(o) for o in old_versions}:
            return "old"
        current = {_norm(self.schemes[s].catalogue_version) for s in scheme_ids}
        if v in NEW_WORDS or v in current:
            return "current"
        raise ValueProblem(
            "catalogue_version.unknown",
            _("Unknown catalogue version “%(value)s” (the old list or the current one).")
            % {"value": version},
        )

    def _by_key(self, key, scheme, version, issued_on) -> ItemMatch | None:
        current = self._filter(self.by_code.get(key, []), scheme)
        legacy = [
            lc for lc in self.legacy.get(key, []) if scheme is None or lc.scheme_id == scheme.pk
        ]
        by_name = [] if current else self._filter(self.by_name.get(key, []), scheme)
        if not (current or legacy or by_name):
            named = self._filter(self.by_alias.get(key, []), scheme)
            return ItemMatch(self._one_named(named, key)) if named else None
        if not legacy:
            # A scheme without an old list: a version column does not change the reading.
            return ItemMatch(self._one(current or by_name, key))
        scheme_ids = {it.scheme_id for it in current} | {lc.scheme_id for lc in legacy}
        kind = self._version_kind(version, scheme_ids, {lc.old_version for lc in legacy})
        if kind == "current":
            if not current:
                raise ValueProblem(
                    "item.not_in_current_list",
                    _("“%(code)s” is an old code, but the row says the current list.")
                    % {"code": key},
                )
            return ItemMatch(self._one(current, key))
        if kind == "old" or not current:
            return self._legacy(legacy, key)
        # The code exists in both lists: the issue date says which list was in force.
        since = {self.current_since.get(lc.scheme_id) for lc in legacy}
        since.discard(None)
        if issued_on is None or not since:
            raise ValueProblem(
                "item.legacy_ambiguous",
                _(
                    "“%(code)s” means different items in the old and the current list; add a "
                    "目录版本 column or the issue date."
                )
                % {"code": key},
            )
        if issued_on < min(since):
            return self._legacy(legacy, key)
        return ItemMatch(self._one(current, key))

    def _one(self, items, key) -> CertificateItem:
        if len(items) > 1:
            raise ValueProblem(
                "item.ambiguous",
                _(
                    "“%(value)s” names items of several schemes (%(schemes)s); add a scheme "
                    "column (证书种类)."
                )
                % {"value": key, "schemes": "、".join(sorted({i.scheme.name for i in items}))},
            )
        item = items[0]
        if not item.is_active:
            raise ValueProblem(
                "item.inactive", _("The item %(code)s is no longer active.") % {"code": item.code}
            )
        return item

    def _one_named(self, items, key) -> CertificateItem:
        if len(items) > 1:
            raise ValueProblem(
                "item.ambiguous_name",
                _(
                    "“%(value)s” may mean several items: %(items)s. Write the item's code or "
                    "full name, or add a scheme column (证书种类)."
                )
                % {"value": key, "items": "、".join(_describe(i) for i in items)},
            )
        return self._one(items, key)

    def _named(self, text: str, scheme) -> list[CertificateItem]:
        """The items a name (not a code) may mean: an item's own name first, else ledger names."""
        for candidate in dict.fromkeys((text, _REMARK.sub("", text))):
            for table in (self.by_name, self.by_alias):
                found = self._filter(table.get(candidate, []), scheme)
                if found:
                    return found
        return []

    def _code_and_name(self, code, name, scheme, version, issued_on) -> ItemMatch | None:
        """ "Q3 起重机指挥": the code read as always (old lists included); a name that means
        another item than the code is an error naming both, never stored as either."""
        problem = None
        try:
            by_code = self._by_key(code, scheme, version, issued_on)
        except ValueProblem as p:
            by_code, problem = None, p
        if by_code is None and problem is None:
            return None  # not a code: "1电工作业" is not item 1
        named = self._named(name, scheme)
        if not named:
            if problem is not None:
                raise problem
            return by_code  # a remark after the code ("Q2 桥吊"), not an item's name
        if by_code is not None and by_code.item in named:
            return by_code  # the code settles a ledger name of several items
        words = {
            "code": code,
            "name": name,
            "named": "、".join(_describe(i) for i in named),
        }
        if by_code is None:
            raise ValueProblem(
                "item.code_name_mismatch",
                _(
                    "The code %(code)s cannot be taken (%(problem)s), and the name “%(name)s” "
                    "means %(named)s: correct the code or the name."
                )
                % {**words, "problem": problem.message},
            )
        if by_code.legacy_code:
            meaning = _("old code %(old)s, today %(item)s") % {
                "old": by_code.legacy_code,
                "item": _describe(by_code.item),
            }
        else:
            meaning = _describe(by_code.item)
        raise ValueProblem(
            "item.code_name_mismatch",
            _(
                "The code %(code)s means %(meaning)s, but the name “%(name)s” means %(named)s: "
                "correct the code or the name."
            )
            % {**words, "meaning": meaning},
        )

    def _legacy(self, legacy: list[LegacyCode], key: str) -> ItemMatch:
        if len(legacy) > 1:
            raise ValueProblem(
                "item.ambiguous",
                _("The old code “%(value)s” exists in several schemes; add a 证书种类 column.")
                % {"value": key},
            )
        lc = legacy[0]
        if lc.new_item is None:
            raise ValueProblem(
                "item.legacy_no_equivalent",
                _(
                    "The old code %(code)s (%(version)s) has no equivalent in the current list: "
                    "%(note)s"
                )
                % {"code": lc.old_code, "version": lc.old_version, "note": lc.note},
            )
        return ItemMatch(lc.new_item, restriction=lc.restriction, legacy_code=lc.old_code)

    def _with_restriction(self, match: ItemMatch, given: str, *, explicit: bool) -> ItemMatch:
        if not given:
            return match
        kinds = list(match.item.restriction_kinds or [])
        value = _norm(given)
        words = restriction_words()  # restriction values as ledgers write them (attributes.yaml)
        code = next(
            (k for k in kinds if value in {_norm(k), *(_norm(w) for w in words.get(k, ()))}),
            None,
        )
        if code is None:
            if not explicit and not kinds:
                return match  # a remark in brackets that is not a restriction: keep the item
            if not kinds:
                raise ValueProblem(
                    "restriction.not_allowed",
                    _("The item %(code)s takes no restriction.") % {"code": match.item.code},
                )
            raise ValueProblem(
                "restriction.unknown",
                _("Unknown restriction “%(value)s” for %(code)s (one of: %(kinds)s).")
                % {"value": given, "code": match.item.code, "kinds": ", ".join(kinds)},
            )
        if match.restriction and match.restriction != code:
            raise ValueProblem(
                "restriction.conflict",
                _("The old code %(old)s means %(implied)s, but the row says %(given)s.")
                % {"old": match.legacy_code, "implied": match.restriction, "given": given},
            )
        return ItemMatch(match.item, restriction=code, legacy_code=match.legacy_code)
