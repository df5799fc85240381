"""The row contract of bulk case intake: which columns a file has and what a valid row is.

The import service, the hospital API and the CLI all feed rows of raw strings through
this one parser so that a case is accepted or refused the same way whichever door it
came in by. Every problem of a row is reported at once, naming the column, the value
found and what was expected, because the person fixing the file works from that list
alone and should not have to re-upload once per mistake. Each problem is a `Problem` (DESIGN §10.1): the shell
words it in the reader's language, and an import's stored report keeps the codes, not sentences.
"""

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workflows.eligibility import Rule
from workflows.grouping import MAX_AGE, MAX_PROCEDURES, MAX_SECONDARY_DX, Sex, normalise_code
from workflows.identifiers import normalise_identifier
from workflows.money import Fen, MoneyError, parse_yuan
from workflows.problems import Problem


@dataclass(frozen=True)
class Column:
    key: str
    header_en: str
    header_zh: str
    required: bool
    kind: str


COLUMNS: tuple[Column, ...] = (
    Column("case_no", "Case number", "病案号", True, "text"),
    Column("age", "Age", "年龄", True, "int"),
    Column("sex", "Sex", "性别", True, "sex"),
    Column("admission_date", "Admission date", "入院日期", True, "date"),
    Column("discharge_date", "Discharge date", "出院日期", True, "date"),
    Column("principal_dx", "Principal diagnosis", "主要诊断编码", True, "codes"),
    Column("secondary_dx", "Secondary diagnoses", "其他诊断编码", False, "codes"),
    Column("procedures", "Procedures", "手术操作编码", False, "codes"),
    Column("total_cost", "Total cost", "总费用", True, "money"),
    Column("drug_cost", "Drug cost", "药品费", False, "money"),
    Column("consumables_cost", "Consumables cost", "耗材费", False, "money"),
    Column("examination_cost", "Examination cost", "检查检验费", False, "money"),
    Column("treatment_cost", "Treatment cost", "治疗费", False, "money"),
    Column("other_cost", "Other cost", "其他费", False, "money"),
    Column("icu_days", "ICU days", "重症监护天数", False, "int"),
    Column("birth_weight", "Birth weight (g)", "新生儿出生体重(克)", False, "int"),
    Column("hospital_drg", "Hospital DRG", "医院分组DRG", False, "text"),
    Column("category", "Application category", "申请类别", False, "category"),
    Column("reason", "Application reason", "申请理由", False, "text"),
)

_BY_KEY = {column.key: column for column in COLUMNS}

COST_PARTS: tuple[str, ...] = (
    "drug_cost",
    "consumables_cost",
    "examination_cost",
    "treatment_cost",
    "other_cost",
)

MAX_CASE_NO_CHARS = 40
MAX_BIRTH_WEIGHT_GRAMS = 9999
MAX_HOSPITAL_DRG_CHARS = 10
MAX_CELL_CHARS = 4000
"""Longest accepted code list or reason."""
MAX_ANY_CELL_CHARS = 32_767
"""Excel's own limit for one cell: a longer value did not come from a spreadsheet and is refused before any other
work is spent on it."""
DEFAULT_MAX_CASE_COST_FEN: Fen = 10**10
"""¥100,000,000: the policy's default ceiling for one stay's total cost; a larger figure is a typing error."""
_FREE_TEXT = frozenset({"reason"})
"""Kept as typed; every other cell is an identifier, a number, a date or a list of codes and is normalised (a list
code by code, since a full-width or no-break space between two codes separates them)."""
MIN_REASON_CHARS = 10
"""A reason must say something; a placeholder such as "see notes" is refused."""
COST_TOLERANCE_FEN: Fen = 100
"""Hospital systems round each cost part separately, so the parts may miss the total by a yuan."""
MIN_YEAR, MAX_YEAR = 1900, 2100
MAX_VALUE_CHARS = 80
"""RowError.value is shown in tables and stored with the job, so the echo of a value is bounded."""

CATEGORY_ALIASES: dict[str, str] = {
    **{rule.value: rule.value for rule in Rule},
    "高费用": Rule.HIGH_COST.value,
    "长住院": Rule.LONG_STAY.value,
    "重症监护": Rule.ICU_HEAVY.value,
    "多学科复杂": Rule.COMPLEX_CARE.value,
    "新生儿": Rule.NEWBORN.value,
    "新药新技术": Rule.NEW_TECHNOLOGY.value,
}

