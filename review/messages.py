"""The one catalogue that words what the pure core reports: problem codes with parameters, in the reader's language.

The core (`workflows/`) returns `Problem(code, **params)`; services store the code and parameters; templates,
PDFs and exports call `problem_text` at the moment of reading. A test checks that every code the core can return
has a wording here and a Chinese translation.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from review import labels
from workflows.grouping import CodeIssue
from workflows.intake import COLUMNS, RowError
from workflows.money import format_fen
from workflows.problems import Problem

FIELD_LABELS = {
    "principal_dx": _l("principal diagnosis"),
    "secondary_dx": _l("secondary diagnosis"),
    "procedures": _l("procedure"),
    "age": _l("age"),
    "sex": _l("sex"),
    "filename": _l("file name"),
    "reason": _l("reason"),
}


def code_issue_message(issue: CodeIssue) -> str:
    """A code-editor or grouping finding in the reader's language, naming the field and the code."""
    return problem_text(issue.problem)


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
    "calendar.year_missing": _l("There is no working-day calendar for %(year)s yet, so its working days cannot be "
                                "counted. An admin can add the year on the Working-day calendar page."),
    "extrapolation.too_few_reviewed": _l("Only %(reviewed)s records have been reviewed; at least %(minimum)s are "
                                         "required before the findings are extrapolated."),
    "extrapolation.stratum_unreviewed": _l("Stratum %(stratum)s has %(cases)s cases but none reviewed; its error "
                                           "ratio is unknown and is not taken as 0. Review records from it or leave "
                                           "it out of the report."),
    "extrapolation.stratum_single": _l("Stratum %(stratum)s has only 1 reviewed record; its variance cannot be "
                                       "estimated. Review at least 2 records from it."),
    "extrapolation.stratum_unpaid": _l("Stratum %(stratum)s: the reviewed records were paid 0 fen in total, so a "
                                       "value-weighted error ratio is undefined."),
    # the code editor (workflows/grouping.py); `field` is shown by FIELD_LABELS
    "code_edit.invalid_code": _l("The %(field)s %(icd)s is not a valid ICD-10 code for the discharge date."),
    "code_edit.sex_conflict": _l("The %(field)s %(icd)s conflicts with the patient's sex."),
    "code_edit.age_conflict": _l("The %(field)s %(icd)s conflicts with the patient's age."),
    "code_edit.unacceptable_pdx": _l("The %(field)s %(icd)s is not acceptable as a principal diagnosis."),
    "code_edit.e_code_as_pdx": _l("The %(field)s %(icd)s is an external-cause code and cannot be the principal "
                                  "diagnosis."),
    "code_edit.manifestation_as_pdx": _l("The %(field)s %(icd)s is a manifestation code and cannot be the "
                                         "principal diagnosis."),
    "code_edit.non_covered": _l("The %(field)s %(icd)s is a procedure that Medicare's rules do not cover."),
    "code_edit.limited_coverage": _l("The %(field)s %(icd)s is covered by Medicare's rules only in limited "
                                     "circumstances."),
    "code_edit.questionable_admission": _l("The %(field)s %(icd)s is a questionable reason for an inpatient "
                                           "admission."),
    "code_edit.questionable_obstetric_admission": _l("The %(field)s %(icd)s is a questionable reason for an "
                                                     "obstetric admission."),
    "code_edit.medicare_is_secondary_payer": _l("The %(field)s %(icd)s suggests that another insurer pays before "
                                                "Medicare (Medicare as secondary payer)."),
    "code_edit.nonspecific_pdx": _l("The %(field)s %(icd)s is too unspecific to be the principal diagnosis."),
    "code_edit.nonspecific_or": _l("The %(field)s %(icd)s is an unspecific operating-room procedure."),
    "code_edit.open_biopsy": _l("The %(field)s %(icd)s is an open biopsy; check that a closed biopsy was not "
                                "meant."),
    "code_edit.bilateral": _l("The %(field)s %(icd)s is coded as a bilateral procedure; check that both sides "
                              "were treated."),
    "code_edit.requires_sdx": _l("The %(field)s %(icd)s needs a secondary diagnosis to go with it."),
    "code_edit.wrong_procedure_performed": _l("The %(field)s %(icd)s records that a wrong procedure was "
                                              "performed."),
    "code_edit.inconsistent_with_length_of_stay": _l("The %(field)s %(icd)s is inconsistent with the length of "
                                                     "stay."),
    "code_edit.unspecified": _l("The %(field)s %(icd)s is an unspecified code; code it more precisely."),
    "code_edit.invalid_discharge_pdx": _l("The %(field)s %(icd)s is invalid as a discharge diagnosis "
                                          "(MS-DRG 998)."),
    "code_edit.unknown": _l("The %(field)s %(icd)s triggers the code-editor edit %(edit)s."),
    "code_edit.combination": _l("The code editor reports %(edit)s for a combination of codes in the %(field)s "
                                "list."),
    "code_edit.invalid_demographic": _l("The patient's %(field)s is not valid for the code editor."),
    "grouping.principal_missing": _l("The principal diagnosis is empty."),
    "grouping.entry_empty": _l("A %(field)s entry is empty."),
    "grouping.too_many_codes": _l("%(count)s codes in the %(field)s list; at most %(maximum)s are allowed."),
    "grouping.age_out_of_range": _l("Age %(age)s is outside 0–%(maximum)s."),
    "grouping.repeats_principal": _l("The %(field)s %(icd)s repeats the principal diagnosis."),
    "grouping.listed_twice": _l("The %(field)s %(icd)s is listed more than once."),
    "grouping.not_in_catalogue": _l("The DRG %(drg)s is not in the catalogue %(catalogue)s."),
    "grouping.not_grouped": _l("The case could not be grouped (grouper answer %(answer)s)."),
    # amounts typed by a person (workflows/money.py); `text` is the amount as typed, quoted
    "money.empty": _l("The amount is empty; enter a number of yuan such as 186400.50."),
    "money.thousands_separator": _l("The amount %(text)s contains a thousands separator; enter digits only, "
                                    "e.g. 1234.50."),
    "money.currency_sign": _l("The amount %(text)s contains a currency sign or unit; enter the number of yuan "
                              "only."),
    "money.negative": _l("The amount %(text)s is negative; amounts must be zero or more."),
    "money.not_a_number": _l("The amount %(text)s is not a number of yuan such as 186400.50."),
    "money.too_many_decimals": _l("The amount %(text)s has more than 2 decimal places; yuan amounts stop at the "
                                  "fen."),
    "money.too_large": _l("The amount %(text)s is larger than %(maximum_fen)s yuan; check the figure."),
    # the import contract (workflows/intake.py); `column` is shown by its header in the reader's language
    "intake.header.none": _l("the file has no header row"),
    "intake.header.unknown": _l("unknown column header %(header)s (column %(position)s)"),
    "intake.header.repeated": _l("the column “%(column)s” appears more than once (columns %(first)s and "
                                 "%(second)s)"),
    "intake.header.missing": _l("the required column “%(column)s” is missing"),
    "intake.cell_too_long": _l("The cell has %(chars)s characters; at most %(maximum)s are allowed in any cell."),
    "intake.formula": _l("%(value)s is a formula; formulas are not accepted, paste values."),
    "intake.required": _l("The cell is empty; “%(column)s” is required."),
    "intake.not_whole_number": _l("%(value)s is not a whole number (expected 0–%(maximum)s)."),
    "intake.not_whole_number.unbounded": _l("%(value)s is not a whole number (expected 0 or more)."),
    "intake.out_of_range": _l("%(number)s is out of range (expected 0–%(maximum)s)."),
    "intake.out_of_range.unbounded": _l("%(number)s is out of range (expected 0 or more)."),
    "intake.not_a_date": _l("%(value)s is not a date (expected YYYY-MM-DD)."),
    "intake.not_a_real_date": _l("%(value)s is not a real date (expected YYYY-MM-DD)."),
    "intake.year_out_of_range": _l("%(value)s is outside the years %(first)s–%(last)s."),
    "intake.no_code": _l("No code given; “%(column)s” is required."),
    "intake.codes.one_expected": _l("%(count)s codes given; exactly one is expected."),
    "intake.codes.too_many": _l("%(count)s codes given; at most %(maximum)s are allowed."),
    "intake.codes.invalid": _l("The code %(value)s is not a valid code (expected 3–7 letters and digits, "
                               "e.g. I21.4)."),
    "intake.text_too_long": _l("%(chars)s characters given; at most %(maximum)s are allowed."),
    "intake.cost_above_ceiling": _l("%(cost_fen)s yuan is outside the range accepted for one case "
                                    "(0.00–%(maximum_fen)s yuan)."),
    "intake.control_characters": _l("%(value)s contains control characters; remove them."),
    "intake.outside_columns": _l("Unexpected value %(value)s in %(cell)s, which has no column header."),
    "intake.not_a_sex": _l("%(value)s is not a sex (expected M/F/U, 男/女/未知 or 1/2/0/9)."),
    "intake.discharge_before_admission": _l("%(discharge_date)s is before the admission date %(admission_date)s."),
    "intake.parts_do_not_add_up": _l("The total %(total_fen)s yuan does not match the sum of the cost parts "
                                     "%(parts_fen)s yuan (they may differ by at most %(tolerance_fen)s yuan)."),
    "intake.icu_exceeds_stay": _l("%(icu_days)s ICU days exceed the stay of %(los_days)s days (at most "
                                  "%(maximum)s, counting both the admission and the discharge day)."),
    "intake.birth_weight_not_newborn": _l("A birth weight is given for a patient aged %(age)s; it is only for "
                                          "newborns."),
    "intake.not_a_category": _l("%(value)s is not a category (expected one of %(accepted)s)."),
    "intake.reason_required": _l("The cell is empty; a reason is required when a category is given."),
    "intake.reason_too_short": _l("%(chars)s characters given; at least %(minimum)s are required."),
    # whole files refused before any row is read (review/intake/readers.py)
    "file.empty": _l("The file is empty."),
    "file.too_large": _l("The file is %(size_mb)s MB; files larger than %(limit_mb)s MB are refused."),
    "file.too_many_rows": _l("The file has more than %(limit)s data rows; split it into smaller files."),
    "file.damaged_zip": _l("The file is a damaged ZIP archive, not an Excel workbook."),
    "file.zip_not_workbook": _l("The file is a ZIP file that is not an Excel workbook."),
    "file.zip_bomb": _l("The workbook expands to %(expanded_mb)s MB; it is refused as a possible zip bomb."),
    "file.workbook_unreadable": _l("The Excel workbook cannot be read (%(error)s)."),
    "file.utf16": _l("The file is UTF-16 text (Excel's “Unicode Text”); save it as “CSV UTF-8” instead."),
    "file.binary": _l("The file is binary, not CSV text."),
    "file.bad_utf8": _l("The file starts as UTF-8 but is not valid UTF-8 (line %(line)s)."),
    "file.mixed_encodings": _l("The file mixes text encodings: line %(utf8_line)s is UTF-8 but line "
                               "%(other_line)s is not; save the whole file in one encoding, e.g. as “CSV UTF-8”."),
    "file.unknown_encoding": _l("The file is neither UTF-8 nor GB18030 text (line %(line)s)."),
    "file.bad_csv": _l("Row %(row)s is not valid CSV (%(error)s)."),
    # a case import as a whole (review/services/intake.py)
    "import.repeated_row": _l("The case number %(case_no)s discharged on %(discharge_date)s repeats row "
                              "%(first_row)s of this input."),
    "import.no_weight": _l("DRG %(drg)s has no weight in the catalogue; the case cannot be priced."),
    "import.application_refused": _l("Application not possible: %(why)s"),
    "import.application_not_made": _l("Case recorded, application not made: %(why)s"),
    "import.nothing_imported": _l("All or nothing: nothing was imported because some rows have errors."),
    "import.columns_mismatch": _l("The columns do not match the template; nothing was imported."),
    "import.cancelled": _l("Cancelled by the user; nothing was imported."),
    "import.refused": _l("The import was refused: %(why)s Nothing was imported."),
    "import.stopped": _l("The import stopped (%(why)s); nothing was imported."),
    # a record-sampling plan (workflows/sampling.py); `setting` is shown by SAMPLING_SETTINGS
    "sampling.share_not_a_number": _l("The %(setting)s must be a number; %(value)s is not."),
    "sampling.share_out_of_range": _l("The %(setting)s must be more than 0%% and at most 100%%; %(percent)s%% is "
                                      "not."),
    "sampling.risk_share_out_of_range": _l("The %(setting)s must be between 0%% and 100%%; %(percent)s%% is not."),
    "sampling.count_invalid": _l("The %(setting)s must be a whole number of 0 or more; %(value)s is not."),
    "sampling.flag_invalid": _l("“%(setting)s” must be yes or no; %(value)s is neither."),
    "sampling.minimum_needs_strata": _l("A minimum of %(minimum)s records per hospital needs strata by hospital; "
                                        "stratify by hospital or set the minimum to 0."),
    "sampling.published_value_empty": _l("The published value is empty; type the announced number exactly."),
    # why an application cannot be made now (review/services/applications.py)
    "application.category_missing": _l("Choose the rule the case meets."),
    "application.reason_too_short": _l("Give the reason for the application (at least %(minimum)s characters)."),
    "application.no_cycle": _l("No review cycle covers the discharge date %(date)s."),
    "application.window_closed": _l("Applications for cycle %(cycle)s are accepted from %(start)s to %(end)s only."),
    "application.duplicate": _l("This case already has an application in cycle %(cycle)s."),
    "application.quota_unknown": _l("The review office has not yet recorded your DRG discharges for cycle %(cycle)s, "
                                    "so the application quota is unknown; please contact the review office."),
    "application.quota_used_up": _l("The quota for cycle %(cycle)s is used up: %(allowed)s applications allowed "
                                    "(%(share)s of %(n)s DRG discharges), %(used)s made."),
    "application.evidence_missing": _l("Upload the evidence this category needs before submitting: %(doc_types)s."),
    "withdrawal.reason_too_short": _l("Give the reason for the withdrawal (at least %(minimum)s characters)."),
    # accounting periods of the ledger (review/services/periods.py)
    "ledger.region_unknown": _l("No region has the code %(region)s, so the entry has no accounting period."),
    "ledger.no_open_period": _l("Period %(period)s is closed and the region has no open period to book the "
                                "adjustment in; open the next cycle first."),
    "ledger.account_unreconciled": _l("Account %(account)s does not reconcile: its balance says %(cached_fen)s "
                                      "yuan, its lines add up to %(lines_fen)s yuan."),
    "ledger.entry_unbalanced": _l("Entry %(key)s does not balance."),
    "ledger.entry_not_decision": _l("Entry %(key)s moves %(entry_fen)s yuan where its decision says "
                                    "%(decision_fen)s yuan."),
    "ledger.period_unknown": _l("There is no accounting period %(period)s."),
    "ledger.period_closed": _l("Period %(period)s is already closed."),
    "appeal.step_impossible": _l("An appeal in the state “%(appeal_state)s” cannot take this step."),
    "decision.step_impossible": _l("A decision version in the status “%(decision_status)s” cannot take this step."),
    "ledger.period_step_impossible": _l("Period %(period)s is “%(period_state)s”: the step “%(period_step)s” is not "
                                        "possible now."),
    "ledger.period_step_not_for_role": _l("The step “%(period_step)s” on period %(period)s is not for the role "
                                          "%(role)s."),
    "ledger.period_not_closed": _l("Period %(period)s is not closed, so there is nothing to verify."),
    "ledger.period_hash_differs": _l("Period %(period)s: its entries no longer give the hash recorded at the close "
                                     "(%(entries)s entries now, %(recorded)s at the close)."),
    "ledger.period_balance_differs": _l("Period %(period)s: account %(account)s moved %(lines_fen)s yuan by its "
                                        "lines, the close recorded %(stored_fen)s yuan."),
    # patient identity typed into a file name or a reason (workflows/identity.py); `field` is shown by FIELD_LABELS
    "identity.case_number": _l("The %(field)s contains the case number. Experts are shown a neutral label and a "
                               "masked reason, but please leave the patient's identity out of it."),
    "identity.id_card": _l("The %(field)s contains what looks like an identity card number. Experts are shown a "
                           "neutral label and a masked reason, but please leave the patient's identity out of it."),
    # issuing a decision (review/services/decisions.py)
    "decision.reasons_not_opened": _l("Decision #%(decision_id)s cannot be issued before you have opened its "
                                      "reasons: open the decision, read each expert's vote and rationale, and "
                                      "issue it from there."),
    # the job runner (review/services/jobs.py): why an attempt ended, and why the runner stopped trying
    "job.error": _l("the task raised %(error)s"),
    "job.stalled": _l("the worker %(worker)s stopped beating (last heartbeat %(heartbeat)s UTC)"),
    "job.not_sent": _l("the message could not be sent"),
    "job.lost": _l("the message was sent but no worker started it"),
    "job.stopped": _l("stopped after %(attempts)s attempt(s): %(why)s"),
    # building an export (review/services/exports.py)
    "export.letter_unrendered": _l("the letter of case %(case_no)s (%(hospital)s, version %(version)s) could not "
                                   "be rendered: %(error)s"),
    "export.decision_not_issued": _l("the decision on case %(case_no)s (%(hospital)s) is no longer issued"),
    "export.letter_missing": _l("the stored letter of case %(case_no)s (%(hospital)s, version %(version)s) is "
                                "missing from the file store"),
    # appeals and corrections (review/services/appeals.py, corrections.py, decisions.py)
    "appeal.too_late": _l("The deadline for an appeal against this decision was %(deadline)s; an appeal can no "
                          "longer be filed."),
    "appeal.already_filed": _l("This case has already been appealed once; no further appeal (review) is possible. "
                               "The hospital may apply for administrative reconsideration or bring a lawsuit."),
    "appeal.not_open": _l("This decision cannot be appealed now: it is not the case's current issued decision."),
    "appeal.grounds_short": _l("State the grounds of the appeal in at least %(minimum)s characters."),
    "correction.needs_approval": _l("Decision #%(decision_id)s is a correction: a second member of the review "
                                    "office approves it on the corrections queue."),
    "correction.own_proposal": _l("You proposed correction #%(decision_id)s; another member of the review office "
                                  "must approve it."),
    "correction.pending": _l("A correction of this decision is already waiting for approval."),
    "settlement.period_not_closed": _l("Period %(period)s is not closed yet: statements are drawn from a closed "
                                       "period only, once its figures can no longer change."),
    "settlement.figures_disagree": _l("The statement of hospital %(hospital)s for %(period)s would close at "
                                      "%(statement_fen)s yuan where the ledger's closing balance says %(ledger_fen)s "
                                      "yuan; no statement was written."),
    "settlement.step_impossible": _l("A statement in the state “%(statement_state)s” cannot be given the step "
                                     "“%(step)s”."),
    "settlement.step_not_for_role": _l("The step “%(step)s” on a statement in the state “%(statement_state)s” is "
                                       "not for the role %(role)s."),
}

