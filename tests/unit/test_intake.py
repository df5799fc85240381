from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.grouping import MAX_PROCEDURES, MAX_SECONDARY_DX, Sex
from workflows.identifiers import normalise_identifier
from workflows.intake import (
    COLUMNS,
    DEFAULT_MAX_CASE_COST_FEN,
    CaseRow,
    HeaderError,
    RowError,
    duplicate_key,
    map_headers,
    parse_row,
    parse_rows,
)

KEYS = [column.key for column in COLUMNS]

VALID: dict[str, str] = {
    "case_no": "ZY2025000123",
    "age": "67",
    "sex": "M",
    "admission_date": "2025-03-02",
    "discharge_date": "2025-03-20",
    "principal_dx": "I21.4",
    "secondary_dx": "I10; E11.9",
    "procedures": "02703DZ",
    "total_cost": "186400.50",
    "drug_cost": "",
    "icu_days": "4",
    "category": "high_cost",
    "reason": "Cardiogenic shock after PCI, four days in ICU.",
}


def parsed(**changes: str) -> CaseRow:
    result = parse_row(2, {**VALID, **changes})
    assert isinstance(result, CaseRow), result
    return result


def errors(**changes: str) -> list[RowError]:
    result = parse_row(2, {**VALID, **changes})
    assert isinstance(result, list), result
    return result


def only_error(column: str, **changes: str) -> str:
    found = errors(**changes)
    assert [error.column for error in found] == [column], found
    return found[0].message


# --- headers ----------------------------------------------------------------------


def test_map_headers_accepts_english_chinese_and_keys_in_any_order() -> None:
    headers = ["  AGE ", "病案号", "sex", "入院日期", "Discharge date", "主要\u3000诊断编码\u3000", "total_COST"]
    assert map_headers(headers) == {
        0: "age",
        1: "case_no",
        2: "sex",
        3: "admission_date",
        4: "discharge_date",
        5: "principal_dx",
        6: "total_cost",
    }


def test_map_headers_skips_blank_header_cells() -> None:
    headers = [column.header_en for column in COLUMNS] + ["", "  "]
    assert map_headers(headers) == dict(enumerate(KEYS))


def test_map_headers_lists_every_problem() -> None:
    with pytest.raises(HeaderError) as caught:
        map_headers(["Case number", "年龄", "age", "Colour", "Sex", "出院日期", "principal_dx", "总费用"])
    assert caught.value.problems == [
        "column 'Age' (年龄) appears more than once (columns 2 and 3)",
        "unknown column header 'Colour' (column 4)",
        "missing required column 'Admission date' (入院日期)",
    ]


def test_map_headers_refuses_an_empty_header_row() -> None:
    with pytest.raises(HeaderError, match="the file has no header row") as caught:
        map_headers(["", " ", "\u3000"])
    assert caught.value.problems == ["the file has no header row"]


# --- a valid row ------------------------------------------------------------------


def test_valid_row_parses_every_field() -> None:
    row = parsed(drug_cost="100000", other_cost="86400.5", hospital_drg="FM19")
    assert row == CaseRow(
        row=2,
        case_no="ZY2025000123",
        age=67,
        sex=Sex.MALE,
        admission_date=date(2025, 3, 2),
        discharge_date=date(2025, 3, 20),
        los_days=18,
        principal_dx="I214",
        secondary_dx=("I10", "E119"),
        procedures=("02703DZ",),
        total_cost_fen=18_640_050,
        cost_breakdown={"drug_cost": 10_000_000, "other_cost": 8_640_050},
        icu_days=4,
        birth_weight_grams=None,
        hospital_drg="FM19",
        category="high_cost",
        reason="Cardiogenic shock after PCI, four days in ICU.",
    )


