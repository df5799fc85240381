"""The working-day calendar page: every office role reads a year of it; admins add years and mark days.

Routes are added to the `staff` blueprint; routes.py imports this module at its end.
"""
from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, RadioField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors, choices
from review.models import User
from review.services import cycles, holidays, policies
from review.services.context import ValidationFailed
from review.staff.routes import READERS, bp

ADMIN = ("admin",)
FIRST_YEAR, LAST_YEAR = 1950, 2199

KIND = {"holiday": _l("Holiday (day off)"), "workday": _l("Working day")}
SOURCE = {"chinese-calendar": _l("chinese-calendar"), "admin": _l("Admin mark")}
HOLIDAY_NAME = {
    "new_years_day": _l("New Year's Day"),
    "spring_festival": _l("Spring Festival"),
    "tomb_sweeping_day": _l("Tomb-sweeping Day"),
    "labour_day": _l("Labour Day"),
    "dragon_boat_festival": _l("Dragon Boat Festival"),
    "national_day": _l("National Day"),
    "mid_autumn_festival": _l("Mid-autumn Festival"),
    "anti_fascist_70th_day": _l("70th anniversary of the victory in the War against Fascism"),
}
"""The package's holiday keys, as seeded rows store them."""


class YearForm(FlaskForm):
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(min=FIRST_YEAR, max=LAST_YEAR)])


class MarkForm(FlaskForm):
    day = DateField(_l("Date"), validators=[InputRequired()])
    kind = RadioField(_l("The day is"), choices=choices(KIND), default="holiday", validators=[InputRequired()])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=holidays.NAME_LENGTH)])


class UnmarkForm(FlaskForm):
    day = DateField(validators=[InputRequired()])


def _shown_year(default: int | None = None) -> int:
    year = request.args.get("year", type=int) or default
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        year = cycles.region_today(policies.default_region()).year
    return year


def _page(year: int, year_form: YearForm | None = None, mark_form: MarkForm | None = None,
          status: int = 200) -> tuple[str, int]:
    region = policies.default_region()
    days = holidays.year_days(region.id, year)
    if year_form is None:
        year_form = YearForm(formdata=None, year=year)
    if mark_form is None:
        mark_form = MarkForm(formdata=None)
    creator_ids = {d.created_by_id for d in days if d.created_by_id}
    creators = dict(db.session.execute(db.select(User.id, User.display_name).where(User.id.in_(creator_ids))).all())
    return render_template(
        "staff/holidays.html", region=region, year=year, days=days, covered=holidays.covered_years(region.id),
        package_years=holidays.PACKAGE_YEARS, package_version=holidays.PACKAGE_VERSION, creators=creators,
        year_form=year_form, mark_form=mark_form, unmark_form=UnmarkForm(formdata=None), kinds=KIND,
        sources=SOURCE, names=HOLIDAY_NAME, can_edit=current_actor().role.value in ADMIN), status


def _refused(form: FlaskForm, failure: ValidationFailed) -> None:
    for message in attach_errors(form, failure):
        flash(message, "error")


@bp.route("/holidays", endpoint="holidays")  # named apart so it does not shadow the service module
@roles_required(*READERS)
def holidays_page() -> object:
    return _page(_shown_year())


@bp.route("/holidays/years", methods=["POST"])
@roles_required(*ADMIN)
def add_holiday_year() -> object:
    form = YearForm()
    if form.validate_on_submit():
        year = int(form.year.data)  # type: ignore[arg-type]
        try:
            added = holidays.seed(current_actor(), policies.default_region().id, [year])
        except ValidationFailed as failure:
            _refused(form, failure)
        else:
            flash(_("%(n)s days of %(year)s added from chinese-calendar.", n=added, year=str(year)) if added
                  else _("%(year)s is already in the calendar; nothing was added.", year=str(year)),
                  "success" if added else "info")
            return redirect(url_for("staff.holidays", year=year))
    return _page(_shown_year(form.year.data if not form.year.errors else None), year_form=form, status=422)


@bp.route("/holidays/days", methods=["POST"])
@roles_required(*ADMIN)
def mark_holiday() -> object:
    form = MarkForm()
    if form.validate_on_submit():
        try:
            holidays.mark_day(current_actor(), policies.default_region().id, form.day.data, form.kind.data or "",
                              form.name.data or "")
        except ValidationFailed as failure:
            _refused(form, failure)
        else:
            day: date = form.day.data  # type: ignore[assignment]
            flash(_("%(day)s is marked: %(kind)s.", day=day.isoformat(), kind=KIND[form.kind.data or ""]), "success")
            return redirect(url_for("staff.holidays", year=day.year))
    shown = form.day.data.year if form.day.data else None
    return _page(_shown_year(shown), mark_form=form, status=422)


@bp.route("/holidays/days/unmark", methods=["POST"])
@roles_required(*ADMIN)
def unmark_holiday() -> object:
    form = UnmarkForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("staff.holidays"))
    day: date = form.day.data  # type: ignore[assignment]
    try:
        restored = holidays.remove_mark(current_actor(), policies.default_region().id, day)
    except ValidationFailed as failure:
        for message in (message for messages in failure.errors.values() for message in messages):
            flash(message, "error")
        return redirect(url_for("staff.holidays", year=day.year))
    flash(_("The mark on %(day)s is removed; chinese-calendar's entry for the day is back.", day=day.isoformat())
          if restored else _("The mark on %(day)s is removed; the day follows Monday to Friday again.",
                             day=day.isoformat()), "success")
    return redirect(url_for("staff.holidays", year=day.year))
