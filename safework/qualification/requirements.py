"""Evaluation of requirement rows (`qualification.models.Requirement`) for one crew member on one
date.

Pure: no queries, no clock, and no import of the engine (which imports this module). The engine
(`qualification/engine.py`) passes the loaded catalogue, the person's certificates and health
checks, the clauses of the house rules in force and the date `on`; each function answers with
`Reason`s (none: the row is met).

- `parse_attrs` checks what a check says about the work (height in m, hot-work method, …). A bad
  value or an unknown name is an input error (422), so a typo cannot silently skip a row.
- `applies` filters a row by work type, level, crew role and effective dates, then evaluates its
  rule-engine `condition` (compiled once per text). A condition that needs an attribute the check
  does not give raises `MissingAttribute`: the engine then refuses ("cannot decide"), it never
  passes silently. rule-engine evaluates `and`/`or` lazily, so only attributes actually needed
  for the answer are required (`forklift_area and height_m > 2` needs no height when false).
  `in_scope` is the same without the condition (the coverage report's "needs").
- `judge_certificates` / `medical_reasons` say whether the person meets a row;
  `judge_requirement` answers for either kind, with the record it was judged by, for the engine
  (`requirement_reasons`) and the coverage report alike. A certificate's usability is
  `certs.rules.certificate_status` of the stored record (`status_of_held`), as every list,
  export and report shows it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, cached_property, lru_cache
from pathlib import Path

import rule_engine
import yaml
from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _
from rule_engine import DataType, errors

from safework.certs.models import Certificate
from safework.certs.rules import (
    STATUS_TABLE,
    CertStatus,
    RuleBook,
    Status,
    StatusSettings,
    bar_of,
    certificate_status,
)
from safework.certs.rules import add_months as rules_add_months
from safework.core.errors import FieldError, InvalidInput
from safework.core.refusals import Reason
from safework.people.models import HealthCheck, HealthConclusion
from safework.qualification.models import Requirement, RequirementKind
from safework.work.models import CrewRole, WorkLevel, WorkType

EQUIVALENTS_FILE = Path(__file__).parents[1] / "certs" / "catalogue" / "equivalents.yaml"
ATTRIBUTES_FILE = Path(__file__).parents[1] / "certs" / "catalogue" / "attributes.yaml"
SPECIAL_OPERATION = "special_operation"
INTERNAL = "internal"
# House rules these rows' evaluation applies (`work.HouseRule` codes; the engine passes the
# clauses of the rows in force on the day, and a rule with none in force is not applied).
# Art. 32: away from the special-operation post too long → practical re-examination first. The
# months and the switch are settings (`cert.absence_months`, `cert.absence_rule_enabled`); whether
# Order No. 19 keeps the article is not yet confirmed, so an administrator can switch it off.
ABSENCE_RULE = "cert.absence"
# Contractor staff's medical check must be recent (months: `people.contractor_medical_max_age_…`).
CONTRACTOR_MEDICAL_RULE = "medical.contractor_age"


# The rules' month arithmetic, memoised: the engine asks it for every certificate of a crew.
add_months = lru_cache(maxsize=65536)(rules_add_months)


# --- attributes of a check ---------------------------------------------------------------------

_REQUIRED = object()  # an absent attribute has no meaning: a condition needing it cannot decide


def _parse_height(value) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("invalid_type", _("Must be a number."))
    try:
        number = float(Decimal(str(value).strip()))
    except Exception:
        raise ValueError("invalid_type", _("Must be a number."))
    if not math.isfinite(number) or number < 0:
        raise ValueError("too_small", _("Must be a height of 0 m or more."))
    return number


def _parse_text(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("invalid_type", _("Must be text."))
    return value.strip()


_TRUE = {"true", "1", "yes", "y", "是", "有"}
_FALSE = {"false", "0", "no", "n", "否", "无"}


def _parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if not isinstance(value, str | int):
        raise ValueError("invalid_type", _("Must be true or false."))
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("invalid_type", _("Must be true or false."))


def _norm(text: str) -> str:
    """Text as compared with a list of choices: NFKC (full-width forms), trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