def test_optional_columns_may_be_missing_entirely() -> None:
    minimal = {key: VALID[key] for key in ("case_no", "age", "sex", "admission_date", "discharge_date", "principal_dx", "total_cost")}
    row = parse_row(7, minimal)
    assert isinstance(row, CaseRow)
    assert (row.row, row.secondary_dx, row.procedures, row.icu_days) == (7, (), (), 0)
    assert (row.cost_breakdown, row.hospital_drg, row.category, row.reason) == ({}, None, None, None)


def test_all_errors_of_a_row_are_collected() -> None:
    found = parse_row(9, {"age": "200", "sex": "X", "admission_date": "2025-13-01"})
    assert isinstance(found, list)
    assert [error.column for error in found] == [
        "case_no", "age", "sex", "admission_date", "discharge_date", "principal_dx", "total_cost"
    ]
    assert {error.row for error in found} == {9}


@pytest.mark.parametrize("key", [column.key for column in COLUMNS if column.required])
def test_required_columns(key: str) -> None:
    assert "is required" in only_error(key, **{key: "  "})


# --- rules, at their boundaries -------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_formulas_are_refused_in_every_column(key: str) -> None:
    message = only_error(key, **{key: "  =HYPERLINK(\"http://x\")"})
    assert "formulas are not accepted; paste values" in message


def test_case_no_limits() -> None:
    assert parsed(case_no="  " + "A" * 40 + " ").case_no == "A" * 40
    assert only_error("case_no", case_no="A" * 41) == "case_no: 41 characters given, at most 40 allowed"
    assert "control characters" in only_error("case_no", case_no="A\x07B")


@pytest.mark.parametrize(("text", "age"), [("0", 0), ("124", 124), ("67.0", 67), (" 67 ", 67)])
def test_age_accepts(text: str, age: int) -> None:
    assert parsed(age=text).age == age


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("125", "age: 125 is out of range (expected 0–124)"),
        ("-1", "age: -1 is out of range (expected 0–124)"),
        ("67.5", "age: '67.5' is not a whole number (expected 0–124)"),
        ("sixty", "age: 'sixty' is not a whole number (expected 0–124)"),
        ("9" * 5000, "is not a whole number"),
    ],
)
def test_age_rejects(text: str, message: str) -> None:
    assert message in only_error("age", age=text)


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("M", Sex.MALE), ("male", Sex.MALE), ("男", Sex.MALE), ("1", Sex.MALE),
        ("f", Sex.FEMALE), ("Female", Sex.FEMALE), ("女", Sex.FEMALE), ("2", Sex.FEMALE),
        ("U", Sex.UNKNOWN), ("unknown", Sex.UNKNOWN), ("未知", Sex.UNKNOWN), ("0", Sex.UNKNOWN), ("9", Sex.UNKNOWN),
    ],
)
def test_sex_accepts(text: str, sex: Sex) -> None:
    assert parsed(sex=text).sex is sex


@pytest.mark.parametrize("text", ["3", "X", "man"])
def test_sex_rejects(text: str) -> None:
    assert only_error("sex", sex=text).startswith(f"sex: {text!r} is not a sex")


@pytest.mark.parametrize(
    "text", ["2025-03-02", "2025/03/02", "2025.3.2", "20250302", "2025-03-02 00:00:00", "2025-03-02 14:30",
             "2025-03-02T23:59:59"]
)
def test_date_formats(text: str) -> None:
    assert parsed(admission_date=text).admission_date == date(2025, 3, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-02-30", "discharge_date: '2025-02-30' is not a real date (expected YYYY-MM-DD)"),
        ("20250230", "discharge_date: '20250230' is not a real date (expected YYYY-MM-DD)"),
        ("2025-03/20", "discharge_date: '2025-03/20' is not a date (expected YYYY-MM-DD)"),
        ("20/03/2025", "discharge_date: '20/03/2025' is not a date (expected YYYY-MM-DD)"),
        ("2025-03-20 25:30:00", "discharge_date: '2025-03-20 25:30:00' is not a date (expected YYYY-MM-DD)"),
        ("2101-01-01", "discharge_date: '2101-01-01' is outside the years 1900–2100"),
    ],
)
def test_date_rejects(text: str, message: str) -> None:
    assert only_error("discharge_date", discharge_date=text) == message


