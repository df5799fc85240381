"""Runs the real msdrg grouper and code editor; mocking them would test nothing."""

from datetime import date

import pytest

from workflows.grouping import (
    DEFAULT_BLOCKING_EDITS,
    EDIT_KINDS,
    EDIT_PROBLEMS,
    CaseCoding,
    CatalogueGrouper,
    CodeIssue,
    Grouper,
    GroupingResult,
    MsDrgGrouper,
    Sex,
    normalise_code,
)
from workflows.problems import Problem

FY2026 = date(2026, 3, 15)
FY2024 = date(2024, 3, 15)
"""CMS removed the MCE sex edits from FY2025; sex conflicts only exist for earlier discharges."""


@pytest.fixture(scope="module")
def grouper() -> MsDrgGrouper:
    return MsDrgGrouper()


def coding(
    pdx: str = "I214",
    sdx: tuple[str, ...] = ("I5021", "N179"),
    procs: tuple[str, ...] = ("02703DZ",),
    age: int = 67,
    sex: Sex = Sex.MALE,
    discharged: date = FY2026,
) -> CaseCoding:
    return CaseCoding(age, sex, discharged, pdx, sdx, procs)


def kinds(grouper: MsDrgGrouper, case: CaseCoding) -> set[tuple[str, str | None, str]]:
    return {(i.field, i.code, i.kind) for i in grouper.group(case).issues}


def test_normalise_code() -> None:
    assert normalise_code(" i21.4 ") == "I214"
    assert normalise_code("0270 3DZ") == "02703DZ"


def test_valid_case_groups_to_321(grouper: MsDrgGrouper) -> None:
    result = grouper.group(coding(pdx="I21.4"))
    assert result.ok
    assert (result.drg, result.mdc, result.return_code) == ("321", 5, "OK")
    assert "Intraluminal Device with MCC" in result.description


def test_grouper_satisfies_protocol(grouper: MsDrgGrouper) -> None:
    protocol_user: Grouper = grouper
    assert protocol_user.version == "MS-DRG v43.1"


def test_invalid_codes_named_with_field(grouper: MsDrgGrouper) -> None:
    result = grouper.group(coding(sdx=("I5021", "XXXX"), procs=("ZZZZZZZ",)))
    assert not result.ok
    assert {(i.field, i.code, i.kind) for i in result.issues} == {
        ("secondary_dx", "XXXX", "invalid_code"),
        ("procedures", "ZZZZZZZ", "invalid_code"),
    }
    assert Problem("code_edit.invalid_code", field="secondary_dx", icd="XXXX") in [i.problem for i in result.issues]


def test_sex_conflict_attributed(grouper: MsDrgGrouper) -> None:
    male = coding(sdx=("O80",), procs=(), age=30, discharged=FY2024)
    assert kinds(grouper, male) == {("secondary_dx", "O80", "sex_conflict")}
    female = coding(pdx="N400", sdx=(), procs=("0VT00ZZ",), sex=Sex.FEMALE, discharged=FY2024)
    assert kinds(grouper, female) == {
        ("principal_dx", "N400", "sex_conflict"),
        ("procedures", "0VT00ZZ", "sex_conflict"),
    }


def test_age_conflict_attributed(grouper: MsDrgGrouper) -> None:
    # Z38.00 (liveborn infant) is a newborn-only code.
    assert kinds(grouper, coding(sdx=("I5021", "Z3800"), procs=(), age=70)) == {
        ("secondary_dx", "Z3800", "age_conflict")
    }
    assert ("secondary_dx", "O80", "age_conflict") in kinds(grouper, coding(sdx=("O80",), age=5))


@pytest.mark.parametrize(
    ("pdx", "kind"),
    [("Z0000", "unacceptable_pdx"), ("G01", "manifestation_as_pdx"), ("V0001XA", "e_code_as_pdx")],
)
def test_principal_diagnosis_edits(grouper: MsDrgGrouper, pdx: str, kind: str) -> None:
    assert kinds(grouper, coding(pdx=pdx, sdx=(), procs=())) == {("principal_dx", pdx, kind)}