SAMPLING_SETTINGS = {
    "share": _l("simple random share of each stratum"),
    "min_per_hospital": _l("minimum of records per hospital"),
    "stratify_by_hospital": _l("Stratify by hospital"),
    "top_cost_ratio": _l("number of cases with the highest cost ratios"),
    "mismatch_share": _l("share of cases whose hospital DRG differs"),
    "single_mcc_share": _l("share of cases whose MCC rests on one secondary code"),
    "short_stay_share": _l("share of short stays in high-weight DRGs"),
}

# Parameters that hold a coded value are shown by their label.
CODED_PARAMS = {"kind": labels.ITEM_KIND, "state": labels.STATE, "action": labels.ACTION, "role": labels.ROLE,
                "field": FIELD_LABELS, "setting": SAMPLING_SETTINGS, "doc_types": labels.DOC_TYPE,
                "statement_state": labels.SETTLEMENT_STATE, "step": labels.SETTLEMENT_STEP,
                "period_state": labels.PERIOD_STATE, "period_step": labels.PERIOD_STEP,
                "appeal_state": labels.APPEAL_STATE, "decision_status": labels.STATUS}

_COLUMNS = {column.key: column for column in COLUMNS}


def column_label(key: str) -> str:
    """An import column by the template's header in the reader's language (the contract has one per language);
    a cell outside the columns keeps the name it came with."""
    column = _COLUMNS.get(key)
    if column is None:
        return key
    locale = get_locale()
    return column.header_zh if locale is not None and locale.language == "zh" else column.header_en


