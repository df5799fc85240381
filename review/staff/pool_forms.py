"""Forms of the expert pool screens: expert profile, import, declared conflicts and specialty stand-ins.

The forms check only what a browser can get wrong (missing fields, unknown choices, non-numbers); the rules
of the pool itself (code format, unique code, known hospital) are the service's, so a CSV import and the
form refuse the same things with the same words.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from review.forms import choices
from review.labels import SPECIALTY, TITLE
from review.services.experts import MAX_CAP
from workflows.pool import SPECIALTIES, TITLES


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes: with twenty-odd specialties a multi-select would
    need Ctrl-click, which users of a government tool routinely get wrong and lose earlier choices with."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def specialty_choices() -> list[SelectChoice]:
    """Every specialty the assignment knows, in the rule's order, with its translated name."""
    return choices({code: SPECIALTY.get(code, code) for code in SPECIALTIES})


def title_choices() -> list[SelectChoice]:
    """Titles from the highest, as workflows.pool.TITLES orders them (the order the policy minimum reads in)."""
    return choices({code: TITLE.get(code, code) for code in TITLES})


class ExpertForm(FlaskForm):
    code = StringField(_l("Expert code (the bureau's register number)"), validators=[DataRequired(), Length(max=20)])
    name_en = StringField(_l("Name in English"), validators=[DataRequired(), Length(max=120)])
    name_zh = StringField(_l("Name in Chinese"), validators=[DataRequired(), Length(max=120)])
    title = SelectField(_l("Professional title"), choices=title_choices(), validators=[DataRequired()])
    hospital = SelectField(_l("Hospital"), choices=[], validate_choice=True,
                           validators=[DataRequired(message=_l("Choose a contracted hospital."))])
    """Choices are the hospitals' codes, set by the view from the database; the service takes the code."""
    specialties = MultiCheckboxField(_l("Specialties"), choices=specialty_choices(),
                                     validators=[DataRequired(message=_l("Choose at least one specialty."))])
    cap_per_cycle = IntegerField(_l("Most items per cycle"), default=30,
                                 validators=[InputRequired(), NumberRange(min=0, max=MAX_CAP)])
    active = BooleanField(_l("Active: may be drawn for panels"), default=True)
    note = TextAreaField(_l("Note (kept with the profile; not shown to hospitals)"), validators=[Length(max=2000)])


class ImportForm(FlaskForm):
    file = FileField(_l("CSV or Excel file"), validators=[FileRequired(message=_l("Choose a file to import."))])


class ConflictForm(FlaskForm):
    hospital_id = SelectField(_l("Hospital the expert must not review"), coerce=int, choices=[],
                              validators=[DataRequired(message=_l("Choose a contracted hospital."))])
    starts_on = DateField(_l("From"), validators=[InputRequired()])
    ends_on = DateField(_l("Until (leave empty while it lasts)"), validators=[Optional()])
    reason = TextAreaField(_l("Reason for the conflict"), validators=[DataRequired(), Length(max=1000)])


class EndConflictForm(FlaskForm):
    ends_on = DateField(_l("Last day of the conflict"), validators=[InputRequired()])


class RelationForm(FlaskForm):
    specialty = SelectField(_l("Items of the specialty"), choices=specialty_choices(), validators=[DataRequired()])
    stand_in = SelectField(_l("may be reviewed by experts of"), choices=specialty_choices(),
                           validators=[DataRequired()])
    both_ways = BooleanField(_l("Both ways (each may stand in for the other)"))


class ActionForm(FlaskForm):
    """Carries the CSRF token of a one-button action such as removing a relation."""