@dataclass(frozen=True)
class Choices:
    """The allowed values of a text attribute: each written form → its canonical code."""

    codes: tuple[str, ...]  # canonical codes, in order
    forms: Mapping[str, str]  # normalised written form (code or synonym) → canonical code
    shown: str  # the allowed values as a message lists them

    @classmethod
    def of(cls, table: Mapping[str, Sequence[str]]) -> Choices:
        forms: dict[str, str] = {}
        shown = []
        for code, synonyms in table.items():
            code = str(code)
            synonyms = [str(s) for s in synonyms or ()]
            for form in (code, *synonyms):
                forms.setdefault(_norm(form), code)
            shown.append(f"{code} ({', '.join(synonyms)})" if synonyms else code)
        return cls(tuple(str(c) for c in table), forms, "; ".join(shown))

    def canonical(self, text: str) -> str | None:
        return self.forms.get(_norm(text))

    def parse(self, value) -> str:
        text = _parse_text(value)
        code = self.canonical(text)
        if code is None:
            raise ValueError(
                "invalid_choice",
                _("Not an allowed value; one of: %(values)s.") % {"values": self.shown},
            )
        return code


@cache
def attribute_table() -> dict:
    """attributes.yaml as read: {name: {"values": {code: [synonym, …]}} or {"items": {…}}}."""
    with ATTRIBUTES_FILE.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@cache
def listed_choices(name: str) -> Choices:
    """The allowed values attributes.yaml lists for a text attribute."""
    return Choices.of(attribute_table()[name]["values"])


def process_source() -> tuple[str, str]:
    """(scheme code, item category) whose items are the allowed `process` values."""
    source = attribute_table()["process"]["items"]
    return str(source["scheme"]), str(source["category"])


@dataclass(frozen=True)
class AttributeSpec:
    type: object  # a rule_engine DataType
    parse: Callable[[object], object] | None  # None: one of the attribute's choices
    default: object = _REQUIRED


# What requirement conditions may read besides work_type, level and role (set by the check).
# Text attributes take one of their allowed values (attributes.yaml), normalised to its code.
ATTRIBUTES: dict[str, AttributeSpec] = {
    "height_m": AttributeSpec(DataType.FLOAT, _parse_height),
    "hot_work_method": AttributeSpec(DataType.STRING, None),  # welding, cutting, grinding, other
    "height_task": AttributeSpec(DataType.STRING, None),  # scaffolding, installation, other
    "crane_kind": AttributeSpec(DataType.STRING, None),  # Q2 restriction kinds
    # `process != null` asks whether a hazardous process is named: absent means none. The value
    # is the Order-30 category-9 item code of the process (e.g. "9.3" chlorination).
    "process": AttributeSpec(DataType.STRING, None, default=None),
    # The check says true when the person drives a forklift in the area; absent means no.
    "forklift_area": AttributeSpec(DataType.BOOLEAN, _parse_bool, default=False),
}
CHECK_SYMBOLS = ("work_type", "level", "role")
PROCESS = "process"


def parse_attrs(raw: Mapping | None, *, processes: Choices, field_prefix: str = "attrs") -> dict:
    """The check's attributes, typed; InvalidInput naming each bad or unknown one.

    A value of None (JSON null, an empty cell) counts as not given. Text attributes must be one of
    their allowed values (a synonym or another case becomes the canonical code); `process` must
    be an item of `processes` (the catalogue's category-9 special-operation items:
    `ItemIndex.process_choices()`, which the caller holds).
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInput(FieldError(field_prefix, "invalid_type", _("Must be an object.")))
    out, problems = {}, []
    for name, value in raw.items():
        where = f"{field_prefix}.{name}"
        spec = ATTRIBUTES.get(name) if isinstance(name, str) else None
        if spec is None:
            if name in CHECK_SYMBOLS:
                message = _("Set by the check itself, not an attribute.")
            else:
                message = _("Unknown attribute; known: %(names)s.") % {
                    "names": ", ".join(ATTRIBUTES)
                }
            problems.append(FieldError(where, "unknown_attribute", message))
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            if spec.parse is not None:
                out[name] = spec.parse(value)
            elif name == PROCESS:
                out[name] = processes.parse(value)
            else:
                out[name] = listed_choices(name).parse(value)
        except ValueError as exc:
            code, message = exc.args if len(exc.args) == 2 else ("invalid", str(exc))
            problems.append(FieldError(where, code, message))
    if problems:
        raise InvalidInput(problems)
    return out


# --- conditions ----------------------------------------------------------------------------------


class MissingAttribute(Exception):
    """A condition or an item placeholder needs an attribute the check does not give."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(name)


class ConditionError(Exception):
    """A requirement's condition does not compile or cannot be evaluated."""


def _resolve(thing, name):
    try:
        return thing[name]
    except KeyError:
        raise errors.SymbolResolutionError(name)


_CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(
        {n: s.type for n, s in ATTRIBUTES.items()} | dict.fromkeys(CHECK_SYMBOLS, DataType.STRING)
    ),
    resolver=_resolve,
)
_compiled: dict[str, rule_engine.Rule | Exception] = {}


