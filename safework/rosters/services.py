"""The roster forward check (CERT-09): will each person on a work schedule be qualified on the
day they are rostered?

A roster is read from xlsx, csv (the bounded reader of every uploaded table, `core.tabular`) or
JSON entries: one row per person, date, work type, level, crew role, with optional site and
attributes. `read_roster_file` turns a file into raw rows (header synonyms matched as every table's
are, `core.cells`: 身份证号/身份证号码, 日期/作业日期, 作业类型, 级别, 角色, …);
`validate_rows` checks every row and either gives entries or every row error with its row number
(→ 422, nothing stored); `create_roster` stores the roster with its author, who is the one to be
told about problems; `roster_problems` asks the qualification engine about every entry (facts
read once for the whole roster) and lists those that will not be qualified, with reasons.

Work types, levels and roles are taken by code or by their Chinese name from the catalogue rows
(动火作业 → hot_work, 一级 → level1, 监护人 → guardian).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from safework.core import audit, cells, tabular
from safework.core.errors import FieldError, InvalidInput
from safework.core.refusals import Decision
from safework.org.models import Site
from safework.people.masking import mask_id_number
from safework.people.models import Person
from safework.people.rules import IdNumberError, parse_id_number
from safework.people.services import _id_message as id_message
from safework.qualification import engine as qualification
from safework.qualification.requirements import ATTRIBUTES, Work, parse_attrs
from safework.rosters.models import Roster, RosterEntry
from safework.work.models import CrewRole, WorkLevel, WorkType

MAX_ROWS = 10_000
MAX_ERRORS = 1_000  # row errors listed in one answer
MESSAGE_CHARS = 500

# Column → accepted headers (compared as `core.cells.normalise_header` does: NFKC, case, spaces and
# a bracketed remark ignored).
COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "证件号码", "idnumber", "id_number"),
    "person_id": ("人员编号", "人员id", "personid", "person_id", "person"),
    "name": ("姓名", "name"),
    "on": ("日期", "作业日期", "排班日期", "date", "on"),
    "work_type": ("作业类型", "作业类别", "worktype", "work_type"),
    "level": ("级别", "作业级别", "等级", "level"),
    "role": ("角色", "作业角色", "crewrole", "crew_role", "role"),
    "site": ("厂区", "厂区代码", "site", "site_code", "site_id"),
    "attrs": ("属性", "作业属性", "attrs", "attributes"),
    "height_m": ("高度", "作业高度", "高度(m)", "作业高度(m)", "height_m"),
    "hot_work_method": ("动火方式", "hot_work_method"),
    "height_task": ("高处作业内容", "height_task"),
    "crane_kind": ("起重机种类", "起重机类型", "crane_kind"),
    "process": ("工艺", "危险化工工艺", "process"),
    "forklift_area": ("叉车区域", "区域内驾驶叉车", "forklift_area"),
}
REQUIRED = ("on", "work_type", "role")
HEADERS = cells.HeaderSynonyms(COLUMNS)


@dataclass(frozen=True)
class RawRow:
    """One row as read: its number for people (a file's row number, header = 1; the n-th JSON
    entry), its key in error field names (the row number; a JSON entry's index) and its values
    by column."""

    number: int
    values: Mapping[str, object]
    key: int | None = None

    @property
    def field(self) -> int:
        return self.number if self.key is None else self.key


@dataclass(frozen=True)
class EntryIn:
    """A validated roster row, ready to store and to check."""

    number: int
    person: Person
    on: dt.date
    work_type: WorkType
    level: WorkLevel | None
    role: CrewRole
    site: Site | None
    attrs: dict = field(default_factory=dict)


def _error(where: str, number: int, code: str, message: str) -> FieldError:
    # A message quotes the cell (a date that is not one, a site that does not exist): cut it.
    problem = tabular.clip(message, MESSAGE_CHARS)
    return FieldError(
        where, code, _("Row %(row)s: %(problem)s") % {"row": number, "problem": problem}
    )


# --- reading files --------------------------------------------------------------------------------


# The roster reads with the bounded reader of every uploaded table (cell and text limits, zip
# checks, CSV line limits): a hostile workbook is refused before calamine reads it. Its codes, as
# the roster always named them; the bounds keep the reader's own codes (file.cell_too_long, …).
_FILE_CODES = {
    "file.extension": "file_type",
    "file.encoding": "encoding",
    "file.empty": "empty",
    "file.corrupt": "unreadable",
    "file.encrypted": "unreadable",
}


def _table(data: bytes, filename: str) -> list[list]:
    try:
        return tabular.first_sheet_rows(data, filename)
    except tabular.FileProblem as p:
        raise InvalidInput(FieldError("file", _FILE_CODES.get(p.code, p.code), p.message))


def read_roster_file(data: bytes, filename: str) -> list[RawRow]:
    """The rows of an xlsx or csv roster, by column, numbered as in the file.

    The header is the first row naming the date, work type and role columns (title rows above it
    are skipped); columns with unknown headers (序号, 备注, …) are ignored; empty rows are
    skipped.
    """
    if not filename.lower().endswith(tuple(tabular.SHEET_KINDS)):
        raise InvalidInput(
            FieldError("file", "file_type", _("Upload an .xlsx or .csv file (or JSON entries)."))
        )
    table = _table(data, filename)
    if all(cells.is_blank(c) for row in table for c in row):
        raise InvalidInput(FieldError("file", "empty", _("The file holds no rows.")))
    header = HEADERS.find(table, REQUIRED)
    columns = header.columns if header else {}
    missing = [c for c in REQUIRED if c not in columns]
    if not columns.keys() & {"id_number", "person_id"}:
        missing.insert(0, "id_number")
    if missing:
        raise InvalidInput(
            FieldError(
                "file",
                "missing_column",
                _("Missing columns: %(columns)s (e.g. 身份证号, 日期, 作业类型, 级别, 角色).")
                % {"columns": ", ".join(missing)},
            )
        )
    rows = []
    for offset, row in enumerate(table[header.index + 1 :], start=header.index + 2):
        values = {
            column: row[idx]
            for column, idx in columns.items()
            if idx < len(row) and not cells.is_blank(row[idx])
        }
        if values:
            rows.append(RawRow(offset, values))
    return rows


def rows_from_entries(entries: Sequence[Mapping]) -> list[RawRow]:
    """JSON entries ({person_id | id_number, on, work_type, level, role, site_id?, attrs?}) as rows:
    entry i (from 0) is row i + 1 for people and `entries.i` in field names."""
    rows = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise InvalidInput(FieldError(f"entries.{i}", "invalid_type", _("Must be an object.")))
        values = dict(entry)
        if "date" in values and "on" not in values:
            values["on"] = values.pop("date")
        if "site_id" in values and "site" not in values:
            values["site"] = values.pop("site_id")
        values = {k: v for k, v in values.items() if v is not None and v != ""}
        rows.append(RawRow(i + 1, values, key=i))
    return rows


# --- validating rows ------------------------------------------------------------------------------


def _parse_attr_cell(value) -> dict:
    """ "height_m=3; hot_work_method=welding" or a JSON object."""
    if isinstance(value, Mapping):
        return dict(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(text)
        return data
    out = {}
    for part in re.split(r"[;,\n]", text):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if not sep:
            raise ValueError(part)
        out[key.strip()] = val.strip()
    return out


def _site_lookup(rows: Iterable[RawRow]) -> dict[str, Site]:
    wanted = {cells.text(r.values["site"]) for r in rows if "site" in r.values}
    if not wanted:
        return {}
    ids = [int(w) for w in wanted if w.isdigit()]
    out = {}
    for s in Site.objects.filter(Q(code__in=wanted) | Q(pk__in=ids)):
        out[s.code] = s
        out[str(s.pk)] = s
    return out


def _person_lookup(rows: Sequence[RawRow], persons: QuerySet[Person]):
    numbers, ids = set(), set()
    for r in rows:
        if "id_number" in r.values and isinstance(r.values["id_number"], str):
            with contextlib.suppress(IdNumberError):
                numbers.add(parse_id_number(r.values["id_number"]).value)
        elif "person_id" in r.values:
            text = cells.text(r.values["person_id"])
            if text.isdigit():
                ids.add(int(text))
    found = persons.filter(Q(id_number__in=numbers) | Q(pk__in=ids)) if numbers or ids else []
    by_number, by_id = {}, {}
    for p in found:
        by_number[p.id_number] = p
        by_id[p.pk] = p
    return by_number, by_id


def name_problem(given, person: Person, shown_id_number: Callable[[str], str]) -> str | None:
    """Why the name a row gives is not the name of the person its ID number (or person id) finds,
    or None when it is: the project's name matching (NFKC, spaces and middle dots, pinyin under
    any heteronym reading, a former name), as for the registry. The ID number is shown as the
    viewer may see it; the other person's name is not shown."""
    from safework.registry.verification import match_name

    text = cells.text(given)
    if not text:
        return None  # no name given: nothing to compare
    if match_name(text, person.name, former_names=person.former_names or ()) is not None:
        return None
    return _(
        "The ID number %(id_number)s belongs to someone else, not to %(name)s (the name given); "
        "check the row."
    ) % {"id_number": shown_id_number(person.id_number), "name": text}


