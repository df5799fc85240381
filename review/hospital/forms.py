"""Forms of the hospital's insurance office."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import (DateField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField,
                     ValidationError)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from review import labels
from review.forms import choices
from review.messages import problem_text
from review.services.documents import EVIDENCE_TYPES
from workflows.money import MoneyError, parse_yuan


def _yuan(form: FlaskForm, field: StringField) -> None:
    try:
        field.parsed_fen = parse_yuan(field.data or "")  # type: ignore[attr-defined]
    except MoneyError as error:
        raise ValidationError(problem_text(error.problem)) from error


class CaseForm(FlaskForm):
    case_no = StringField(_l("Case number"), validators=[DataRequired()])
    """Its length is checked by the service after normalisation, as for imported case numbers."""
    age = IntegerField(_l("Age (years)"), validators=[InputRequired(), NumberRange(min=0, max=124)])
    sex = SelectField(_l("Sex"), choices=choices({"": _l("Choose…"), **labels.SEX}),
                      validators=[DataRequired(message=_l("Choose the patient's sex."))])
    """No default: a preselected sex is saved unread, and a wrong one turns into a sex conflict or a wrong DRG."""
    admission_date = DateField(_l("Admission date"), validators=[InputRequired()])
    discharge_date = DateField(_l("Discharge date"), validators=[InputRequired()])
    principal_dx = StringField(_l("Principal diagnosis (ICD-10-CM)"), validators=[DataRequired(), Length(max=10)])
    secondary_dx = TextAreaField(_l("Secondary diagnoses (one per line or comma-separated)"),
                                 validators=[Length(max=2000)])
    procedures = TextAreaField(_l("Procedures (ICD-10-PCS)"), validators=[Length(max=2000)])
    total_cost = StringField(_l("Total cost (yuan)"), validators=[DataRequired(), _yuan])
    icu_days = IntegerField(_l("ICU days"), default=0, validators=[InputRequired(), NumberRange(min=0, max=3650)])
    birth_weight = IntegerField(_l("Birth weight in grams (newborns only)"),
                                validators=[Optional(), NumberRange(min=200, max=9999)])


class ApplyForm(FlaskForm):
    category = SelectField(_l("Category (rule the case meets)"), choices=choices(labels.CATEGORY))
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(min=10, max=4000)])


class UploadForm(FlaskForm):
    doc_type = SelectField(_l("Document type"), choices=choices({key: labels.DOC_TYPE[key] for key in EVIDENCE_TYPES}))
    files = MultipleFileField(_l("Files (PDF, PNG or JPEG; several at once)"), validators=[FileRequired()])


class ImportUploadForm(FlaskForm):
    file = FileField(_l("Case file (CSV in UTF-8 or GB18030, or XLSX)"), validators=[FileRequired()])


class ImportStartForm(FlaskForm):
    mode = RadioField(_l("If some rows have errors"), default="valid_rows", choices=choices({
        "valid_rows": _l("Import the valid rows and report the others"),
        "all_or_nothing": _l("Import nothing (all or nothing)"),
    }))


class BulkApplyForm(FlaskForm):
    case_ids = SelectMultipleField(_l("Cases"), coerce=int, validators=[DataRequired()])
    category = SelectField(_l("Category (rule the case meets)"), choices=choices(labels.CATEGORY))
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(min=10, max=4000)])
