"""Downloadable lists of the rows an import refused.

Users open these in Excel, and the values echoed back are whatever the uploaded file
contained, so every cell is neutralised: a value such as "=HYPERLINK(...)" must show
as text, never run as a formula on a reviewer's machine. A report is worded when it is downloaded, in the
language of the person downloading it: the job keeps problems as codes and parameters.
"""

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from review.messages import column_label, row_error_text
from workflows.intake import RowError

HEADERS = (_l("Row"), _l("Column"), _l("Problem"), _l("Value"))
Reported = RowError | Mapping[str, Any]
"""A problem as just found, or as stored with the job (`RowError.to_json`, or a message from before)."""
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Prefix "'" where Excel or LibreOffice would otherwise start a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


def _stored(error: Reported) -> Mapping[str, Any]:
    return error.to_json() if isinstance(error, RowError) else error


def _cells(stored: Mapping[str, Any]) -> list[str]:
    """Column, problem and value in the reader's language, each neutralised."""
    return [neutralise(column_label(str(stored["column"]))), neutralise(row_error_text(stored)),
            neutralise(str(stored["value"]))]


def errors_csv(errors: Iterable[Reported]) -> bytes:
    """UTF-8 with a BOM: without it Excel reads the file in the local code page and garbles Chinese."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([str(title) for title in HEADERS])
    writer.writerows([stored["row"], *_cells(stored)] for stored in map(_stored, errors))
    return buffer.getvalue().encode("utf-8-sig")


def errors_xlsx(errors: Iterable[Reported]) -> bytes:
    """Write-only, so a report of 200,000 errors is streamed rather than built as cell objects."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Errors")
    bold = Font(bold=True)
    header: list[WriteOnlyCell] = []
    for title in HEADERS:
        cell = WriteOnlyCell(sheet, value=str(title))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for stored in map(_stored, errors):
        # Control characters are refused by the XLSX format itself; they are what was wrong, so mark them.
        sheet.append([stored["row"]] + [ILLEGAL_CHARACTERS_RE.sub("\ufffd", cell) for cell in _cells(stored)])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