def validate_rows(
    rows: Sequence[RawRow],
    *,
    persons: QuerySet[Person],
    site: Site | None = None,
    prefix: str = "rows",
    shown_id_number: Callable[[str], str] = mask_id_number,
) -> list[EntryIn]:
    """Every row checked; InvalidInput listing every bad row (field `rows.<n>.<column>`, the
    message naming the row) when any is bad. `persons` is what the caller may see: a person
    outside it is "unknown", as one who does not exist. A row whose name is not its ID number's
    person is an error (`name_mismatch`), never checked as that other person; ID numbers in
    messages go through `shown_id_number` (default: masked)."""
    if not rows:
        raise InvalidInput(FieldError(prefix, "empty", _("The roster has no entries.")))
    if len(rows) > MAX_ROWS:
        raise InvalidInput(
            FieldError(prefix, "too_many", _("At most %(n)s rows.") % {"n": MAX_ROWS})
        )
    cat = qualification.catalogue()
    processes = cat.items.process_choices()
    sites = _site_lookup(rows)
    by_number, by_id = _person_lookup(rows, persons)
    entries, errors = [], []
    for row in rows:
        n, v = row.number, row.values
        here = f"{prefix}.{row.field}"
        problems = []

        def bad(column, code, message, problems=problems, here=here, n=n):
            problems.append(_error(f"{here}.{column}", n, code, message))

        person = None
        if "id_number" in v:
            raw = v["id_number"]
            if not isinstance(raw, str):
                bad(
                    "id_number",
                    "id_number.as_number",
                    _("The ID number is stored as a number (digits or the X may be lost); "
                      "format the column as text."),
                )  # fmt: skip
            else:
                try:
                    number = parse_id_number(raw).value
                except IdNumberError as exc:
                    bad(
                        "id_number",
                        exc.code,
                        _("The ID number is not valid (%(e)s).") % {"e": id_message(exc)},
                    )
                else:
                    person = by_number.get(number)
                    if person is None:
                        bad("id_number", "unknown_person", _("No such person."))
        elif "person_id" in v:
            text = cells.text(v["person_id"])
            person = by_id.get(int(text)) if text.isdigit() else None
            if person is None:
                bad("person_id", "unknown_person", _("No such person."))
        else:
            bad("id_number", "required", _("Give the ID number or the person id."))
        problem = (
            name_problem(v["name"], person, shown_id_number) if person and "name" in v else None
        )
        if problem is not None:
            bad("name", "name_mismatch", problem)

        on = None
        try:
            on = cells.date_value(v.get("on"))
        except cells.ValueProblem as p:
            # The cell as written, unless it is a date outside the years a table may hold.
            message = p.message if p.code == "date.out_of_range" else None
            bad("on", "invalid_date", message or _("Not a date: %(v)s.") % {"v": v["on"]})
        else:
            if on is None:
                bad("on", "required", _("The date is required."))

        work_type = level = role = None
        if "work_type" not in v:
            bad("work_type", "required", _("The work type is required."))
        else:
            try:
                work_type = cat.work_type(cells.text(v["work_type"]), field_name="work_type")
                level = cat.level(work_type, cells.text(v.get("level", "")), field_name="level")
            except InvalidInput as exc:
                for e in exc.errors:
                    bad(e.field, e.code, e.message)
        if "role" not in v:
            bad("role", "required", _("The crew role is required."))
        else:
            try:
                role = cat.role(cells.text(v["role"]), field_name="role")
            except InvalidInput as exc:
                for e in exc.errors:
                    bad(e.field, e.code, e.message)

        row_site = site
        if "site" in v:
            row_site = sites.get(cells.text(v["site"]))
            if row_site is None:
                bad("site", "unknown_site", _("No such site: %(v)s.") % {"v": v["site"]})

        raw_attrs = {}
        if "attrs" in v:
            try:
                raw_attrs.update(_parse_attr_cell(v["attrs"]))
            except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
                bad("attrs", "invalid", _("Write attributes as name=value; name=value."))
        for name in ATTRIBUTES:
            if name in v:
                value = v[name]
                raw_attrs[name] = cells.text(value) if not isinstance(value, bool) else value
        try:
            attrs = parse_attrs(raw_attrs, field_prefix="attrs", processes=processes)
        except InvalidInput as exc:
            attrs = {}
            for e in exc.errors:
                bad(e.field, e.code, e.message)

        if problems:
            errors += problems
            continue
        entries.append(EntryIn(n, person, on, work_type, level, role, row_site, attrs))
    if errors:
        raise InvalidInput(_bounded(errors, prefix))
    return entries


