"""The hospital API's settlement statements (issue 14 §2): what the hospital's finance system reads and answers
each quarter, the same statements and rules as the hospital's pages (review/hospital/statements.py).

Scope is the settlements service's: the token's hospital, issued statements only (a draft or another hospital's
is "not found", 404). Acknowledge and dispute are writes like the others here, replayed under an Idempotency-Key.
Registered on the API blueprint (one import line at the end of review/api/v1.py).
"""
from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _

from review.api.v1 import (ITEMS_PER_PAGE, _actor, _bad_request, _canonical, _json_object, _write, bp,
                           token_required, yuan)
from review.extensions import db
from review.models import Settlement
from review.services import settlements
from review.services.context import ValidationFailed
from review.services.settlements import StatementLine, UnpaidDecision
from review.statement_files import statement_file
from review.web import MAX_RECORD_ID

FIGURES = ("opening", "supplements", "recoveries", "adjustments", "closing")
"""The statement's figures, each as `<name>_fen` (integer) and `<name>_yuan` (exact string)."""
API_FIELDS = {"items": "item_ids"}
"""A dispute's fields as the service names them → as this API's body names them."""


def _money(name: str, fen: int) -> dict:
    return {f"{name}_fen": fen, f"{name}_yuan": yuan(fen)}


def _summary(statement: Settlement, period_code: str) -> dict:
    figures: dict = {}
    for name in FIGURES:
        figures.update(_money(name, getattr(statement, f"{name}_fen")))
    return {"id": statement.id, "period": period_code, "state": statement.state,
            "statement_ref_zh": statement.statement_ref_zh, "statement_ref_en": statement.statement_ref_en,
            "issued_at": statement.issued_at.isoformat() if statement.issued_at else None,
            "answered_at": statement.answered_at.isoformat() if statement.answered_at else None,
            **figures, "line_count": statement.line_count, "verification_code": statement.verification_code,
            "url": url_for("api_v1.statement", settlement_id=statement.id)}


def _line(line: StatementLine) -> dict:
    return {"kind": line.kind, **_money("amount", line.amount_fen), "entry_id": line.entry_id,
            "decision_id": line.decision_id, "decision_version": line.version, "item_id": line.item_id,
            "case_no": line.case_no, "drg": line.drg, "letter_ref_zh": line.letter_ref_zh,
            "letter_ref_en": line.letter_ref_en, "corrects_period": line.corrects_period,
            "decision_url": url_for("api_v1.decision", decision_id=line.decision_id) if line.decision_id else None}


def _unpaid(decision: UnpaidDecision) -> dict:
    return {"item_id": decision.item_id, "case_no": decision.case_no, "drg": decision.drg,
            "decision_version": decision.version, "outcome": decision.outcome,
            "letter_ref_zh": decision.letter_ref_zh, "letter_ref_en": decision.letter_ref_en}


def _detail(statement: Settlement) -> dict:
    dispute = None
    if statement.state == "disputed":
        dispute = {"reason": statement.dispute_reason, "item_ids": statement.disputed_item_ids}
    return {**_summary(statement, statement.period.code),
            "lines": [_line(line) for line in settlements.statement_lines(statement)],
            "decisions_without_money": [_unpaid(d) for d in settlements.decisions_without_money(statement)],
            "dispute": dispute,
            "pdf_url": url_for("api_v1.statement_download", settlement_id=statement.id, ext="pdf"),
            "xlsx_url": url_for("api_v1.statement_download", settlement_id=statement.id, ext="xlsx")}


@bp.route("/statements")
@token_required
def statements() -> object:
    """The hospital's issued statements, newest period first, a page at a time."""
    page = request.args.get("page", 1, type=int) or 1
    if not 1 <= page <= MAX_RECORD_ID:
        raise _bad_request("page", _("page must be from 1 to %(max)s.", max=MAX_RECORD_ID))
    query = settlements.listing(_actor())
    total = db.session.scalar(db.select(db.func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = db.session.execute(query.limit(ITEMS_PER_PAGE).offset((page - 1) * ITEMS_PER_PAGE)).all()
    return jsonify({"statements": [_summary(statement, period.code) for statement, _hospital, period in rows],
                    "page": page, "per_page": ITEMS_PER_PAGE, "total": total,
                    "pages": max(1, -(-total // ITEMS_PER_PAGE))})


@bp.route("/statements/<int:settlement_id>")
@token_required
def statement(settlement_id: int) -> object:
    return jsonify(_detail(settlements.get(_actor(), settlement_id)))


@bp.route("/statements/<int:settlement_id>/statement.pdf", defaults={"ext": "pdf"})
@bp.route("/statements/<int:settlement_id>/statement.xlsx", defaults={"ext": "xlsx"})
@token_required
def statement_download(settlement_id: int, ext: str) -> object:
    """The issued PDF (the copy kept at issue) or the workbook, in the request's language or `?lang=`."""
    return statement_file(settlements.get(_actor(), settlement_id), ext)


@bp.route("/statements/<int:settlement_id>/acknowledge", methods=["POST"])
@token_required
def acknowledge_statement(settlement_id: int) -> object:
    settlements.get(_actor(), settlement_id)  # another hospital's statement answers 404 first

    def run() -> tuple[dict, int]:
        return _detail(settlements.acknowledge(_actor(), settlement_id)), 200

    return _write(_canonical({"acknowledge": settlement_id}), run)


@bp.route("/statements/<int:settlement_id>/dispute", methods=["POST"])
@token_required
def dispute_statement(settlement_id: int) -> object:
    """A reason, and optionally the statement's cases it concerns (`item_ids`); each named case's decision can
    then be appealed (POST /decisions/{id}/appeal) while its letter's deadline runs."""
    settlements.get(_actor(), settlement_id)  # another hospital's statement answers 404 before the body is read
    body = _json_object()

    def run() -> tuple[dict, int]:
        reason, item_ids = body.get("reason"), body.get("item_ids", [])
        if not isinstance(reason, str):
            raise _bad_request("reason", _("%(name)s must be a string.", name="reason"))
        if not isinstance(item_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                     for i in item_ids):
            raise _bad_request("item_ids", _("%(name)s must be a list of integers.", name="item_ids"))
        try:
            return _detail(settlements.dispute(_actor(), settlement_id, reason, item_ids)), 200
        except ValidationFailed as failure:  # the service's "items" is this body's "item_ids"
            raise ValidationFailed({API_FIELDS.get(field, field): texts for field, texts in failure.errors.items()}) \
                from failure

    return _write(_canonical({"settlement_id": settlement_id, **body}), run)