def compile_condition(text: str) -> rule_engine.Rule:
    """The compiled rule for a condition text (cached by text), or ConditionError."""
    rule = _compiled.get(text)
    if rule is None:
        try:
            rule = rule_engine.Rule(text, context=_CONTEXT)
        except errors.EngineError as exc:
            rule = exc
        _compiled[text] = rule
    if isinstance(rule, Exception):
        raise ConditionError(f"{type(rule).__name__}: {rule}")
    return rule


def condition_holds(text: str, symbols: Mapping) -> bool:
    if not text or not text.strip():
        return True
    return _holds(text, tuple(sorted(symbols.items())))


@lru_cache(maxsize=4096)
def _holds(text: str, symbols: tuple) -> bool:
    # A pure function of the text and the symbols: a crew shares its answers. Exceptions
    # (missing attribute, bad condition) are not cached and are raised again each time.
    rule = compile_condition(text)
    try:
        return bool(rule.matches(dict(symbols)))
    except errors.SymbolResolutionError as exc:
        raise MissingAttribute(exc.symbol_name)
    except errors.EngineError as exc:
        raise ConditionError(f"{type(exc).__name__}: {exc}")


# --- what is asked --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """What one crew member is asked to do, and on which local date."""

    work_type: WorkType
    level: WorkLevel | None
    role: CrewRole
    on: dt.date
    attrs: Mapping = field(default_factory=dict)  # parsed by parse_attrs

    @cached_property
    def symbols(self) -> dict:
        """The rule-engine context: given attributes, defaults for absent ones, the check's own."""
        values = {n: s.default for n, s in ATTRIBUTES.items() if s.default is not _REQUIRED}
        values.update(self.attrs)
        values.update(
            work_type=self.work_type.code,
            level=self.level.code if self.level else None,
            role=self.role.code,
        )
        return values


def applies(req: Requirement, work: Work) -> bool:
    """Whether the row asks anything of this crew member (filters, dates, then the condition).

    Raises MissingAttribute or ConditionError when the condition cannot be decided.
    """
    return in_scope(req, work) and condition_holds(req.condition, work.symbols)


def in_scope(req: Requirement, work: Work) -> bool:
    """The row's filters without its condition: active, in force on `work.on`, and its work
    type, crew role and minimum level let this work through. The same for every member asked
    the same work on the same day, so the engine memoises it."""
    if not req.is_active or req.effective_from > work.on:
        return False
    if req.effective_to is not None and work.on >= req.effective_to:
        return False
    if req.work_type_id is not None and req.work_type_id != work.work_type.pk:
        return False
    if req.crew_role_id is not None and req.crew_role_id != work.role.pk:
        return False
    if req.min_level_id is not None:
        minimum = req.min_level
        if minimum.work_type_id != work.work_type.pk:
            return False
        # No level given for a levelled type cannot happen (the engine validates levels); if it
        # did, the row applies: the stricter reading.
        if work.level is not None and work.level.rank < minimum.rank:
            return False
    return True


# --- catalogue items -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRef:
    id: int
    scheme_id: int
    scheme: str
    code: str
    name: str
    calendar_year: bool = False
    category: str = ""

    @property
    def key(self) -> str:
        return f"{self.scheme}:{self.code}"

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def shipped_equivalents() -> tuple[str, dict[str, tuple[str, ...]]]:
    """(clause, {"special_operation:1.2": ("construction:01",), …}) from equivalents.yaml."""
    with EQUIVALENTS_FILE.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    mapping = {row["item"]: tuple(row["counts"]) for row in data.get("equivalents", [])}
    return data.get("clause", ""), mapping


def _name_forms(name: str) -> list[str]:
    """An item's name as people write it: 氯化工艺作业, 氯化工艺, 氯化."""
    forms = [name]
    for suffix in ("作业", "工艺作业"):
        if name.endswith(suffix) and len(name) > len(suffix):
            forms.append(name[: -len(suffix)])
    return forms


_UNSAFE = re.compile(r"[*:{}]")


def placeholders(patterns: Iterable[str]) -> set[str]:
    """The attribute names item patterns fill in ("special_operation:{process}" → process)."""
    return {n for p in patterns for n in _PLACEHOLDER.findall(str(p))}


def filled_values_unsafe(pattern: str, symbols: Mapping) -> bool:
    """Whether a value filled into the pattern's placeholders would act as pattern syntax."""
    return any(
        _UNSAFE.search(str(symbols.get(n)))
        for n in _PLACEHOLDER.findall(pattern)
        if symbols.get(n) is not None
    )


