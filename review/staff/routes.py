"""The review office: cycle overview, panel draw, decision confirmation, and the supervision register."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from review.auth import current_actor, roles_required
from review.extensions import db
from review.models import ActivityLog, AssignmentRun, Cycle, Decision, Hospital, ReviewItem
from review.pagination import paginate
from review.services import applications, decisions, reviews
from review.services.documents import item_documents
from review.services.items import get_item
from review.staff.forms import ConfirmForm, OverrideForm
from review.web import record_id
from workflows.states import State

bp = Blueprint("staff", __name__, url_prefix="/staff")
OFFICE = ("staff", "admin")
READERS = ("staff", "admin", "auditor")


@bp.route("/")
@roles_required(*READERS)
def index() -> object:
    cycles = db.session.scalars(db.select(Cycle).order_by(Cycle.quarter_start.desc())).all()
    cycle_id = request.args.get("cycle", type=record_id) or (cycles[0].id if cycles else None)
    state = request.args.get("state", "")
    hospital_id = request.args.get("hospital", type=record_id)
    query = db.select(ReviewItem).where(ReviewItem.cycle_id == cycle_id).order_by(ReviewItem.id)
    if state in {s.value for s in State}:
        query = query.where(ReviewItem.state == state)
    if hospital_id:
        query = query.where(ReviewItem.hospital_id == hospital_id)
    counts = dict(db.session.execute(db.select(ReviewItem.state, db.func.count()).where(
        ReviewItem.cycle_id == cycle_id).group_by(ReviewItem.state)).all())
    return render_template("staff/index.html", cycles=cycles, cycle_id=cycle_id, state=state,
                           hospital_id=hospital_id, states=list(State), counts=counts,
                           hospitals=db.session.scalars(db.select(Hospital).order_by(Hospital.code)).all(),
                           page=paginate(query))


@bp.route("/items/<int:item_id>")
@roles_required(*READERS)
def item(item_id: int) -> object:
    actor = current_actor()
    review_item = get_item(actor, item_id)
    item_decisions = db.session.scalars(db.select(Decision).where(  # a discarded correction is no version
        Decision.item_id == review_item.id, Decision.status != "discarded").order_by(Decision.version)).all()
    # The panel as the office must see it: who was drawn and by which run, who stepped down and why, and
    # whether seats are open (a replacement found nobody free) so someone can fill them once the pool allows.
    run_ids = {a.run_id for a in review_item.assignments if a.run_id is not None}
    run_kinds = dict(db.session.execute(db.select(AssignmentRun.id, AssignmentRun.kind).where(
        AssignmentRun.id.in_(run_ids))).all()) if run_ids else {}
    panel_size = review_item.cycle.policy.panel_size
    sitting = reviews.current_round(review_item)  # the appeal panel once it sits, else the first panel
    seated = sum(a.status == "active" and a.round == sitting for a in review_item.assignments)
    open_seats = (max(0, panel_size - seated)
                  if State(review_item.state) in reviews.OPEN_FOR_ROUND[sitting] else 0)
    return render_template("staff/item.html", item=review_item, decisions=item_decisions,
                           documents=item_documents(actor, review_item.id), form=ConfirmForm(),
                           override_form=OverrideForm(), run_kinds=run_kinds, panel_size=panel_size,
                           seated=seated, open_seats=open_seats)


@bp.route("/items/<int:item_id>/override", methods=["POST"])
@roles_required(*OFFICE)
def override(item_id: int) -> object:
    form = OverrideForm()
    if form.validate_on_submit():
        applications.override_eligibility(current_actor(), item_id, form.note.data or "")
        flash(_("Eligibility overridden: the application is queued for the panel."), "success")
    else:
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
    return redirect(url_for("staff.item", item_id=item_id))


@bp.route("/decisions/<int:decision_id>/issue", methods=["POST"])
@roles_required(*OFFICE)
def issue(decision_id: int) -> object:
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
    else:
        decision = decisions.issue(current_actor(), decision_id)
        flash(_("Decision issued; the payment adjustment is posted."), "success")
        return redirect(url_for("staff.item", item_id=decision.item_id))
    return redirect(url_for("staff.index"))


@bp.route("/activity")
@roles_required(*READERS)
def activity() -> object:
    action = request.args.get("action", "")
    query = db.select(ActivityLog).order_by(ActivityLog.id.desc())
    if action:
        query = query.where(ActivityLog.action.startswith(action))
    return render_template("staff/activity.html", page=paginate(query), action=action)
from review.staff import config  # noqa: E402,F401  (registers the configuration routes)
from review.staff import sampling  # noqa: E402,F401  (registers the sampling routes)
from review.staff import assignment  # noqa: E402,F401  (registers the panel assignment routes)
from review.staff import experts  # noqa: E402,F401  (registers the expert pool routes)
from review.staff import decisions as decision_routes  # noqa: E402,F401  (queue, exports; `decisions` is the service)
from review.staff import holidays as holiday_routes  # noqa: E402,F401  (working-day calendar; `holidays` is the service)
from review.staff import jobs as job_routes  # noqa: E402,F401  (background jobs; `jobs` is the service)
from review.staff import admin  # noqa: E402,F401  (registers the administration routes: hospitals, users)
from review.staff import letterheads  # noqa: E402,F401  (registers the letterhead page)
from review.staff import appeals as appeal_routes  # noqa: E402,F401  (appeals, corrections; `appeals` is the service)
from review.staff import ledger as ledger_routes  # noqa: E402,F401  (ledger pages; `ledger` is the service)
from review.staff import settlements as settlement_routes  # noqa: E402,F401  (statements; `settlements` is the service)
