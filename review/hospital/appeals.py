"""The hospital's appeal (复核申请) against its case's issued decision: the form on the item page while the deadline
allows, and its standing afterwards. Registered on the hospital blueprint (review/hospital/routes.py)."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from review.auth import current_actor, roles_required
from review.hospital.routes import HOSPITAL, bp
from review.models.appeal import GROUNDS_MIN
from review.services import appeals
from review.services.context import ValidationFailed
from review.services.decisions import get_decision


class AppealForm(FlaskForm):
    grounds = TextAreaField(_l("Grounds of the appeal"), validators=[
        DataRequired(), Length(min=GROUNDS_MIN, max=appeals.GROUNDS_MAX)])
    files = MultipleFileField(_l("Supporting documents (PDF, PNG or JPEG; optional)"))


@bp.route("/decisions/<int:decision_id>/appeal", methods=["POST"])
@roles_required(HOSPITAL)
def appeal(decision_id: int) -> object:
    """File the appeal; a refusal (late, second appeal, short grounds) goes back to the item page with its reason."""
    decision = get_decision(current_actor(), decision_id)  # 404 for anyone else's decision before the form speaks
    form = AppealForm()
    back = url_for("hospital.item", item_id=decision.item_id)
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
        return redirect(back)
    files = [(upload.stream, upload.filename or "upload") for upload in form.files.data or [] if upload.filename]
    try:
        appeals.file_appeal(current_actor(), decision.id, form.grounds.data or "", files)
    except ValidationFailed as failure:
        for messages in failure.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(back)
    flash(_("Your appeal was filed. An appeal panel of other experts will review the case."), "success")
    return redirect(back)