class ItemIndex:
    """Catalogue items by id and by "scheme:code", resolving requirement item lists."""

    def __init__(
        self,
        items: Iterable[ItemRef],
        equivalents: Mapping[str, Sequence[str]] | None = None,
        equivalents_clause: str = "",
    ):
        self.by_id: dict[int, ItemRef] = {}
        self.by_key: dict[str, ItemRef] = {}
        self.by_scheme: dict[str, list[ItemRef]] = {}
        for i in items:
            self.by_id[i.id] = i
            self.by_key[i.key] = i
            self.by_scheme.setdefault(i.scheme, []).append(i)
        self.equivalents_clause = equivalents_clause
        self._processes: Choices | None = None
        self._resolved: dict[tuple, frozenset[int]] = {}
        self._equivalents: dict[int, frozenset[int]] = {}
        for key, counts in (equivalents or {}).items():
            target = self.by_key.get(key)
            ids = frozenset(self.by_key[c].id for c in counts if c in self.by_key)
            if target is not None and ids:
                self._equivalents[target.id] = ids

    def resolve(self, patterns: Iterable[str], symbols: Mapping) -> frozenset[int]:
        """Item ids matching "scheme:code", "scheme:prefix*" or "scheme:{attribute}" patterns."""
        patterns = tuple(patterns)
        names = sorted(placeholders(patterns))
        key = (patterns, tuple(symbols.get(n) for n in names))
        hit = self._resolved.get(key)
        if hit is None:
            if len(self._resolved) > 4096:  # attribute values come from users: stay bounded
                self._resolved.clear()
            hit = self._resolved[key] = self._resolve(patterns, symbols)
        return hit

    def _resolve(self, patterns: tuple, symbols: Mapping) -> frozenset[int]:
        out: set[int] = set()
        for pattern in patterns:
            pattern = str(pattern)
            filled = False

            def fill(m):
                nonlocal filled
                value = symbols.get(m.group(1))
                if value is None:
                    raise MissingAttribute(m.group(1))
                filled = True
                return str(value)

            if filled_values_unsafe(pattern, symbols):
                continue  # a filled value is taken literally: no "*", ":" or braces in it
            text = _PLACEHOLDER.sub(fill, pattern)
            scheme, _sep, code = text.partition(":")
            if not filled and code.endswith("*"):
                prefix = code[:-1]
                out.update(
                    i.id for i in self.by_scheme.get(scheme, []) if i.code.startswith(prefix)
                )
            elif text in self.by_key:
                out.add(self.by_key[text].id)
            elif filled and code:
                # A placeholder filled with a name rather than a code: 氯化 → 9.3 氯化工艺作业.
                wanted = _norm(code)
                out.update(
                    i.id
                    for i in self.by_scheme.get(scheme, [])
                    if wanted in {_norm(n) for n in _name_forms(i.name)}
                )
        return frozenset(out)

    def process_choices(self) -> Choices:
        """The allowed `process` values: the items attributes.yaml names (code → code; the
        name, with or without 工艺作业/作业, → code)."""
        if self._processes is None:
            scheme, category = process_source()
            table = {
                i.code: [n for n in _name_forms(i.name) if n != i.code]
                for i in self.by_scheme.get(scheme, [])
                if i.category == category
            }
            self._processes = Choices.of(table)
        return self._processes

    def equivalents_of(self, item_ids: Iterable[int]) -> frozenset[int]:
        out: set[int] = set()
        for i in item_ids:
            out |= self._equivalents.get(i, frozenset())
        return frozenset(out)


# --- settings the rules read ---------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSettings:
    """Administrators' settings for one site (core.settings_registry), passed in so rules stay
    pure."""

    status: StatusSettings
    construction_counts_as_order30: bool
    contractor_medical_max_age_months: int
    absence_rule_enabled: bool
    absence_months: int


@dataclass(frozen=True)
class Subject:
    """The crew member reasons are about: `person_id` goes into each reason's data."""

    person_id: int
    label: str

    def data(self, **more) -> dict:
        return {"person_id": self.person_id, **{k: v for k, v in more.items() if v is not None}}


def _clauses(*parts: str) -> str:
    seen = []
    for p in parts:
        if p and p not in seen:
            seen.append(p)
    return "；".join(seen)


# --- certificate rows ----------------------------------------------------------------------------


