"""Settlement statements for the review office and auditors (issue 14 §2): a closed period's drafts drawn by a
background job (its progress polled like an export's), reviewed, issued one by one or all at once, and answered by
the hospitals; a dispute leads to the item pages where an appeal or a correction puts it right.
Registered on the staff blueprint (one import line at the end of review/staff/routes.py)."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import ngettext

from review import labels
from review.auth import current_actor, roles_required
from review.extensions import db
from review.messages import problem_text
from review.models import AccountingPeriod, Decision, Region, ReviewItem, Settlement, SettlementRun
from review.pagination import paginate
from review.services import ledger_pages, settlements
from review.services.context import ServiceError
from review.staff.forms import ConfirmForm
from review.statement_files import statement_file
from review.staff.routes import OFFICE, READERS, bp
from review.web import record_id
from workflows.problems import Problem

"""The statement's files: the PDF with its 文号 and verification code, and the workbook of the same figures."""


def _chosen(periods: list[AccountingPeriod]) -> AccountingPeriod | None:
    """The period asked for, else the newest closed one (the one a statement can be drawn from), else the newest."""
    wanted = request.args.get("period", type=record_id)
    asked = next((p for p in periods if p.id == wanted), None)
    closed = next((p for p in periods if p.state == "closed"), None)
    return asked or closed or (periods[0] if periods else None)


@bp.route("/settlements")
@roles_required(*READERS)
def settlement_list() -> object:
    """A period's statements with their state, the latest draft run and its progress, and the office's actions."""
    actor = current_actor()
    periods = ledger_pages.periods()
    period = _chosen(periods)
    state = request.args.get("state", "")
    state = state if state in labels.SETTLEMENT_STATE else ""
    why_not = (problem_text(Problem("settlement.period_not_closed", period=period.code))
               if period is not None and period.state != "closed" else "")
    return render_template(
        "staff/settlements.html", periods=periods, period=period, state=state, why_not=why_not,
        run=settlements.latest_run(period.id) if period else None,
        counts=settlements.state_counts(period.id) if period else {},
        page=paginate(settlements.listing(actor, period.id if period else None, state), rows=True), form=ConfirmForm())


@bp.route("/settlements/periods/<int:period_id>/drafts", methods=["POST"])
@roles_required(*OFFICE)
def draw_drafts(period_id: int) -> object:
    """Start (or find running) the period's draft run; the list page shows its progress."""
    period = db.get_or_404(AccountingPeriod, period_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("staff.settlement_list", period=period.id))
    region = db.session.get(Region, period.region_id)
    try:
        run = settlements.start_drafts(current_actor(), region.code if region else "", period.code)
    except ServiceError as refusal:
        flash(str(refusal.message), "error")
    else:
        flash(ngettext("Drafts of %(period)s requested for %(num)s hospital.",
                       "Drafts of %(period)s requested for %(num)s hospitals.", run.total, period=period.code),
              "success")
    return redirect(url_for("staff.settlement_list", period=period.id))


@bp.route("/settlements/runs/<int:run_id>/status")
@roles_required(*READERS)
def settlement_run_status(run_id: int) -> object:
    """What static/js/job-progress.js polls: {progress, finished}, plus the counts for anyone else asking."""
    run = db.get_or_404(SettlementRun, run_id)
    return jsonify(status=run.status, progress=run.progress, done=run.done, total=run.total, finished=run.finished)


@bp.route("/settlements/periods/<int:period_id>/issue", methods=["POST"])
@roles_required(*OFFICE)
def issue_all_settlements(period_id: int) -> object:
    """Issue every draft of the period (each in its own transaction); what could not be issued stays a draft."""
    period = db.get_or_404(AccountingPeriod, period_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
    else:
        issued = settlements.issue_many(current_actor(), period.id)
        flash(ngettext("%(num)s statement issued.", "%(num)s statements issued.", issued), "success")
        left = settlements.state_counts(period.id).get("draft", 0)
        if left:
            flash(ngettext("%(num)s draft could not be issued; issue it from its page to see why.",
                           "%(num)s drafts could not be issued; issue each from its page to see why.", left), "warning")
    return redirect(url_for("staff.settlement_list", period=period.id))


@bp.route("/settlements/<int:settlement_id>")
@roles_required(*READERS)
def settlement(settlement_id: int) -> object:
    """One statement: figures and lines, each line's decision; a dispute's reason and the items it names, each
    with the item page where the office corrects it (or the appeal under way shows)."""
    statement = settlements.get(current_actor(), settlement_id)
    disputed = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id.in_(statement.disputed_item_ids))
                                  .order_by(ReviewItem.id)).all() if statement.disputed_item_ids else []
    current = {decision.item_id: decision for decision in db.session.scalars(db.select(Decision).where(
        Decision.item_id.in_([item.id for item in disputed]), Decision.status == "issued"))} if disputed else {}
    return render_template("staff/settlement.html", statement=statement, lines=settlements.statement_lines(statement),
                           unpaid=settlements.decisions_without_money(statement),
                           disputed=disputed, current=current, form=ConfirmForm())


@bp.route("/settlements/<int:settlement_id>/issue", methods=["POST"])
@roles_required(*OFFICE)
def issue_settlement(settlement_id: int) -> object:
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
    else:
        issued = settlements.issue(current_actor(), settlement_id)
        flash(_("Statement issued as %(ref)s; the hospital has been notified.", ref=_reference(issued)), "success")
    return redirect(url_for("staff.settlement", settlement_id=settlement_id))


def _reference(statement: Settlement) -> str:
    """The 文号 in the reader's language."""
    zh = str(get_locale()).startswith("zh")
    return (statement.statement_ref_zh if zh else statement.statement_ref_en) or ""




@bp.route("/settlements/<int:settlement_id>/statement.pdf", defaults={"ext": "pdf"})
@bp.route("/settlements/<int:settlement_id>/statement.xlsx", defaults={"ext": "xlsx"})
@roles_required(*READERS)
def settlement_download(settlement_id: int, ext: str) -> object:
    return statement_file(settlements.get(current_actor(), settlement_id), ext)
