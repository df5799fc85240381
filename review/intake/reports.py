"""Downloadable lists of the rows an import refused.

Users open these in Excel, and the values echoed back are whatever the uploaded file
contained, so every cell is neutralised: a value such as "=HYPERLINK(...)" must show
as text, never run as a formula on a reviewer's machine.
"""

import csv
import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from workflows.intake import RowError

HEADERS = ("row", "column", "message", "value")
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Prefix "'" where Excel or LibreOffice would otherwise start a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


def _cells(error: RowError) -> list[str]:
    return [neutralise(str(error.row)), neutralise(error.column), neutralise(error.message), neutralise(error.value)]


def errors_csv(errors: Iterable[RowError]) -> bytes:
    """UTF-8 with a BOM: without it Excel reads the file in the local code page and garbles Chinese."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    writer.writerows(_cells(error) for error in errors)
    return buffer.getvalue().encode("utf-8-sig")


def errors_xlsx(errors: Iterable[RowError]) -> bytes:
    """Write-only, so a report of 200,000 errors is streamed rather than built as cell objects."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Errors")
    bold = Font(bold=True)
    header: list[WriteOnlyCell] = []
    for title in HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for error in errors:
        # Control characters are refused by the XLSX format itself; they are what was wrong, so mark them.
        sheet.append([error.row] + [ILLEGAL_CHARACTERS_RE.sub("\ufffd", cell) for cell in _cells(error)[1:]])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
