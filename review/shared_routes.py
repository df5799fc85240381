"""Routes every role reaches: stored documents and decision letters, each behind the item's scope."""
from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from review.auth import current_actor, roles_required
from review.forms import WithdrawForm
from review.services import decisions as decision_service
from review.services import letters, withdrawals
from review.services.context import NotFound, ValidationFailed
from review.services.items import get_item
from review.services.documents import open_document, shown_name

bp = Blueprint("shared", __name__)
ALL_ROLES = ("hospital", "expert", "staff", "admin", "auditor")
LANG_ALIASES = {"zh": "zh_CN", "zh-CN": "zh_CN", "zh-cn": "zh_CN", "zh_cn": "zh_CN", "EN": "en"}
"""Spellings a person or a browser may use in a link; the catalogue's own codes are `en` and `zh_CN`."""


@bp.route("/documents/<int:document_id>")
@roles_required(*ALL_ROLES)
def document(document_id: int) -> object:
    actor = current_actor()
    doc, path = open_document(actor, document_id)
    inline = request.args.get("inline") == "1"
    response = send_file(path, mimetype=doc.content_type, as_attachment=not inline,
                         download_name=shown_name(actor, doc, download=True), max_age=0)
    if not (inline and doc.content_type == "application/pdf"):
        # Chromium's PDF viewer will not run in a sandboxed document, so only inline PDFs go without it.
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


@bp.route("/decisions/<int:decision_id>/letter.pdf")
@roles_required("hospital", "staff", "admin", "auditor")
def letter(decision_id: int) -> object:
    """The stored letter (the official copy, in LETTER_LOCALE), or with `?lang=` the same letter in the other
    language, rendered now and not stored: a hospital's finance office may read English, the archive keeps one
    copy. Authorisation is the decision's, for both: another hospital gets 404 either way."""
    actor = current_actor()
    decision = decision_service.get_decision(actor, decision_id)
    lang = LANG_ALIASES.get(request.args.get("lang", ""), request.args.get("lang")) or letters.stored_locale()
    if lang not in letters.letter_locales():
        raise NotFound(_l("There is no letter in this language."))
    if lang != letters.stored_locale() and decision.status == "issued":
        pdf = letters.letter_pdf(decision, lang)
        return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=letters.letter_filename(decision, lang), max_age=0)
    if decision.letter_document_id is None:
        return render_template("letter_pending.html", decision=decision), 202
    doc, path = open_document(actor, decision.letter_document_id)
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=doc.filename, max_age=0)


@bp.route("/items/<int:item_id>/withdraw", methods=["POST"])
@roles_required("hospital", "staff", "admin")
def withdraw(item_id: int) -> object:
    """One door for the hospital (until a panel is seated) and the review office (later); the service decides."""
    actor = current_actor()
    get_item(actor, item_id)  # another hospital's item is "not found" before the form says anything
    page = url_for("hospital.item" if actor.role == "hospital" else "staff.item", item_id=item_id)
    form = WithdrawForm()
    try:
        if not form.validate_on_submit():
            raise ValidationFailed({name: [str(m) for m in messages] for name, messages in form.errors.items()})
        withdrawals.withdraw(actor, item_id, form.reason.data or "")
    except ValidationFailed as failure:
        for messages in failure.errors.values():
            for message in messages:
                flash(message, "error")
    else:
        flash(_("Item #%(id)s is withdrawn.", id=item_id), "success")
    return redirect(page)
