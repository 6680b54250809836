"""Check a ledger: every row's errors, then what the import would write. Nothing is written here.

Set-based: the catalogue, contractors, departments and positions are read once; persons,
certificates, reviews and health checks of the file are read in a few chunked queries. Every
row's every error is collected (a file of 10,000 bad rows answers with all of them).

Against the database: a certificate with the same natural key (scheme, item, number, issue date)
and the same data is unchanged; one that adds what the database lacks (first-issue date, issuing
authority, a review, a later expiry where the scheme extends certificates) is updated; any other
difference, or another holder, is a row error. A person whose name differs from the registered
name (or former names) for that ID number is a row error.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from safework.certs.models import Certificate, CertificateEvent, EventKind
from safework.certs.rules import (
    RuleBook,
    bounded_valid_until,
    capped_message,
    expiry_by_rule,
    first_unpassed_review,
    review_due_dates,
)
from safework.core.scope import Scope
from safework.core.tabular import Table, cell_ref
from safework.core.text import CONTROL as _CONTROL
from safework.core.text import control_character_error, has_control_characters
from safework.ledger import columns as cols
from safework.ledger import values as val
from safework.ledger.items import ItemResolver
from safework.ledger.plan import (
    ERROR,
    NOTE,
    REVIEW,
    CertIn,
    CertUpdate,
    HealthIn,
    Issue,
    NewPerson,
    Plan,
    RowIn,
)
from safework.org.models import Group, Position, Site
from safework.org.queries import departments_visible_to
from safework.people.models import (
    Contractor,
    Education,
    HealthCheck,
    HealthConclusion,
    Person,
)
from safework.people.queries import contractors_visible_to, persons_visible_to
from safework.people.services import minimum_age_errors, minimum_working_age
from safework.work.models import WorkType

CHUNK = 5000  # ids per IN (...) query
PROGRESS_EVERY = 2000

EDUCATION = {
    Education.PRIMARY: ("小学",),
    Education.JUNIOR: ("初中", "初级中学"),
    Education.SENIOR: ("高中", "中专", "职高", "技校", "中技", "高级中学", "中等专业学校"),
    Education.COLLEGE: ("大专", "专科", "高职"),
    Education.BACHELOR: ("本科", "大学", "大学本科", "学士"),
    Education.POSTGRADUATE: ("研究生", "硕士", "博士", "硕士研究生", "博士研究生"),
}
OWN_WORDS = ("本单位", "本公司", "本厂", "本企业", "自有", "自有员工", "内部")
CONCLUSIONS = {
    HealthConclusion.FIT: ("合格", "正常", "适合", "未见异常", "健康", "可从事", "FIT"),
    HealthConclusion.RESTRICTED: ("限制", "有条件合格", "基本合格", "合格(限制)", "RESTRICTED"),
    HealthConclusion.UNFIT: ("不合格", "不适合", "不宜", "禁止", "UNFIT"),
}


def _key(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


_EDUCATION = {_key(w): code for code, words in EDUCATION.items() for w in words}
_CONCLUSION = {_key(w): code for code, words in CONCLUSIONS.items() for w in words}


@dataclass(slots=True)
class CertFacts:
    """The attributes of a certificate that the review rules read (no model instance needed)."""

    scheme_id: int
    item_id: int
    issued_on: dt.date
    valid_until: dt.date
    long_review_interval: bool = False


def implied_reviews(book: RuleBook, facts: CertFacts, on: dt.date) -> list[tuple[dt.date, dt.date]]:
    """(due_on, passed_on) of the reviews a ledger's "last review" date implies: the review it
    was (the first due date on or after it, else the last one: a late review) and every earlier
    one, since without them the certificate could not have been reviewed again. Empty when no
    review falls due (Order No. 19, TSG and construction extensions)."""
    dues = [d for d, _rule in review_due_dates(facts, book)]
    if not dues:
        return []
    matched = next((d for d in dues if on <= d), dues[-1])
    return [(d, d) for d in dues if d < matched] + [(matched, on)]


class Context:
    """What checking needs, read once: the uploader's scope, lookups, the rule book, today."""

    def __init__(
        self,
        *,
        scope: Scope,
        today: dt.date,
        contractor: Contractor | None = None,
        self_service: bool = False,
    ):
        self.scope = scope
        self.today = today
        self.contractor = contractor
        self.self_service = self_service
        self.resolver = ItemResolver()
        self.book = RuleBook.load()
        self.minimum_age = minimum_working_age()  # a setting: one read, not one per row
        self.contractors: dict[str, list[int]] = {}
        for c in contractors_visible_to(scope).only("pk", "name", "uscc"):
            for k in {_key(c.name), _key(c.uscc)}:
                self.contractors.setdefault(k, []).append(c.pk)
        self.departments: dict[str, list[int]] = {}
        self.department_paths: dict[int, str] = {}
        for d in self._departments().only("pk", "name", "code", "path"):
            self.department_paths[d.pk] = d.path
            for k in {_key(d.name), _key(d.code)}:
                self.departments.setdefault(k, []).append(d.pk)
        # A unit column naming the enterprise itself (or one of its sites) means own staff, not a
        # contractor; one naming a department or team means own staff of that department.
        self.own_names = (
            {_key(w) for w in OWN_WORDS}
            | {_key(name) for name in Group.objects.values_list("name", flat=True)}
            | {_key(name) for name in Site.objects.values_list("name", flat=True)}
        )
        self.positions: dict[str, list[int]] = {}
        for p in Position.objects.filter(is_active=True).only("pk", "name", "code"):
            for k in {_key(p.name), _key(p.code)}:
                self.positions.setdefault(k, []).append(p.pk)
        self.work_types = [
            (wt.code, wt.name.removesuffix("作业")) for wt in WorkType.objects.order_by("order")
        ]

    def _departments(self):
        return departments_visible_to(self.scope).filter(is_active=True).select_related(None)


