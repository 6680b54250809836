"""The import template: the canonical headers, text-formatted ID and number columns, a dropdown
of the catalogue's items, and a sheet explaining each column and the accepted values."""

from __future__ import annotations

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from safework.certs.models import CertificateItem
from safework.core import xlsx
from safework.ledger import columns as cols

TEMPLATE_ROWS = 1000  # rows prepared with text format and the item dropdown
TEXT_COLUMNS = ("id_number", "number", "phone")


def item_choices() -> list[str]:
    """ "2.1 熔化焊接与热切割作业" for every active item, as the import reads them back."""
    items = CertificateItem.objects.filter(is_active=True).select_related("scheme")
    return [f"{i.code} {i.name}" for i in items.order_by("scheme__code", "code")]


def template_bytes() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = _("ledger")
    headers = cols.template_headers()
    bold = Font(bold=True)
    for col, (_canonical, header) in enumerate(headers, 1):
        cell = ws.cell(row=1, column=col, value=header)
        cell.font = bold
        ws.column_dimensions[get_column_letter(col)].width = max(12, len(header) * 2 + 4)
    position = {canonical: i for i, (canonical, _h) in enumerate(headers, 1)}
    for canonical in TEXT_COLUMNS:
        col = position[canonical]
        for row in range(2, TEMPLATE_ROWS + 2):
            ws.cell(row=row, column=col).number_format = "@"
    ws.freeze_panes = "A2"

    choices = item_choices()
    lists = wb.create_sheet("items")
    lists.append([_("item")])
    for choice in choices:
        lists.append([xlsx.safe(choice)])
    lists.sheet_state = "hidden"
    letter = get_column_letter(position["item"])
    validation = DataValidation(
        type="list",
        formula1=f"=items!$A$2:$A${len(choices) + 1}",
        allow_blank=True,
        showErrorMessage=False,  # old codes (Q4 …) and names typed by hand are still accepted
    )
    validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
    ws.add_data_validation(validation)

    notes = wb.create_sheet(_("instructions"))
    notes.append([_("column"), _("meaning"), _("also recognised as")])
    for canonical, (label, synonyms) in cols.COLUMNS.items():
        if canonical in cols.IGNORED:
            continue
        notes.append([synonyms[0], str(label), "、".join(synonyms[1:])])
    notes.append([])
    for line in (
        _("Dates: 2023-05-12, 2023.05.12, 2023/5/12, 2023年5月12日 or a date cell."),
        _("ID numbers as text (a number cell loses the final X and the last digits)."),
        _("A 15-digit first-generation ID number is converted to 18 digits (noted)."),
        _(
            "Old special-equipment codes (2011 list): add a 目录版本 column with 2011, or they are "
            "read by the issue date (before 2019-06-01: old list)."
        ),
        _("No formulas: paste values."),
    ):
        notes.append([line])
    for col, width in enumerate((16, 28, 60), 1):
        notes.column_dimensions[get_column_letter(col)].width = width
    return xlsx.to_bytes(wb)
