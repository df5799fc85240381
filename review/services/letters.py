"""Render an issued decision's letter once and keep it as a stored document."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale

from review.extensions import db
from review.models import Decision, Document, ReviewItem
from review.pdf import html_to_pdf
from review.services import activity
from review.services.context import SYSTEM
from review.services.documents import LETTER_TYPE, store


def letter_html(decision: Decision, locale: str = "zh_CN") -> str:
    item: ReviewItem = decision.item
    with force_locale(locale):
        return render_template("pdf/decision_letter.html", decision=decision, item=item, case=item.case,
                               hospital=item.hospital, cycle=item.cycle, locale=locale)


def render_letter(decision_id: int) -> int | None:
    """Idempotent: a second call (a retried task) finds the letter and does nothing."""
    decision = db.session.scalars(db.select(Decision).where(Decision.id == decision_id).with_for_update()).first()
    if decision is None or decision.status != "issued":
        return None
    if decision.letter_document_id is not None:
        return decision.letter_document_id
    pdf = html_to_pdf(letter_html(decision, current_app.config.get("LETTER_LOCALE", "zh_CN")))
    stored = store().put_bytes(pdf, max_bytes=len(pdf) + 1)
    document = Document(hospital_id=decision.item.hospital_id, item_id=decision.item_id, doc_type=LETTER_TYPE,
                        filename=f"decision-{decision.item.case.case_no}-v{decision.version}.pdf",
                        content_type=stored.content_type, size_bytes=stored.size_bytes, sha256=stored.sha256)
    db.session.add(document)
    db.session.flush()
    decision.letter_document_id = document.id
    activity.record(SYSTEM, "letter.rendered", "decision", decision.id, decision.item.hospital_id,
                    {"document_id": document.id, "sha256": stored.sha256})
    db.session.commit()
    return document.id
