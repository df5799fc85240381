"""The one catalogue that words what the pure core reports: problem codes with parameters, in the reader's language.

The core (`workflows/`) returns `Problem(code, **params)`; services store the code and parameters; templates,
PDFs and exports call `problem_text` at the moment of reading. A test checks that every code the core can return
has a wording here and a Chinese translation.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from review import labels
from workflows.grouping import CodeIssue
from workflows.money import format_fen
from workflows.problems import Problem

FIELD_LABELS = {
    "principal_dx": _l("principal diagnosis"),
    "secondary_dx": _l("secondary diagnosis"),
    "procedures": _l("procedure"),
    "age": _l("age"),
    "sex": _l("sex"),
}

CODE_PROBLEMS = {
    "invalid_code": _l("is not a valid ICD-10 code for the discharge date"),
    "sex_conflict": _l("conflicts with the patient's sex"),
    "age_conflict": _l("conflicts with the patient's age"),
    "unacceptable_pdx": _l("is not acceptable as a principal diagnosis"),
    "e_code_as_pdx": _l("is an external-cause code and cannot be the principal diagnosis"),
    "manifestation_as_pdx": _l("is a manifestation code and cannot be the principal diagnosis"),
    "duplicate_code": _l("is listed more than once or repeats the principal diagnosis"),
}


def code_issue_message(issue: CodeIssue) -> str:
    """Name the field and the code in the user's language; fall back to the core's English sentence."""
    problem = CODE_PROBLEMS.get(issue.kind)
    if issue.code is None or problem is None:
        return issue.message
    return _("The %(field)s %(code)s %(problem)s.", field=FIELD_LABELS.get(issue.field, issue.field),
             code=issue.code, problem=problem)


# --- problems of the pure core (workflows.problems.Problem), one wording per code ---------------------------------

PROBLEM_TEXT = {
    "eligibility.no_average_cost": _l("no average cost on file for DRG %(drg)s, so the cost ratio cannot be computed"),
    "eligibility.high_cost.met": _l("cost %(cost_fen)s yuan = %(ratio)s × the DRG's average %(average_fen)s yuan "
                                    "≥ %(threshold)s"),
    "eligibility.high_cost.not_met": _l("cost %(cost_fen)s yuan = %(ratio)s × the DRG's average %(average_fen)s "
                                        "yuan < %(threshold)s"),
    "eligibility.long_stay.met": _l("length of stay %(los_days)s days ≥ %(threshold)s days"),
    "eligibility.long_stay.not_met": _l("length of stay %(los_days)s days < %(threshold)s days"),
    "eligibility.icu_heavy.same_day_stay": _l("length of stay is 0 days, so the ICU share cannot be computed"),
    "eligibility.icu_heavy.met": _l("ICU %(icu_days)s of %(los_days)s days = %(share)s of the stay ≥ %(threshold)s"),
    "eligibility.icu_heavy.not_met": _l("ICU %(icu_days)s of %(los_days)s days = %(share)s of the stay "
                                        "< %(threshold)s"),
    "eligibility.complex_care.not_claimed": _l("the hospital did not claim complex multi-disciplinary care"),
    "eligibility.complex_care.met": _l("complex care claimed with a justification of %(chars)s characters"),
    "eligibility.complex_care.too_short": _l("complex care claimed but the justification has %(chars)s characters, "
                                             "fewer than %(minimum)s"),
    "eligibility.newborn.no_birth_weight": _l("no birth weight recorded (the rule is for newborns)"),
    "eligibility.newborn.met": _l("birth weight %(grams)s g < %(limit)s g and cost %(ratio)s × the DRG's average "
                                  "≥ %(multiple)s"),
    "eligibility.newborn.not_met": _l("birth weight %(grams)s g (limit %(limit)s g, below it: %(light)s) and cost "
                                      "%(ratio)s × the DRG's average (at least %(multiple)s: %(costly)s)"),
    "eligibility.new_technology.met": _l("procedures on the region's new drug/technology list: %(codes)s"),
    "eligibility.new_technology.not_met": _l("no procedure on the region's new drug/technology list"),
    "transition.impossible": _l("the step “%(action)s” does not apply to a %(kind)s item in the state "
                                "“%(state)s”"),
    "transition.not_for_role": _l("the step “%(action)s” on a %(kind)s item in the state “%(state)s” is not for "
                                  "the role %(role)s"),
    "extrapolation.too_few_reviewed": _l("Only %(reviewed)s records have been reviewed; at least %(minimum)s are "
                                         "required before the findings are extrapolated."),
    "extrapolation.stratum_unreviewed": _l("Stratum %(stratum)s has %(cases)s cases but none reviewed; its error "
                                           "ratio is unknown and is not taken as 0. Review records from it or leave "
                                           "it out of the report."),
    "extrapolation.stratum_single": _l("Stratum %(stratum)s has only 1 reviewed record; its variance cannot be "
                                       "estimated. Review at least 2 records from it."),
    "extrapolation.stratum_unpaid": _l("Stratum %(stratum)s: the reviewed records were paid 0 fen in total, so a "
                                       "value-weighted error ratio is undefined."),
}

# Parameters that hold a coded value are shown by their label.
CODED_PARAMS = {"kind": labels.ITEM_KIND, "state": labels.STATE, "action": labels.ACTION, "role": labels.ROLE}


def _shown(key: str, value: object) -> str:
    """A parameter as the reader reads it: fen as yuan, flags as yes/no, lists joined."""
    if key.endswith("_fen") and isinstance(value, int):
        return format_fen(value)
    if key in CODED_PARAMS and isinstance(value, str):
        return str(CODED_PARAMS[key].get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return _(", ").join(str(item) for item in value)
    return "" if value is None else str(value)


def problem_text(problem: Problem | Mapping[str, Any]) -> str:
    """One problem in the reader's language; stored problems are the JSON form of `Problem`."""
    if not isinstance(problem, Problem):
        problem = Problem.from_json(problem)
    template = PROBLEM_TEXT[problem.code]
    return str(template) % {key: _shown(key, value) for key, value in problem.params.items()}


