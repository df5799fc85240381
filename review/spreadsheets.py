"""CSV and XLSX tables for people who open them in Excel: decisions, the journal, settlement statements.

Their text comes partly from hospitals' own files (names, case numbers), so every text cell goes through the same
neutralising function as the import error reports: a case number such as `=HYPERLINK(...)` shows as text and
never runs as a formula. Numbers and dates are the program's own and stay numbers, so a recovery of -500.00 can
be summed in the sheet.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from review import clock
from review.intake.reports import neutralise

MONEY = "#,##0.00"
DAY = "yyyy-mm-dd"
MINUTE = "yyyy-mm-dd hh:mm"


@dataclass(frozen=True)
class Cell:
    """One value of a row: text is neutralised at the writer, numbers and dates are written as numbers."""

    value: str | Decimal | int | datetime | date | None
    number_format: str | None = None


def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


def money(fen: int | None) -> Cell:
    return Cell(yuan(fen), MONEY)


def local_time(moment: datetime | None, zone_name: str | None) -> datetime | None:
    """Stored UTC shown as the bureau's wall-clock time (naive, as a spreadsheet cell holds it)."""
    return None if moment is None else moment.astimezone(clock.zone(zone_name)).replace(tzinfo=None, microsecond=0)


def csv_text(cell: Cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # Decimal with two places, or an int: digits and at most a leading minus sign


def xlsx_cell(sheet: object, cell: Cell) -> WriteOnlyCell:
    value = cell.value
    if isinstance(value, str):
        # neutralised, and the control characters XLSX itself refuses replaced rather than failing the file
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", neutralise(value))
    written = WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]
    if cell.number_format and value is not None:
        written.number_format = cell.number_format
    return written


def write_csv(headers: Sequence[object], rows: Iterable[Sequence[Cell]], output: IO[bytes]) -> int:
    """UTF-8 with a BOM: without it Excel reads the file in the local code page and garbles Chinese. Returns the
    number of rows written; the binary file stays open for the caller."""
    text = io.TextIOWrapper(output, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([str(title) for title in headers])
    count = 0
    for count, cells in enumerate(rows, start=1):
        writer.writerow([csv_text(cell) for cell in cells])
    text.flush()
    text.detach()
    return count


def header_cells(sheet: object, titles: Sequence[object]) -> list[WriteOnlyCell]:
    bold = Font(bold=True)
    cells = []
    for title in titles:
        cell = WriteOnlyCell(sheet, value=str(title))  # type: ignore[arg-type]
        cell.font = bold
        cells.append(cell)
    return cells


def write_xlsx(sheet_name: str, headers: Sequence[object], widths: Sequence[int], rows: Iterable[Sequence[Cell]],
               output: IO[bytes], preamble: Sequence[Sequence[Cell]] = ()) -> int:
    """One sheet, write-only (streamed, not built as cell objects), frozen under its bold header row; `preamble`
    rows (a document's own facts, such as a statement's figures) come above the header."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)
    sheet.freeze_panes = f"A{len(preamble) + 2}"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for cells in preamble:
        sheet.append([xlsx_cell(sheet, cell) for cell in cells])
    sheet.append(header_cells(sheet, headers))
    count = 0
    for count, cells in enumerate(rows, start=1):
        sheet.append([xlsx_cell(sheet, cell) for cell in cells])
    workbook.save(output)
    return count
