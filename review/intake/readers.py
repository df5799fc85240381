"""Uploaded files in, rows of strings out.

The format is read from the bytes, never from the file name, because hospitals rename
exports freely and a hostile upload names itself whatever passes. Everything a user
cannot fix by re-saving the file (binary data, zip bombs, oversize files) is refused
with FileRejected before any row is read; rows are streamed so a 200 MB file is never
held in memory.
"""

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from workflows.problems import ProblemError

MB = 1024 * 1024
SNIFF_BYTES = 64 * 1024
MAX_CONTROL_SHARE = 0.05
MAX_UNCOMPRESSED_BYTES = 300 * MB
MAX_COMPRESSION_RATIO = 200
RATIO_CHECK_MIN_BYTES = 1 * MB
"""Tiny entries compress absurdly well without being dangerous, so the ratio only counts above this."""
MAX_CSV_FIELD_CHARS = 16 * MB
"""Python's csv module refuses a field over 128 KiB as a malformed file; a long cell is a row's problem, reported
by the row checks with its row, column and limit, so only a cell beyond this refuses the whole file."""
_ZIP_MAGIC = b"PK\x03\x04"
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_DELIMITERS = (",", ";", "\t")
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")
_WIDE_CHARACTER = re.compile("[^\x00-\u07ff]")
"""A character UTF-8 spells in three bytes or more."""


csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD_CHARS))


class FileRejected(ProblemError, ValueError):
    """The whole file is refused; `.problem` says why, for the reader's language (review/messages.py)."""


@dataclass
class Table:
    """Headers and a lazy stream of rows (file row number, cells as strings).

    Iterating rows may itself raise FileRejected (too many rows, a malformed CSV
    record deep in the file), since those are only discovered while streaming.
    """

    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    format: str
    encoding: str | None


def open_table(
    path: str | Path, *, max_bytes: int = 200 * MB, max_rows: int = 200_000
) -> Table:
    """Open an uploaded CSV or XLSX file, whatever its name, or raise FileRejected."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("file.empty")
    if size > max_bytes:
        raise FileRejected("file.too_large", size_mb=f"{size / MB:.1f}", limit_mb=f"{max_bytes / MB:.0f}")
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if sample.startswith(_ZIP_MAGIC):
        return _open_xlsx(path, max_rows)
    return _open_csv(path, sample, max_rows)


def rows_as_dicts(table: Table, mapping: dict[int, str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Key each row's cells by column; a filled cell beyond the headers is kept as
    "column N" so the parser can report it rather than the data being silently lost."""
    for number, cells in table.rows:
        values = {key: cells[index] if index < len(cells) else "" for index, key in mapping.items()}
        for index, cell in enumerate(cells):
            if index not in mapping and cell.strip():
                values[f"column {index + 1}"] = cell
        yield number, values


def _limited(rows: Iterator[tuple[int, list[str]]], max_rows: int) -> Iterator[tuple[int, list[str]]]:
    """Skip blank rows and refuse the file once it passes max_rows data rows."""
    count = 0
    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if count > max_rows:
            raise FileRejected("file.too_many_rows", limit=f"{max_rows:,}")
        yield number, cells


# --- XLSX -------------------------------------------------------------------------