def test_duplicates_named(grouper: MsDrgGrouper) -> None:
    assert kinds(grouper, coding(sdx=("I214", "N179", "N17.9"))) == {
        ("secondary_dx", "I214", "duplicate_code"),
        ("secondary_dx", "N179", "duplicate_code"),
    }


def test_empty_principal_not_grouped(grouper: MsDrgGrouper) -> None:
    result = grouper.group(coding(pdx="  "))
    assert result.drg is None and not result.ok
    assert {(i.field, i.kind) for i in result.issues} == {("principal_dx", "missing_code")}


def test_too_many_codes(grouper: MsDrgGrouper) -> None:
    many_dx = tuple(f"I50{n}" for n in range(20, 45))
    assert ("secondary_dx", None, "too_many_codes") in kinds(grouper, coding(sdx=many_dx))
    assert ("secondary_dx", None, "too_many_codes") not in kinds(grouper, coding(sdx=many_dx[:24]))
    assert ("procedures", None, "too_many_codes") in kinds(grouper, coding(procs=("02703DZ",) * 26))
    [refused] = grouper.group(coding(sdx=many_dx)).issues
    assert refused.problem == Problem("grouping.too_many_codes", field="secondary_dx", count=25, maximum=24)


def test_invalid_age(grouper: MsDrgGrouper) -> None:
    assert ("age", None, "invalid_age") in kinds(grouper, coding(age=130))
    assert [i.problem for i in grouper.group(coding(age=130)).issues] == [
        Problem("grouping.age_out_of_range", field="age", age=130, maximum=124)]


def test_thread_safe_under_concurrency(grouper: MsDrgGrouper) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cases = [coding(), coding(sdx=("XXXX",)), coding(pdx="G01", sdx=(), procs=())] * 20
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(grouper.group, cases))
    assert results == [grouper.group(case) for case in cases]


def test_catalogue_grouper() -> None:
    catalogue = CatalogueGrouper({"FM19", "ES23"}, version="CHS-DRG 2.0")
    accepted = catalogue.accept(" fm19 ")
    assert accepted.ok and accepted.drg == "FM19"
    refused = catalogue.accept("ZZ99")
    assert not refused.ok
    assert refused.issues[0].kind == "not_in_catalogue" and refused.issues[0].code == "ZZ99"
    assert refused.issues[0].problem == Problem("grouping.not_in_catalogue", drg="ZZ99", catalogue="CHS-DRG 2.0")
    with pytest.raises(NotImplementedError):
        catalogue.group(coding())


def test_mcc_codes_name_the_secondary_that_made_the_mcc() -> None:
    from workflows.grouping import CaseCoding, MsDrgGrouper, Sex

    result = MsDrgGrouper().group(CaseCoding(67, Sex.MALE, date(2026, 8, 20), "I214", ("I5021", "N179"), ("02703DZ",)))
    assert result.drg == "321" and result.mcc_codes == ("I5021",)
    without = MsDrgGrouper().group(CaseCoding(67, Sex.MALE, date(2026, 8, 20), "I214", ("N179",), ("02703DZ",)))
    assert without.mcc_codes == ()


# --- which findings refuse a case -------------------------------------------------------

LIVER_TRANSPLANT = coding(pdx="K7469", sdx=("I10",), procs=("0FY00Z0",), age=55)
"""Cirrhosis, liver transplant (ICD-10-PCS 0FY00Z0): Medicare's limited-coverage edit fires on every one."""


def test_liver_transplant_groups_and_its_coverage_edit_is_only_recorded(grouper: MsDrgGrouper) -> None:
    result = grouper.group(LIVER_TRANSPLANT)
    assert result.drg == "006"
    assert kinds(grouper, LIVER_TRANSPLANT) == {("procedures", "0FY00Z0", "limited_coverage")}
    blocking, warnings = result.split(DEFAULT_BLOCKING_EDITS)
    assert blocking == () and [w.kind for w in warnings] == ["limited_coverage"]
    blocking, warnings = result.split([*DEFAULT_BLOCKING_EDITS, "limited_coverage"])
    assert [b.kind for b in blocking] == ["limited_coverage"] and warnings == ()


