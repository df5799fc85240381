"""The expert's inbox and scoresheet; experts see the clinical case, never the patient's identity."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from review.auth import current_actor, roles_required
from review.expert.forms import ScoresheetForm
from review.extensions import db
from review.forms import attach_errors
from review.models import Assignment, ReviewItem
from review.pagination import paginate
from review.services import documents, notifications, reviews
from review.services.context import ValidationFailed

bp = Blueprint("expert", __name__, url_prefix="/expert")
EXPERT = "expert"


@bp.route("/")
@roles_required(EXPERT)
def index() -> object:
    actor = current_actor()
    query = (db.select(Assignment).join(ReviewItem)
             .where(Assignment.expert_id == actor.expert_id, Assignment.status == "active")
             .order_by(Assignment.id.desc()))
    return render_template("expert/index.html", page=paginate(query),
                           notices=notifications.for_user(actor.user_id))  # type: ignore[arg-type]


@bp.route("/assignments/<int:assignment_id>", methods=["GET", "POST"])
@roles_required(EXPERT)
def assignment(assignment_id: int) -> object:
    actor = current_actor()
    record = reviews.get_assignment(actor, assignment_id)
    sheet = record.scoresheet
    form = ScoresheetForm(obj=None)
    if not form.is_submitted() and sheet is not None:
        form.recommendation.data = sheet.recommendation
        form.unreasonable_cost.data = f"{sheet.unreasonable_cost_fen / 100:.2f}"
        form.rationale.data = sheet.rationale
        form.lock_version.data = str(sheet.lock_version)
    if form.validate_on_submit():
        submit = "submit" in request.form
        data = reviews.SheetInput(recommendation=form.recommendation.data or None,
                                  unreasonable_cost_fen=form.unreasonable_cost.parsed_fen,  # type: ignore[attr-defined]
                                  rationale=form.rationale.data or "",
                                  lock_version=int(form.lock_version.data or 0))
        try:
            reviews.save_sheet(actor, record.id, data, submit=submit)
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            flash(_("Scoresheet submitted.") if submit else _("Draft saved."), "success")
            return redirect(url_for("expert.assignment", assignment_id=record.id))
    return render_template("expert/assignment.html", assignment=record, item=record.item, case=record.item.case,
                           sheet=sheet, form=form, documents=documents.item_documents(actor, record.item_id))
