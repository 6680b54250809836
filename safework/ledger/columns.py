"""The ledger's columns: canonical names, the headers real ledgers use for them, header detection.

The synonyms are data: each canonical column lists the headers that mean it, the first one being
the header the template writes. They are matched by `core.cells.HeaderSynonyms` (the one header
matcher of uploaded tables: spaces, full-width forms, a trailing colon and a bracketed remark
ignored; synonyms of one column joined with "/" mean that column). When two columns of a sheet
mean the same canonical column, the synonym listed first wins and the other is reported as
ignored.

Issue dates: 发证日期 is `issued_on` (the date of this record, part of the natural key) and 初领日期
is `first_issued_on`. A ledger that has only 初领日期 uses it for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.core.cells import HEADER_SCAN_ROWS, HeaderSynonyms

# canonical column → (label for people, synonyms; the first synonym is the template header)
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "seq": (gettext_lazy("row number"), ("序号", "序", "行号")),
    "name": (
        gettext_lazy("name"),
        ("姓名", "人员姓名", "员工姓名", "持证人", "持证人姓名", "名字"),
    ),
    "id_number": (
        gettext_lazy("ID number"),
        (
            "身份证号码",
            "身份证号",
            "公民身份号码",
            "证件号码",
            "身份证",
            "身份证件号码",
            "身份证编号",
        ),
    ),
    "former_names": (gettext_lazy("former names"), ("曾用名",)),
    "gender": (gettext_lazy("gender"), ("性别",)),
    "education": (gettext_lazy("education"), ("文化程度", "学历")),
    "phone": (gettext_lazy("phone"), ("电话", "联系电话", "手机", "手机号", "手机号码")),
    "contractor": (
        gettext_lazy("contractor"),
        ("单位", "承包商", "承包商名称", "所属单位", "施工单位", "工作单位"),
    ),
    "department": (gettext_lazy("department"), ("部门", "所在部门", "车间", "班组")),
    "position": (gettext_lazy("position"), ("岗位", "工作岗位")),
    "scheme": (
        gettext_lazy("certificate scheme"),
        ("证书种类", "证书体系", "发证体系", "证书大类"),
    ),
    "item": (
        gettext_lazy("operation item"),
        (
            "作业类别",
            "准操项目",
            "操作项目",
            "作业项目",
            "证书项目",
            "项目代号",
            "证书类型",
            "作业种类",
            "工种",
            "工种/作业类别",
            "作业类别/工种",
            "操作类别",
            "准操类别",
            "准操作项目",
            "资格项目",
        ),
    ),
    "catalogue_version": (gettext_lazy("catalogue version"), ("目录版本", "项目目录版本")),
    "restriction": (
        gettext_lazy("restriction"),
        ("限制", "限制范围", "限制条件", "起重机种类", "设备种类"),
    ),
    "number": (
        gettext_lazy("certificate number"),
        ("证书编号", "证件编号", "操作证号", "证号", "证书号", "证书号码", "操作证编号"),
    ),
    "issued_on": (gettext_lazy("issued on"), ("发证日期", "发证时间", "签发日期", "本次发证日期")),
    "first_issued_on": (
        gettext_lazy("first issued on"),
        ("初领日期", "初次领证日期", "首次发证日期", "初领证日期"),
    ),
    "valid_from": (
        gettext_lazy("valid from"),
        ("有效期起", "有效期开始", "有效期自", "有效起始日期", "有效期开始日期"),
    ),
    "valid_until": (
        gettext_lazy("valid until"),
        (
            "有效期至",
            "有效期",
            "到期日期",
            "有效期截止",
            "有效期止",
            "截止日期",
            "有效期限",
            "证书有效期",
            "有效期截止日期",
        ),
    ),
    "issuing_authority": (
        gettext_lazy("issuing authority"),
        ("发证机关", "发证单位", "发证部门", "签发机关"),
    ),
    "last_review": (
        gettext_lazy("last review"),
        ("复审日期", "最近复审日期", "复审时间", "上次复审日期"),
    ),
    "health_checked_on": (gettext_lazy("medical check date"), ("体检日期", "体检时间")),
    "health_conclusion": (gettext_lazy("medical conclusion"), ("体检结论", "体检结果")),
    "health_restriction": (
        gettext_lazy("contraindication"),
        ("禁忌", "职业禁忌", "禁忌症", "职业禁忌证", "禁忌证"),
    ),
    "health_valid_until": (
        gettext_lazy("medical check valid until"),
        ("体检有效期", "体检有效期至"),
    ),
}

REQUIRED = ("name", "id_number")
CERTIFICATE_REQUIRED = ("item", "number", "valid_until")  # plus issued_on or first_issued_on
CERTIFICATE_COLUMNS = (
    "scheme",
    "item",
    "catalogue_version",
    "restriction",
    "number",
    "issued_on",
    "first_issued_on",
    "valid_from",
    "valid_until",
    "issuing_authority",
    "last_review",
)
HEALTH_COLUMNS = (
    "health_checked_on",
    "health_conclusion",
    "health_restriction",
    "health_valid_until",
)
IGNORED = ("seq", "gender")  # read for recognition only; a formula there is harmless
HEADERS = HeaderSynonyms({canonical: synonyms for canonical, (_l, synonyms) in COLUMNS.items()})


def template_headers() -> list[tuple[str, str]]:
    """(canonical, header) in template order, without the ignored columns."""
    return [(c, synonyms[0]) for c, (_l, synonyms) in COLUMNS.items() if c not in IGNORED]


def label(canonical: str) -> str:
    return str(COLUMNS[canonical][0])


@dataclass
class HeaderMap:
    """Where the header row is and which column index holds each canonical column."""

    row_index: int  # 0-based index of the header row in the sheet
    columns: dict[str, int]  # canonical → 0-based column index
    headers: list[str]  # the header row as written (for error messages)
    ignored: list[str] = field(default_factory=list)  # headers not used

    def header_of(self, canonical: str) -> str:
        idx = self.columns.get(canonical)
        return self.headers[idx] if idx is not None else label(canonical)

    @property
    def has_certificates(self) -> bool:
        return "item" in self.columns or "number" in self.columns

    @property
    def has_health(self) -> bool:
        return any(c in self.columns for c in HEALTH_COLUMNS)


class HeaderError(Exception):
    """No usable header row: one error saying what was expected and what was found."""

    def __init__(self, code: str, message: str, *, found: list[str] | None = None, row=None):
        self.code, self.message, self.found, self.row = code, message, found or [], row
        super().__init__(message)


def _expected() -> str:
    names = [COLUMNS[c][1][0] for c in (*REQUIRED, *CERTIFICATE_REQUIRED)]
    return (
        "、".join(names)
        + " + "
        + COLUMNS["issued_on"][1][0]
        + "/"
        + COLUMNS["first_issued_on"][1][0]
    )


def detect_header(rows: list[list]) -> HeaderMap:
    """The first row (of the first HEADER_SCAN_ROWS) naming the ID number and the name columns.

    Title rows above it ("2024年特种作业人员持证台账") are skipped. Raises HeaderError naming
    what is expected and what the most header-like row holds.
    """
    found = HEADERS.find(rows, REQUIRED)
    if found is not None and found.complete:
        return _header_map(found.index, rows[found.index], found.columns)
    if found is not None:
        i = found.index
        written = [str(c).strip() for c in rows[i] if str(c).strip()]
        missing = [COLUMNS[c][1][0] for c in REQUIRED if c not in found.columns]
        raise HeaderError(
            "header.missing_columns",
            _("Row %(row)s looks like the header but lacks %(missing)s. Expected: %(expected)s.")
            % {"row": i + 1, "missing": "、".join(missing), "expected": _expected()},
            found=written,
            row=i + 1,
        )
    first = next((r for r in rows[:HEADER_SCAN_ROWS] if any(str(c).strip() for c in r)), [])
    raise HeaderError(
        "header.not_found",
        _("No header row found in the first %(n)s rows. Expected columns: %(expected)s.")
        % {"n": HEADER_SCAN_ROWS, "expected": _expected()},
        found=[str(c).strip() for c in first if str(c).strip()],
    )


def _header_map(i: int, row: list, columns: dict[str, int]) -> HeaderMap:
    headers = ["" if c is None else str(c).strip() for c in row]
    used = set(columns.values())
    ignored = [h for idx, h in enumerate(headers) if h and idx not in used]
    hmap = HeaderMap(row_index=i, columns=columns, headers=headers, ignored=ignored)
    if hmap.has_certificates:
        missing = [COLUMNS[c][1][0] for c in CERTIFICATE_REQUIRED if c not in columns]
        if "issued_on" not in columns and "first_issued_on" not in columns:
            missing.append(COLUMNS["issued_on"][1][0] + "/" + COLUMNS["first_issued_on"][1][0])
        if missing:
            raise HeaderError(
                "header.missing_columns",
                _("The header row (row %(row)s) has certificate columns but lacks %(missing)s.")
                % {"row": i + 1, "missing": "、".join(missing)},
                found=[h for h in headers if h],
                row=i + 1,
            )
    return hmap