def _bounded(errors: list[FieldError], prefix: str) -> list[FieldError]:
    """At most MAX_ERRORS row errors in an answer, then one saying how many more there are."""
    if len(errors) <= MAX_ERRORS:
        return errors
    more = len(errors) - MAX_ERRORS
    return errors[:MAX_ERRORS] + [
        FieldError(
            prefix,
            "too_many_errors",
            _("%(n)s more row errors are not listed; correct these and upload again.")
            % {"n": more},
        )
    ]


# --- storing and checking -------------------------------------------------------------------------


@transaction.atomic(durable=True)
def create_roster(*, name: str, author, site: Site | None, entries: Sequence[EntryIn]) -> Roster:
    """Store a validated roster and its entries; the author is who will be told of problems."""
    roster = Roster.objects.create(name=name[:200], author=author, site=site)
    RosterEntry.objects.bulk_create(
        RosterEntry(
            roster=roster,
            person=e.person,
            on=e.on,
            work_type=e.work_type,
            level=e.level,
            crew_role=e.role,
            site=e.site,
            attrs=e.attrs,
        )
        for e in entries
    )
    audit.record(
        action="roster.created",
        target=roster,
        actor=author,
        after={**audit.snapshot(roster), "entries": len(entries)},
    )
    return roster


@dataclass(frozen=True)
class Problem:
    """An entry whose person will not be qualified on its date, and why."""

    entry: RosterEntry
    decision: Decision