def status_of_held(
    cert: Certificate,
    on: dt.date,
    *,
    book: RuleBook,
    certs_by_id: Mapping[int, Certificate],
    settings: StatusSettings,
    held: Sequence[Certificate] = (),
) -> CertStatus:
    """`rules.certificate_status` of one record, its facts taken from the records in memory:
    the predecessor's end (`certs_by_id`) and the reapplication bars set by revocations among
    the holder's records of the same item (`held`). The stored fields are used as they are:
    every write path bounds an internal qualification's end at its rule (`rules.validity_limit`),
    so the engine, the lists (`certs.queries.with_status`), the admin, the exports and the
    coverage report answer alike."""
    predecessor = certs_by_id.get(cert.predecessor_id) if cert.predecessor_id else None
    return certificate_status(
        cert,
        on=on,
        book=book,
        predecessor_valid_until=predecessor.valid_until if predecessor else None,
        bars=[
            bar
            for c in held
            if c.item_id == cert.item_id and c.reapply_allowed_from is not None
            if (bar := bar_of(c)) is not None
        ],
        settings=settings,
    )


def _absent_too_long(
    cert: Certificate, item: ItemRef, on: dt.date, settings: RuleSettings, clause: str | None
) -> bool:
    """Art. 32: away from the operation for the set months *or more* (certificates.md: "6 months
    or more"), counted from the known last-practised date: exactly 6 months is already too long.
    `clause` is the house rule's in force on `on`; None: the rule is not in force then."""
    if clause is None or not settings.absence_rule_enabled or item.scheme != SPECIAL_OPERATION:
        return False
    if cert.last_practised_on is None:
        return False
    return add_months(cert.last_practised_on, settings.absence_months) <= on


def _failing_reason(
    req: Requirement,
    cert: Certificate,
    status: CertStatus,
    on: dt.date,
    item: ItemRef,
    who: Subject,
    certs_by_id: Mapping[int, Certificate],
) -> Reason:
    spec = STATUS_TABLE[status.status]
    params = {"number": cert.number, "item": item.label}
    subject = cert.number
    extra = {}
    if status.status == Status.EXPIRED:
        if on <= cert.valid_until:  # the registry says so before the printed expiry
            message = _("Certificate %(number)s (%(item)s): the registry says it has expired.")
        else:
            message = _("Certificate %(number)s (%(item)s) expired on %(date)s.")
        params["date"] = cert.valid_until
    elif status.status == Status.REVIEW_OVERDUE:
        message = _("Certificate %(number)s (%(item)s): the review due on %(date)s was not passed.")
        params["date"] = cert.next_review_due
    elif status.status == Status.VACUUM:
        old = certs_by_id[cert.predecessor_id]
        message = _(
            "Certificate %(old)s (%(item)s) ended on %(ended)s and its renewal %(new)s is valid "
            "only from %(starts)s: a vacuum period."
        )
        params.update(
            old=old.number, new=cert.number, ended=old.valid_until, starts=cert.valid_from
        )
        subject = f"{old.number} → {cert.number}"
        extra = {"ended_certificate_id": old.pk, "ended_certificate": old.number}
    elif status.status == Status.NOT_YET_VALID:
        message = _("Certificate %(number)s (%(item)s) is valid only from %(date)s.")
        params["date"] = cert.valid_from
    elif status.status in (Status.REVOKED, Status.CANCELLED):
        message = _("Certificate %(number)s (%(item)s): %(problem)s %(why)s")
        params.update(problem=spec.message, why=cert.state_reason)
    else:
        message = _("Certificate %(number)s (%(item)s): %(problem)s")
        params["problem"] = spec.message
    return Reason(
        spec.reason_code,
        (message % params).strip(),
        _clauses(req.clause, status.clause),
        subject,
        data=who.data(
            requirement=req.code,
            certificate_id=cert.pk,
            item=item.key,
            status=str(status.status),
            valid_until=cert.valid_until.isoformat(),
            requirement_clause=req.clause,
            rule_clause=status.clause,
            **extra,
        ),
    )


@dataclass(frozen=True)
class Judgement:
    """A requirement row judged for one crew member: the reasons (none blocking: met) and, for
    a certificate row, the record that meets it or came nearest (None: no record of its items)
    with its status."""

    reasons: list[Reason]
    certificate: Certificate | None = None
    status: CertStatus | None = None

    @property
    def met(self) -> bool:
        return not any(r.blocking for r in self.reasons)


