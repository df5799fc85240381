"""The hospital's settlement statements (issue 14 §2): its own, once issued (the service's scope: another's or a
draft is "not found"), downloaded, and answered once: acknowledged, or disputed with a reason and the cases it
concerns, each of which leads to its item page where the appeal form is while the letter's deadline runs.
Registered on the hospital blueprint (one import line at the end of review/hospital/routes.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.hospital.routes import HOSPITAL, bp
from review.models import Settlement
from review.pagination import paginate
from review.services import settlements
from review.services.context import ValidationFailed
from review.staff.forms import ConfirmForm
from review.staff.pool_forms import MultiCheckboxField
from review.statement_files import statement_file
from review.web import record_id


class DisputeForm(FlaskForm):
    reason = TextAreaField(_l("Why the hospital disputes this statement"))
    """Its length is the service's rule (settlements.REASON_MIN/MAX), worded there and shown on this field."""
    items = MultiCheckboxField(_l("The cases it concerns (optional)"), coerce=record_id, validate_choice=False)
    """Choices are the statement's cases, set by the view; the service refuses any other."""


def _dispute_form(cases: dict[int, str]) -> DisputeForm:
    form = DisputeForm()
    form.items.choices = list(cases.items())
    return form


def _page(statement: Settlement, form: DisputeForm | None = None) -> str:
    lines, unpaid = settlements.statement_lines(statement), settlements.decisions_without_money(statement)
    cases = settlements.cases_of(lines, unpaid)
    named = {item_id: case_no for item_id, case_no in cases.items() if item_id in statement.disputed_item_ids}
    return render_template("hospital/statement.html", statement=statement, lines=lines, named=named,
                           unpaid=unpaid, dispute_form=form or _dispute_form(cases), form=ConfirmForm())


@bp.route("/statements")
@roles_required(HOSPITAL)
def statements() -> object:
    """The hospital's issued statements, newest period first."""
    return render_template("hospital/statements.html",
                           page=paginate(settlements.listing(current_actor()), rows=True))


@bp.route("/statements/<int:settlement_id>")
@roles_required(HOSPITAL)
def statement(settlement_id: int) -> object:
    return _page(settlements.get(current_actor(), settlement_id))


@bp.route("/statements/<int:settlement_id>/acknowledge", methods=["POST"])
@roles_required(HOSPITAL)
def acknowledge_statement(settlement_id: int) -> object:
    settlements.get(current_actor(), settlement_id)  # 404 for anyone else's before the form says anything
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
    else:
        settlements.acknowledge(current_actor(), settlement_id)
        flash(_("Statement acknowledged."), "success")
    return redirect(url_for("hospital.statement", settlement_id=settlement_id))


@bp.route("/statements/<int:settlement_id>/dispute", methods=["POST"])
@roles_required(HOSPITAL)
def dispute_statement(settlement_id: int) -> object:
    """A dispute the service refuses (no reason, a case not on the statement) comes back on its fields."""
    actor = current_actor()
    statement = settlements.get(actor, settlement_id)
    form = _dispute_form(settlements.statement_cases(statement))
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            flash(_("The form expired; please try again."), "error")
    else:
        try:
            settlements.dispute(actor, statement.id, form.reason.data or "", form.items.data or [])
        except ValidationFailed as failure:
            db.session.rollback()  # the statement was locked to check the cases
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            flash(_("Statement disputed: the review office has your reason. Each case you named links to its "
                    "page, where an appeal can be filed while its letter's deadline runs."), "success")
            return redirect(url_for("hospital.statement", settlement_id=statement.id))
    return _page(settlements.get(actor, settlement_id), form), 422


@bp.route("/statements/<int:settlement_id>/statement.pdf", defaults={"ext": "pdf"})
@bp.route("/statements/<int:settlement_id>/statement.xlsx", defaults={"ext": "xlsx"})
@roles_required(HOSPITAL)
def statement_download(settlement_id: int, ext: str) -> object:
    return statement_file(settlements.get(current_actor(), settlement_id), ext)
