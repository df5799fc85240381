"""Forms of the bureau's review office."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DecimalField, IntegerField, RadioField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from review import labels
from review.forms import choices
from review.web import MAX_RECORD_ID, record_id


class DrawForm(FlaskForm):
    published_value = StringField(_l("Published random value (e.g. the lottery draw number)"),
                                  validators=[DataRequired(), Length(max=200)])


class ConfirmForm(FlaskForm):
    """Empty form: carries the CSRF token of a one-click confirmation."""


class OverrideForm(FlaskForm):
    note = TextAreaField(_l("Why this application goes to the panel although no rule is met"),
                         validators=[DataRequired(), Length(min=10, max=2000)])


def _percent(minimum: float = 0) -> list:
    return [InputRequired(), NumberRange(min=minimum, max=100)]


class SamplingForm(FlaskForm):
    share = DecimalField(_l("Simple random share of each stratum (%)"), default=10, places=2,
                         validators=_percent(0.01))
    stratify_by_hospital = BooleanField(_l("Stratify by hospital"), default=True)
    min_per_hospital = IntegerField(_l("Minimum records per hospital"), default=2,
                                    validators=[InputRequired(), NumberRange(min=0, max=1000)])
    top_cost_ratio = IntegerField(_l("Risk: the N cases with the highest cost ratios"), default=0,
                                  validators=[InputRequired(), NumberRange(min=0, max=10000)])
    mismatch_share = DecimalField(_l("Risk: share of cases whose hospital DRG differs (%)"), default=0, places=2,
                                  validators=_percent())
    single_mcc_share = DecimalField(_l("Risk: share of cases whose MCC rests on one secondary code (%)"), default=0,
                                    places=2, validators=_percent())
    short_stay_share = DecimalField(_l("Risk: share of short stays in high-weight DRGs (%)"), default=0, places=2,
                                    validators=_percent())
    published_value = StringField(_l("Published random value (e.g. the lottery draw number)"),
                                  validators=[DataRequired(), Length(max=200)])


class IssueDecisionsForm(FlaskForm):
    """The decision queue's one form: the ticked rows ("Issue selected"), or the single row whose own "Issue"
    button was pressed (`only`), so each row needs no form of its own inside the table."""

    decision_ids = SelectMultipleField(_l("Decisions"), coerce=record_id, validate_choice=False)
    only = IntegerField(_l("Decision"), validators=[Optional(), NumberRange(min=1, max=MAX_RECORD_ID)])

    def selected(self) -> list[int]:
        return [self.only.data] if self.only.data else list(self.decision_ids.data or [])

    def validate(self, extra_validators: object = None) -> bool:  # type: ignore[override]
        if not super().validate(extra_validators):  # type: ignore[arg-type]
            return False
        if not self.selected():
            message = _l("Tick at least one decision to issue.")
            self.decision_ids.errors = [*self.decision_ids.errors, message]  # type: ignore[assignment]
            return False
        return True


class ExportForm(FlaskForm):
    kind = RadioField(_l("What to export"), choices=choices(labels.EXPORT_KIND), default="letters_zip",
                      validators=[InputRequired()])
