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
from workflows.problems import Problem

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


def only_error(column: str, **changes: str) -> Problem:
    found = errors(**changes)
    assert [error.column for error in found] == [column], found
    return found[0].problem


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
        Problem("intake.header.repeated", column="age", first=2, second=3),
        Problem("intake.header.unknown", header="'Colour'", position=4),
        Problem("intake.header.missing", column="admission_date"),
    ]


def test_map_headers_refuses_an_empty_header_row() -> None:
    with pytest.raises(HeaderError) as caught:
        map_headers(["", " ", "\u3000"])
    assert caught.value.problems == [Problem("intake.header.none")]


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
    assert only_error(key, **{key: "  "}) == Problem("intake.required", column=key)


# --- rules, at their boundaries -------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_formulas_are_refused_in_every_column(key: str) -> None:
    assert only_error(key, **{key: "  =HYPERLINK(\"http://x\")"}).code == "intake.formula"


def test_case_no_limits() -> None:
    assert parsed(case_no="  " + "A" * 40 + " ").case_no == "A" * 40
    assert only_error("case_no", case_no="A" * 41) == Problem("intake.text_too_long", chars=41, maximum=40)
    assert only_error("case_no", case_no="A\x07B") == Problem("intake.control_characters", value="'A\\x07B'")


@pytest.mark.parametrize(("text", "age"), [("0", 0), ("124", 124), ("67.0", 67), (" 67 ", 67)])
def test_age_accepts(text: str, age: int) -> None:
    assert parsed(age=text).age == age


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("125", Problem("intake.out_of_range", number=125, maximum=124)),
        ("-1", Problem("intake.out_of_range", number=-1, maximum=124)),
        ("67.5", Problem("intake.not_whole_number", value="'67.5'", maximum=124)),
        ("sixty", Problem("intake.not_whole_number", value="'sixty'", maximum=124)),
        ("9" * 5000, Problem("intake.not_whole_number", value=repr("9" * 80 + "…"), maximum=124)),
    ],
)
def test_age_rejects(text: str, problem: Problem) -> None:
    assert only_error("age", age=text) == problem


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
    assert only_error("sex", sex=text) == Problem("intake.not_a_sex", value=repr(text))


@pytest.mark.parametrize(
    "text", ["2025-03-02", "2025/03/02", "2025.3.2", "20250302", "2025-03-02 00:00:00", "2025-03-02 14:30",
             "2025-03-02T23:59:59"]
)
def test_date_formats(text: str) -> None:
    assert parsed(admission_date=text).admission_date == date(2025, 3, 2)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2025-02-30", "intake.not_a_real_date"),
        ("20250230", "intake.not_a_real_date"),
        ("2025-03/20", "intake.not_a_date"),
        ("20/03/2025", "intake.not_a_date"),
        ("2025-03-20 25:30:00", "intake.not_a_date"),
    ],
)
def test_date_rejects(text: str, code: str) -> None:
    assert only_error("discharge_date", discharge_date=text) == Problem(code, value=repr(text))
    assert only_error("discharge_date", discharge_date="2101-01-01") == Problem(
        "intake.year_out_of_range", value="'2101-01-01'", first=1900, last=2100)


def test_date_range_boundaries() -> None:
    assert parsed(admission_date="1900-01-01").los_days == (date(2025, 3, 20) - date(1900, 1, 1)).days
    assert parsed(discharge_date="2100-12-31").discharge_date == date(2100, 12, 31)
    assert only_error("admission_date", admission_date="1899-12-31").code == "intake.year_out_of_range"


def test_discharge_before_admission_is_an_error_on_discharge_date() -> None:
    assert parsed(discharge_date="2025-03-02", icu_days="1").los_days == 0
    assert only_error("discharge_date", discharge_date="2025-03-01", icu_days="") == Problem(
        "intake.discharge_before_admission", discharge_date="2025-03-01", admission_date="2025-03-02")


def test_code_separators_and_normalisation() -> None:
    row = parsed(secondary_dx=" i10，e11.9；N18.3、J44.1;K21.9,\nZ95.5\tR50.9 ")
    assert row.secondary_dx == ("I10", "E119", "N183", "J441", "K219", "Z955", "R509")


def test_bad_code_is_named() -> None:
    found = errors(secondary_dx="I10; X1; E11.9; Ü123")
    assert [(error.column, error.problem) for error in found] == [
        ("secondary_dx", Problem("intake.codes.invalid", value="'X1'")),
        ("secondary_dx", Problem("intake.codes.invalid", value="'Ü123'")),
    ]
    assert only_error("principal_dx", principal_dx="I214X123") == Problem("intake.codes.invalid", value="'I214X123'")


def test_principal_is_exactly_one_code() -> None:
    assert only_error("principal_dx", principal_dx="I21.4, I10") == Problem("intake.codes.one_expected", count=2)
    assert only_error("principal_dx", principal_dx=" ;, ") == Problem("intake.no_code", column="principal_dx")


@pytest.mark.parametrize(("key", "limit"), [("secondary_dx", MAX_SECONDARY_DX), ("procedures", MAX_PROCEDURES)])
def test_code_count_limits(key: str, limit: int) -> None:
    assert len(getattr(parsed(**{key: ";".join(["A00"] * limit)}), key)) == limit
    assert only_error(key, **{key: ";".join(["A00"] * (limit + 1))}) == Problem(
        "intake.codes.too_many", count=limit + 1, maximum=limit)


