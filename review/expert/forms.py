"""The expert's scoresheet and recusal forms."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.validators import Length, Optional

from review import labels
from review.forms import choices
from review.messages import problem_text
from review.services.recusal import MIN_REASON
from workflows.money import MoneyError, parse_yuan


def _optional_yuan(form: FlaskForm, field: StringField) -> None:
    text = (field.data or "").strip()
    try:
        field.parsed_fen = parse_yuan(text) if text else 0  # type: ignore[attr-defined]
    except MoneyError as error:
        raise ValidationError(problem_text(error.problem)) from error


YES_NO = {"yes": _l("Yes"), "no": _l("No")}


def _yes_no(label: object) -> RadioField:
    return RadioField(label, choices=choices(YES_NO), validators=[Optional()])


class ScoresheetForm(FlaskForm):
    """Every question of both scoresheet kinds; the page shows those of the cycle's definition for the item's kind,
    and the service checks them against that definition."""

    admission_justified = _yes_no(_l("Was the admission justified?"))
    medically_necessary = _yes_no(_l("Were the high-cost drugs, devices and procedures medically necessary?"))
    unreasonable_cost = StringField(_l("Unreasonable cost to deduct (yuan)"), default="0", validators=[_optional_yuan])
    cost_reasons = TextAreaField(_l("Reasons for the deduction"), validators=[Length(max=4000)])
    recommendation = RadioField(_l("Recommendation"), choices=choices(labels.RECOMMENDATION),
                                validators=[Optional()])
    principal_dx_correct = _yes_no(_l("Is the principal diagnosis correct?"))
    corrected_principal_dx = StringField(_l("Correct principal diagnosis (ICD-10-CM)"), validators=[Length(max=10)])
    principal_procedure_correct = _yes_no(_l("Is the principal procedure correct?"))
    corrected_principal_procedure = StringField(_l("Correct principal procedure (ICD-10-PCS)"),
                                                validators=[Length(max=10)])
    secondary_supported = _yes_no(_l("Are the secondary diagnoses that make a CC or MCC supported by the record?"))
    rationale = TextAreaField(_l("Rationale"), validators=[Length(max=8000)])
    lock_version = HiddenField(default="0")


class ChairRulingForm(FlaskForm):
    """The chair's choice among the codes the panel proposed, one select per code without a majority."""

    principal_dx = SelectField(_l("Principal diagnosis adopted"), validate_choice=False)
    principal_procedure = SelectField(_l("Principal procedure adopted"), validate_choice=False)


def _strip(value: str | None) -> str:
    return (value or "").strip()


class RecusalForm(FlaskForm):
    """Stepping down from one item. The service checks the reason again; the form only saves a round trip.

    Rendered with prefix "recusal" so its fields and CSRF token do not clash with the scoresheet form's ids.
    """

    reason = TextAreaField(_l("Why you are stepping down"), filters=[_strip], validators=[
        Length(min=MIN_REASON, max=2000,
               message=_l("Give the reason for stepping down in at least %(n)s characters.", n=MIN_REASON))])
    declare_conflict = BooleanField(_l("I have a conflict of interest with the hospital — record it"))