def _one(found: list[int] | None, what: str, value) -> int:
    """The one record a name or code names; `what` is the canonical column."""
    words = {"what": cols.label(what), "value": val.text(value)}
    if not found:
        raise val.ValueProblem(f"{what}.unknown", _("Unknown %(what)s “%(value)s”.") % words)
    if len(found) > 1:
        raise val.ValueProblem(
            f"{what}.ambiguous",
            _("Several records of %(what)s are called “%(value)s”; use the code.") % words,
        )
    return found[0]


class LedgerCheck:
    """Checks the rows of one table under one header map."""

    def __init__(self, table: Table, hmap: cols.HeaderMap, ctx: Context):
        self.table, self.hmap, self.ctx = table, hmap, ctx
        self.plan = Plan()
        used = {idx for canonical, idx in hmap.columns.items() if canonical not in cols.IGNORED}
        self._formulas: dict[int, list[int]] = {}
        for r, c in table.formula_cells:
            if c in used and r > hmap.row_index:
                self._formulas.setdefault(r, []).append(c)
        self._col = hmap.columns
        self._used = sorted(used)

    # ---- per row ------------------------------------------------------------------------------

    def _issue(self, r: RowIn, canonical: str | None, raw, code: str, message: str, level="error"):
        idx = self._col.get(canonical) if canonical else None
        issue = Issue(
            row=r.line,
            column=self.hmap.header_of(canonical) if canonical else "",
            cell=cell_ref(r.line - 1, idx) if idx is not None else "",
            # Shown without its control characters: the error file and PostgreSQL's JSON
            # cannot hold them.
            value="" if raw is None else _CONTROL.sub("", val.text(raw))[:200],
            code=code,
            message=str(message),
            level=level,
        )
        (r.errors if level == ERROR else r.notes).append(issue)

    def parse_row(self, index: int, row: list) -> RowIn | None:
        """The row's values, or None for a blank row. Errors are collected on the row."""
        width = len(row)

        def get(canonical):
            idx = self._col.get(canonical)
            return row[idx] if idx is not None and idx < width else None

        if index not in self._formulas and all(
            val.is_blank(row[i]) for i in self._used if i < width
        ):
            return None
        r = RowIn(line=index + 1)
        for c in self._formulas.get(index, ()):
            canonical = next(k for k, v in self._col.items() if v == c)
            r.errors.append(
                Issue(
                    row=r.line,
                    column=self.hmap.headers[c],
                    cell=cell_ref(index, c),
                    value=val.text(row[c])[:200] if c < width else "",
                    code="cell.formula",
                    message=_(
                        "Cell %(cell)s holds a formula; paste the values instead (%(column)s)."
                    )
                    % {"cell": cell_ref(index, c), "column": cols.label(canonical)},
                )
            )
        self._control_characters(r, get)
        self._person(r, get)
        if self.hmap.has_certificates:
            self._certificate(r, get)
        if self.hmap.has_health:
            self._health(r, get)
        if index in self._formulas:
            # The formula is the finding; what its (often missing) cached value fails is noise.
            formula_cells = {e.cell for e in r.errors if e.code == "cell.formula"}
            r.errors = [
                e for e in r.errors if e.code == "cell.formula" or e.cell not in formula_cells
            ]
        return r

    # Names, ID numbers and certificate numbers are one line; other cells may keep line breaks.
    _ONE_LINE = frozenset({"name", "id_number", "former_names", "number"})

    def _control_characters(self, r: RowIn, get):
        """A cell with a control character (NUL, BEL, …) is a row error, never stored."""
        for canonical in self._col:
            if canonical in cols.IGNORED:
                continue
            raw = get(canonical)
            if isinstance(raw, str) and has_control_characters(
                raw, multiline=canonical not in self._ONE_LINE
            ):
                error = control_character_error(canonical)
                self._issue(r, canonical, raw, error.code, error.message)

    def _born(self, r: RowIn, raw):
        """A birth date after today, or a person under the minimum working age today (an
        import employs the people it creates from today): row errors."""
        if r.birth_date > self.ctx.today:
            self._issue(
                r,
                "id_number",
                raw,
                "id_number.birth_date_future",
                _("The birth date in the ID number is in the future."),
            )
        else:
            for e in minimum_age_errors(
                r.birth_date, self.ctx.today, "id_number", minimum_age=self.ctx.minimum_age
            ):
                self._issue(r, "id_number", raw, e.code, e.message)

    def _person(self, r: RowIn, get):
        raw = get("id_number")
        if val.is_blank(raw):
            self._issue(r, "id_number", raw, "id_number.required", _("The ID number is required."))
        else:
            try:
                parsed = val.id_number(raw)
                r.id_number, r.birth_date, r.gender = (
                    parsed.value,
                    parsed.birth_date,
                    parsed.gender,
                )
                self._born(r, raw)
                if parsed.converted_from_15:
                    self._issue(
                        r,
                        "id_number",
                        raw,
                        "id_number.converted_15",
                        _("A 15-digit ID number, converted to %(value)s.")
                        % {"value": parsed.value},
                        level=NOTE,
                    )
            except val.ValueProblem as p:
                self._issue(r, "id_number", raw, p.code, p.message)
        r.name = val.name(get("name"))
        if not r.name:
            self._issue(r, "name", get("name"), "name.required", _("The name is required."))
        if "former_names" in self._col:
            text = val.text(get("former_names"))
            for sep in "，、;；/":
                text = text.replace(sep, ",")
            r.former_names = [n for n in (val.name(x) for x in text.split(",")) if n]
        if "phone" in self._col:
            r.phone = val.text(get("phone"))[:30]
        if "education" in self._col and not val.is_blank(get("education")):
            code = _EDUCATION.get(_key(val.text(get("education"))))
            if code is None:
                self._issue(
                    r,
                    "education",
                    get("education"),
                    "education.unknown",
                    _("Unknown education level (小学, 初中, 高中/中专, 大专, 本科, 研究生)."),
                )
            else:
                r.education = code
        ctx = self.ctx
        unit_department = self._unit(r, get("contractor"))
        raw = get("department")
        if not val.is_blank(raw):
            try:
                if ctx.self_service:
                    raise val.ValueProblem(
                        "department.not_for_contractor",
                        _("Contractor staff have no department of the enterprise."),
                    )
                r.department_id = _one(ctx.departments.get(_key(val.text(raw))), "department", raw)
            except val.ValueProblem as p:
                self._issue(r, "department", raw, p.code, p.message)
        if unit_department is not None and (r.department_id is not None or val.is_blank(raw)):
            unit_path = ctx.department_paths[unit_department]
            dept_path = ctx.department_paths.get(r.department_id, "")
            if dept_path.startswith(unit_path):
                pass  # the department column is the unit or a team inside it: more precise
            elif r.department_id is None or unit_path.startswith(dept_path):
                r.department_id = unit_department
            else:
                self._issue(
                    r,
                    "department",
                    raw,
                    "department.conflict",
                    _("The department is not part of the unit %(unit)s named in the same row.")
                    % {"unit": val.text(get("contractor"))},
                )
        raw = get("position")
        if not val.is_blank(raw):
            try:
                r.position_id = _one(ctx.positions.get(_key(val.text(raw))), "position", raw)
            except val.ValueProblem as p:
                self._issue(r, "position", raw, p.code, p.message)

    def _unit(self, r: RowIn, raw) -> int | None:
        """Read the unit column (单位): a contractor (its id goes on the row), the enterprise
        itself or one of its sites (own staff), or one of its departments or teams (own staff;
        that department's id is returned). Anything else is a row error."""
        ctx = self.ctx
        if val.is_blank(raw):
            return None
        key = _key(val.text(raw))
        if key in ctx.own_names:
            # In a contractor's upload "本公司" is the contractor itself (ctx.contractor).
            r.own_staff = not ctx.self_service
            return None
        contractors, departments = ctx.contractors.get(key), ctx.departments.get(key)
        try:
            if departments and contractors:
                raise val.ValueProblem(
                    "contractor.ambiguous",
                    _("“%(value)s” names both a contractor and a department; use the code.")
                    % {"value": val.text(raw)},
                )
            if departments:
                if ctx.self_service:
                    raise val.ValueProblem(
                        "department.not_for_contractor",
                        _("Contractor staff have no department of the enterprise."),
                    )
                r.own_staff = True
                return _one(departments, "department", raw)
            if not contractors:
                raise val.ValueProblem(
                    "contractor.unknown",
                    _(
                        "Unknown unit “%(value)s”: neither a contractor nor a department or team "
                        "in your scope."
                    )
                    % {"value": val.text(raw)},
                )
            r.contractor_id = _one(contractors, "contractor", raw)
            if ctx.self_service and r.contractor_id != ctx.contractor.pk:
                raise val.ValueProblem(
                    "contractor.not_own", _("You may upload only your own company's staff.")
                )
        except val.ValueProblem as p:
            self._issue(r, "contractor", raw, p.code, p.message)
        return None

    def _date(self, r: RowIn, get, canonical) -> dt.date | None:
        raw = get(canonical)
        try:
            return val.date_value(raw)
        except val.ValueProblem as p:
            self._issue(r, canonical, raw, p.code, p.message)
            return None

    def _certificate(self, r: RowIn, get):
        names = ("item", "number", "issued_on", "first_issued_on", "valid_until", "valid_from")
        if all(val.is_blank(get(c)) for c in names if c in self._col):
            return  # a row about the person only
        errors_before = len(r.errors)
        issued_on = self._date(r, get, "issued_on")
        first_issued_on = self._date(r, get, "first_issued_on")
        if "issued_on" not in self._col:
            issued_on = first_issued_on  # only 初领日期 in the ledger: it dates this record too
        span = val.date_range(get("valid_until"))
        if span:
            valid_from, valid_until = span
        else:
            valid_from = self._date(r, get, "valid_from")
            valid_until = self._date(r, get, "valid_until")
        if "valid_from" in self._col and span and not val.is_blank(get("valid_from")):
            valid_from = self._date(r, get, "valid_from")
        last_review = self._date(r, get, "last_review")
        if len(r.errors) == errors_before:
            date_col = "issued_on" if "issued_on" in self._col else "first_issued_on"
            if issued_on is None:
                self._issue(
                    r, date_col, None, "issued_on.required", _("The issue date is required.")
                )
            # A blank expiry is computed from the item's rule once the item is known (below).
            self._check_dates(r, issued_on, first_issued_on, valid_from, valid_until, last_review)
        number_raw = get("number")
        number = ""
        try:
            number = val.code_text(number_raw, field="number")
            if not number:
                raise val.ValueProblem("number.required", _("The certificate number is required."))
        except val.ValueProblem as p:
            self._issue(r, "number", number_raw, p.code, p.message)
        resolver = self.ctx.resolver
        match = None
        try:
            scheme = resolver.scheme(val.text(get("scheme")))
            match = resolver.resolve(
                get("item"),
                scheme=scheme,
                version=val.text(get("catalogue_version")),
                restriction=val.text(get("restriction")),
                issued_on=issued_on,
            )
        except val.ValueProblem as p:
            column = p.code.split(".")[0]
            column = column if column in self._col else "item"
            self._issue(r, column, get(column), p.code, p.message)
        if match is not None and number:
            try:
                resolver.check_number(match, number)
            except val.ValueProblem as p:
                self._issue(r, "number", number_raw, p.code, p.message)
        if match is not None and match.legacy_code:
            self._issue(
                r,
                "item",
                get("item"),
                "item.legacy_mapped",
                _("Old code %(old)s mapped to %(code)s %(name)s%(restriction)s.")
                % {
                    "old": match.legacy_code,
                    "code": match.item.code,
                    "name": match.item.name,
                    "restriction": f" ({match.restriction})" if match.restriction else "",
                },
                level=NOTE,
            )
        if len(r.errors) == errors_before and match is not None and valid_until is None:
            valid_until = self._computed_expiry(r, match.item, valid_from or issued_on)
        if len(r.errors) == errors_before and match is not None and valid_until is not None:
            valid_until = self._bounded_expiry(r, match.item, issued_on, valid_from, valid_until)
        if len(r.errors) == errors_before and match is not None:
            r.cert = CertIn(
                item=match.item,
                restriction=match.restriction,
                legacy_code=match.legacy_code,
                number=number,
                issued_on=issued_on,
                first_issued_on=first_issued_on,
                valid_from=valid_from,
                valid_until=valid_until,
                issuing_authority=val.text(get("issuing_authority"))[:200],
                last_review=last_review,
            )

    def _bounded_expiry(self, r: RowIn, item, issued_on, valid_from, valid_until) -> dt.date:
        """The expiry the certificate services would store (rules.bounded_valid_until): an
        internal qualification's end capped at its rule, with a note naming the rule and clause.
        Capped here, before the row is compared with the stored record, so that re-importing the
        same ledger finds the record unchanged."""
        capped, limit = bounded_valid_until(
            self.ctx.book,
            item,
            issued_on=issued_on,
            valid_from=valid_from or issued_on,
            valid_until=valid_until,
        )
        if limit is not None:
            message = capped_message(valid_until, capped, limit)
            self._issue(r, "valid_until", valid_until, "valid_until.capped", message, level=NOTE)
        return capped

    def _computed_expiry(self, r: RowIn, item, start: dt.date) -> dt.date | None:
        """The expiry the certificate API would give (rules.expiry_by_rule), with a note naming
        the rule and its clause; a row error when the catalogue gives no validity."""
        valid_until, rule = expiry_by_rule(self.ctx.book, item, start)
        if valid_until is None:
            self._issue(
                r,
                "valid_until",
                None,
                "valid_until.required",
                _("The expiry is required: the catalogue gives no validity for %(item)s.")
                % {"item": f"{item.code} {item.name}"},
            )
            return None
        words = {"date": valid_until.isoformat(), "start": start.isoformat()}
        if rule is None or not rule.validity_months:
            message = _(
                "No expiry given: computed as %(date)s, the end of the calendar year of %(start)s."
            )
        else:
            words.update(months=rule.validity_months, rule=rule.code, clause=rule.clause)
            message = _(
                "No expiry given: computed as %(date)s, %(months)s months from %(start)s under "
                "the rule %(rule)s (%(clause)s)."
            )
        self._issue(r, "valid_until", None, "valid_until.computed", message % words, level=NOTE)
        return valid_until

    def _check_dates(self, r, issued_on, first_issued_on, valid_from, valid_until, last_review):
        def order(col, code, message):
            self._issue(r, col, None, code, message)

        today = self.ctx.today
        if issued_on and issued_on > today:
            order("issued_on", "issued_on.future", _("The issue date is in the future."))
        if issued_on and valid_until and valid_until < issued_on:
            order("valid_until", "dates.order", _("The expiry is before the issue date."))
        if valid_from and valid_until and valid_until < valid_from:
            order("valid_until", "dates.order", _("The expiry is before the start of validity."))
        if first_issued_on and issued_on and first_issued_on > issued_on:
            order(
                "first_issued_on",
                "dates.order",
                _("The first-issue date is after the issue date."),
            )
        if last_review and issued_on and not issued_on <= last_review <= today:
            order(
                "last_review",
                "dates.order",
                _("The review date must lie between the issue date and today."),
            )

    def _health(self, r: RowIn, get):
        if all(val.is_blank(get(c)) for c in cols.HEALTH_COLUMNS if c in self._col):
            return
        errors_before = len(r.errors)
        checked_on = self._date(r, get, "health_checked_on")
        valid_until = self._date(r, get, "health_valid_until")
        if checked_on is None and len(r.errors) == errors_before:
            self._issue(
                r,
                "health_checked_on",
                None,
                "health_checked_on.required",
                _("The date of the medical check is required."),
            )
        if checked_on and checked_on > self.ctx.today:
            self._issue(
                r, "health_checked_on", None, "health_checked_on.future", _("A future date.")
            )
        if checked_on and valid_until and valid_until < checked_on:
            self._issue(
                r,
                "health_valid_until",
                None,
                "dates.order",
                _("The check's validity ends before the check."),
            )
        raw = get("health_conclusion")
        conclusion = _CONCLUSION.get(_key(val.text(raw)))
        if conclusion is None:
            self._issue(
                r,
                "health_conclusion",
                raw,
                "health_conclusion.unknown"
                if not val.is_blank(raw)
                else "health_conclusion.required",
                _("Give the conclusion: 合格, 限制 (with the contraindication) or 不合格."),
            )
        restricted: list[str] = []
        reason = val.text(get("health_restriction"))
        if reason and reason not in {"无", "-", "/", "—", "NONE"}:
            restricted = [code for code, word in self.ctx.work_types if word and word in reason]
            if not restricted:
                self._issue(
                    r,
                    "health_restriction",
                    reason,
                    "health_restriction.unknown",
                    _("Name the work types the person is unfit for (%(types)s).")
                    % {"types": "、".join(w for _c, w in self.ctx.work_types)},
                )
            elif conclusion == HealthConclusion.FIT:
                conclusion = HealthConclusion.RESTRICTED
        else:
            reason = ""
        if len(r.errors) == errors_before and checked_on and conclusion:
            r.health = HealthIn(
                checked_on=checked_on,
                conclusion=conclusion,
                restricted_work_types=restricted,
                restriction_reason=reason[:300],
                valid_until=valid_until,
            )

    # ---- the whole table ----------------------------------------------------------------------

    def run(self, progress: Callable[[int, int], None] | None = None) -> Plan:
        plan = self.plan
        body = self.table.rows[self.hmap.row_index + 1 :]
        start = self.hmap.row_index + 1
        total = len(body)
        rows = []
        for n, row in enumerate(body, 1):
            parsed = self.parse_row(start + n - 1, row)
            if parsed is not None:
                rows.append(parsed)
            if progress and n % PROGRESS_EVERY == 0:
                progress(len(rows), total)
        plan.total_rows = len(rows)
        self._against_file_and_database(rows)
        for r in rows:
            plan.issues.extend(r.errors)
            plan.issues.extend(r.notes)
        plan.issues.sort(key=lambda i: (i.row, i.level != "error", i.cell))
        return plan

    def _against_file_and_database(self, rows: list[RowIn]):
        ctx = self.ctx
        ids = {r.id_number for r in rows if r.id_number}
        persons = _persons(ids)
        visible = _visible(ctx.scope, ids)
        numbers = {r.cert.number for r in rows if r.cert}
        certs = _certificates(numbers)
        reviews = _reviews([c["id"] for c in certs.values()])
        checks = _health_checks([p["id"] for p in persons.values()])
        # A certificate given twice, or one ID number or check given with different data, is an
        # error on every row concerned: which of them is right is the user's call, so none is
        # imported, and each row names the others.
        cert_rows: dict[tuple, list[int]] = {}
        name_rows: dict[str, list[tuple[int, str]]] = {}
        check_rows: dict[tuple, list[tuple[int, HealthIn]]] = {}
        for r in rows:
            if not r.id_number:
                continue
            if r.name:
                name_rows.setdefault(r.id_number, []).append((r.line, r.name))
            if r.cert is not None:
                cert_rows.setdefault(r.cert.key, []).append(r.line)
            if r.health is not None:
                check_rows.setdefault((r.id_number, r.health.checked_on), []).append(
                    (r.line, r.health)
                )
        seen_health: dict[tuple, tuple[int, HealthIn]] = {}
        for r in rows:
            if not r.id_number:
                continue
            named = name_rows.get(r.id_number, ())
            if r.name and len(named) > 1:
                others = [str(line) for line, name in named if name != r.name]
                if others:
                    self._issue(
                        r,
                        "name",
                        r.name,
                        "person.name_conflict",
                        _("Rows %(rows)s give another name for this ID number.")
                        % {"rows": "、".join(others)},
                    )
            existing = persons.get(r.id_number)
            held = existing is not None and self._existing_person(r, existing, visible)
            if r.cert is not None and len(lines := cert_rows[r.cert.key]) > 1:
                self._issue(
                    r,
                    "number",
                    r.cert.number,
                    "certificate.duplicate_in_file",
                    _("The same certificate (item, number, issue date) is also in rows %(rows)s.")
                    % {"rows": "、".join(str(n) for n in lines if n != r.line)},
                )
            if r.health is not None:
                given = check_rows[(r.id_number, r.health.checked_on)]
                others = [str(line) for line, h in given if not h.same(r.health)]
                if others:
                    self._issue(
                        r,
                        "health_checked_on",
                        r.health.checked_on.isoformat(),
                        "health_check.conflict_in_file",
                        _("Rows %(rows)s give another result for this check.")
                        % {"rows": "、".join(others)},
                    )
            if r.errors:
                continue
            if held:
                self.plan.held_persons.add(r.id_number)
                self.plan.held_certs += r.cert is not None
                self.plan.held_health += r.health is not None
                continue
            self._commit(r, existing, certs, reviews, checks, seen_health)

    def _existing_person(self, r: RowIn, p: dict, visible: set[int] | None) -> bool:
        """Check a row against the person registered with its number; True: the row is held
        for the reviewer (a contractor's upload naming someone outside their staff)."""
        ctx = self.ctx
        employed = p["current_employment_id"] is not None
        if ctx.self_service and visible is not None and p["id"] not in visible:
            # Neither "registered outside your scope" nor a name check: either would tell the
            # contractor that the person exists. Only the site's safety officer reads why.
            self._issue(
                r,
                "id_number",
                r.id_number,
                "person.held_for_review",
                _(
                    "This ID number belongs to a person registered outside the contractor's "
                    "staff; the row is not written. Check the person and their employment."
                ),
                level=REVIEW,
            )
            return True
        # Scope first, so that a name check cannot tell an uploader about a person they may not
        # see. Someone outside the scope is only taken on by a row that employs them (inside
        # the scope, checked with the columns) while nobody employs them.
        if visible is not None and p["id"] not in visible and (employed or not self._employment(r)):
            self._issue(
                r,
                "id_number",
                r.id_number,
                "person.out_of_scope",
                _("This person is registered outside your scope."),
            )
            return False
        if r.name and r.name != p["name"] and r.name not in (p["former_names"] or []):
            self._issue(
                r,
                "name",
                r.name,
                "person.name_mismatch",
                _("The name differs from the person registered with this ID number."),
            )
        if (
            ctx.self_service
            and employed
            and p["current_employment__contractor_id"] != (ctx.contractor.pk)
        ):
            self._issue(
                r,
                "id_number",
                r.id_number,
                "person.employed_elsewhere",
                _("This person is employed elsewhere; the site must end that employment first."),
            )
        return False

    def _employment(self, r: RowIn) -> tuple[int | None, int | None] | None:
        contractor_id = r.contractor_id or (self.ctx.contractor.pk if self.ctx.contractor else None)
        if contractor_id is None and r.department_id is None:
            return None
        return contractor_id, r.department_id

    def _commit(self, r: RowIn, existing, certs, reviews, checks, seen_health):
        """Decide the row's writes and record them in the plan if the row has no errors."""
        apply = [self._person_action(r, existing)]
        if r.cert is not None:
            apply.append(self._certificate_action(r, existing, certs, reviews))
        if r.health is not None:
            apply.append(self._health_action(r, existing, checks, seen_health))
        if r.errors:
            return
        for action in apply:
            if action is not None:
                action()

    def _person_action(self, r: RowIn, existing):
        plan, ctx = self.plan, self.ctx
        employment = self._employment(r)
        column = "department" if "department" in self._col else "contractor"
        conflict = _("Another row gives this person another employer or department.")
        if existing is None:
            person = plan.new_persons.get(r.id_number)
            if person is None and r.own_staff and r.department_id is None:
                # Own staff are never registered without an employment in a department.
                self._issue(
                    r,
                    column,
                    None,
                    "person.department_required",
                    _(
                        "A new member of our own staff needs a department: name it in the "
                        "department column (部门) or in the unit column (单位)."
                    ),
                )
                return None
            if person is None and employment is None and not ctx.scope.group_wide:
                # Nobody would employ them, so nobody but the group could see them: not the
                # uploader either.
                self._issue(
                    r,
                    column,
                    None,
                    "person.employment_required",
                    _("A new person needs an employer or a department in your scope."),
                )
                return None
            if person is None:
                new = NewPerson(
                    id_number=r.id_number,
                    name=r.name,
                    birth_date=r.birth_date,
                    gender=r.gender,
                    former_names=r.former_names,
                    education=r.education,
                    phone=r.phone,
                    position_id=r.position_id,
                    contractor_id=employment[0] if employment else None,
                    department_id=employment[1] if employment else None,
                )
                return lambda: plan.new_persons.setdefault(r.id_number, new)
            current = (person.contractor_id, person.department_id)
            if employment and current != (None, None) and current != employment:
                self._issue(r, column, None, "person.employment_conflict", conflict)
                return None

            def fill():
                if employment and current == (None, None):
                    person.contractor_id, person.department_id = employment
                person.phone = person.phone or r.phone
                person.position_id = person.position_id or r.position_id

            return fill
        pk = existing["id"]
        if employment and existing["current_employment_id"] is None:
            previous = plan.new_employments.get(r.id_number)
            if previous is not None and previous != employment:
                self._issue(r, column, None, "person.employment_conflict", conflict)
                return None

            def employ():
                plan.existing_persons[r.id_number] = pk
                plan.new_employments.setdefault(r.id_number, employment)

            return employ
        if (
            employment
            and not ctx.self_service
            and existing["current_employment_id"] is not None
            and (
                employment[0] != existing["current_employment__contractor_id"]
                or (
                    employment[1] is not None
                    and employment[1] != existing["current_employment__department_id"]
                )
            )
        ):
            self._issue(
                r,
                column,
                None,
                "person.employment_unchanged",
                _("The person's current employment differs; an import does not change it."),
                level=NOTE,
            )
        return lambda: plan.existing_persons.setdefault(r.id_number, pk)

    def _health_action(self, r: RowIn, existing, checks, seen_health):
        plan, health = self.plan, r.health
        hkey = (r.id_number, health.checked_on)
        if hkey in seen_health:
            return None  # the same check repeated on the person's other rows
        old = checks.get((existing["id"], health.checked_on)) if existing else None
        if old is not None and not health.same(old):
            self._issue(
                r,
                "health_checked_on",
                health.checked_on.isoformat(),
                "health_check.conflict",
                _("A different result is registered for this person's check on this date."),
            )
            return None

        def record():
            seen_health[hkey] = (r.line, health)
            if old is None:
                plan.new_health.append((r.id_number, health))
            else:
                plan.unchanged += 1

        return record

    def _reviews_for(self, facts: CertFacts, on: dt.date) -> list[tuple[dt.date, dt.date]]:
        return implied_reviews(self.ctx.book, facts, on)

    def _review_note(self, r: RowIn, facts: CertFacts, passed) -> dt.date | None:
        due = first_unpassed_review(facts, self.ctx.book, passed)
        if due is not None and due[0] < self.ctx.today:
            self._issue(
                r,
                "last_review" if "last_review" in self._col else "valid_until",
                None,
                "certificate.review_not_recorded",
                _(
                    "A review was due on %(due)s and the ledger records none; the certificate "
                    "counts as review overdue until the review is recorded."
                )
                % {"due": due[0].isoformat()},
                level=NOTE,
            )
        return due[0] if due else None

    def _certificate_action(self, r: RowIn, existing, certs, reviews):
        plan, c = self.plan, r.cert
        old = certs.get(c.key)
        if old is None:
            facts = CertFacts(c.item.scheme_id, c.item.pk, c.issued_on, c.valid_until)
            passed = self._reviews_for(facts, c.last_review) if c.last_review else []
            if c.last_review and not passed:
                self._ignored_review(r)
            c.reviews = passed
            c.next_review_due = self._review_note(r, facts, passed)
            return lambda: plan.new_certs.append((r.id_number, c))
        if existing is None or old["person_id"] != existing["id"]:
            self._issue(
                r,
                "number",
                c.number,
                "certificate.other_holder",
                _("This certificate is registered to another person."),
            )
            return None
        changes, before, conflicts = {}, {}, []
        for f in (
            "first_issued_on",
            "valid_from",
            "restriction",
            "issuing_authority",
            "legacy_code",
        ):
            new, current = getattr(c, f), old[f]
            if new in (None, "") or new == current:
                continue
            if current in (None, "") and f != "valid_from":
                changes[f], before[f] = new, current
            else:
                conflicts.append(f)
        extension = None
        if c.valid_until != old["valid_until"]:
            rule = self.ctx.book.rule_for(c.item.scheme_id, c.item.pk, old["valid_until"])
            if c.valid_until > old["valid_until"] and rule is not None and rule.extension_months:
                changes["valid_until"], before["valid_until"] = c.valid_until, old["valid_until"]
                extension = (old["valid_until"], c.valid_until)
            else:
                conflicts.append("valid_until")
        if conflicts:
            self._issue(
                r,
                conflicts[0],
                getattr(c, conflicts[0]),
                "certificate.conflict",
                _("The certificate is registered with other data: %(fields)s.")
                % {
                    "fields": "; ".join(
                        f"{cols.label(f)} {old[f] or '—'} ≠ {getattr(c, f)}" for f in conflicts
                    )
                },
            )
            return None
        facts = CertFacts(
            c.item.scheme_id,
            c.item.pk,
            c.issued_on,
            changes.get("valid_until", old["valid_until"]),
            old["long_review_interval"],
        )
        recorded = reviews.get(old["id"], [])
        new_reviews = []
        if c.last_review:
            implied = self._reviews_for(facts, c.last_review)
            if not implied:
                self._ignored_review(r)
            done = {due for due, _on in recorded}
            new_reviews = [(due, on) for due, on in implied if due not in done]
        if not (changes or new_reviews):

            def unchanged():
                plan.unchanged += 1

            return unchanged
        due = first_unpassed_review(facts, self.ctx.book, [*recorded, *new_reviews])
        due_on = due[0] if due else None
        if due_on != old["next_review_due"]:
            changes["next_review_due"] = due_on
            before["next_review_due"] = old["next_review_due"]
        update = CertUpdate(
            cert_id=old["id"],
            changes=changes,
            before=before,
            reviews=new_reviews,
            extension=extension,
        )
        return lambda: plan.cert_updates.append(update)

    def _ignored_review(self, r: RowIn):
        self._issue(
            r,
            "last_review",
            None,
            "certificate.review_not_applicable",
            _("No periodic review applies to this certificate; the review date is not recorded."),
            level=NOTE,
        )