def test_date_range_boundaries() -> None:
    assert parsed(admission_date="1900-01-01").los_days == (date(2025, 3, 20) - date(1900, 1, 1)).days
    assert parsed(discharge_date="2100-12-31").discharge_date == date(2100, 12, 31)
    assert "outside the years" in only_error("admission_date", admission_date="1899-12-31")


def test_discharge_before_admission_is_an_error_on_discharge_date() -> None:
    assert parsed(discharge_date="2025-03-02", icu_days="1").los_days == 0
    assert only_error("discharge_date", discharge_date="2025-03-01", icu_days="") == (
        "discharge_date: 2025-03-01 is before the admission date 2025-03-02"
    )


def test_code_separators_and_normalisation() -> None:
    row = parsed(secondary_dx=" i10，e11.9；N18.3、J44.1;K21.9,\nZ95.5\tR50.9 ")
    assert row.secondary_dx == ("I10", "E119", "N183", "J441", "K219", "Z955", "R509")


def test_bad_code_is_named() -> None:
    found = errors(secondary_dx="I10; X1; E11.9; Ü123")
    assert [(error.column, error.message) for error in found] == [
        ("secondary_dx", "secondary_dx: code 'X1' is not a valid code (expected 3–7 letters and digits, e.g. I21.4)"),
        ("secondary_dx", "secondary_dx: code 'Ü123' is not a valid code (expected 3–7 letters and digits, e.g. I21.4)"),
    ]
    assert "'I214X123'" in only_error("principal_dx", principal_dx="I214X123")


def test_principal_is_exactly_one_code() -> None:
    assert only_error("principal_dx", principal_dx="I21.4, I10") == "principal_dx: 2 codes given, exactly one expected"
    assert only_error("principal_dx", principal_dx=" ;, ") == (
        "principal_dx: no code given; 'Principal diagnosis' (主要诊断编码) is required"
    )


@pytest.mark.parametrize(("key", "limit"), [("secondary_dx", MAX_SECONDARY_DX), ("procedures", MAX_PROCEDURES)])
def test_code_count_limits(key: str, limit: int) -> None:
    assert len(getattr(parsed(**{key: ";".join(["A00"] * limit)}), key)) == limit
    assert only_error(key, **{key: ";".join(["A00"] * (limit + 1))}) == (
        f"{key}: {limit + 1} codes given, at most {limit} allowed"
    )


def test_five_thousand_codes_give_one_error() -> None:
    found = errors(secondary_dx=",".join(["A00"] * 5_000))
    assert [error.message for error in found] == ["secondary_dx: 5000 codes given, at most 24 allowed"]
    assert len(found[0].value) == 80


def test_giant_code_cell_is_refused_by_length() -> None:
    assert only_error("procedures", procedures="A" * 4001) == (
        "procedures: the cell has 4001 characters, at most 4000 allowed"
    )


def test_money_errors_carry_the_money_message() -> None:
    message = only_error("total_cost", total_cost="1,234.5元")
    assert message.startswith("total_cost: Amount '1,234.5元' contains a thousands separator")
    assert "negative" in only_error("drug_cost", drug_cost="-5")


def test_cost_parts_must_add_up_within_one_yuan() -> None:
    within = {"total_cost": "1000", "drug_cost": "600", "treatment_cost": "401"}
    assert parsed(**within).cost_breakdown == {"drug_cost": 60_000, "treatment_cost": 40_100}
    assert parsed(total_cost="1000", drug_cost="999").total_cost_fen == 100_000
    assert only_error("total_cost", total_cost="1000", drug_cost="600", treatment_cost="401.01") == (
        "total_cost: total 1,000.00 yuan does not match the sum of the cost parts 1,001.01 yuan "
        "(they may differ by at most 1.00 yuan)"
    )


