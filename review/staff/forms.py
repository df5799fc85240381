"""Forms of the bureau's review office."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class DrawForm(FlaskForm):
    published_value = StringField(_l("Published random value (e.g. the lottery draw number)"),
                                  validators=[DataRequired(), Length(max=200)])


class ConfirmForm(FlaskForm):
    """Empty form: carries the CSRF token of a one-click confirmation."""


class OverrideForm(FlaskForm):
    note = TextAreaField(_l("Why this application goes to the panel although no rule is met"),
                         validators=[DataRequired(), Length(min=10, max=2000)])
