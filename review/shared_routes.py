"""Routes every role reaches: stored documents and decision letters, each behind the item's scope."""
from __future__ import annotations

from flask import Blueprint, render_template, request, send_file

from review.auth import current_actor, roles_required
from review.services import decisions as decision_service
from review.services.documents import open_document

bp = Blueprint("shared", __name__)
ALL_ROLES = ("hospital", "expert", "staff", "admin", "auditor")


@bp.route("/documents/<int:document_id>")
@roles_required(*ALL_ROLES)
def document(document_id: int) -> object:
    doc, path = open_document(current_actor(), document_id)
    inline = request.args.get("inline") == "1"
    response = send_file(path, mimetype=doc.content_type, as_attachment=not inline, download_name=doc.filename,
                         max_age=0)
    if not (inline and doc.content_type == "application/pdf"):
        # Chromium's PDF viewer will not run in a sandboxed document, so only inline PDFs go without it.
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


@bp.route("/decisions/<int:decision_id>/letter.pdf")
@roles_required("hospital", "staff", "admin", "auditor")
def letter(decision_id: int) -> object:
    actor = current_actor()
    decision = decision_service.get_decision(actor, decision_id)
    if decision.letter_document_id is None:
        return render_template("letter_pending.html", decision=decision), 202
    doc, path = open_document(actor, decision.letter_document_id)
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=doc.filename, max_age=0)