# ---- set-based reads --------------------------------------------------------------------------


def _chunks(values: Iterable, size: int = CHUNK):
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _persons(ids: set[str]) -> dict[str, dict]:
    out = {}
    for chunk in _chunks(ids):
        for p in Person.objects.filter(id_number__in=chunk).values(
            "id",
            "id_number",
            "name",
            "former_names",
            "current_employment_id",
            "current_employment__contractor_id",
            "current_employment__department_id",
        ):
            out[p["id_number"]] = p
    return out


def _visible(scope: Scope, ids: set[str]) -> set[int] | None:
    """Ids of the file's registered persons the scope sees; None: everything."""
    if scope.group_wide:
        return None
    out: set[int] = set()
    for chunk in _chunks(ids):
        out.update(
            persons_visible_to(scope).filter(id_number__in=chunk).values_list("id", flat=True)
        )
    return out


_CERT_FIELDS = (
    "id",
    "scheme_id",
    "item_id",
    "number",
    "issued_on",
    "person_id",
    "first_issued_on",
    "valid_from",
    "valid_until",
    "restriction",
    "issuing_authority",
    "legacy_code",
    "next_review_due",
    "long_review_interval",
)


def _certificates(numbers: set[str]) -> dict[tuple, dict]:
    out = {}
    for chunk in _chunks(numbers):
        for c in Certificate.objects.filter(number__in=chunk).values(*_CERT_FIELDS):
            out[(c["scheme_id"], c["item_id"], c["number"], c["issued_on"])] = c
    return out


def _reviews(cert_ids: list[int]) -> dict[int, list[tuple[dt.date, dt.date]]]:
    out: dict[int, list] = {}
    for chunk in _chunks(cert_ids):
        rows = CertificateEvent.objects.filter(
            certificate_id__in=chunk, kind=EventKind.REVIEW, passed=True
        ).values_list("certificate_id", "due_on", "on")
        for cert_id, due_on, on in rows:
            out.setdefault(cert_id, []).append((due_on, on))
    return out


def _health_checks(person_ids: list[int]) -> dict[tuple, HealthCheck]:
    out = {}
    for chunk in _chunks(person_ids):
        for h in HealthCheck.objects.filter(person_id__in=chunk).only(
            "person_id", "checked_on", "conclusion", "restricted_work_types", "valid_until"
        ):
            out[(h.person_id, h.checked_on)] = h
    return out
