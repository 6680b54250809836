"""The roster template (xlsx): the header row `roster.read_roster_file` reads, one example row,
text-formatted ID numbers, and a sheet of the codes a roster takes (work types and their levels,
crew roles, the allowed attribute values) read from the catalogue, so it never disagrees with it.
The format is described in the README ("Roster file")."""

from __future__ import annotations

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from safework.core import xlsx
from safework.qualification.requirements import attribute_table, listed_choices
from safework.rosters.services import COLUMNS
from safework.work.models import CrewRole, WorkType

TEMPLATE_ROWS = 1000  # rows prepared with the ID number column as text

# (column, header as written in the template: one of the headers roster.COLUMNS accepts)
TEMPLATE_COLUMNS = (
    ("name", "姓名"),
    ("id_number", "身份证号"),
    ("on", "日期"),
    ("work_type", "作业类型"),
    ("level", "级别"),
    ("role", "角色"),
    ("site", "厂区代码"),
    ("height_m", "作业高度(m)"),
    ("hot_work_method", "动火方式"),
    ("height_task", "高处作业内容"),
    ("crane_kind", "起重机种类"),
    ("process", "工艺"),
    ("forklift_area", "叉车区域"),
)
# GB 11643's own example number (valid check character), a person no real roster names.
EXAMPLE = {
    "name": "张三",
    "id_number": "11010519491231002X",
    "on": "2026-07-01",
    "work_type": "动火作业",
    "level": "二级",
    "role": "作业人",
    "site": "",
    "height_m": 3,
    "hot_work_method": "焊接",
    "height_task": "",
    "crane_kind": "",
    "process": "",
    "forklift_area": "否",
}
assert all(header in COLUMNS[column] for column, header in TEMPLATE_COLUMNS)


def code_rows() -> list[list[str]]:
    """(kind, code, name or accepted words) for every code a roster cell takes."""
    rows = []
    for wt in WorkType.objects.prefetch_related("levels").order_by("order", "pk"):
        rows.append([_("work type"), wt.code, wt.name])
        for level in sorted(wt.levels.all(), key=lambda lv: lv.rank):
            rows.append([_("level of %(work)s") % {"work": wt.name}, level.code, level.name])
    for role in CrewRole.objects.order_by("code"):
        rows.append([_("crew role"), role.code, role.name])
    for name, spec in attribute_table().items():
        if "values" not in spec:
            continue
        choices = listed_choices(name)
        for code in choices.codes:
            rows.append([name, code, "、".join(spec["values"][code] or ())])
    return rows


def template_bytes() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = _("roster")
    bold = Font(bold=True)
    for col, (column, header) in enumerate(TEMPLATE_COLUMNS, 1):
        cell = ws.cell(row=1, column=col, value=header)
        cell.font = bold
        ws.cell(row=2, column=col, value=xlsx.safe(EXAMPLE[column]))
        ws.column_dimensions[get_column_letter(col)].width = max(12, len(header) * 2 + 4)
        if column == "id_number":
            for row in range(2, TEMPLATE_ROWS + 2):
                ws.cell(row=row, column=col).number_format = "@"
    ws.freeze_panes = "A2"

    codes = wb.create_sheet(_("codes"))
    codes.append([_("column"), _("code"), _("name or accepted words")])
    for row in code_rows():
        codes.append([xlsx.safe(v) for v in row])
    for col, width in enumerate((22, 16, 50), 1):
        codes.column_dimensions[get_column_letter(col)].width = width

    notes = wb.create_sheet(_("instructions"))
    for line in (
        _("One row per person, date and work; delete the example row."),
        _(
            "Required: 身份证号 (or 人员编号), 日期, 作业类型, 角色; 级别 where the work type "
            "has levels."
        ),
        _(
            "姓名 is checked against the person of the ID number: a different person's name is "
            "a row error."
        ),
        _("Work types, levels and roles: the code or the name (sheet of codes)."),
        _("Dates: 2026-07-01, 2026/7/1, 2026.7.1, 2026年7月1日 or a date cell."),
        _("ID numbers as text (a number cell loses the final X and the last digits)."),
        _("作业高度(m): a number of metres; 叉车区域: 是/否."),
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 100
    return xlsx.to_bytes(wb)