def judge_certificates(
    req: Requirement,
    work: Work,
    who: Subject,
    *,
    certs: Sequence[Certificate],
    certs_by_id: Mapping[int, Certificate],
    items: ItemIndex,
    book: RuleBook,
    settings: RuleSettings,
    house_rules: Mapping[str, str],
) -> Judgement:
    """Met by any one usable certificate of the row's items on `work.on`; otherwise the best
    failing record with its status reason and the clauses of the row and the catalogue rule.
    The judgement names the record it was judged by (the coverage report shows it).
    `house_rules`: the clause of each house rule in force on `work.on`, by code.

    The matching: the row's items (patterns, placeholders), their equivalents where the site
    counts construction certificates, the restriction the work needs (crane kind), the one
    status function, the absence rule."""
    symbols = work.symbols
    absence_clause = house_rules.get(ABSENCE_RULE)
    wanted = items.resolve(req.items, symbols)
    if not wanted:
        return Judgement(
            [
                Reason(
                    "requirement.unknown_item",
                    _("Requirement %(code)s names no catalogue item for this work (%(items)s).")
                    % {"code": req.code, "items": ", ".join(req.items)},
                    req.clause,
                    who.label,
                    data=who.data(requirement=req.code, items=list(req.items)),
                )
            ]
        )
    equivalent = (
        items.equivalents_of(wanted) - wanted if settings.construction_counts_as_order30 else set()
    )
    candidates = [c for c in certs if c.item_id in wanted or c.item_id in equivalent]
    if not candidates:
        return Judgement(
            [
                Reason(
                    "cert.missing",
                    _("No certificate for: %(requirement)s") % {"requirement": req.description},
                    req.clause,
                    who.label,
                    data=who.data(requirement=req.code, items=list(req.items)),
                )
            ]
        )
    reasons: list[Reason] = []
    if req.match_restriction:
        needed = symbols.get(req.match_restriction)
        if needed is None:
            raise MissingAttribute(req.match_restriction)
        choices = (
            listed_choices(req.match_restriction)
            if "values" in attribute_table().get(req.match_restriction, {})
            else None
        )

        def kind(text: str) -> str:
            return (choices.canonical(text) if choices else None) or _norm(text)

        matching = [c for c in candidates if kind(c.restriction) == kind(str(needed))]
        if not matching:
            best = max(candidates, key=lambda c: c.valid_until)
            item = items.by_id[best.item_id]
            reason = Reason(
                "cert.restriction_mismatch",
                _(
                    "Certificate %(number)s (%(item)s) is restricted to %(restriction)s; "
                    "this work needs %(wanted)s."
                )
                % {
                    "number": best.number,
                    "item": item.label,
                    "restriction": best.restriction or "—",
                    "wanted": needed,
                },
                req.clause,
                best.number,
                data=who.data(
                    requirement=req.code,
                    certificate_id=best.pk,
                    item=item.key,
                    restriction=best.restriction,
                    wanted=needed,
                ),
            )
            return Judgement([reason], best)
        candidates = matching

    judged = [
        (
            c,
            status_of_held(
                c,
                work.on,
                book=book,
                certs_by_id=certs_by_id,
                settings=settings.status,
                held=certs,
            ),
        )
        for c in candidates
    ]
    usable = [(c, s) for c, s in judged if s.usable]
    if usable:

        def preference(pair):
            c, s = pair
            item = items.by_id[c.item_id]
            return (
                not _absent_too_long(c, item, work.on, settings, absence_clause),
                s.status != Status.UNVERIFIED,
                c.item_id in wanted,
                c.valid_until,
            )

        cert, status = max(usable, key=preference)
        item = items.by_id[cert.item_id]
        if _absent_too_long(cert, item, work.on, settings, absence_clause):
            reasons.append(
                Reason(
                    "cert.absence",
                    _(
                        "Certificate %(number)s (%(item)s): last practised on %(date)s, more than "
                        "%(months)s months ago; a practical re-examination comes first."
                    )
                    % {
                        "number": cert.number,
                        "item": item.label,
                        "date": cert.last_practised_on,
                        "months": settings.absence_months,
                    },
                    absence_clause,
                    cert.number,
                    data=who.data(
                        requirement=req.code,
                        certificate_id=cert.pk,
                        item=item.key,
                        last_practised_on=cert.last_practised_on.isoformat(),
                    ),
                )
            )
        if status.status == Status.UNVERIFIED:
            spec = STATUS_TABLE[Status.UNVERIFIED]
            reasons.append(
                Reason(
                    spec.reason_code,
                    _("Certificate %(number)s (%(item)s): %(problem)s")
                    % {"number": cert.number, "item": item.label, "problem": spec.message},
                    _clauses(req.clause, status.clause),
                    cert.number,
                    blocking=False,
                    data=who.data(requirement=req.code, certificate_id=cert.pk, item=item.key),
                )
            )
        if cert.item_id not in wanted:
            reasons.append(
                Reason(
                    "cert.equivalent",
                    _(
                        "Met by certificate %(number)s (%(item)s), which counts as equivalent on "
                        "this site."
                    )
                    % {"number": cert.number, "item": item.label},
                    _clauses(items.equivalents_clause, req.clause),
                    cert.number,
                    blocking=False,
                    data=who.data(requirement=req.code, certificate_id=cert.pk, item=item.key),
                )
            )
        return Judgement(reasons, cert, status)

    # None usable: the record that came nearest (latest in STATUS_TABLE precedence), then the
    # latest expiry; a renewal in its vacuum period therefore wins over its ended predecessor.
    cert, status = max(judged, key=lambda p: (p[1].spec.precedence, p[0].valid_until))
    item = items.by_id[cert.item_id]
    return Judgement(
        [_failing_reason(req, cert, status, work.on, item, who, certs_by_id)], cert, status
    )