def test_five_thousand_codes_give_one_error() -> None:
    found = errors(secondary_dx=",".join(["A00"] * 5_000))
    assert [error.problem for error in found] == [Problem("intake.codes.too_many", count=5000, maximum=24)]
    assert len(found[0].value) == 80


def test_giant_code_cell_is_refused_by_length() -> None:
    assert only_error("procedures", procedures="A" * 4001) == Problem("intake.text_too_long", chars=4001, maximum=4000)


def test_money_errors_carry_the_money_problem() -> None:
    assert only_error("total_cost", total_cost="1,234.5元") == Problem("money.thousands_separator", text="'1,234.5元'")
    assert only_error("drug_cost", drug_cost="-5") == Problem("money.negative", text="'-5'")


def test_cost_parts_must_add_up_within_one_yuan() -> None:
    within = {"total_cost": "1000", "drug_cost": "600", "treatment_cost": "401"}
    assert parsed(**within).cost_breakdown == {"drug_cost": 60_000, "treatment_cost": 40_100}
    assert parsed(total_cost="1000", drug_cost="999").total_cost_fen == 100_000
    assert only_error("total_cost", total_cost="1000", drug_cost="600", treatment_cost="401.01") == Problem(
        "intake.parts_do_not_add_up", total_fen=100_000, parts_fen=100_101, tolerance_fen=100)


def test_an_unreadable_part_does_not_also_fail_the_sum() -> None:
    assert only_error("drug_cost", total_cost="1000", drug_cost="lots", other_cost="1").code == "money.not_a_number"


def test_icu_days_bounds() -> None:
    assert parsed(icu_days="").icu_days == 0
    assert parsed(icu_days="19").icu_days == 19
    assert only_error("icu_days", icu_days="20") == Problem("intake.icu_exceeds_stay", icu_days=20, los_days=18,
                                                            maximum=19)
    assert only_error("icu_days", icu_days="-1") == Problem("intake.out_of_range.unbounded", number=-1)
    assert only_error("icu_days", icu_days="two") == Problem("intake.not_whole_number.unbounded", value="'two'")


def test_hospital_drg_length() -> None:
    assert parsed(hospital_drg="ABCDEFGHIJ").hospital_drg == "ABCDEFGHIJ"
    assert only_error("hospital_drg", hospital_drg="ABCDEFGHIJK") == Problem("intake.text_too_long", chars=11, maximum=10)


@pytest.mark.parametrize(
    ("text", "category"),
    [("高费用", "high_cost"), ("长住院", "long_stay"), ("重症监护", "icu_heavy"), ("多学科复杂", "complex_care"), ("ICU_Heavy", "icu_heavy")],
)
def test_category_accepts(text: str, category: str) -> None:
    assert parsed(category=text).category == category


def test_category_and_reason_rules() -> None:
    refused = only_error("category", category="expensive")
    assert refused.code == "intake.not_a_category" and "高费用" in refused.params["accepted"]
    assert only_error("reason", reason="") == Problem("intake.reason_required")
    assert only_error("reason", reason="123456789") == Problem("intake.reason_too_short", chars=9, minimum=10)
    assert parsed(reason="1234567890").reason == "1234567890"
    assert parsed(category="", reason="short").reason == "short"
    assert parsed(reason="line one\nline two").reason == "line one\nline two"


def test_value_is_truncated_to_80_characters() -> None:
    assert errors(case_no="X" * 500)[0].value == "X" * 80


def test_values_without_a_header_are_a_whole_row_error() -> None:
    assert errors(**{"column 19": "stray"}) == [
        RowError(2, "", Problem("intake.outside_columns", value="'stray'", cell="column 19"), "stray")
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
    assert only_error("birth_weight", age="3", birth_weight="1250") == Problem("intake.birth_weight_not_newborn", age=3)


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
    assert only_error("principal_dx", principal_dx="\u200b") == Problem("intake.no_code", column="principal_dx")


def test_case_no_length_counts_the_normalised_number() -> None:
    assert parsed(case_no="A" * 40 + "\u200b").case_no == "A" * 40
    assert only_error("case_no", case_no="ＡＢ" * 21) == Problem("intake.text_too_long", chars=42, maximum=40)


def test_total_cost_is_bounded_by_the_policy() -> None:
    assert parsed(total_cost="100000000.00").total_cost_fen == DEFAULT_MAX_CASE_COST_FEN
    assert only_error("total_cost", total_cost="100000000.01") == Problem(
        "intake.cost_above_ceiling", cost_fen=10_000_000_001, maximum_fen=DEFAULT_MAX_CASE_COST_FEN)
    assert parsed(total_cost="30000000").total_cost_fen == 3_000_000_000
    strict = parse_row(2, {**VALID, "total_cost": "30000000"}, max_case_cost_fen=1_000_000_000)
    assert isinstance(strict, list) and [e.column for e in strict] == ["total_cost"]
    assert strict[0].problem == Problem("intake.cost_above_ceiling", cost_fen=3_000_000_000, maximum_fen=1_000_000_000)
    assert only_error("total_cost", total_cost="-1").code == "money.negative"


@pytest.mark.parametrize("key", KEYS)
def test_a_one_mebibyte_cell_is_one_error_naming_its_column_and_the_limit(key: str) -> None:
    assert only_error(key, **{key: "9" * (1 << 20)}) == Problem("intake.cell_too_long", chars=1 << 20, maximum=32767)
