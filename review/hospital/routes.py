"""The hospital insurance office: enter cases, apply, upload evidence, read decisions."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from review.auth import current_actor, roles_required
from review.extensions import db
from review.forms import attach_errors, split_codes
from review.hospital.forms import ApplyForm, CaseForm, UploadForm
from review.models import Case, Decision, ReviewItem
from review.pagination import paginate
from review.redaction import identity_warnings
from review.services import (appeals, applications, cases, documents, journal_export, ledger_pages, notifications,
                             sampling)
from review.services.context import ValidationFailed
from review.services.items import get_item, scoped
from review.web import record_id
from workflows.states import State


def _flash_outcome(item: ReviewItem) -> None:
    """Where a new or submitted application stands: a draft waiting for evidence, returned, or queued."""
    if item.state == State.DRAFT.value:
        flash(_("Application saved as a draft: upload the evidence listed on its page, then submit it."), "info")
    elif item.state == State.RETURNED.value:
        flash(_("The application was returned: the case meets no eligibility rule. See the figures below."),
              "warning")
    else:
        flash(_("Application submitted and queued for the panel."), "success")


def _warn_identity(field: str, text: str | None, case_no: str | None) -> None:
    for message in identity_warnings(field, text, case_no):
        flash(message, "warning")

bp = Blueprint("hospital", __name__, url_prefix="/hospital")
HOSPITAL = "hospital"


@bp.route("/")
@roles_required(HOSPITAL)
def index() -> object:
    actor = current_actor()
    state = request.args.get("state", "")
    query = scoped(actor, db.select(ReviewItem)).order_by(ReviewItem.id.desc())
    if state in {s.value for s in State}:
        query = query.where(ReviewItem.state == state)
    recent_cases = db.session.scalars(db.select(Case).where(Case.hospital_id == actor.hospital_id)
                                      .order_by(Case.id.desc()).limit(10)).all()
    return render_template("hospital/index.html", page=paginate(query), state=state, states=list(State),
                           recent_cases=recent_cases, quotas=applications.open_quotas(actor),
                           notices=notifications.for_hospital(actor.hospital_id))  # type: ignore[arg-type]


@bp.route("/cases/new", methods=["GET", "POST"])
@roles_required(HOSPITAL)
def new_case() -> object:
    form = CaseForm()
    if form.validate_on_submit():
        data = cases.CaseInput(
            case_no=form.case_no.data or "", age=form.age.data or 0, sex=form.sex.data or "U",
            admission_date=form.admission_date.data, discharge_date=form.discharge_date.data,  # type: ignore[arg-type]
            principal_dx=form.principal_dx.data or "", secondary_dx=split_codes(form.secondary_dx.data),
            procedures=split_codes(form.procedures.data), total_cost_fen=form.total_cost.parsed_fen,  # type: ignore[attr-defined]
            icu_days=form.icu_days.data or 0, birth_weight_grams=form.birth_weight.data)
        try:
            case = cases.create_case(current_actor(), data)
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            flash(_("Case %(no)s recorded: DRG %(drg)s.", no=case.case_no, drg=case.drg), "success")
            return redirect(url_for("hospital.case", case_id=case.id))
    return render_template("hospital/case_form.html", form=form), (422 if form.errors else 200)


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@roles_required(HOSPITAL)
def case(case_id: int) -> object:
    actor = current_actor()
    record = cases.get_case(actor, case_id)
    form = ApplyForm()
    if form.validate_on_submit():
        try:
            item = applications.apply_for_case(actor, record.id, form.category.data or "", form.reason.data or "")
        except ValidationFailed as failure:
            for message in attach_errors(form, failure):
                flash(message, "error")
        else:
            _warn_identity("reason", item.reason, record.case_no)
            _flash_outcome(item)
            return redirect(url_for("hospital.item", item_id=item.id))
    items = db.session.scalars(scoped(actor, db.select(ReviewItem).where(ReviewItem.case_id == record.id))).all()
    return render_template("hospital/case.html", case=record, form=form, items=items)


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@roles_required(HOSPITAL)
def item(item_id: int) -> object:
    actor = current_actor()
    review_item = get_item(actor, item_id)
    form = UploadForm()
    if form.validate_on_submit():
        stored = 0
        for upload in form.files.data:  # each file stands alone: one refused file does not lose the others
            try:
                documents.upload_evidence(actor, review_item.id, upload.stream, upload.filename or "upload",
                                          form.doc_type.data or "")
                stored += 1
                _warn_identity("filename", upload.filename, review_item.case.case_no)
            except ValidationFailed as failure:
                for message in attach_errors(form, failure):
                    flash(message, "error")
        if stored:
            flash(ngettext("%(num)s file uploaded.", "%(num)s files uploaded.", stored), "success")
        if not form.errors:
            return redirect(url_for("hospital.item", item_id=review_item.id))
    decision = db.session.scalars(db.select(Decision).where(
        Decision.item_id == review_item.id, Decision.status == "issued").order_by(Decision.version.desc())).first()
    resubmit_form = ApplyForm(category=review_item.category, reason=review_item.reason)
    missing = applications.missing_evidence(review_item) if review_item.state == State.DRAFT.value else ()
    return render_template("hospital/item.html", item=review_item, form=form, decision=decision,
                           resubmit_form=resubmit_form, missing_evidence=missing,
                           documents=documents.item_documents(actor, review_item.id),
                           appeal_standing=appeals.standing(actor, review_item, decision), appeal_form=AppealForm())


@bp.route("/items/<int:item_id>/resubmit", methods=["POST"])
@roles_required(HOSPITAL)
def resubmit(item_id: int) -> object:
    """A returned application, corrected, is screened again while the window is open."""
    get_item(current_actor(), item_id)  # 404 for anyone else's item before the form says anything
    form = ApplyForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
        return redirect(url_for("hospital.item", item_id=item_id))
    try:
        item = applications.resubmit(current_actor(), item_id, form.category.data or "", form.reason.data or "")
    except ValidationFailed as failure:
        for messages in failure.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for("hospital.item", item_id=item_id))
    _warn_identity("reason", item.reason, item.case.case_no)
    if item.state == State.RETURNED.value:
        flash(_("The application was screened again and is still not eligible."), "warning")
    else:
        flash(_("Application submitted and queued for the panel."), "success")
    return redirect(url_for("hospital.item", item_id=item.id))


@bp.route("/account")
@roles_required(HOSPITAL)
def account() -> object:
    """The hospital's own ledger account: its balance with the fund and every entry that moved it."""
    actor = current_actor()
    wanted = _account_filter()
    return render_template("hospital/account.html", accounts=ledger_pages.accounts(actor),
                           periods=ledger_pages.periods(), wanted=wanted, kind_of=ledger_pages.kind_of,
                           page=paginate(ledger_pages.journal(actor, wanted), rows=True))