# --- medical rows --------------------------------------------------------------------------------


def medical_valid_until(
    check: HealthCheck, medical_item: ItemRef | None, book: RuleBook
) -> tuple[dt.date | None, str]:
    """(last valid day, clause of the default): the record's own `valid_until`, else the MEDICAL
    item's rule validity from the day of the check (None when neither is known)."""
    if check.valid_until is not None:
        return check.valid_until, ""
    if medical_item is None:
        return None, ""
    rule = book.rule_for(medical_item.scheme_id, medical_item.id, check.checked_on)
    if rule is None or not rule.validity_months:
        return None, ""
    end = add_months(check.checked_on, rule.validity_months) - dt.timedelta(days=1)
    return end, rule.clause


def _restricted_by_height(
    check: HealthCheck, work: Work, work_types: Mapping[str, WorkType]
) -> tuple[WorkType, float] | None:
    """A restricted work type defined by height (height work: from 2 m, GB 30871-2022 3.8) that
    rules out this other work because it is done at that height or more (hot work at 3 m), with
    the height. Raises MissingAttribute when the height would decide it but is not given."""
    restricted = check.restricted_work_types or []
    if work.work_type.code in restricted:
        return None  # ruled out as itself
    for code in restricted:
        wt = work_types.get(code)
        if wt is None or wt.from_height_m is None:
            continue
        if "height_m" not in work.attrs:
            raise MissingAttribute("height_m")
        height = float(work.attrs["height_m"])
        if height >= float(wt.from_height_m):
            return wt, height
    return None


