import csv
import io
import os
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import Babel, force_locale
from openpyxl import Workbook, load_workbook

from review import messages
from review.intake.readers import FileRejected, Table, open_table, rows_as_dicts
from review.intake.reports import errors_csv, errors_xlsx, neutralise
from review.intake.template import template_workbook
from workflows.intake import COLUMNS, CaseRow, RowError, map_headers, parse_rows
from workflows.problems import Problem


def write(tmp_path: Path, data: bytes, name: str = "upload.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows(table: Table) -> list[tuple[int, list[str]]]:
    return list(table.rows)


# --- CSV ---------------------------------------------------------------------------


CHINESE_CSV = "病案号,年龄,性别\nZY001,67,男\n,,\nZY002,5,女\n"


@pytest.mark.parametrize(
    ("data", "fmt", "encoding"),
    [
        (CHINESE_CSV.encode("utf-8"), "csv-utf8", "utf-8"),
        (b"\xef\xbb\xbf" + CHINESE_CSV.encode("utf-8"), "csv-utf8-bom", "utf-8-sig"),
        (CHINESE_CSV.encode("gb18030"), "csv-gb18030", "gb18030"),
    ],
)
def test_csv_encodings(tmp_path: Path, data: bytes, fmt: str, encoding: str) -> None:
    table = open_table(write(tmp_path, data, "cases.xlsx"))
    assert (table.format, table.encoding) == (fmt, encoding)
    assert table.headers == ["病案号", "年龄", "性别"]
    assert rows(table) == [(2, ["ZY001", "67", "男"]), (4, ["ZY002", "5", "女"])]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_csv_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    data = delimiter.join(["case_no", "total_cost", "reason"]) + "\nA1" + delimiter + "12.5" + delimiter + '"a, b"\n'
    table = open_table(write(tmp_path, data.encode()))
    assert table.headers == ["case_no", "total_cost", "reason"]
    assert rows(table) == [(2, ["A1", "12.5", "a, b"])]


def test_csv_rows_are_numbered_by_record_and_extra_cells_are_kept(tmp_path: Path) -> None:
    table = open_table(write(tmp_path, b'case_no,reason\nA1,"two\nlines"\nA2\nA3,ok,surplus\n'))
    assert list(rows_as_dicts(table, {0: "case_no", 1: "reason"})) == [
        (2, {"case_no": "A1", "reason": "two\nlines"}),
        (3, {"case_no": "A2", "reason": ""}),
        (4, {"case_no": "A3", "reason": "ok", "column 3": "surplus"}),
    ]


def test_csv_too_many_rows(tmp_path: Path) -> None:
    table = open_table(write(tmp_path, b"case_no\n" + b"A\n" * 4), max_rows=3)
    with pytest.raises(FileRejected) as refused:
        rows(table)
    assert refused.value.problem == Problem("file.too_many_rows", limit="3")


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as refused:
        open_table(write(tmp_path, b"x" * (1024 * 1024 + 1)), max_bytes=1024 * 1024)
    assert refused.value.problem == Problem("file.too_large", size_mb="1.0", limit_mb="1")


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as refused:
        open_table(write(tmp_path, b""))
    assert refused.value.problem == Problem("file.empty")


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 64,
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 100,
        b"case_no\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10",
    ],
    ids=["random-bytes", "exe", "control-characters"],
)
def test_binary_named_csv_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(FileRejected) as refused:
        open_table(write(tmp_path, data))
    assert refused.value.problem == Problem("file.binary")


def test_invalid_encoding_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as refused:
        open_table(write(tmp_path, b"case_no\nA1\n\xff\x80\xfa\n"))
    assert refused.value.problem == Problem("file.unknown_encoding", line=3)


