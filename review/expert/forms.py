"""The expert's scoresheet form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, TextAreaField, ValidationError
from wtforms.validators import Length, Optional

from review import labels
from review.forms import choices
from workflows.money import MoneyError, parse_yuan


def _optional_yuan(form: FlaskForm, field: StringField) -> None:
    text = (field.data or "").strip()
    try:
        field.parsed_fen = parse_yuan(text) if text else 0  # type: ignore[attr-defined]
    except MoneyError as error:
        raise ValidationError(str(error)) from error


class ScoresheetForm(FlaskForm):
    recommendation = RadioField(_l("Recommendation"), choices=choices(labels.RECOMMENDATION),
                                validators=[Optional()])
    unreasonable_cost = StringField(_l("Unreasonable cost to deduct (yuan)"), default="0", validators=[_optional_yuan])
    rationale = TextAreaField(_l("Rationale"), validators=[Length(max=8000)])
    lock_version = HiddenField(default="0")