def _shown(key: str, value: object) -> str:
    """A parameter as the reader reads it: fen as yuan, flags as yes/no, lists joined, columns by their header."""
    if key.endswith("_fen") and isinstance(value, int):
        return format_fen(value)
    if key in CODED_PARAMS and isinstance(value, str):
        return str(CODED_PARAMS[key].get(value, value))
    if key == "column" and isinstance(value, str):
        return column_label(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        coded = CODED_PARAMS.get(key, {})
        return _(", ").join(str(coded.get(item, item)) for item in value)
    return "" if value is None else str(value)


def problem_text(problem: Problem | Mapping[str, Any]) -> str:
    """One problem in the reader's language; stored problems are the JSON form of `Problem`."""
    if not isinstance(problem, Problem):
        problem = Problem.from_json(problem)
    template = PROBLEM_TEXT[problem.code]
    shown = {key: _shown(key, value) for key, value in problem.params.items()}
    if "why_code" in problem.params:  # a problem that carries another (an import row's refused application)
        inner = {key: value for key, value in problem.params.items() if key != "why_code"}
        carried = str(problem.params["why_code"])
        shown["why"] = problem_text(Problem(carried, **inner))
    return str(template) % shown


def row_error_text(error: RowError | Mapping[str, Any]) -> str:
    """One import problem, as found or as stored with the job; errors stored before problems were kept show their
    sentence."""
    if isinstance(error, RowError):
        return problem_text(error.problem)
    if "problem" in error:
        return problem_text(error["problem"])
    return str(error.get("message", ""))


def stored_problem_text(text: str) -> str:
    """A message column that holds a problem as JSON (`Problem.to_json`); text from before is shown as it is."""
    try:
        stored = json.loads(text) if text.startswith("{") else None
    except ValueError:
        stored = None
    if not isinstance(stored, dict) or stored.get("code") not in PROBLEM_TEXT:
        return text
    return problem_text(stored)


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
    "item_withdrawn": (
        _l("Review item #%(item)s was withdrawn by the review office"),
        _l("The review office withdrew review item #%(item)s of cycle %(cycle)s (it was at “%(state)s”). The "
           "reason is shown on the item's page.")),
    "decision_corrected": (
        _l("Review item #%(item)s: the decision was corrected (version %(version)s)"),
        _l("The review office corrected the decision on review item #%(item)s of cycle %(cycle)s. Version "
           "%(version)s replaces the earlier one; the new letter is on the item's page.")),
    "appeal_decided": (
        _l("Review item #%(item)s: your appeal has been decided"),
        _l("The appeal panel's decision on review item #%(item)s of cycle %(cycle)s has been issued (version "
           "%(version)s); the letter is on the item's page.")),
    "statement_issued": (
        _l("Settlement statement %(ref)s for %(period)s"),
        _l("The review office issued your settlement statement %(ref)s for period %(period)s. Read it under "
           "Statements, then acknowledge it or dispute it with your reason.")),
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


def stratum_text(name: str, hospitals: Mapping[int, str]) -> str:
    """A sampling stratum as the office reads it: a risk stratum by its label, a hospital's by the hospital."""
    kind, _sep, hospital_id = name.partition(":")
    if kind == "hospital" and hospital_id.isdigit():
        return _("Hospital %(hospital)s", hospital=hospitals.get(int(hospital_id), hospital_id))
    return str(labels.STRATUM.get(name, name))