def _open_xlsx(path: Path, max_rows: int) -> Table:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        raise FileRejected("file.damaged_zip") from None
    if "xl/workbook.xml" not in {entry.filename for entry in entries}:
        raise FileRejected("file.zip_not_workbook")
    # zipfile stops each entry at its declared size, so checking declared sizes bounds the work.
    expanded = sum(entry.file_size for entry in entries)
    too_dense = any(
        entry.file_size > RATIO_CHECK_MIN_BYTES
        and entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1)
        for entry in entries
    )
    if expanded > MAX_UNCOMPRESSED_BYTES or too_dense:
        raise FileRejected("file.zip_bomb", expanded_mb=f"{expanded / MB:.0f}")
    # A file object, not the path: openpyxl would otherwise judge the file by its extension.
    handle = path.open("rb")
    try:
        workbook = load_workbook(handle, read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many types for a malformed workbook
        handle.close()
        raise FileRejected("file.workbook_unreadable", error=type(error).__name__) from None
    sheet = workbook.worksheets[0]
    # The declared dimension is not trusted: a forged A1:XFD1048576 would pad every row.
    sheet.reset_dimensions()
    rows = _xlsx_rows(workbook, handle, sheet.iter_rows(values_only=True))
    first = next(rows, None)
    headers = [] if first is None else first[1]
    return Table(headers, _limited(rows, max_rows), "xlsx", None)


def _xlsx_rows(
    workbook: Workbook, handle: IO[bytes], values: Iterator[tuple[object, ...]]
) -> Iterator[tuple[int, list[str]]]:
    """Every row to the sheet's last, however many blank rows come between: data below a gap is data. A sheet
    formatted down to row 1,048,576 costs a pass over empty rows, which `_limited` skips."""
    try:
        for number, row in enumerate(values, start=1):
            yield number, [_cell_text(value) for value in row]
    finally:
        workbook.close()
        handle.close()


def _cell_text(value: object) -> str:
    """Render a cell as the user typed it: no float noise, dates as ISO, formulas as "=…"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


# --- CSV --------------------------------------------------------------------------


def _open_csv(path: Path, sample: bytes, max_rows: int) -> Table:
    if sample.startswith(_UTF16_BOMS):
        raise FileRejected("file.utf16")
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if b"\x00" in sample or controls > MAX_CONTROL_SHARE * len(sample):
        raise FileRejected("file.binary")
    utf8_bad, utf8_wide = _utf8_lines(path)
    if sample.startswith(_UTF8_BOM):
        encoding, label = "utf-8-sig", "csv-utf8-bom"
        if utf8_bad is not None:
            raise FileRejected("file.bad_utf8", line=utf8_bad)
    elif utf8_bad is None:
        encoding, label = "utf-8", "csv-utf8"
    elif utf8_wide is not None:
        raise FileRejected("file.mixed_encodings", utf8_line=utf8_wide, other_line=utf8_bad)
    else:
        gb_bad = _first_bad_line(path, "gb18030")
        if gb_bad is not None:
            raise FileRejected("file.unknown_encoding", line=max(utf8_bad, gb_bad))
        encoding, label = "gb18030", "csv-gb18030"
    text = path.open(encoding=encoding, newline="")
    delimiter = _sniff_delimiter(text.readline())
    text.seek(0)
    rows = _csv_rows(text, delimiter)
    first = next(rows, None)
    headers = [] if first is None else first[1]
    return Table(headers, _limited(rows, max_rows), label, encoding)


def _utf8_lines(path: Path) -> tuple[int | None, int | None]:
    """(first line that is not UTF-8, first line that can only be UTF-8), so a file mixing encodings is refused
    rather than decoded whole as GB18030, which turns its UTF-8 lines into mojibake without an error.

    A line "can only be UTF-8" when it decodes as UTF-8 with a character of three bytes or more, as every Chinese
    character is; two-byte sequences prove nothing, since GB18030 text often forms them (女 is C5 AE, "Ů" in
    UTF-8). Neither encoding puts a newline byte inside a character, so each line is judged on its own, read in
    pieces of at most 1 MB so a file without line breaks is never held whole.
    """
    bad: int | None = None
    wide: int | None = None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    number, failed, ends = 1, False, True
    with path.open("rb") as handle:
        while bad is None or wide is None:
            piece = handle.readline(MB)
            if not piece:
                break
            ends = piece.endswith(b"\n")
            if not failed and (not piece.isascii() or decoder.getstate()[0]):
                try:
                    text = decoder.decode(piece, final=ends)
                except UnicodeDecodeError:
                    failed, bad = True, bad or number
                else:
                    if wide is None and _WIDE_CHARACTER.search(text):
                        wide = number
            if ends:
                number, failed = number + 1, False
                decoder.reset()
    if not ends and not failed and bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = number
    return bad, wide


def _first_bad_line(path: Path, encoding: str) -> int | None:
    """Decode the whole file up front so a bad byte is refused before any row is imported."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(MB):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return line + chunk[: max(error.start, 0)].count(b"\n")
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return line
    return None


def _sniff_delimiter(header_line: str) -> str:
    """Chinese and European Excel save CSV with ";" or tabs; the header line tells which."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _csv_rows(text: IO[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Number CSV records, not physical lines, since that is the row Excel shows."""
    with text:
        reader = csv.reader(text, delimiter=delimiter)
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):
                yield number, cells
        except csv.Error as error:
            raise FileRejected("file.bad_csv", row=number + 1, error=str(error)) from None