def _account_filter() -> ledger_pages.JournalFilter:
    """A hospital filters its journal by period only (the query keeps it to its own account)."""
    return ledger_pages.JournalFilter(period_id=request.args.get("period", type=record_id))


@bp.route("/account/journal.<fmt>")
@roles_required(HOSPITAL)
def account_download(fmt: str) -> object:
    """The hospital's own journal, filtered as on its account page, as CSV or XLSX."""
    written = journal_export.export(current_actor(), _account_filter(), fmt)
    return send_file(written.file, mimetype=written.content_type, as_attachment=True,
                     download_name=written.filename, max_age=0)


@bp.route("/items/<int:item_id>/submit", methods=["POST"])
@roles_required(HOSPITAL)
def submit(item_id: int) -> object:
    """A draft application with its evidence goes to screening; refused with what is missing otherwise."""
    _flash_outcome(applications.submit(current_actor(), item_id))
    return redirect(url_for("hospital.item", item_id=item_id))


@bp.route("/items/<int:item_id>/submit-records", methods=["POST"])
@roles_required(HOSPITAL)
def submit_records(item_id: int) -> object:
    """A sampled record is complete: it goes to the review office, and no more files can be added."""
    sampling.submit_records(current_actor(), item_id)
    flash(_("The medical record was submitted for review."), "success")
    return redirect(url_for("hospital.item", item_id=item_id))


from review.hospital import imports  # noqa: E402,F401  (registers the case-file routes on this blueprint)
from review.hospital import tokens  # noqa: E402,F401  (registers the token routes)
from review.hospital.appeals import AppealForm  # noqa: E402  (registers the appeal route)
from review.hospital import statements  # noqa: E402,F401  (registers the settlement statement routes)
