"""Intake that refuses nothing valid and accepts nothing wrong (issue 11, §6), on SQLite and PostgreSQL: the payer's
own list of blocking code edits, sex conflicts named as such, invisible characters, the policy's cost ceiling, large
amounts, and the downloadable template."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from flask_babel import force_locale

from openpyxl import load_workbook

from review.extensions import db
from review.intake.template import template_workbook
from review.messages import code_issue_message
from review.models import Case, ImportJob, Region
from review.services import intake, policies
from review.services.cases import create_case, group_coding
from review.services.context import ValidationFailed
from tests.e2e.test_walkthrough import login
from tests.factories import ami_case
from tests.integration.test_intake import csv_bytes, rows
from workflows.grouping import DEFAULT_BLOCKING_EDITS, EDIT_KINDS
from workflows.intake import COLUMNS
from workflows.problems import Problem

LIVER_TRANSPLANT = {"principal_dx": "K74.69", "secondary_dx": "I10", "procedures": "0FY00Z0", "age": "55",
                    "icu_days": "6", "total_cost": "650000.00", "hospital_drg": ""}
"""Cirrhosis with a liver transplant (DRG 006): Medicare's limited-coverage edit fires on every one."""


def _block_coverage_edits(world) -> None:  # type: ignore[no-untyped-def]
    policies.new_version(world.actors["admin"], world.region_id, {
        "blocking_code_edits": [*DEFAULT_BLOCKING_EDITS, "limited_coverage"],
        "note": "Follow Medicare's coverage rules"})


def test_liver_transplant_imports_with_its_coverage_edit_recorded(world) -> None:  # type: ignore[no-untyped-def]
    outcome = intake.import_rows(world.actors["hosp1"], rows(LIVER_TRANSPLANT), mode="all_or_nothing")
    assert outcome.committed and outcome.accepted == 1 and outcome.errors == []
    case = db.session.get(Case, outcome.case_ids[0])
    assert case.drg == "006"
    assert case.code_warnings == [{"field": "procedures", "code": "0FY00Z0", "kind": "limited_coverage"}]


def test_a_policy_that_blocks_coverage_edits_refuses_the_transplant(world) -> None:  # type: ignore[no-untyped-def]
    _block_coverage_edits(world)
    outcome = intake.import_rows(world.actors["hosp1"], rows(LIVER_TRANSPLANT), mode="valid_rows")
    assert outcome.accepted == 0 and outcome.rejected == 1
    assert [(e.row, e.column, e.value) for e in outcome.errors] == [(2, "procedures", "0FY00Z0")]
    assert outcome.errors[0].problem == Problem("code_edit.limited_coverage", field="procedures", icd="0FY00Z0")
    with pytest.raises(ValidationFailed) as refused:
        create_case(world.actors["hosp1"], ami_case(principal_dx="K74.69", secondary_dx=("I10",),
                                                    procedures=("0FY00Z0",), age=55))
    assert "0FY00Z0" in refused.value.errors["procedures"][0]


def test_the_form_records_the_warning_too(world) -> None:  # type: ignore[no-untyped-def]
    case = create_case(world.actors["hosp1"], ami_case(principal_dx="K74.69", secondary_dx=("I10",),
                                                       procedures=("0FY00Z0",), age=55))
    assert case.drg == "006" and [w["kind"] for w in case.code_warnings] == ["limited_coverage"]


def test_blocking_edits_and_cost_ceiling_are_frozen_into_new_cycles(world) -> None:  # type: ignore[no-untyped-def]
    _block_coverage_edits(world)
    policies.new_version(world.actors["admin"], world.region_id, {"max_case_cost_fen": 5_000_000_000,
                                                                  "note": "A lower ceiling"})
    snapshot = db.session.get(Region, world.region_id).current_policy().snapshot()  # what a new cycle freezes
    assert snapshot["max_case_cost_fen"] == 5_000_000_000
    assert set(snapshot["blocking_code_edits"]) == {*DEFAULT_BLOCKING_EDITS, "limited_coverage"}
    with pytest.raises(ValidationFailed) as refused:
        policies.new_version(world.actors["admin"], world.region_id, {
            "blocking_code_edits": ["limited_coverage", "made_up"], "max_case_cost_fen": 0, "note": "x"})
    assert set(refused.value.errors) == {"blocking_code_edits", "max_case_cost_fen"}


