"""The ledger for the review office and auditors (issue 14 §3): periods with their state and close, accounts with
balances, the journal filtered by period, hospital and kind, each entry leading to its decision and letter.
Registered on the staff blueprint (one import line at the end of review/staff/routes.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from review.auth import current_actor, roles_required
from review.extensions import db
from review.models import AccountingPeriod, Hospital, Region
from review.pagination import paginate
from review.services import journal_export, ledger_pages, periods
from review.services.context import ServiceError
from review.staff.forms import ConfirmForm
from review.staff.routes import OFFICE, READERS, bp
from review.web import record_id


def _wanted() -> ledger_pages.JournalFilter:
    """The journal's filters from the query string: the page and its downloads read them alike."""
    kind = request.args.get("kind", "")
    return ledger_pages.JournalFilter(period_id=request.args.get("period", type=record_id),
                                      hospital_id=request.args.get("hospital", type=record_id),
                                      kind=kind if kind in ledger_pages.KINDS else "")


@bp.route("/ledger")
@roles_required(*READERS)
def ledger() -> object:
    actor = current_actor()
    wanted = _wanted()
    return render_template("staff/ledger.html", periods=ledger_pages.periods(), accounts=ledger_pages.accounts(actor),
                           page=paginate(ledger_pages.journal(actor, wanted), rows=True), wanted=wanted,
                           kinds=ledger_pages.KINDS, kind_of=ledger_pages.kind_of, form=ConfirmForm(),
                           hospitals=db.session.scalars(db.select(Hospital).order_by(Hospital.code)).all())


@bp.route("/ledger/journal.<fmt>")
@roles_required(*READERS)
def journal_download(fmt: str) -> object:
    """The filtered journal as CSV or XLSX (review/services/journal_export.py), in the reader's language."""
    written = journal_export.export(current_actor(), _wanted(), fmt)
    return send_file(written.file, mimetype=written.content_type, as_attachment=True,
                     download_name=written.filename, max_age=0)


@bp.route("/ledger/periods/<int:period_id>/close", methods=["POST"])
@roles_required(*OFFICE)
def close_period(period_id: int) -> object:
    period = db.get_or_404(AccountingPeriod, period_id)
    if ConfirmForm().validate_on_submit():
        region = db.session.get(Region, period.region_id)
        try:
            closed = periods.close(current_actor(), region.code if region else "", period.code)
        except ServiceError as error:
            flash(str(error.message), "error")
        else:
            flash(_("Period %(code)s is closed: %(n)s entries.", code=closed.code, n=closed.entry_count), "success")
    return redirect(url_for("staff.ledger"))
