"""The blank import workbook hospitals download, generated from the row contract.

Built from workflows.intake.COLUMNS rather than kept as a file so that the template,
its instructions and the parser can never disagree about a column.
"""

import io
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Font

from review.messages import column_label
from workflows.grouping import MAX_PROCEDURES, MAX_SECONDARY_DX
from workflows.intake import CATEGORY_ALIASES, COLUMNS, MAX_CELL_CHARS, MAX_CASE_NO_CHARS

EXAMPLE: dict[str, object] = {
    "case_no": "ZY2025000123",
    "age": 67,
    "sex": "M",
    "admission_date": date(2025, 3, 2),
    "discharge_date": date(2025, 3, 20),
    "principal_dx": "I21.4",
    "secondary_dx": "R57.0; I50.1; I12.9; E11.9; N18.30",
    "procedures": "02703DZ; 5A1955Z",
    "total_cost": 186400.50,
    "drug_cost": 52000,
    "consumables_cost": 78000,
    "examination_cost": 21000.50,
    "treatment_cost": 30000,
    "other_cost": 5400,
    "icu_days": 4,
    "birth_weight": "",
    "hospital_drg": "FM19",
    "category": "high_cost",
    "reason": "急性非ST段抬高型心肌梗死行PCI，术后心源性休克，ICU治疗4天并机械通气，费用远超本组平均水平。",
}
"""A realistic acute-MI stay whose parts add up to the total and whose codes the code editor accepts for its
discharge date (CKD stage 3 has needed its fifth character since FY2021), so the example itself imports cleanly;
tests/integration/test_intake_faults.py imports the downloaded file as it is."""

_FORMATS = {
    "text": _l("text"),
    "int": _l("whole number"),
    "sex": _l("M/F/U, 男/女/未知 or 1/2/0/9"),
    "date": _l("YYYY-MM-DD"),
    "codes": _l("ICD codes separated by ; or ,"),
    "money": _l("yuan, digits only (no separators or units)"),
    "category": ", ".join(CATEGORY_ALIASES),
}
_NOTES = {
    "case_no": _l("at most %(n)s characters", n=MAX_CASE_NO_CHARS),
    "principal_dx": _l("exactly one code"),
    "secondary_dx": _l("at most %(n)s codes", n=MAX_SECONDARY_DX),
    "procedures": _l("at most %(n)s codes", n=MAX_PROCEDURES),
    "total_cost": _l("must equal the sum of the cost parts given, within 1 yuan"),
    "icu_days": _l("0 when empty; at most the length of stay + 1"),
    "birth_weight": _l("newborns only (age 0), in grams"),
    "hospital_drg": _l("at most 10 characters"),
    "reason": _l("required with a category; 10–%(n)s characters", n=MAX_CELL_CHARS),
}
_TEXT_KINDS = {"text", "codes", "sex", "category"}
"""Stored as Excel text so case numbers keep leading zeros and codes like 0010 stay codes."""


def template_workbook() -> bytes:
    """The workbook in the reader's language: headers as its template names them (both languages' headers are
    read back), instructions worded for the reader."""
    workbook = Workbook()
    cases = workbook.active
    cases.title = _("Cases")
    bold = Font(bold=True)
    for index, column in enumerate(COLUMNS, start=1):
        label = column_label(column.key)
        header = cases.cell(row=1, column=index, value=label)
        header.font = bold
        example = cases.cell(row=2, column=index, value=EXAMPLE[column.key])
        if column.kind == "date":
            example.number_format = "yyyy-mm-dd"
        elif column.kind == "money":
            example.number_format = "0.00"
        elif column.kind in _TEXT_KINDS:
            example.number_format = "@"
        letter = header.column_letter
        cases.column_dimensions[letter].width = max(14, len(label) * (2 if not label.isascii() else 1) + 4)
    cases.column_dimensions[cases.cell(row=1, column=len(COLUMNS)).column_letter].width = 60
    cases.freeze_panes = "B2"

    instructions = workbook.create_sheet(_("Instructions"))
    instructions.append((_("Key"), _("English header"), _("Chinese header"), _("Required"), _("Format / example")))
    for cell in instructions[1]:
        cell.font = bold
    for column in COLUMNS:
        example = EXAMPLE[column.key]
        shown = example.isoformat() if isinstance(example, date) else str(example)
        note = _NOTES.get(column.key)
        fmt = _("%(format)s; e.g. %(example)s", format=_FORMATS[column.kind], example=shown[:40])
        if note:
            fmt = _("%(format)s (%(note)s)", format=fmt, note=note)
        instructions.append(
            (column.key, column.header_en, column.header_zh, _("yes") if column.required else _("no"), fmt)
        )
    for letter, width in zip("ABCDE", (18, 24, 20, 12, 90)):
        instructions.column_dimensions[letter].width = width
    instructions.freeze_panes = "A2"

    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
