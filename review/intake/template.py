"""The blank import workbook hospitals download, generated from the row contract.

Built from workflows.intake.COLUMNS rather than kept as a file so that the template,
its instructions and the parser can never disagree about a column.
"""

import io
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Font

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

_FORMATS: dict[str, str] = {
    "text": "text",
    "int": "whole number",
    "sex": "M/F/U, 男/女/未知 or 1/2/0/9",
    "date": "YYYY-MM-DD",
    "codes": "ICD codes separated by ; or ,",
    "money": "yuan, digits only (no separators or units)",
    "category": ", ".join(CATEGORY_ALIASES),
}
_NOTES: dict[str, str] = {
    "case_no": f"at most {MAX_CASE_NO_CHARS} characters",
    "principal_dx": "exactly one code",
    "secondary_dx": f"at most {MAX_SECONDARY_DX} codes",
    "procedures": f"at most {MAX_PROCEDURES} codes",
    "total_cost": "must equal the sum of the cost parts given, within 1 yuan",
    "icu_days": "0 when empty; at most the length of stay + 1",
    "birth_weight": "newborns only (age 0), in grams",
    "hospital_drg": "at most 10 characters",
    "reason": f"required with a category; 10–{MAX_CELL_CHARS} characters",
}
_TEXT_KINDS = {"text", "codes", "sex", "category"}
"""Stored as Excel text so case numbers keep leading zeros and codes like 0010 stay codes."""


def template_workbook() -> bytes:
    workbook = Workbook()
    cases = workbook.active
    cases.title = "Cases"
    bold = Font(bold=True)
    for index, column in enumerate(COLUMNS, start=1):
        header = cases.cell(row=1, column=index, value=column.header_en)
        header.font = bold
        example = cases.cell(row=2, column=index, value=EXAMPLE[column.key])
        if column.kind == "date":
            example.number_format = "yyyy-mm-dd"
        elif column.kind == "money":
            example.number_format = "0.00"
        elif column.kind in _TEXT_KINDS:
            example.number_format = "@"
        letter = header.column_letter
        cases.column_dimensions[letter].width = max(14, len(column.header_en) + 4)
    cases.column_dimensions[cases.cell(row=1, column=len(COLUMNS)).column_letter].width = 60
    cases.freeze_panes = "B2"

    instructions = workbook.create_sheet("说明 Instructions")
    titles = ("Key", "English header", "Chinese header 中文列名", "Required 必填", "Format / example 格式示例")
    instructions.append(titles)
    for cell in instructions[1]:
        cell.font = bold
    for column in COLUMNS:
        example = EXAMPLE[column.key]
        shown = example.isoformat() if isinstance(example, date) else str(example)
        note = _NOTES.get(column.key, "")
        fmt = f"{_FORMATS[column.kind]}; e.g. {shown[:40]}" + (f" ({note})" if note else "")
        instructions.append(
            (column.key, column.header_en, column.header_zh, "yes 是" if column.required else "no 否", fmt)
        )
    for letter, width in zip("ABCDE", (18, 24, 20, 12, 90)):
        instructions.column_dimensions[letter].width = width
    instructions.freeze_panes = "A2"

    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