def test_an_unreadable_part_does_not_also_fail_the_sum() -> None:
    assert only_error("drug_cost", total_cost="1000", drug_cost="lots", other_cost="1").startswith("drug_cost:")


def test_icu_days_bounds() -> None:
    assert parsed(icu_days="").icu_days == 0
    assert parsed(icu_days="19").icu_days == 19
    assert only_error("icu_days", icu_days="20") == (
        "icu_days: 20 ICU days exceed the stay of 18 days (at most 19, counting both the admission and discharge day)"
    )
    assert only_error("icu_days", icu_days="-1") == "icu_days: -1 is out of range (expected 0 or more)"


def test_hospital_drg_length() -> None:
    assert parsed(hospital_drg="ABCDEFGHIJ").hospital_drg == "ABCDEFGHIJ"
    assert "at most 10 allowed" in only_error("hospital_drg", hospital_drg="ABCDEFGHIJK")


@pytest.mark.parametrize(
    ("text", "category"),
    [("高费用", "high_cost"), ("长住院", "long_stay"), ("重症监护", "icu_heavy"), ("多学科复杂", "complex_care"), ("ICU_Heavy", "icu_heavy")],
)
def test_category_accepts(text: str, category: str) -> None:
    assert parsed(category=text).category == category


def test_category_and_reason_rules() -> None:
    assert "is not a category" in only_error("category", category="expensive")
    assert only_error("reason", reason="") == "reason: the cell is empty; a reason is required when a category is given"
    assert only_error("reason", reason="123456789") == "reason: 9 characters given, at least 10 required"
    assert parsed(reason="1234567890").reason == "1234567890"
    assert parsed(category="", reason="short").reason == "short"
    assert parsed(reason="line one\nline two").reason == "line one\nline two"


def test_value_is_truncated_to_80_characters() -> None:
    assert errors(case_no="X" * 500)[0].value == "X" * 80


def test_values_without_a_header_are_a_whole_row_error() -> None:
    assert errors(**{"column 19": "stray"}) == [
        RowError(2, "", "unexpected value 'stray' in column 19, which has no column header", "stray")
    ]
    assert isinstance(parse_row(2, {**VALID, "column 19": "  "}), CaseRow)


def test_parse_rows_and_duplicate_key() -> None:
    results = list(parse_rows([(2, VALID), (3, {**VALID, "age": "x"})]))
    assert isinstance(results[0], CaseRow) and isinstance(results[1], list)
    assert duplicate_key(results[0]) == ("ZY2025000123", date(2025, 3, 20))


# --- properties --------------------------------------------------------------------


_CELL_TEXT = st.text(max_size=60) | st.text(alphabet="0123456789-/.=;,，、 :IMFx男\n", max_size=30)
"""Arbitrary text rarely looks like a number, date or code list; the second alphabet often does."""


@given(st.dictionaries(st.sampled_from(KEYS + ["column 30"]), _CELL_TEXT))
def test_parse_row_never_raises(values: dict[str, str]) -> None:
    result = parse_row(5, values)
    if isinstance(result, list):
        assert result
        assert all(isinstance(error, RowError) and error.row == 5 for error in result)
        assert {error.column for error in result} <= set(KEYS) | {""}
        assert all(len(error.value) <= 80 for error in result)
    else:
        assert isinstance(result, CaseRow)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


_CODES = st.from_regex(r"[A-Z0-9]{3,7}", fullmatch=True)
_SEX_TEXT = {Sex.MALE: ["M", "男", "1", "male"], Sex.FEMALE: ["F", "女", "2"], Sex.UNKNOWN: ["U", "未知", "9", "0"]}
_CATEGORY_TEXT = {"high_cost": "高费用", "long_stay": "long_stay", "icu_heavy": "重症监护", "complex_care": "complex_care"}


