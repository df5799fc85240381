"""Forms of the configuration screens: policy, cycles, DRG discharges and DRG average costs."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from review.forms import choices
from review.labels import CATEGORY, DOC_TYPE, HOSPITAL_LEVEL
from review.messages import problem_text
from review.models import Policy
from review.services import policies
from review.services.context import ValidationFailed
from review.staff.pool_forms import MultiCheckboxField, title_choices
from workflows.money import MoneyError, format_fen, parse_yuan
from workflows.policy import EVIDENCE_KINDS

PAYMENT_METHOD = {
    "fee_for_service": _l("Fee for service: cost − unreasonable cost − DRG payment"),
    "cms_outlier": _l("CMS outlier: 80% × (cost − DRG payment − fixed-loss threshold)"),
}
EDIT_KIND = {
    "invalid_code": _l("Invalid code"),
    "sex_conflict": _l("Code conflicts with the patient's sex"),
    "age_conflict": _l("Code conflicts with the patient's age"),
    "unacceptable_pdx": _l("Code unacceptable as principal diagnosis"),
    "e_code_as_pdx": _l("External-cause code as principal diagnosis"),
    "manifestation_as_pdx": _l("Manifestation code as principal diagnosis"),
    "duplicate_code": _l("Diagnosis listed twice"),
    "non_covered": _l("Non-covered procedure (Medicare)"),
    "limited_coverage": _l("Limited-coverage procedure, e.g. organ transplants (Medicare)"),
    "questionable_admission": _l("Questionable admission (Medicare)"),
    "questionable_obstetric_admission": _l("Questionable obstetric admission (Medicare)"),
    "medicare_is_secondary_payer": _l("Medicare as secondary payer (Medicare)"),
    "nonspecific_pdx": _l("Non-specific principal diagnosis"),
    "nonspecific_or": _l("Non-specific operating-room procedure"),
    "open_biopsy": _l("Open biopsy"),
    "bilateral": _l("Bilateral procedures"),
    "requires_sdx": _l("Code that needs a secondary diagnosis"),
    "wrong_procedure_performed": _l("Wrong procedure performed"),
    "inconsistent_with_length_of_stay": _l("Code inconsistent with the length of stay"),
    "unspecified": _l("Other code-editor finding"),
}
"""The code-editor findings a payer may make blocking, in the order of workflows.grouping.EDIT_KINDS."""


class PolicyForm(FlaskForm):
    base_rate = StringField(_l("Base rate (yuan per weight 1.0)"), validators=[DataRequired(), Length(max=30)])
    quota_share = StringField(_l("Application quota (percent of DRG discharges)"),
                              validators=[DataRequired(), Length(max=12)])
    high_cost_multiple = StringField(_l("High cost: multiple of the DRG average cost"),
                                     validators=[DataRequired(), Length(max=12)])
    high_cost_bands = TextAreaField(_l("High-cost multiple by DRG weight band (optional)"),
                                    validators=[Length(max=4000)])
    long_stay_days = IntegerField(_l("Long stay: days or more"),
                                  validators=[InputRequired(), NumberRange(min=1, max=3650)])
    icu_share = StringField(_l("ICU-heavy: ICU days as percent of the stay"),
                            validators=[DataRequired(), Length(max=12)])
    newborn_weight_grams = IntegerField(_l("Newborn: birth weight below (grams)"),
                                        validators=[InputRequired(), NumberRange(min=1, max=10000)])
    newborn_cost_multiple = StringField(_l("Newborn: multiple of the DRG average cost"),
                                        validators=[DataRequired(), Length(max=12)])
    new_technology_codes = TextAreaField(_l("New drugs and technologies (ICD-10-PCS codes)"),
                                         validators=[Length(max=20000)])
    panel_size = IntegerField(_l("Experts per panel (odd, 3 or more)"),
                              validators=[InputRequired(), NumberRange(min=3, max=99)])
    panel_min_title = SelectField(_l("Lowest professional title admitted to panels"), choices=title_choices(),
                                  validators=[DataRequired()])
    panel_hospital_levels = MultiCheckboxField(
        _l("Experts' hospitals of these levels are admitted"), choices=choices(HOSPITAL_LEVEL),
        validators=[DataRequired(message=_l("Admit experts of at least one hospital level."))])
    panel_one_per_hospital = BooleanField(_l("At most one expert of the same hospital on an item"))
    appeal_days = IntegerField(_l("Appeal window (days after a decision is issued)"),
                               validators=[InputRequired(), NumberRange(min=1, max=365)])
    appeal_review_days = IntegerField(_l("Appeal panel's time (working days from being seated)"),
                                      validators=[InputRequired(), NumberRange(min=1, max=365)])
    payment_method = SelectField(_l("Payment method"), choices=choices(PAYMENT_METHOD), validators=[DataRequired()])
    fixed_loss_threshold = StringField(_l("Fixed-loss threshold (yuan, CMS outlier method)"),
                                       validators=[DataRequired(), Length(max=30)])
    min_reviewed_for_extrapolation = IntegerField(_l("Minimum reviewed records before extrapolating"),
                                                  validators=[InputRequired(), NumberRange(min=1, max=100000)])
    max_case_cost = StringField(_l("Highest total cost of one case (yuan)"), validators=[Optional(), Length(max=30)])
    """Optional in the request so a form posted without it keeps the current figure; the page always fills it."""
    blocking_code_edits = MultiCheckboxField(_l("Code-editor findings that refuse a case"),
                                             choices=choices(EDIT_KIND))
    note = TextAreaField(_l("Why does the policy change? (kept with the version)"),
                         validators=[DataRequired(), Length(max=2000)])

    def fill(self, policy: Policy) -> None:
        """Put the current figures into the fields, as a person would type them."""
        self.base_rate.data = format_fen(policy.base_rate_fen).replace(",", "")
        self.quota_share.data = policies.plain(Decimal(policy.quota_share) * 100)
        self.high_cost_multiple.data = policies.plain(Decimal(policy.high_cost_multiple))
        self.high_cost_bands.data = policies.format_bands(policy.high_cost_bands)
        self.long_stay_days.data = policy.long_stay_days
        self.icu_share.data = policies.plain(Decimal(policy.icu_share) * 100)
        self.newborn_weight_grams.data = policy.newborn_weight_grams
        self.newborn_cost_multiple.data = policies.plain(Decimal(policy.newborn_cost_multiple))
        self.new_technology_codes.data = "\n".join(policy.new_technology_codes or [])
        self.panel_size.data = policy.panel_size
        self.panel_min_title.data = policy.panel_min_title
        self.panel_hospital_levels.data = list(policy.panel_hospital_levels or [])
        self.panel_one_per_hospital.data = bool(policy.panel_one_per_hospital)
        self.appeal_days.data = policy.appeal_days
        self.appeal_review_days.data = policy.appeal_review_days
        self.payment_method.data = policy.payment_method
        self.fixed_loss_threshold.data = format_fen(policy.fixed_loss_threshold_fen).replace(",", "")
        self.min_reviewed_for_extrapolation.data = policy.min_reviewed_for_extrapolation
        self.max_case_cost.data = format_fen(policy.max_case_cost_fen).replace(",", "")
        self.blocking_code_edits.data = list(policy.blocking_code_edits or [])
        for category in CATEGORY:
            self[f"evidence_{category}"].data = list((policy.required_evidence or {}).get(category, []))

    def changes(self) -> dict[str, object]:
        """The typed figures as the service takes them; raises ValidationFailed naming the fields."""
        errors: dict[str, list[str]] = {}
        values: dict[str, object] = {}

        def money(field: StringField, name: str) -> None:
            try:
                values[name] = parse_yuan(field.data or "")
            except MoneyError as error:
                errors[field.name] = [problem_text(error.problem)]

        def number(field: StringField, name: str, scale: int = 1) -> None:
            try:
                value = Decimal((field.data or "").strip().rstrip("%").strip())
                if not value.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                errors[field.name] = [str(_l("Enter a number, e.g. 5 or 2.5."))]
            else:
                values[name] = value / scale

        money(self.base_rate, "base_rate_fen")
        money(self.fixed_loss_threshold, "fixed_loss_threshold_fen")
        if (self.max_case_cost.data or "").strip():
            money(self.max_case_cost, "max_case_cost_fen")
        number(self.quota_share, "quota_share", 100)
        number(self.icu_share, "icu_share", 100)
        number(self.high_cost_multiple, "high_cost_multiple")
        number(self.newborn_cost_multiple, "newborn_cost_multiple")
        for parse, field in ((policies.parse_bands, self.high_cost_bands),
                             (policies.parse_codes, self.new_technology_codes)):
            try:
                values[field.name] = parse(field.data or "")
            except ValidationFailed as failure:
                errors.update(failure.errors)
        values.update(
            long_stay_days=self.long_stay_days.data, newborn_weight_grams=self.newborn_weight_grams.data,
            panel_size=self.panel_size.data, appeal_days=self.appeal_days.data,
            appeal_review_days=self.appeal_review_days.data,
            payment_method=self.payment_method.data, panel_min_title=self.panel_min_title.data,
            panel_hospital_levels=list(self.panel_hospital_levels.data or []),
            panel_one_per_hospital=bool(self.panel_one_per_hospital.data),
            blocking_code_edits=list(self.blocking_code_edits.data or []),
            required_evidence={category: list(self[f"evidence_{category}"].data or []) for category in CATEGORY},
            min_reviewed_for_extrapolation=self.min_reviewed_for_extrapolation.data, note=self.note.data or "")
        if errors:
            raise ValidationFailed(errors)
        return values


for _category, _label in CATEGORY.items():  # one group of boxes per application category
    setattr(PolicyForm, f"evidence_{_category}", MultiCheckboxField(
        _label, choices=choices({kind: DOC_TYPE[kind] for kind in EVIDENCE_KINDS})))


class CycleForm(FlaskForm):
    code = StringField(_l("Cycle (year and quarter, e.g. 2026Q4)"), validators=[DataRequired(), Length(max=6)])
    application_opens = DateField(_l("Application window opens"), validators=[Optional()])
    application_closes = DateField(_l("Application window closes"), validators=[Optional()])
    record_upload_deadline = DateField(_l("Record-upload deadline"), validators=[Optional()])
    review_deadline = DateField(_l("Review deadline"), validators=[Optional()])
    settlement_date = DateField(_l("Settlement date"), validators=[Optional()])


class VolumeOverrideForm(FlaskForm):
    """One hospital's quota base set by hand; the service requires the reason."""

    hospital_id = IntegerField(validators=[InputRequired()])
    figure = IntegerField(_l("DRG discharges"), validators=[InputRequired(), NumberRange(min=0)])
    reason = TextAreaField(_l("Reason for the override"), validators=[DataRequired(), Length(max=2000)])


class VolumeRecountForm(FlaskForm):
    replace_overrides = BooleanField(_l("Also replace the figures set by hand"))


class AverageCostUploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class ComputeForm(FlaskForm):
    start = DateField(_l("Cases discharged from"), validators=[InputRequired()])
    end = DateField(_l("Cases discharged until"), validators=[InputRequired()])
    min_cases = IntegerField(_l("Minimum number of cases per DRG"), default=10,
                             validators=[InputRequired(), NumberRange(min=1, max=1000000)])