def _question(entry, cat) -> qualification.Question:
    role = cat.roles[entry.crew_role_id]
    work = Work(
        cat.work_types[entry.work_type_id],
        next(
            (lv for lv in cat.levels.get(entry.work_type_id, []) if lv.pk == entry.level_id), None
        ),
        role,
        entry.on,
        dict(entry.attrs or {}),
    )
    return qualification.Question(entry.person_id, work, entry.site_id)


def check_entries(entries: Sequence) -> list[Decision]:
    """The engine's decision for each entry (stored RosterEntry rows or EntryIn) on its date,
    with all facts read once for the whole roster."""
    cat = qualification.catalogue()
    questions = []
    for e in entries:
        if isinstance(e, EntryIn):
            work = Work(e.work_type, e.level, e.role, e.on, e.attrs)
            questions.append(
                qualification.Question(e.person.pk, work, e.site.pk if e.site else None)
            )
        else:
            questions.append(_question(e, cat))
    return qualification.answer(questions, cat=cat)


def roster_problems(roster: Roster) -> list[Problem]:
    """Every entry whose person will NOT be qualified on that date, in date order."""
    entries = list(
        roster.entries.select_related("person", "work_type", "level", "crew_role", "site").order_by(
            "on", "id"
        )
    )
    decisions = check_entries(entries)
    return [Problem(e, d) for e, d in zip(entries, decisions, strict=True) if not d.allowed]
