"""Forms of the administration screens (hospitals, users).

They check only what a browser can get wrong; the rules (code format, coefficient range, role bindings, the last
administrator) are the services', so a file import and a form refuse the same things with the same words.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from review.forms import choices
from review.labels import HOSPITAL_LEVEL, ROLE
from review.models.people import ROLES
from review.services.hospitals import LEVELS


def _optional_id(value: object) -> int | None:
    """A select of records whose first choice is "none": the services check that the record exists."""
    return int(value) if value not in (None, "", "None") else None  # type: ignore[arg-type]


class HospitalForm(FlaskForm):
    code = StringField(_l("Hospital code"), validators=[DataRequired(), Length(max=20)])
    name_en = StringField(_l("Name in English"), validators=[DataRequired(), Length(max=200)])
    name_zh = StringField(_l("Name in Chinese"), validators=[DataRequired(), Length(max=200)])
    level = SelectField(_l("Level"), choices=choices({code: HOSPITAL_LEVEL.get(code, code) for code in LEVELS}),
                        validators=[DataRequired()])
    coefficient = StringField(_l("Hospital coefficient (above 0, at most 9.9999)"),
                              validators=[DataRequired(), Length(max=20)])
    active = BooleanField(_l("Active: its users may log in and it may be chosen for new users"), default=True)


class BindingForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=choices({role: ROLE.get(role, role) for role in ROLES}),
                       validators=[DataRequired()])
    hospital_id = SelectField(_l("Hospital (hospital users)"), coerce=_optional_id, choices=[],
                              validate_choice=False, validators=[Optional()])
    hospital_admin = BooleanField(_l("Hospital administrator (manages the hospital's API tokens)"))
    expert_id = SelectField(_l("Expert profile (expert users)"), coerce=_optional_id, choices=[],
                            validate_choice=False, validators=[Optional()])


class UserForm(BindingForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=80)])