def test_a_male_delivery_is_a_sex_conflict_not_a_missing_weight(world) -> None:  # type: ignore[no-untyped-def]
    outcome = intake.import_rows(world.actors["hosp1"], rows(
        {"principal_dx": "O80", "secondary_dx": "", "procedures": "", "age": "30", "icu_days": "0",
         "hospital_drg": ""}), mode="valid_rows")
    assert [(e.column, e.problem) for e in outcome.errors] == [
        ("principal_dx", Problem("code_edit.sex_conflict", field="principal_dx", icd="O80"))]
    with pytest.raises(ValidationFailed) as refused:
        create_case(world.actors["hosp1"], ami_case(principal_dx="O80", secondary_dx=("Z37.0",),
                                                    procedures=("10E0XZZ",), age=30, icu_days=0))
    assert "The principal diagnosis O80 conflicts with the patient's sex." in refused.value.errors["principal_dx"]
    assert "Z370" in refused.value.errors["secondary_dx"][0] and "10E0XZZ" in refused.value.errors["procedures"][0]


def test_the_case_form_has_no_preselected_sex(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    page = client.get("/hospital/cases/new").text
    first_option = re.search(r'<select[^>]*id="sex"[^>]*>\s*<option([^>]*)>', page)
    assert first_option is not None and 'value=""' in first_option.group(1)
    unchosen = client.post("/hospital/cases/new", data={
        "case_no": "ZY1", "age": "67", "sex": "", "admission_date": "2026-08-01", "discharge_date": "2026-08-20",
        "principal_dx": "I21.4", "total_cost": "1000", "icu_days": "0"})
    assert unchosen.status_code == 422 and "Choose the patient's sex." in unchosen.text
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_an_invisible_character_does_not_make_a_duplicate_new(world) -> None:  # type: ignore[no-untyped-def]
    first = intake.import_rows(world.actors["hosp1"], rows({"case_no": "ZY1"}), mode="valid_rows")
    assert first.accepted == 1
    again = intake.import_rows(world.actors["hosp1"], rows({"case_no": "ZY1\u200b"}, {"case_no": "\ufeffＺＹ１\u00a0"}),
                               mode="valid_rows")
    assert (again.accepted, again.skipped, again.rejected) == (0, 1, 1)
    assert (again.errors[0].problem.code, again.errors[0].problem.params["first_row"]) == ("import.repeated_row", 2)
    with pytest.raises(ValidationFailed) as refused:
        create_case(world.actors["hosp1"], ami_case(case_no="\u3000ZY1\u2060", discharge_date=date(2026, 8, 20)))
    assert "already recorded" in refused.value.errors["case_no"][0]
    assert db.session.scalars(db.select(Case.case_no)).all() == ["ZY1"]


def test_a_thirty_million_yuan_case_imports_from_a_file(world) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes(rows({"total_cost": "30000000.00", "hospital_drg": ""}))
    job = intake.upload(world.actors["hosp1"], io.BytesIO(data), "large.csv")
    intake.start(world.actors["hosp1"], job.id, "all_or_nothing")
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert (job.status, job.accepted, job.errors) == ("done", 1, [])
    assert db.session.scalars(db.select(Case.total_cost_fen)).one() == 3_000_000_000


def test_costs_beyond_the_policy_ceiling_are_field_errors(world) -> None:  # type: ignore[no-untyped-def]
    outcome = intake.import_rows(world.actors["hosp1"], rows({"total_cost": "100000000.01"}, {}), mode="valid_rows")
    assert outcome.accepted == 1
    assert [(e.row, e.column, e.problem) for e in outcome.errors] == [(2, "total_cost", Problem(
        "intake.cost_above_ceiling", cost_fen=10**10 + 1, maximum_fen=10**10))]
    with pytest.raises(ValidationFailed) as refused:
        create_case(world.actors["hosp1"], ami_case(total_cost_fen=10**10 + 1))
    assert refused.value.errors == {"total_cost": [
        "100,000,000.01 yuan is outside the range accepted for one case (0.00–100,000,000.00 yuan)."]}


def test_api_cases_get_the_cost_and_sex_row_errors(client, world) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.test_api import bearer, token_for

    case = {"case_no": "API1", "age": 30, "sex": "M", "admission_date": "2026-08-01", "discharge_date": "2026-08-03",
            "principal_dx": "O80", "total_cost": "200000000"}
    response = client.post("/api/v1/cases", json={"cases": [case]}, headers=bearer(token_for(world)))
    assert response.status_code == 422
    messages = {row["column"]: (row["message"], row["problem"]) for row in response.get_json()["error"]["rows"]}
    assert messages == {"total_cost": (
        "200,000,000.00 yuan is outside the range accepted for one case (0.00–100,000,000.00 yuan).",
        {"code": "intake.cost_above_ceiling", "params": {"cost_fen": 2 * 10**10, "maximum_fen": 10**10}})}
    response = client.post("/api/v1/cases", json={"cases": [{**case, "total_cost": "20000"}]},
                           headers=bearer(token_for(world)))
    assert response.status_code == 422
    assert [row["message"] for row in response.get_json()["error"]["rows"]] == [
        "The principal diagnosis O80 conflicts with the patient's sex."]


def test_a_case_number_too_long_for_its_column_is_a_field_error(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as refused:
        create_case(world.actors["hosp1"], ami_case(case_no="Z" * 41))
    assert refused.value.errors == {"case_no": ["The case number has 41 characters; at most 40 are allowed."]}
    assert create_case(world.actors["hosp1"], ami_case(case_no="Z" * 40 + "\u200b")).case_no == "Z" * 40


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_downloaded_template_imports_as_it_is(world, locale: str) -> None:  # type: ignore[no-untyped-def]
    with force_locale(locale):
        workbook = template_workbook()
    sheets = load_workbook(io.BytesIO(workbook))
    cases_sheet, instructions = sheets.worksheets
    headers = [cell.value for cell in cases_sheet[1]]
    if locale == "zh_CN":  # a Chinese office gets Chinese headers and instructions; the reader knows both
        assert headers == [column.header_zh for column in COLUMNS] and instructions.title == "填写说明"
        assert instructions["B2"].value == COLUMNS[0].header_en and "至多" in instructions["E2"].value
    else:
        assert headers == [column.header_en for column in COLUMNS] and instructions.title == "Instructions"
    job = intake.upload(world.actors["hosp1"], io.BytesIO(workbook), "模板.xlsx")
    intake.start(world.actors["hosp1"], job.id, "valid_rows")
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert (job.status, job.accepted, job.rejected) == ("done", 1, 0)
    assert [e["problem"] for e in job.errors] == [  # the case is in; the example's 2025 stay is in no open cycle
        {"code": "import.application_not_made", "params": {"why_code": "application.no_cycle", "date": "2025-03-20"}}]
    case = db.session.scalars(db.select(Case)).one()
    assert (case.case_no, case.drg, case.secondary_dx) == ("ZY2025000123", "321", ["R570", "I501", "I129", "E119",
                                                                                   "N1830"])


def test_the_admin_sets_the_intake_rules_in_the_policy_editor(client, world) -> None:  # type: ignore[no-untyped-def]
    from review.staff.config_forms import EDIT_KIND
    from tests.e2e.test_configuration_pages import POLICY_FORM

    assert tuple(EDIT_KIND) == EDIT_KINDS  # every finding the payer may choose has a label
    login(client, "admin")
    page = client.get("/staff/policy").text
    assert 'name="max_case_cost" type="text" value="100000000.00"' in page
    ticked = set(re.findall(r'<input checked id="[^"]+" name="blocking_code_edits" type="checkbox" value="([a-z_]+)"',
                            page))
    assert ticked == set(DEFAULT_BLOCKING_EDITS)
    saved = client.post("/staff/policy", data={**POLICY_FORM, "max_case_cost": "50000000",
                                               "blocking_code_edits": [*DEFAULT_BLOCKING_EDITS, "limited_coverage"]})
    assert saved.status_code == 302
    policy = db.session.get(Region, world.region_id).current_policy()
    assert policy.max_case_cost_fen == 5_000_000_000
    assert policy.blocking_code_edits == [*DEFAULT_BLOCKING_EDITS, "limited_coverage"]
    history = client.get("/staff/policy").text
    assert "Limited-coverage procedure, e.g. organ transplants (Medicare)" in history and "50,000,000.00" in history


def test_a_code_editor_finding_reads_in_the_readers_language(world) -> None:  # type: ignore[no-untyped-def]
    """The form's refusal and the import's row error are worded from the same problem, in the reader's language."""
    result = group_coding(ami_case(principal_dx="O80", secondary_dx=("I10", "I10"), procedures=(), age=30,
                                   icu_days=0))
    found = {issue.kind: issue for issue in result.issues}
    assert found["sex_conflict"].problem == Problem("code_edit.sex_conflict", field="principal_dx", icd="O80")
    with force_locale("en"):
        assert code_issue_message(found["sex_conflict"]) == "The principal diagnosis O80 conflicts with the patient's sex."
        assert code_issue_message(found["duplicate_code"]) == "The secondary diagnosis I10 is listed more than once."
    with force_locale("zh_CN"):
        assert code_issue_message(found["sex_conflict"]) == "主要诊断 O80 与患者性别不符。"
        assert code_issue_message(found["duplicate_code"]) == "次要诊断 I10 重复填写。"
