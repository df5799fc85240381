"""The decision queue (proposed decisions of a cycle with each expert's reasons), the decision page where the
office opens the reasons and issues, and the cycle's bulk exports."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from review import labels
from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.models import Cycle, Decision, Hospital, ReviewItem
from review.pagination import paginate
from review.services import decisions, exports
from review.services.context import ServiceError, ValidationFailed
from review.services.decisions import Reasons
from review.staff.forms import ConfirmForm, ExportForm, IssueDecisionsForm
from review.staff.routes import OFFICE, READERS, bp
from review.web import record_id

SKIPPED_SHOWN = 20
"""Skipped decisions are flashed one by one up to this many, then counted: a page of 200 messages helps nobody."""


def _filters() -> tuple[str, int | None]:
    outcome = request.args.get("outcome", "")
    return (outcome if outcome in labels.OUTCOME else ""), request.args.get("hospital", type=record_id)


@bp.route("/cycles/<int:cycle_id>/decisions")
@roles_required(*READERS)
def decision_queue(cycle_id: int) -> object:
    """Proposed decisions waiting for the office, oldest first: they hold the hospitals' money and letters."""
    cycle = db.get_or_404(Cycle, cycle_id)
    outcome, hospital_id = _filters()
    waiting = (ReviewItem.cycle_id == cycle.id, Decision.status == "proposed")
    query = db.select(Decision).join(ReviewItem, ReviewItem.id == Decision.item_id).where(*waiting)
    if outcome:
        query = query.where(Decision.outcome == outcome)
    if hospital_id:
        query = query.where(ReviewItem.hospital_id == hospital_id)
    query = query.options(joinedload(Decision.item).joinedload(ReviewItem.hospital),
                          joinedload(Decision.item).joinedload(ReviewItem.case)
                          ).order_by(Decision.proposed_at, Decision.id)
    # The whole queue's figures, whatever the filter: what is waiting, and the money it would move.
    by_outcome: dict[str, int] = {}
    supplements_fen = recoveries_fen = 0
    for row_outcome, count, plus, minus in db.session.execute(
            db.select(Decision.outcome, db.func.count(),
                      db.func.sum(db.case((Decision.amount_fen > 0, Decision.amount_fen), else_=0)),
                      db.func.sum(db.case((Decision.amount_fen < 0, Decision.amount_fen), else_=0)))
            .join(ReviewItem, ReviewItem.id == Decision.item_id).where(*waiting).group_by(Decision.outcome)):
        by_outcome[row_outcome] = int(count)
        supplements_fen += int(plus or 0)
        recoveries_fen += int(minus or 0)
    issued = exports.issued_count(cycle.id)
    page = paginate(query)
    actor = current_actor()
    reasons = {d.id: decisions.panel_reasons(actor, d) for d in page.items}
    return render_template(
        "staff/decisions.html", cycle=cycle, page=page, reasons=reasons, outcome=outcome, hospital_id=hospital_id,
        hospitals=db.session.scalars(db.select(Hospital).order_by(Hospital.code)).all(),
        by_outcome=by_outcome, supplements_fen=supplements_fen, recoveries_fen=recoveries_fen, issued=issued,
        form=IssueDecisionsForm(), export_form=ExportForm(), jobs=exports.recent_jobs(cycle.id))


@bp.route("/decisions/<int:decision_id>")
@roles_required(*READERS)
def decision(decision_id: int) -> object:
    """The decision with every expert's vote, recommended DRG and amount and rationale; opening it is recorded,
    and the issue button is here, so a decision is issued by someone who has read why."""
    reasons = decisions.open_reasons(current_actor(), decision_id)
    return render_template("staff/decision.html", reasons=reasons, decision=reasons.decision, form=ConfirmForm())


@bp.app_template_global("panel_reasons")
def panel_reasons(decision: Decision) -> Reasons:
    """For any page showing a decision (the hospital's item page too): the reasons as the signed-in reader may
    see them, with names for the office and Expert A/B/C for a hospital."""
    return decisions.panel_reasons(current_actor(), decision)


@bp.route("/cycles/<int:cycle_id>/decisions/issue", methods=["POST"])
@roles_required(*OFFICE)
def issue_decisions(cycle_id: int) -> object:
    """Issue the ticked decisions, or the one row's; back to the queue with the same filters either way."""
    cycle = db.get_or_404(Cycle, cycle_id)
    outcome, hospital_id = _filters()
    back = redirect(url_for("staff.decision_queue", cycle_id=cycle.id, outcome=outcome or None,
                            hospital=hospital_id, page=request.args.get("page", type=int)))
    form = IssueDecisionsForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
        return back
    issued, skipped = decisions.issue_many(current_actor(), form.selected(), cycle_id=cycle.id)
    if issued:
        flash(_("%(n)s decision(s) issued: the payment adjustments are posted and the letters are being generated.",
                n=len(issued)), "success")
    for item in skipped[:SKIPPED_SHOWN]:
        flash(_("Decision #%(id)s was not issued: %(why)s", id=item.decision_id, why=item.reason), "warning")
    if len(skipped) > SKIPPED_SHOWN:
        flash(_("%(n)s more decisions were not issued.", n=len(skipped) - SKIPPED_SHOWN), "warning")
    return back


@bp.route("/cycles/<int:cycle_id>/exports", methods=["POST"])
@roles_required(*READERS)
def start_export(cycle_id: int) -> object:
    cycle = db.get_or_404(Cycle, cycle_id)
    form = ExportForm()
    if form.validate_on_submit():
        try:
            job = exports.start(current_actor(), cycle.id, form.kind.data or "", str(get_locale()))
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        except ServiceError as refusal:
            flash(str(refusal.message), "error")
        else:
            return redirect(url_for("staff.export", job_id=job.id))
    for messages in form.errors.values():
        for message in messages:
            flash(str(message), "error")
    return redirect(url_for("staff.decision_queue", cycle_id=cycle.id))


@bp.route("/exports/<int:job_id>")
@roles_required(*READERS)
def export(job_id: int) -> object:
    job = exports.get_job(current_actor(), job_id)
    return render_template("staff/export.html", job=job)


@bp.route("/exports/<int:job_id>/status")
@roles_required(*READERS)
def export_status(job_id: int) -> object:
    """What static/js/job-progress.js polls: {progress, finished}, plus the counts for anyone else asking."""
    job = exports.get_job(current_actor(), job_id)
    return jsonify(status=job.status, progress=job.progress, done=job.done, total=job.total, finished=job.finished)


@bp.route("/exports/<int:job_id>/download")
@roles_required(*READERS)
def export_download(job_id: int) -> object:
    """Always an attachment, never rendered in the browser; the sandbox CSP covers a browser that tries anyway."""
    job, path = exports.open_result(current_actor(), job_id)
    response = send_file(path, mimetype=job.content_type or "application/octet-stream", as_attachment=True,
                         download_name=job.filename or path.name, max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
