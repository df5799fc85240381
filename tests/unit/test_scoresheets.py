"""The scoresheet rules as data: conditional questions, required answers, and the frozen copy a cycle keeps."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from workflows.scoresheets import APPLICATION, CURRENT, SAMPLED_RECORD, Definition, Problem, check, for_cycle, snapshot

YES_NO = st.sampled_from(["yes", "no", ""])


def test_definitions_round_trip_through_json() -> None:
    frozen = json.loads(json.dumps(snapshot()))
    for kind, definition in CURRENT.items():
        assert for_cycle(frozen, kind) == definition
    assert for_cycle(None, "application") == APPLICATION  # cycles opened before the freeze use version 1


def test_a_cycle_keeps_its_own_version() -> None:
    frozen = snapshot()
    frozen["application"]["version"] = 7
    frozen["application"]["questions"] = frozen["application"]["questions"][:2]
    kept = for_cycle(frozen, "application")
    assert kept.version == 7 and [q.name for q in kept.questions] == ["admission_justified", "medically_necessary"]


def test_application_examples() -> None:
    approve = {"admission_justified": "yes", "medically_necessary": "yes", "unreasonable_cost": "0.00",
               "recommendation": "approve"}
    assert check(APPLICATION, approve) == {}
    assert check(APPLICATION, {**approve, "recommendation": "reject"}) == {"rationale": Problem.REQUIRED}
    assert check(APPLICATION, {**approve, "recommendation": "reject", "rationale": "too short"}) == {
        "rationale": Problem.TOO_SHORT}
    assert check(APPLICATION, {**approve, "unreasonable_cost": "1500.00"}) == {"cost_reasons": Problem.REQUIRED}
    assert check(APPLICATION, {**approve, "unreasonable_cost": "1500.00", "cost_reasons": "Drugs off label"}) == {}
    assert check(APPLICATION, {**approve, "admission_justified": "maybe"}) == {"admission_justified": Problem.NOT_YES_NO}
    assert check(APPLICATION, {}).keys() == {"admission_justified", "medically_necessary", "unreasonable_cost",
                                            "recommendation", "rationale"}


@given(st.fixed_dictionaries({"admission_justified": YES_NO, "principal_dx_correct": YES_NO,
                              "principal_procedure_correct": YES_NO, "secondary_supported": YES_NO,
                              "corrected_principal_dx": st.sampled_from(["", "I2109"]),
                              "corrected_principal_procedure": st.sampled_from(["", "0270346"]),
                              "rationale": st.sampled_from(["", "short", "The record shows otherwise."])}))
def test_record_review_rules(answers: dict[str, str]) -> None:
    problems = check(SAMPLED_RECORD, answers)
    for name in ("admission_justified", "principal_dx_correct", "principal_procedure_correct", "secondary_supported"):
        assert (problems.get(name) == Problem.REQUIRED) == (answers[name] == "")
    for flag, code in (("principal_dx_correct", "corrected_principal_dx"),
                       ("principal_procedure_correct", "corrected_principal_procedure")):
        # a corrected code is asked, and then required, only when the hospital's code is said to be wrong
        assert (code in problems) == (answers[flag] == "no" and answers[code] == "")
    upheld = all(answers[name] == "yes" for name in ("admission_justified", "principal_dx_correct",
                                                      "principal_procedure_correct", "secondary_supported"))
    rationale_ok = len(answers["rationale"]) >= 10
    assert ("rationale" in problems) == (not upheld and not rationale_ok)


def test_asked_hides_corrections_until_a_no() -> None:
    names = [q.name for q in SAMPLED_RECORD.asked({"principal_dx_correct": "yes", "principal_procedure_correct": "no"})]
    assert "corrected_principal_dx" not in names and "corrected_principal_procedure" in names
    assert isinstance(Definition.from_dict(SAMPLED_RECORD.as_dict()), Definition)