def screening_summary(screening: Mapping[str, Any] | None) -> str:
    """The screening result as one sentence for the hospital: the rules that qualified the case, or every rule."""
    if not screening:
        return ""
    results = screening.get("results") or []
    shown = [r for r in results if r.get("met")] if screening.get("eligible") else results
    grounds = _("; ").join(f"{labels.CATEGORY.get(r['rule'], r['rule'])}: {rule_text(r)}" for r in shown)
    if screening.get("eligible"):
        return _("Eligible: %(grounds)s.", grounds=grounds)
    return _("Not eligible, no rule is met: %(grounds)s.", grounds=grounds)


def rule_text(result: Mapping[str, Any]) -> str:
    """One rule's finding; results screened before problems were stored keep their English sentence."""
    if "problem" in result:
        return problem_text(result["problem"])
    return str(result.get("message", ""))


# --- notices: stored as kind + parameters, worded when read ---------------------------------------------------

NOTICE_TEXT = {
    "records_requested": (
        _l("Cycle %(cycle)s: %(count)s medical records sampled for review"),
        _l("%(count)s of your cases were drawn for record review in cycle %(cycle)s. Upload each record and submit "
           "it. Deadline: %(deadline)s.")),
    "records_reminder": (
        _l("Cycle %(cycle)s: %(count)s sampled records still missing"),
        _l("%(count)s records sampled for review in cycle %(cycle)s have not been submitted. The upload deadline is "
           "%(deadline)s; records missing after it are reviewed as missing.")),
    "review_reminder": (
        _l("Cycle %(cycle)s: %(count)s reviews to finish"),
        _l("You have %(count)s unfinished reviews in cycle %(cycle)s; the review deadline is %(deadline)s.")),
    "assignment": (
        _l("Cycle %(cycle)s: %(count)s new review items"),
        _l("You have been assigned %(count)s review items in cycle %(cycle)s. Please review them before "
           "%(deadline)s.")),
    "chair_ruling": (
        _l("Review item #%(item)s: the panel's coding needs your ruling as chair"),
        _l("The experts on review item #%(item)s proposed different codes with no majority. As the panel chair, "
           "choose the code the decision adopts on the item's page.")),
}


def notice_text(notice: Any) -> tuple[str, str]:
    """(subject, body) of a stored notice in the reader's language; notices from before keep their wording."""
    if notice.subject is not None:
        return notice.subject, notice.body or ""
    subject, body = NOTICE_TEXT[notice.kind]
    values = {key: "—" if value is None else _shown(key, value) for key, value in (notice.params or {}).items()}
    return str(subject) % values, str(body) % values