SEX_ALIASES: dict[str, Sex] = {
    "m": Sex.MALE,
    "male": Sex.MALE,
    "男": Sex.MALE,
    "1": Sex.MALE,
    "f": Sex.FEMALE,
    "female": Sex.FEMALE,
    "女": Sex.FEMALE,
    "2": Sex.FEMALE,
    "u": Sex.UNKNOWN,
    "unknown": Sex.UNKNOWN,
    "未知": Sex.UNKNOWN,
    "0": Sex.UNKNOWN,
    "9": Sex.UNKNOWN,
}
"""Letters, English words, Chinese words and the GB/T 2261.1 codes hospital systems export."""

_CODE = re.compile(r"[A-Z0-9]{3,7}")
_CODE_SEPARATORS = re.compile(r"[,;，；、\s]+")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}(?:\.0+)?")
"""Excel stores every number as a float, so "67.0" is an honest 67; nine digits bounds int()."""
_DATE_SEPARATED = re.compile(
    r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
    r"(?:[ T](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?)?"
)
"""Hospital systems export admission and discharge as date-times; only the day counts for a DRG stay."""
_DATE_COMPACT = re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})")


class HeaderError(ValueError):
    """The header row cannot be mapped; every problem is listed so one fix suffices."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.code for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class RowError:
    """Which row, which column (a column key, "" for a cell outside the columns), what is wrong, what was found."""

    row: int
    column: str
    problem: Problem
    value: str

    def to_json(self) -> dict[str, Any]:
        """As kept with an import job and sent by the API: the problem as its code and parameters, never a
        sentence, so the report reads in whatever language its reader chose."""
        return {"row": self.row, "column": self.column, "value": self.value, "problem": self.problem.to_json()}


@dataclass(frozen=True)
class CaseRow:
    row: int
    case_no: str
    age: int
    sex: Sex
    admission_date: date
    discharge_date: date
    los_days: int
    principal_dx: str
    secondary_dx: tuple[str, ...]
    procedures: tuple[str, ...]
    total_cost_fen: Fen
    cost_breakdown: dict[str, Fen] = field(hash=False)
    icu_days: int
    birth_weight_grams: int | None
    hospital_drg: str | None
    category: str | None
    reason: str | None


def _header_token(text: str) -> str:
    """Headers are retyped by hand in Excel, often with stray, full-width or invisible spaces."""
    return " ".join(normalise_identifier(text).split()).casefold()


_HEADER_LOOKUP: dict[str, str] = {
    _header_token(name): column.key
    for column in COLUMNS
    for name in (column.key, column.header_en, column.header_zh)
}


def map_headers(headers: Sequence[str]) -> dict[int, str]:
    """Map column positions to keys, so files may order and name columns as they like."""
    if not any(header.strip() for header in headers):
        raise HeaderError([Problem("intake.header.none")])
    mapping: dict[int, str] = {}
    first_position: dict[str, int] = {}
    problems: list[Problem] = []
    for index, header in enumerate(headers):
        token = _header_token(header)
        if not token:
            continue
        key = _HEADER_LOOKUP.get(token)
        if key is None:
            problems.append(Problem("intake.header.unknown", header=_quote(header.strip()), position=index + 1))
        elif key in first_position:
            problems.append(Problem("intake.header.repeated", column=key, first=first_position[key] + 1,
                                    second=index + 1))
        else:
            first_position[key] = index
            mapping[index] = key
    for column in COLUMNS:
        if column.required and column.key not in first_position:
            problems.append(Problem("intake.header.missing", column=column.key))
    if problems:
        raise HeaderError(problems)
    return mapping


class _Row:
    """Collects one row's errors while each field is parsed independently."""

    def __init__(self, row: int, values: Mapping[str, str]) -> None:
        self.row = row
        self.values = values
        self.errors: list[RowError] = []

    def raw(self, key: str) -> str:
        return self.values.get(key) or ""

    def fail(self, key: str, problem: Problem, value: str | None = None) -> None:
        shown = self.raw(key) if value is None else value
        self.errors.append(RowError(self.row, key, problem, shown[:MAX_VALUE_CHARS]))

    def cell(self, key: str) -> str | None:
        """The normalised value, or None when it is empty, too long, a formula, or missing though required."""
        raw = self.raw(key)
        if len(raw) > MAX_ANY_CELL_CHARS:
            self.fail(key, Problem("intake.cell_too_long", chars=len(raw), maximum=MAX_ANY_CELL_CHARS))
            return None
        text = raw.strip() if key in _FREE_TEXT or _BY_KEY[key].kind == "codes" else normalise_identifier(raw)
        if text.startswith("="):
            self.fail(key, Problem("intake.formula", value=_quote(text)))
            return None
        if not text:
            if _BY_KEY[key].required:
                self.fail(key, Problem("intake.required", column=key))
            return None
        return text