@st.composite
def valid_rows(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, object]]:
    admission = draw(st.dates(date(1900, 1, 1), date(2100, 12, 31)))
    los = draw(st.integers(0, min(400, (date(2100, 12, 31) - admission).days)))
    sex = draw(st.sampled_from(list(Sex)))
    parts = draw(st.dictionaries(st.sampled_from(["drug_cost", "consumables_cost", "examination_cost", "treatment_cost", "other_cost"]), st.integers(0, 10**9)))
    total = (max(0, sum(parts.values()) + draw(st.integers(-100, 100))) if parts
             else draw(st.integers(0, DEFAULT_MAX_CASE_COST_FEN)))
    category = draw(st.none() | st.sampled_from(sorted(_CATEGORY_TEXT)))
    expected: dict[str, object] = {
        "case_no": draw(st.from_regex(r"[A-Za-z0-9\-/]{1,40}", fullmatch=True)),
        "age": draw(st.integers(0, 124)),
        "sex": sex,
        "admission_date": admission,
        "discharge_date": admission + timedelta(days=los),
        "los_days": los,
        "principal_dx": draw(_CODES),
        "secondary_dx": tuple(draw(st.lists(_CODES, max_size=MAX_SECONDARY_DX))),
        "procedures": tuple(draw(st.lists(_CODES, max_size=MAX_PROCEDURES))),
        "total_cost_fen": total,
        "cost_breakdown": parts,
        "icu_days": draw(st.integers(0, los + 1)),
        "hospital_drg": draw(st.none() | st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True)),
        "category": category,
        "reason": None if category is None else draw(st.from_regex(r"[a-z病例]{10,60}", fullmatch=True)),
    }
    text = {
        "case_no": str(expected["case_no"]),
        "age": str(expected["age"]),
        "sex": draw(st.sampled_from(_SEX_TEXT[sex])),
        "admission_date": draw(st.sampled_from([admission.isoformat(), admission.strftime("%Y%m%d"), admission.strftime("%Y/%m/%d")])),
        "discharge_date": (admission + timedelta(days=los)).isoformat(),
        "principal_dx": str(expected["principal_dx"]),
        "secondary_dx": draw(st.sampled_from(["; ", ",", " ", "、"])).join(expected["secondary_dx"]),  # type: ignore[arg-type]
        "procedures": "，".join(expected["procedures"]),  # type: ignore[arg-type]
        "total_cost": _yuan(total),
        **{key: _yuan(fen) for key, fen in parts.items()},
        "icu_days": str(expected["icu_days"]),
        "hospital_drg": expected["hospital_drg"] or "",  # type: ignore[dict-item]
        "category": "" if category is None else _CATEGORY_TEXT[category],
        "reason": expected["reason"] or "",  # type: ignore[dict-item]
    }
    return text, expected


@given(valid_rows())
def test_valid_rows_round_trip(case: tuple[dict[str, str], dict[str, object]]) -> None:
    text, expected = case
    result = parse_row(2, text)
    assert isinstance(result, CaseRow), result
    assert {key: getattr(result, key) for key in expected} == expected


_BREAKERS = st.sampled_from(
    [
        ("case_no", "A" * 41), ("age", "125"), ("age", "1.5"), ("sex", "Q"), ("admission_date", "2025-02-29"),
        ("admission_date", "yesterday"), ("principal_dx", "I1"), ("secondary_dx", "I10;;??"), ("procedures", "AB"),
        ("total_cost", "1e5"), ("drug_cost", "12.345"), ("icu_days", "x"), ("hospital_drg", "=A1"),
        ("category", "cheap"), ("reason", "short"), ("discharge_date", ""),
    ]
)


@given(valid_rows(), _BREAKERS)
def test_errors_name_the_broken_column(case: tuple[dict[str, str], dict[str, object]], breaker: tuple[str, str]) -> None:
    text, expected = case
    key, bad = breaker
    if key == "reason" and expected["category"] is None:
        text["category"] = "long_stay"
    if key == "category":
        text["reason"] = "A reason long enough to stand."
    result = parse_row(2, {**text, key: bad})
    assert isinstance(result, list)
    assert {error.column for error in result} == {key}