@pytest.mark.parametrize(
    ("lines", "utf8_and_other"),
    [
        (["病案号,性别", "ZY001,男".encode("utf-8"), "ZY002,男".encode("gb18030"), "ZY003,女".encode("utf-8")], (1, 3)),
        (["病案号,性别".encode("gb18030"), "ZY001,男".encode("gb18030"), "ZY002,女".encode("utf-8")], (3, 1)),
        (["case_no,reason", "A1," + "x" * (1024 * 1024 - 1) + "病" * 10, "A2,病".encode("gb18030")], (2, 3)),
    ],
    ids=["utf8-with-a-gb18030-line", "gb18030-with-a-utf8-line", "utf8-line-longer-than-a-read"],
)
def test_mixed_encodings_are_refused_naming_the_lines(tmp_path: Path, lines: list,
                                                      utf8_and_other: tuple[int, int]) -> None:
    data = b"\n".join(line if isinstance(line, bytes) else line.encode("utf-8") for line in lines) + b"\n"
    with pytest.raises(FileRejected) as refused:
        open_table(write(tmp_path, data))
    utf8, other = utf8_and_other
    assert refused.value.problem == Problem("file.mixed_encodings", utf8_line=utf8, other_line=other)


def test_a_one_mebibyte_cell_is_a_row_error(tmp_path: Path) -> None:
    """Not a refused file: the rows around it import, and the report names the row, the column and the limit.
    (An XLSX cell cannot hold more than 32,767 characters, so only CSV can carry one.)"""
    header = ["case_no", "age", "sex", "admission_date", "discharge_date", "principal_dx", "total_cost", "reason"]
    good = ["ZY1", "67", "M", "2025-03-02", "2025-03-20", "I21.4", "1000", ""]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, good, ["ZY2", *good[1:-1], "病" * (1 << 20)], ["ZY3", *good[1:]]])
    table = open_table(write(tmp_path, buffer.getvalue().encode("utf-8")))
    results = list(parse_rows(rows_as_dicts(table, map_headers(table.headers))))
    assert isinstance(results[0], CaseRow) and isinstance(results[2], CaseRow)
    assert results[1] == [RowError(3, "reason", Problem("intake.cell_too_long", chars=1 << 20, maximum=32767),
                                   "病" * 80)]