def _quote(text: str) -> str:
    """The value as echoed inside a problem: quoted, so spaces show, and bounded."""
    return repr(text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…")


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def _whole_number(r: _Row, key: str, text: str, high: int | None) -> int | None:
    if not _WHOLE_NUMBER.fullmatch(text):
        r.fail(key, Problem("intake.not_whole_number", value=_quote(text), maximum=high) if high is not None
               else Problem("intake.not_whole_number.unbounded", value=_quote(text)))
        return None
    number = int(text.split(".")[0])
    if number < 0 or (high is not None and number > high):
        r.fail(key, Problem("intake.out_of_range", number=number, maximum=high) if high is not None
               else Problem("intake.out_of_range.unbounded", number=number))
        return None
    return number


def _parse_date(r: _Row, key: str) -> date | None:
    text = r.cell(key)
    if text is None:
        return None
    match = _DATE_SEPARATED.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
    if match is None:
        r.fail(key, Problem("intake.not_a_date", value=_quote(text)))
        return None
    year, month, day = (int(part) for part in match.group("y", "m", "d"))
    try:
        parsed = date(year, month, day)
    except ValueError:
        r.fail(key, Problem("intake.not_a_real_date", value=_quote(text)))
        return None
    if not MIN_YEAR <= year <= MAX_YEAR:
        r.fail(key, Problem("intake.year_out_of_range", value=_quote(text), first=MIN_YEAR, last=MAX_YEAR))
        return None
    return parsed


def _parse_codes(r: _Row, key: str, limit: int) -> tuple[str, ...] | None:
    """Count before validating so a pasted column of thousands of codes costs one error."""
    text = r.cell(key)
    if text is None:
        return None if _BY_KEY[key].required else ()
    pairs = [(token, normalise_code(token)) for token in _CODE_SEPARATORS.split(text)]
    codes = [raw for raw, code in pairs if code]
    if not codes and _BY_KEY[key].required:
        r.fail(key, Problem("intake.no_code", column=key))
        return None
    if len(codes) > limit:
        r.fail(key, Problem("intake.codes.one_expected", count=len(codes)) if limit == 1
               else Problem("intake.codes.too_many", count=len(codes), maximum=limit))
        return None
    if len(text) > MAX_CELL_CHARS:
        r.fail(key, Problem("intake.text_too_long", chars=len(text), maximum=MAX_CELL_CHARS))
        return None
    normalised = tuple(code for _, code in pairs if code)
    bad = [raw for raw, code in zip(codes, normalised) if not _CODE.fullmatch(code)]
    for raw in bad:
        r.fail(key, Problem("intake.codes.invalid", value=_quote(raw)))
    return None if bad else normalised


def _parse_money(r: _Row, key: str, high: Fen | None = None) -> Fen | None:
    text = r.cell(key)
    if text is None:
        return None
    try:
        fen = parse_yuan(text)
    except MoneyError as error:
        r.fail(key, error.problem)
        return None
    if high is not None and fen > high:
        r.fail(key, Problem("intake.cost_above_ceiling", cost_fen=fen, maximum_fen=high))
        return None
    return fen


def _parse_text(r: _Row, key: str, limit: int, allowed_controls: str = "") -> str | None:
    text = r.cell(key)
    if text is None:
        return None
    if len(text) > limit:
        r.fail(key, Problem("intake.text_too_long", chars=len(text), maximum=limit))
        return None
    if _has_control(text, allowed_controls):
        r.fail(key, Problem("intake.control_characters", value=_quote(text)))
        return None
    return text


def parse_row(row: int, values: Mapping[str, str],
              max_case_cost_fen: Fen = DEFAULT_MAX_CASE_COST_FEN) -> CaseRow | list[RowError]:
    """Parse one row of raw strings keyed by column key; never raises on user data.

    `max_case_cost_fen` is the policy's ceiling for a stay's total cost.
    """
    r = _Row(row, values)
    for key, value in values.items():
        if key not in _BY_KEY and value and value.strip():
            r.fail("", Problem("intake.outside_columns", value=_quote(value.strip()), cell=key), value)

    case_no = _parse_text(r, "case_no", MAX_CASE_NO_CHARS)

    age_text = r.cell("age")
    age = None if age_text is None else _whole_number(r, "age", age_text, MAX_AGE)

    sex: Sex | None = None
    sex_text = r.cell("sex")
    if sex_text is not None:
        sex = SEX_ALIASES.get(sex_text.casefold())
        if sex is None:
            r.fail("sex", Problem("intake.not_a_sex", value=_quote(sex_text)))

    admission = _parse_date(r, "admission_date")
    discharge = _parse_date(r, "discharge_date")
    los_days: int | None = None
    if admission is not None and discharge is not None:
        if discharge < admission:
            r.fail("discharge_date", Problem("intake.discharge_before_admission", discharge_date=discharge.isoformat(),
                                             admission_date=admission.isoformat()))
        else:
            los_days = (discharge - admission).days

    principal = _parse_codes(r, "principal_dx", 1)
    secondary = _parse_codes(r, "secondary_dx", MAX_SECONDARY_DX)
    procedures = _parse_codes(r, "procedures", MAX_PROCEDURES)

    total = _parse_money(r, "total_cost", max_case_cost_fen)
    parts = {key: _parse_money(r, key) for key in COST_PARTS if r.raw(key).strip()}
    breakdown = {key: fen for key, fen in parts.items() if fen is not None}
    if total is not None and parts and len(breakdown) == len(parts):
        part_sum = sum(breakdown.values())
        if abs(part_sum - total) > COST_TOLERANCE_FEN:
            r.fail("total_cost", Problem("intake.parts_do_not_add_up", total_fen=total, parts_fen=part_sum,
                                         tolerance_fen=COST_TOLERANCE_FEN))

    icu_days: int | None = 0
    icu_text = r.cell("icu_days")
    if icu_text is not None:
        icu_days = _whole_number(r, "icu_days", icu_text, None)
        if icu_days is not None and los_days is not None and icu_days > los_days + 1:
            r.fail("icu_days", Problem("intake.icu_exceeds_stay", icu_days=icu_days, los_days=los_days,
                                       maximum=los_days + 1))
            icu_days = None

    birth_weight: int | None = None
    weight_text = r.cell("birth_weight")
    if weight_text is not None:
        birth_weight = _whole_number(r, "birth_weight", weight_text, MAX_BIRTH_WEIGHT_GRAMS)
        if birth_weight is not None and age is not None and age > 0:
            r.fail("birth_weight", Problem("intake.birth_weight_not_newborn", age=age))

    hospital_drg = _parse_text(r, "hospital_drg", MAX_HOSPITAL_DRG_CHARS)

    category: str | None = None
    category_text = r.cell("category")
    if category_text is not None:
        category = CATEGORY_ALIASES.get(category_text.casefold())
        if category is None:
            r.fail("category", Problem("intake.not_a_category", value=_quote(category_text),
                                       accepted=list(CATEGORY_ALIASES)))

    reason = _parse_text(r, "reason", MAX_CELL_CHARS, allowed_controls="\t\n\r")
    if category_text is not None and reason is None and not r.raw("reason").strip():
        r.fail("reason", Problem("intake.reason_required"))
    elif category_text is not None and reason is not None and len(reason) < MIN_REASON_CHARS:
        r.fail("reason", Problem("intake.reason_too_short", chars=len(reason), minimum=MIN_REASON_CHARS))

    if r.errors:
        return r.errors
    assert case_no is not None and age is not None and sex is not None
    assert admission is not None and discharge is not None and los_days is not None
    assert principal is not None and secondary is not None and procedures is not None
    assert total is not None and icu_days is not None
    return CaseRow(
        row=row,
        case_no=case_no,
        age=age,
        sex=sex,
        admission_date=admission,
        discharge_date=discharge,
        los_days=los_days,
        principal_dx=principal[0],
        secondary_dx=secondary,
        procedures=procedures,
        total_cost_fen=total,
        cost_breakdown=breakdown,
        icu_days=icu_days,
        birth_weight_grams=birth_weight,
        hospital_drg=hospital_drg,
        category=category,
        reason=reason,
    )


def parse_rows(rows: Iterable[tuple[int, Mapping[str, str]]],
               max_case_cost_fen: Fen = DEFAULT_MAX_CASE_COST_FEN) -> Iterator[CaseRow | list[RowError]]:
    """Lazily, so a 200,000-row file is parsed as it is read."""
    return (parse_row(row, values, max_case_cost_fen) for row, values in rows)


def duplicate_key(row: CaseRow) -> tuple[str, date]:
    """One stay per case number and discharge date: a readmission gets a new discharge date."""
    return (row.case_no, row.discharge_date)