def test_birth_weight_is_for_newborns_only() -> None:
    assert parsed(age="0", birth_weight="1250").birth_weight_grams == 1250
    assert only_error("birth_weight", age="3", birth_weight="1250").startswith("birth_weight: a birth weight is given")


# --- identifiers, cost range and oversize cells -----------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00a0", "\u3000", "\u202f", "\u00ad", "\u200e"]
"""Zero-width space, non-joiner and joiner, word joiner, BOM, no-break, full-width and narrow no-break spaces, soft
hyphen, left-to-right mark: what copying out of Excel, Word and chat programs leaves in a case number."""


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("ZY001\u200b", "ZY001"), ("\ufeffZY001", "ZY001"), ("ZY\u00a0001", "ZY001"), ("\u3000ZY001\u3000", "ZY001"),
     ("ＺＹ００１", "ZY001"), (" ZY-001 ", "ZY-001"), ("ZY\u2060001\u200d", "ZY001"), ("病案\u200b号", "病案号")],
)
def test_normalise_identifier(raw: str, clean: str) -> None:
    assert normalise_identifier(raw) == clean


@given(st.text())
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_identifier(text)
    assert normalise_identifier(once) == once


@given(st.from_regex(r"[A-Za-z0-9\-/]{1,30}", fullmatch=True),
       st.lists(st.tuples(st.integers(0, 30), st.sampled_from(INVISIBLE)), max_size=5))
def test_invisible_characters_never_change_the_duplicate_key(case_no: str, inserts: list[tuple[int, str]]) -> None:
    disguised = case_no
    for position, char in inserts:
        disguised = disguised[:position] + char + disguised[position:]
    assert duplicate_key(parsed(case_no=disguised)) == duplicate_key(parsed(case_no=case_no))


def test_codes_are_normalised_one_by_one() -> None:
    row = parsed(principal_dx="Ｉ２１．４\u200b", secondary_dx="I10\u3000E11.9\u00a0N18.30；\ufeffI50.1",
                 hospital_drg="ＦＭ１９", sex="Ｍ")
    assert (row.principal_dx, row.secondary_dx) == ("I214", ("I10", "E119", "N1830", "I501"))
    assert (row.hospital_drg, row.sex) == ("FM19", Sex.MALE)
    assert only_error("principal_dx", principal_dx="\u200b") == (
        "principal_dx: no code given; 'Principal diagnosis' (主要诊断编码) is required")


def test_case_no_length_counts_the_normalised_number() -> None:
    assert parsed(case_no="A" * 40 + "\u200b").case_no == "A" * 40
    assert only_error("case_no", case_no="ＡＢ" * 21) == "case_no: 42 characters given, at most 40 allowed"


def test_total_cost_is_bounded_by_the_policy() -> None:
    assert parsed(total_cost="100000000.00").total_cost_fen == DEFAULT_MAX_CASE_COST_FEN
    assert only_error("total_cost", total_cost="100000000.01") == (
        "total_cost: 100,000,000.01 yuan is outside the range accepted for one case (0.00–100,000,000.00 yuan)")
    assert parsed(total_cost="30000000").total_cost_fen == 3_000_000_000
    strict = parse_row(2, {**VALID, "total_cost": "30000000"}, max_case_cost_fen=1_000_000_000)
    assert isinstance(strict, list) and [e.column for e in strict] == ["total_cost"]
    assert "(0.00–10,000,000.00 yuan)" in strict[0].message
    assert "negative; amounts must be zero or more" in only_error("total_cost", total_cost="-1")


@pytest.mark.parametrize("key", KEYS)
def test_a_one_mebibyte_cell_is_one_error_naming_its_column_and_the_limit(key: str) -> None:
    message = only_error(key, **{key: "9" * (1 << 20)})
    assert message == f"{key}: the cell has 1048576 characters, at most 32767 allowed in any cell"
