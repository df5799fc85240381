"""Panel assignment screens: start a run, watch it, inspect the proposal, apply it; fill an item's open seats."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors
from review.models import AssignmentJob, Cycle, Expert, Hospital, ReviewItem
from review.services import assignment_runs, recusal
from review.services.context import ValidationFailed
from review.staff.forms import ConfirmForm, DrawForm
from review.staff.routes import OFFICE, READERS, bp


@bp.route("/cycles/<int:cycle_id>/panel", methods=["GET", "POST"])
@roles_required(*READERS)
def panel(cycle_id: int) -> object:
    cycle = db.get_or_404(Cycle, cycle_id)
    form = DrawForm()
    if form.validate_on_submit():
        try:
            job = assignment_runs.start(current_actor(), cycle.id, form.published_value.data or "")
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            flash(_("Assignment run started."), "success")
            return redirect(url_for("staff.assignment_run", job_id=job.id))
    jobs = db.session.scalars(db.select(AssignmentJob).where(AssignmentJob.cycle_id == cycle.id)
                              .order_by(AssignmentJob.id.desc())).all()
    waiting = len(assignment_runs.assignable_items(cycle))
    return render_template("staff/panel.html", cycle=cycle, form=form, jobs=jobs, waiting=waiting,
                           qualified=len(assignment_runs.qualified_experts(cycle)))


@bp.route("/assignment-runs/<int:job_id>")
@roles_required(*READERS)
def assignment_run(job_id: int) -> object:
    job = assignment_runs.get_job(current_actor(), job_id)
    run = job.run
    experts: dict[int, Expert] = {}
    items: dict[int, ReviewItem] = {}
    unfilled: list[tuple[int, dict]] = []
    if run is not None:
        expert_ids = [row[0] for row in run.input["experts"]]
        experts = {e.id: e for e in db.session.scalars(db.select(Expert).where(Expert.id.in_(expert_ids)))}
        unfilled = sorted((int(item_id), why) for item_id, why in run.result["unfilled"].items())
        items = {i.id: i for i in db.session.scalars(db.select(ReviewItem).where(
            ReviewItem.id.in_([item_id for item_id, _ in unfilled])))}
    hospitals = {h.id: h for h in db.session.scalars(db.select(Hospital))}
    specialty = {row[0]: row[2] for row in run.input["items"]} if run is not None else {}
    return render_template("staff/assignment_run.html", job=job, run=run, experts=experts, items=items,
                           unfilled=unfilled,
                           hospitals=hospitals, specialty=specialty, form=ConfirmForm())


@bp.route("/assignment-runs/<int:job_id>/status")
@roles_required(*READERS)
def assignment_run_status(job_id: int) -> object:
    job = assignment_runs.get_job(current_actor(), job_id)
    return jsonify(status=job.status, stage=job.stage, progress=job.progress,
                   finished=job.status in ("done", "failed"))


@bp.route("/assignment-runs/<int:job_id>/apply", methods=["POST"])
@roles_required(*OFFICE)
def apply_assignment_run(job_id: int) -> object:
    if ConfirmForm().validate_on_submit():
        job = assignment_runs.apply(current_actor(), job_id)
        flash(_("The panels are seated; the experts have been notified."), "success")
        return redirect(url_for("staff.panel", cycle_id=job.cycle_id))
    flash(_("The form expired; please try again."), "error")
    return redirect(url_for("staff.assignment_run", job_id=job_id))


@bp.route("/items/<int:item_id>/fill-seats", methods=["POST"])
@roles_required(*OFFICE)
def fill_seats(item_id: int) -> object:
    if ConfirmForm().validate_on_submit():
        placed = recusal.fill_item(current_actor(), item_id)
        if placed:
            flash(_("%(n)s open seat(s) filled.", n=len(placed)), "success")
        else:
            flash(_("No qualified expert without a conflict is free for this item."), "error")
    return redirect(url_for("staff.item", item_id=item_id))