def medical_reasons(
    req: Requirement,
    work: Work,
    who: Subject,
    *,
    checks: Sequence[HealthCheck],
    medical_item: ItemRef | None,
    book: RuleBook,
    contractor_max_age_months: int | None,
    contractor_clause: str = "",
    work_types: Mapping[str, WorkType] | None = None,
) -> list[Reason]:
    """The latest check on or before `on`: present, within validity, fit, no restriction for this
    work type, nor for a type defined by height when the work is at that height (`work_types`:
    the catalogue's types by code); for contractor staff (`contractor_max_age_months` given, with
    the clause of the house rule that asks it) also recent enough."""
    work_types = work_types or {}
    latest = next((c for c in sorted(checks, key=lambda c: c.checked_on, reverse=True)
                   if c.checked_on <= work.on), None)  # fmt: skip
    if latest is None:
        return [
            Reason(
                "medical.missing",
                _("No medical check on or before %(date)s.") % {"date": work.on},
                req.clause,
                who.label,
                data=who.data(requirement=req.code),
            )
        ]
    reasons = []
    data = who.data(
        requirement=req.code, health_check_id=latest.pk, checked_on=latest.checked_on.isoformat()
    )
    until, default_clause = medical_valid_until(latest, medical_item, book)
    if until is None:
        reasons.append(
            Reason(
                "check.cannot_decide",
                _("The medical check of %(date)s has no end of validity and no default applies.")
                % {"date": latest.checked_on},
                req.clause,
                who.label,
                data=data,
            )
        )
    elif work.on > until:
        reasons.append(
            Reason(
                "medical.expired",
                _("The medical check of %(date)s was valid until %(until)s.")
                % {"date": latest.checked_on, "until": until},
                _clauses(req.clause, default_clause),
                who.label,
                data={**data, "valid_until": until.isoformat()},
            )
        )
    if latest.conclusion == HealthConclusion.UNFIT:
        reasons.append(
            Reason(
                "medical.unfit",
                (
                    _("The medical check of %(date)s found the person unfit for work. %(why)s")
                    % {"date": latest.checked_on, "why": latest.restriction_reason}
                ).strip(),
                req.clause,
                who.label,
                data=data,
            )
        )
    elif (by_height := _restricted_by_height(latest, work, work_types)) is not None:
        wt, height = by_height
        reasons.append(
            Reason(
                "medical.restricted",
                (
                    _(
                        "The medical check of %(date)s rules out %(restricted)s, and work at "
                        "%(height)s m is %(restricted)s (from %(from)s m): %(why)s"
                    )
                    % {
                        "date": latest.checked_on,
                        "restricted": wt.name,
                        "height": f"{height:g}",
                        "from": f"{float(wt.from_height_m):g}",
                        "why": latest.restriction_reason or _("no reason given"),
                    }
                ).strip(),
                _clauses(req.clause, wt.height_clause),
                who.label,
                data={
                    **data,
                    "restriction_reason": latest.restriction_reason,
                    "restricted_work_type": wt.code,
                    "height_m": height,
                },
            )
        )
    elif work.work_type.code in (latest.restricted_work_types or []):
        reasons.append(
            Reason(
                "medical.restricted",
                (
                    _("The medical check of %(date)s rules out %(work)s: %(why)s")
                    % {
                        "date": latest.checked_on,
                        "work": work.work_type.name,
                        "why": latest.restriction_reason or _("no reason given"),
                    }
                ).strip(),
                req.clause,
                who.label,
                data={**data, "restriction_reason": latest.restriction_reason},
            )
        )
    if contractor_max_age_months is not None:
        # "dated at most 3 months before": checked 2026-03-01 still serves on 2026-06-01.
        age = (work.on - latest.checked_on).days
        if latest.checked_on + relativedelta(months=contractor_max_age_months) < work.on:
            reasons.append(
                Reason(
                    "medical.contractor_too_old",
                    _(
                        "Contractor staff need a medical check at most %(months)s months old on "
                        "the day of work; the latest is of %(date)s (%(age)s days)."
                    )
                    % {"months": contractor_max_age_months, "date": latest.checked_on, "age": age},
                    _clauses(req.clause, contractor_clause),
                    who.label,
                    data={**data, "age_days": age, "max_age_months": contractor_max_age_months},
                )
            )
    return reasons


def requirement_reasons(
    req: Requirement,
    work: Work,
    who: Subject,
    *,
    certs: Sequence[Certificate],
    certs_by_id: Mapping[int, Certificate],
    checks: Sequence[HealthCheck],
    items: ItemIndex,
    medical_item: ItemRef | None,
    book: RuleBook,
    settings: RuleSettings,
    house_rules: Mapping[str, str],
    is_contractor_staff: bool,
    work_types: Mapping[str, WorkType] | None = None,
) -> list[Reason]:
    """Reasons one applicable row gives (certificate or medical kind)."""
    return judge_requirement(
        req,
        work,
        who,
        certs=certs,
        certs_by_id=certs_by_id,
        checks=checks,
        items=items,
        medical_item=medical_item,
        book=book,
        settings=settings,
        house_rules=house_rules,
        is_contractor_staff=is_contractor_staff,
        work_types=work_types,
    ).reasons


def judge_requirement(
    req: Requirement,
    work: Work,
    who: Subject,
    *,
    certs: Sequence[Certificate],
    certs_by_id: Mapping[int, Certificate],
    checks: Sequence[HealthCheck],
    items: ItemIndex,
    medical_item: ItemRef | None,
    book: RuleBook,
    settings: RuleSettings,
    house_rules: Mapping[str, str],
    is_contractor_staff: bool,
    work_types: Mapping[str, WorkType] | None = None,
) -> Judgement:
    """One applicable row judged for one crew member: the engine's answer (`check`) and the
    coverage report's. `house_rules`: the clause of each house rule in force on `work.on`, by
    code; a rule not in it is not applied. Raises MissingAttribute when the work lacks an
    attribute it needs."""
    if req.kind == RequirementKind.MEDICAL:
        contractor_clause = house_rules.get(CONTRACTOR_MEDICAL_RULE)
        return Judgement(
            medical_reasons(
                req,
                work,
                who,
                checks=checks,
                medical_item=medical_item,
                book=book,
                work_types=work_types,
                contractor_max_age_months=(
                    settings.contractor_medical_max_age_months
                    if is_contractor_staff and contractor_clause is not None
                    else None
                ),
                contractor_clause=contractor_clause or "",
            )
        )
    return judge_certificates(
        req,
        work,
        who,
        certs=certs,
        certs_by_id=certs_by_id,
        items=items,
        book=book,
        settings=settings,
        house_rules=house_rules,
    )
