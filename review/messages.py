"""Translated wording for the structured problems the pure core reports in English."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from workflows.grouping import CodeIssue

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