def test_default_blocking_edits_are_those_that_make_grouping_meaningless() -> None:
    assert set(DEFAULT_BLOCKING_EDITS) == {"invalid_code", "sex_conflict", "age_conflict", "unacceptable_pdx",
                                           "e_code_as_pdx", "manifestation_as_pdx"}
    assert set(DEFAULT_BLOCKING_EDITS) <= set(EDIT_KINDS)
    assert not {"non_covered", "limited_coverage", "questionable_admission",
                "medicare_is_secondary_payer"} & set(DEFAULT_BLOCKING_EDITS)


def test_unknown_findings_and_ungroupable_cases_block_whatever_the_payer_list(grouper: MsDrgGrouper) -> None:
    future_edit = CodeIssue("procedures", None, "edit_of_a_later_msdrg", "The code editor reports a new edit.")
    grouped = GroupingResult("321", 5, "", "OK", (future_edit,))
    assert grouped.split(()) == ((future_edit,), ())
    ungroupable = grouper.group(coding(pdx="XXXX", sdx=(), procs=()))
    assert ungroupable.drg is None and ungroupable.issues
    assert ungroupable.split(()) == (ungroupable.issues, ())


def test_male_delivery_after_fy2024_is_a_sex_conflict_naming_each_code(grouper: MsDrgGrouper) -> None:
    """CMS dropped the sex edits from FY2025; the codes are still impossible for a man."""
    delivery = coding(pdx="O80", sdx=("Z370",), procs=("10E0XZZ",), age=30)
    result = grouper.group(delivery)
    assert {(i.field, i.code, i.kind) for i in result.issues} == {
        ("principal_dx", "O80", "sex_conflict"), ("secondary_dx", "Z370", "sex_conflict"),
        ("procedures", "10E0XZZ", "sex_conflict")}
    assert Problem("code_edit.sex_conflict", field="principal_dx", icd="O80") in [i.problem for i in result.issues]
    assert not grouper.group(coding(pdx="O80", sdx=("Z370",), procs=("10E0XZZ",), age=30, sex=Sex.FEMALE)).issues
    assert not grouper.group(coding(pdx="O80", sdx=("Z370",), procs=("10E0XZZ",), age=30, sex=Sex.UNKNOWN)).issues


def test_drg_998_is_not_a_drg_but_a_problem_of_the_principal_diagnosis(grouper: MsDrgGrouper) -> None:
    male = grouper.group(coding(pdx="O80", sdx=(), procs=(), age=30))
    assert male.drg is None
    assert [(i.field, i.code, i.kind) for i in male.issues] == [("principal_dx", "O80", "sex_conflict")]
    female = grouper.group(coding(pdx="O80", sdx=(), procs=(), age=30, sex=Sex.FEMALE))
    assert female.drg is None
    assert [i.problem for i in female.issues] == [
        Problem("code_edit.invalid_discharge_pdx", field="principal_dx", icd="O80")]


def test_full_width_and_invisible_characters_in_codes() -> None:
    assert normalise_code("Ｉ２１．４") == "I214"
    assert normalise_code("\ufeffI21.4\u200b") == "I214"


def test_every_edit_a_payer_may_choose_has_its_own_problem_code() -> None:
    """Duplicates are this module's own check; every other edit, and DRG 998, is worded per code."""
    assert set(EDIT_PROBLEMS) == {*EDIT_KINDS, "invalid_discharge_pdx"} - {"duplicate_code"}
    assert all(code == f"code_edit.{kind}" for kind, code in EDIT_PROBLEMS.items())


def test_duplicates_say_which_kind_of_repeat(grouper: MsDrgGrouper) -> None:
    problems = [i.problem for i in grouper.group(coding(sdx=("I214", "N179", "N17.9"))).issues]
    assert problems == [Problem("grouping.repeats_principal", field="secondary_dx", icd="I214"),
                        Problem("grouping.listed_twice", field="secondary_dx", icd="N179")]
