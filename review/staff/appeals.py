"""The office's side of appeals and corrections (issue 13 §1–§2): a cycle's appeals with their states and the
appeal panel run (the assignment run pages show and apply it), a correction proposed from the item page, and the
approval queue where a second member of the office issues or rejects it and its proposer may withdraw it."""
from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length

from review import labels
from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.messages import problem_text
from review.models import Cycle
from review.services import appeals, assignment_runs, corrections
from review.services.context import Actor, ValidationFailed
from review.services.decisions import get_decision
from review.staff.forms import ConfirmForm, DrawForm
from review.staff.routes import OFFICE, READERS, bp
from workflows.money import MoneyError, parse_yuan


def _signed_yuan(form: FlaskForm, field: StringField) -> None:
    """A corrected amount in yuan; a leading minus is a recovery from the hospital."""
    text = (field.data or "").strip()
    negative = text.startswith("-")
    try:
        fen = parse_yuan(text[1:] if negative else text)
    except MoneyError as error:
        raise ValidationError(problem_text(error.problem)) from error
    field.parsed_fen = -fen if negative else fen  # type: ignore[attr-defined]


class CorrectionForm(FlaskForm):
    amount = StringField(_l("Corrected amount (yuan; negative for a recovery)"), validators=[DataRequired(),
                                                                                            _signed_yuan])
    reason = TextAreaField(_l("The clerical error and its correction"),
                           validators=[DataRequired(), Length(min=corrections.REASON_MIN, max=2000)])


class DiscardForm(FlaskForm):
    """Why a pending correction is rejected (by another member of the office) or withdrawn (by its proposer)."""

    reason = TextAreaField(_l("Reason (kept in the register)"),
                           validators=[DataRequired(), Length(min=corrections.REASON_MIN, max=2000)])


def discard_form(decision_id: int) -> DiscardForm:
    """One form per row of the queue, its fields named after the correction so their ids stay unique on the page."""
    return DiscardForm(prefix=f"correction-{decision_id}")


def _flash_errors(errors: dict[str, list[str]]) -> None:
    """Form and service errors alike, flashed: these forms sit in a list or a folded section, not on their own page."""
    for messages in errors.values():
        for message in messages:
            flash(str(message), "error")


@bp.context_processor
def _item_page_helpers() -> dict[str, object]:
    """For the staff item page (its view is shared): the correction form and the item's appeal."""
    return {"correction_form": CorrectionForm,
            "item_appeal": lambda item_id: appeals.for_item(current_actor(), item_id)}


def _appeals_page(cycle: Cycle, form: DrawForm) -> object:
    state = request.args.get("state", "")
    if state not in labels.APPEAL_STATE:
        state = ""
    return render_template("staff/appeals.html", cycle=cycle, form=form, state=state,
                           appeals=appeals.cycle_appeals(current_actor(), cycle.id, state or None),
                           waiting=len(assignment_runs.assignable_items(cycle, kind="appeal")))


@bp.route("/cycles/<int:cycle_id>/appeals")
@roles_required(*READERS)
def appeals_list(cycle_id: int) -> object:
    """The cycle's appeals (filter by state) and the form that draws appeal panels for the appealed items."""
    return _appeals_page(db.get_or_404(Cycle, cycle_id), DrawForm())


@bp.route("/cycles/<int:cycle_id>/appeals/panel", methods=["POST"])
@roles_required(*OFFICE)
def start_appeal_run(cycle_id: int) -> object:
    """An assignment run of kind `appeal`; its page (staff.assignment_run) shows the proposal and applies it."""
    cycle = db.get_or_404(Cycle, cycle_id)
    form = DrawForm()
    if form.validate_on_submit():
        try:
            job = assignment_runs.start(current_actor(), cycle.id, form.published_value.data or "", kind="appeal")
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            flash(_("Appeal panel run started."), "success")
            return redirect(url_for("staff.assignment_run", job_id=job.id))
    return _appeals_page(cycle, form), 422


@bp.route("/decisions/<int:decision_id>/correct", methods=["POST"])
@roles_required(*OFFICE)
def propose_correction(decision_id: int) -> object:
    form = CorrectionForm()
    back = url_for("staff.item", item_id=get_decision(current_actor(), decision_id).item_id)
    if not form.validate_on_submit():
        _flash_errors(form.errors)
        return redirect(back)
    try:
        corrections.propose(current_actor(), decision_id, form.amount.parsed_fen,  # type: ignore[attr-defined]
                            form.reason.data or "")
    except ValidationFailed as failure:
        _flash_errors(failure.errors)
        return redirect(back)
    flash(_("Correction proposed: another member of the review office approves it on the corrections queue."),
          "success")
    return redirect(back)


@bp.route("/corrections")
@roles_required(*READERS)
def corrections_queue() -> object:
    return render_template("staff/corrections.html", waiting=corrections.awaiting(current_actor()),
                           form=ConfirmForm(), discard_form=discard_form)


@bp.route("/corrections/<int:decision_id>/approve", methods=["POST"])
@roles_required(*OFFICE)
def approve_correction(decision_id: int) -> object:
    if ConfirmForm().validate_on_submit():
        decision = corrections.approve(current_actor(), decision_id)
        flash(_("Correction approved and issued; the hospital has been notified."), "success")
        return redirect(url_for("staff.item", item_id=decision.item_id))
    flash(_("The form expired; please try again."), "error")
    return redirect(url_for("staff.corrections_queue"))


def _discard(decision_id: int, end: Callable[[Actor, int, str], object], done: str) -> object:
    """Reject or withdraw a pending correction with the reason from its row's form, then back to the queue."""
    form = discard_form(decision_id)
    if not form.validate_on_submit():
        _flash_errors(form.errors)
    else:
        try:
            end(current_actor(), decision_id, form.reason.data or "")
        except ValidationFailed as failure:
            _flash_errors(failure.errors)
        else:
            flash(done, "success")
    return redirect(url_for("staff.corrections_queue"))


@bp.route("/corrections/<int:decision_id>/reject", methods=["POST"])
@roles_required(*OFFICE)
def reject_correction(decision_id: int) -> object:
    """Another member of the office refuses the correction: nothing is issued, and the item may be corrected anew."""
    return _discard(decision_id, corrections.reject,
                    _("Correction rejected: nothing was issued, and the decision can be corrected again."))


@bp.route("/corrections/<int:decision_id>/withdraw", methods=["POST"])
@roles_required(*OFFICE)
def withdraw_correction(decision_id: int) -> object:
    """The proposer takes the correction back: nothing is issued, and the item may be corrected anew."""
    return _discard(decision_id, corrections.withdraw,
                    _("Correction withdrawn: nothing was issued, and the decision can be corrected again."))