def test_utf16_is_refused_with_advice(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as refused:
        open_table(write(tmp_path, "case_no\nA1\n".encode("utf-16")))
    assert refused.value.problem == Problem("file.utf16")


# --- XLSX --------------------------------------------------------------------------


def save(workbook: Workbook, tmp_path: Path, name: str = "upload.csv") -> Path:
    path = tmp_path / name
    workbook.save(path)
    return path


def test_xlsx_cells_become_strings(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Case number", "Age", "入院日期", "出院日期", "总费用", "药品费", "其他费"])
    sheet.append(["ZY001", 67.0, date(2025, 3, 2), datetime(2025, 3, 20), 1234.5, "=F3*2", 100.0])
    sheet.append([None] * 7)
    sheet.append(["ZY002", 5, None, None, 0.1, 1e-7, 2.5e16])
    table = open_table(save(workbook, tmp_path))
    assert (table.format, table.encoding) == ("xlsx", None)
    assert table.headers == ["Case number", "Age", "入院日期", "出院日期", "总费用", "药品费", "其他费"]
    assert rows(table) == [
        (2, ["ZY001", "67", "2025-03-02", "2025-03-20", "1234.5", "=F3*2", "100"]),
        (4, ["ZY002", "5", "", "", "0.1", "0.0000001", "25000000000000000"]),
    ]


def test_xlsx_reads_past_a_long_run_of_empty_rows(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["case_no", "age"])
    sheet.append(["A1", 67])
    for row in range(3, 1503):  # 1,500 blank rows, formatted as a hospital export leaves them
        sheet.cell(row=row, column=1, value=None).number_format = "@"
    sheet.cell(row=1503, column=1, value="A2")
    sheet.cell(row=500_000, column=2, value=" ")
    sheet.cell(row=1_000_000, column=1, value="A3")
    table = open_table(save(workbook, tmp_path))
    assert rows(table) == [(2, ["A1", "67"]), (1503, ["A2"]), (1_000_000, ["A3"])]


def test_xlsx_too_many_rows(tmp_path: Path) -> None:
    workbook = Workbook()
    for value in ["case_no", "A", "B", "C"]:
        workbook.active.append([value])
    table = open_table(save(workbook, tmp_path), max_rows=2)
    with pytest.raises(FileRejected) as refused:
        rows(table)
    assert refused.value.problem == Problem("file.too_many_rows", limit="2")


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "cases.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(FileRejected) as refused:
        open_table(path)
    assert refused.value.problem == Problem("file.zip_not_workbook")


def test_damaged_zip(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as refused:
        open_table(write(tmp_path, b"PK\x03\x04" + os.urandom(200), "cases.xlsx"))
    assert refused.value.problem == Problem("file.damaged_zip")


def test_zip_bomb_is_refused_before_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    chunk = b"\x00" * (4 * 1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as entry:
            for _ in range(100):
                entry.write(chunk)
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(FileRejected) as refused:
        open_table(path)
    assert refused.value.problem == Problem("file.zip_bomb", expanded_mb="400")


def test_dense_entry_under_the_size_cap_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "dense.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (20 * 1024 * 1024))
    with pytest.raises(FileRejected) as refused:
        open_table(path)
    assert refused.value.problem.code == "file.zip_bomb"


# --- template and reports ------------------------------------------------------------


def test_template_maps_every_column_and_its_example_imports(tmp_path: Path) -> None:
    table = open_table(write(tmp_path, template_workbook(), "template.xlsx"))
    mapping = map_headers(table.headers)
    assert sorted(mapping.values()) == sorted(column.key for column in COLUMNS)
    [example] = list(parse_rows(rows_as_dicts(table, mapping)))
    assert isinstance(example, CaseRow)
    assert (example.principal_dx, example.total_cost_fen) == ("I214", 18_640_050)
    workbook = load_workbook(io.BytesIO(template_workbook()))
    assert workbook.sheetnames == ["Cases", "Instructions"]
    assert workbook["Cases"]["A1"].font.b and workbook["Cases"].freeze_panes == "B2"
    assert [row[0] for row in workbook["Instructions"].iter_rows(min_row=2, values_only=True)] == [
        column.key for column in COLUMNS
    ]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
        ("I21.4", "I21.4"), ("", ""), (" =x", " =x"),
    ],
)
def test_neutralise(value: str, safe: str) -> None:
    assert neutralise(value) == safe


ERRORS = [
    RowError(2, "age", Problem("intake.not_whole_number", value="'=HYPERLINK(\"http://evil\")'", maximum=124),
             "=HYPERLINK(\"http://evil\")"),
    RowError(3, "case_no", Problem("intake.control_characters", value="'A\x07'"), "病案\x07"),
]


@pytest.fixture
def english() -> Iterator[None]:
    """Reports are worded when written, in the language of whoever downloads them."""
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(Path(messages.__file__).parent / "translations"))
    with app.app_context(), force_locale("en"):
        yield


def test_errors_csv_round_trips_and_is_neutralised(english: None) -> None:
    data = errors_csv(ERRORS)
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))) == [
        ["Row", "Column", "Problem", "Value"],
        ["2", "Age", "'=HYPERLINK(\"http://evil\")' is not a whole number (expected 0–124).",
         "'=HYPERLINK(\"http://evil\")"],
        ["3", "Case number", "'A\x07' contains control characters; remove them.", "病案\x07"],
    ]


def test_errors_xlsx_is_neutralised(english: None) -> None:
    sheet = load_workbook(io.BytesIO(errors_xlsx(ERRORS))).active
    assert sheet["A1"].font.b
    assert list(sheet.iter_rows(values_only=True)) == [
        ("Row", "Column", "Problem", "Value"),
        (2, "Age", "'=HYPERLINK(\"http://evil\")' is not a whole number (expected 0–124).",
         "'=HYPERLINK(\"http://evil\")"),
        (3, "Case number", "'A\ufffd' contains control characters; remove them.", "病案\ufffd"),
    ]
    assert sheet["D2"].data_type == "s"


def test_errors_stored_before_problems_keep_their_message(english: None) -> None:
    stored = {"row": 4, "column": "age", "message": "age: 200 is out of range (expected 0–124)", "value": "200"}
    rows = list(csv.reader(io.StringIO(errors_csv([stored]).decode("utf-8-sig"), newline="")))
    assert rows[1] == ["4", "Age", "age: 200 is out of range (expected 0–124)", "200"]
