"""The expert's inbox and scoresheet; experts see the clinical case, never the patient's identity."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext as _
from sqlalchemy import Select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from review.auth import current_actor, roles_required
from review.expert.forms import ChairRulingForm, RecusalForm, ScoresheetForm
from review.extensions import db
from review.forms import attach_errors
from review.models import Appeal, Assignment, Cycle, ReviewItem, Scoresheet
from review.pagination import paginate
from review.redaction import redacted
from review.services import appeals, average_costs, documents, notifications, recusal, reviews
from review.services.calendar import REMINDER_DAYS
from review.models.types import utcnow
from review.services.context import Actor, NotFound, ServiceError, ValidationFailed
from review.services.cycles import region_today
from workflows.money import format_fen
from workflows.states import PANEL_AT_WORK, State

OPEN_FOR_SHEETS = (*PANEL_AT_WORK, State.IN_APPEAL_REVIEW)
"""Items on which some seat may still owe a sheet: a first panel at work, or an appeal panel (the first panel's
sheets are submitted by then, so only the appeal panel's seats show as open)."""

bp = Blueprint("expert", __name__, url_prefix="/expert")
EXPERT = "expert"
RECUSAL_PREFIX = "recusal"
INBOX_FILTERS = ("open", "submitted", "all")
"""open: still to do on an item under review; submitted: scoresheets handed in; all: every active assignment."""


@dataclass(frozen=True)
class Due:
    """How the seat's deadline stands (the cycle's review deadline, or its appeal's), in the region's calendar
    days."""

    deadline: date
    days_left: int
    pending: bool  # the expert still owes a scoresheet on an item under review

    @property
    def overdue(self) -> bool:
        return self.pending and self.days_left < 0

    @property
    def soon(self) -> bool:
        """Within the window in which the calendar sends reminders, so the page and the reminder agree."""
        return self.pending and 0 <= self.days_left <= REMINDER_DAYS


def _inbox_query(expert_id: int | None) -> Select:
    """The expert's own active assignments, scoped in the query itself (not only in the template)."""
    return (db.select(Assignment).join(ReviewItem, ReviewItem.id == Assignment.item_id)
            .join(Cycle, Cycle.id == ReviewItem.cycle_id)
            .outerjoin(Scoresheet, Scoresheet.assignment_id == Assignment.id)
            .where(Assignment.expert_id == expert_id, Assignment.status == "active"))


def _inbox_counts(expert_id: int | None) -> dict[str, int]:
    """The filter tabs' counts and the progress bar in one aggregate over the same scoped query."""
    submitted = Scoresheet.status == "submitted"
    under_review = ReviewItem.state.in_(OPEN_FOR_SHEETS)
    total, done, review, review_done = db.session.execute(
        _inbox_query(expert_id).with_only_columns(
            db.func.count(Assignment.id),
            db.func.sum(db.case((submitted, 1), else_=0)),
            db.func.sum(db.case((under_review, 1), else_=0)),
            db.func.sum(db.case((under_review & submitted, 1), else_=0)))).one()
    review, review_done = int(review or 0), int(review_done or 0)
    return {"all": int(total or 0), "submitted": int(done or 0), "open": review - review_done,
            "under_review": review, "under_review_submitted": review_done}


@bp.route("/")
@roles_required(EXPERT)
def index() -> object:
    actor = current_actor()
    show = request.args.get("show", "open")
    if show not in INBOX_FILTERS:
        show = "open"
    query = _inbox_query(actor.expert_id)
    if show == "open":
        query = query.where(ReviewItem.state.in_(OPEN_FOR_SHEETS),
                            db.or_(Scoresheet.id.is_(None), Scoresheet.status != "submitted"))
    elif show == "submitted":
        query = query.where(Scoresheet.status == "submitted")
    query = query.options(selectinload(Assignment.item).selectinload(ReviewItem.case),
                          selectinload(Assignment.item).selectinload(ReviewItem.cycle).selectinload(Cycle.region),
                          selectinload(Assignment.scoresheet))
    appeal = (Appeal.item_id == ReviewItem.id) & (Assignment.round == 2)  # an appeal seat's own deadline first
    query = query.outerjoin(Appeal, appeal).order_by(db.func.coalesce(Appeal.review_due_on, Cycle.review_deadline),
                                                     ReviewItem.id)
    page = paginate(query)
    today: dict[int, date] = {}  # deadlines are calendar days in each region's own time zone
    due: dict[int, Due] = {}
    deadlines = reviews.review_due(page.items)
    for record in page.items:
        cycle = record.item.cycle
        if cycle.region_id not in today:
            today[cycle.region_id] = region_today(cycle.region)
        deadline = deadlines[record.id]
        due[record.id] = Due(deadline, (deadline - today[cycle.region_id]).days, _pending(record))
    return render_template("expert/index.html", page=page, show=show, filters=INBOX_FILTERS, due=due,
                           counts=_inbox_counts(actor.expert_id),
                           notices=notifications.for_user(actor.user_id))  # type: ignore[arg-type]


def _render_assignment(actor: Actor, record: Assignment, form: ScoresheetForm, recusal_form: RecusalForm,
                       status: int = 200) -> tuple[str, int]:
    cycle = record.item.cycle
    pending = _pending(record)
    deadline = reviews.review_due([record])[record.id]
    due = Due(deadline, (deadline - region_today(cycle.region)).days, pending)
    question = reviews.chair_question(actor, record.id)
    evidence = documents.item_documents(actor, record.item_id)
    ruling_form = None
    if question:
        ruling_form = ChairRulingForm(prefix="chair")
        for name, options in question.items():
            getattr(ruling_form, name).choices = [SelectChoice(code or "", code or "—") for code in options]
    return render_template("expert/assignment.html", assignment=record, item=record.item, case=record.item.case,
                           sheet=record.scoresheet, form=form, recusal_form=recusal_form, can_recuse=pending,
                           due=due, min_reason=recusal.MIN_REASON, question=question, ruling_form=ruling_form,
                           record_review=record.item.kind == "sampled_record",
                           definition=reviews.definition_for(record.item), documents=evidence,
                           reason=redacted(record.item.reason, record.item.case.case_no),
                           document_names={d.id: documents.shown_name(actor, d) for d in evidence},
                           appeal=appeals.appeal_context(actor, record)), status


def _prefill(form: ScoresheetForm, record: Assignment) -> None:
    """Show the saved draft, with the version the next save must match."""
    sheet = record.scoresheet
    if sheet is not None:
        for name, value in (sheet.answers or {}).items():
            if name in form and name != "lock_version":
                form[name].data = value
        form.unreasonable_cost.data = f"{sheet.unreasonable_cost_fen / 100:.2f}"
        form.lock_version.data = str(sheet.lock_version)


def _answered(form: ScoresheetForm, name: str) -> bool | None:
    """A yes/no radio: True, False, or None when left unanswered."""
    return {"yes": True, "no": False}.get(form[name].data or "")


def sheet_input(form: ScoresheetForm) -> reviews.SheetInput:
    return reviews.SheetInput(
        recommendation=form.recommendation.data or None,
        unreasonable_cost_fen=form.unreasonable_cost.parsed_fen,  # type: ignore[attr-defined]
        rationale=form.rationale.data or "", lock_version=int(form.lock_version.data or 0),
        admission_justified=_answered(form, "admission_justified"),
        medically_necessary=_answered(form, "medically_necessary"),
        cost_reasons=form.cost_reasons.data or "",
        principal_dx_correct=_answered(form, "principal_dx_correct"),
        corrected_principal_dx=form.corrected_principal_dx.data or "",
        principal_procedure_correct=_answered(form, "principal_procedure_correct"),
        corrected_principal_procedure=form.corrected_principal_procedure.data or "",
        secondary_supported=_answered(form, "secondary_supported"))


def _pending(record: Assignment) -> bool:
    """The expert still owes a scoresheet while the seat's round is at work (the first panel, or the appeal panel
    during the appeal). These are also the conditions under which the recusal service accepts a step-down, so the
    recusal panel is offered exactly when it can succeed, on either round."""
    submitted = record.scoresheet is not None and record.scoresheet.status == "submitted"
    return State(record.item.state) in reviews.OPEN_FOR_ROUND[record.round] and not submitted


@bp.route("/assignments/<int:assignment_id>", methods=["GET", "POST"])
@roles_required(EXPERT)
def assignment(assignment_id: int) -> object:
    actor = current_actor()
    record = reviews.get_assignment(actor, assignment_id)
    form = ScoresheetForm(obj=None)
    if not form.is_submitted():
        _prefill(form, record)
    if form.validate_on_submit():
        submit = "submit" in request.form
        data = sheet_input(form)
        try:
            reviews.save_sheet(actor, record.id, data, submit=submit)
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            flash(_("Scoresheet submitted.") if submit else _("Draft saved."), "success")
            return redirect(url_for("expert.assignment", assignment_id=record.id))
    return _render_assignment(actor, record, form, RecusalForm(prefix=RECUSAL_PREFIX, formdata=None))


def _catalogue_title(drg: str, grouper_description: str) -> str:
    """The DRG's title as every other page shows it (the region's catalogue); the grouper's own wording only for a
    DRG the catalogue lacks."""
    return average_costs.catalogue_titles([drg]).get(drg, grouper_description)


@bp.route("/assignments/<int:assignment_id>/regroup")
@roles_required(EXPERT)
def regroup(assignment_id: int) -> object:
    """JSON for the live regrouping beside a record-review scoresheet."""
    try:
        preview = reviews.preview_regroup(current_actor(), assignment_id, request.args.get("dx", ""),
                                          request.args.get("proc", ""))
    except ValidationFailed as failure:
        return jsonify(ok=False, errors=failure.errors), 422
    except NotFound:
        raise  # someone else's assignment: the ordinary 404 page
    except ServiceError as error:
        return jsonify(ok=False, errors={"corrected_principal_dx": [str(error.message)]}), 409
    difference = preview.difference_fen
    change = (_("%(amount)s more than paid", amount=format_fen(difference)) if difference > 0 else
              _("%(amount)s less than paid", amount=format_fen(-difference)) if difference < 0 else
              _("no change in payment"))
    return jsonify(ok=True, drg=preview.drg, weight=preview.weight, payment_fen=preview.payment_fen,
                   difference_fen=difference,
                   summary=_("Regrouped: DRG %(drg)s %(title)s, weight %(weight)s, payment ¥%(payment)s (%(change)s).",
                             drg=preview.drg, title=_catalogue_title(preview.drg, preview.description),
                             weight=preview.weight,
                             payment=format_fen(preview.payment_fen), change=change))


@bp.route("/assignments/<int:assignment_id>/draft", methods=["POST"])
@roles_required(EXPERT)
def autosave(assignment_id: int) -> object:
    """The page saves drafts in the background; a stale version is refused with 409 so nothing is overwritten."""
    reviews.get_assignment(current_actor(), assignment_id)  # 404 for anyone else's assignment before the form
    form = ScoresheetForm()
    if not form.validate_on_submit():
        return jsonify(ok=False, errors=form.errors), 422
    try:
        sheet = reviews.save_sheet(current_actor(), assignment_id, sheet_input(form), submit=False)
    except NotFound:
        raise
    except ServiceError as error:
        return jsonify(ok=False, message=str(error.message)), 409
    return jsonify(ok=True, lock_version=sheet.lock_version,
                   message=_("Draft saved automatically at %(time)s.", time=format_datetime(utcnow(), "HH:mm:ss")))


@bp.route("/assignments/<int:assignment_id>/adjudicate", methods=["POST"])
@roles_required(EXPERT)
def adjudicate(assignment_id: int) -> object:
    """The panel chair rules on the codes the panel split over; the decision is proposed at once."""
    actor = current_actor()
    question = reviews.chair_question(actor, assignment_id) or {}
    form = ChairRulingForm(prefix="chair")
    if form.validate_on_submit():
        rulings = {name: getattr(form, name).data or None for name in question}
        try:
            reviews.adjudicate(actor, assignment_id, rulings)
        except ValidationFailed as failure:
            for messages in failure.errors.values():
                for message in messages:
                    flash(message, "error")
        else:
            flash(_("Ruling recorded; the decision is proposed to the review office."), "success")
    return redirect(url_for("expert.assignment", assignment_id=assignment_id))


@bp.route("/assignments/<int:assignment_id>/recuse", methods=["POST"])
@roles_required(EXPERT)
def recuse(assignment_id: int) -> object:
    """Step down from one item; the service seats a replacement at once when the pool allows."""
    actor = current_actor()
    record = reviews.get_assignment(actor, assignment_id)  # 404 for anyone else's assignment, before any write
    form = RecusalForm(prefix=RECUSAL_PREFIX)
    if form.validate_on_submit():
        item_id = record.item_id
        try:
            replacement = recusal.recuse(actor, record.id, form.reason.data or "",
                                         declare_conflict=bool(form.declare_conflict.data))
        except ValidationFailed as failure:
            db.session.rollback()
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            if replacement is not None:
                flash(_("Item #%(id)s has left your list. A replacement expert has been seated.", id=item_id),
                      "success")
            else:
                flash(_("Item #%(id)s has left your list. No replacement could be seated yet; the review office "
                        "will fill the open seat.", id=item_id), "success")
            if form.declare_conflict.data:
                flash(_("Your conflict of interest with the item's hospital is recorded; you will not be drawn "
                        "for its items."), "info")
            return redirect(url_for("expert.index"))
        record = reviews.get_assignment(actor, assignment_id)
    elif "csrf_token" in form.errors:
        flash(_("The form expired; please try again."), "error")
    sheet_form = ScoresheetForm(formdata=None)
    _prefill(sheet_form, record)
    return _render_assignment(actor, record, sheet_form, form, 422)
