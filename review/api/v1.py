"""The hospital API: token-authenticated JSON for hospital systems (cases, applications, evidence, decisions).

Every endpoint but /openapi.json needs `Authorization: Bearer <token>`; the token acts for its hospital only.
Errors are always JSON: {"error": {"code", "message", "rows": [{"row", "column", "message"}]}}; a case row's error
also carries its "problem" ({"code", "params"}), for systems that word it themselves.
Writes accept an `Idempotency-Key` header: a retry with the same key and body gets the first answer again.
"""
from __future__ import annotations

import hashlib
import json
import math
from functools import wraps
from typing import Callable, TypeVar

from flask import Blueprint, Response, g, jsonify, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from review import messages
from review.api.openapi import MAX_CASES, build_document
from review.auth import public
from review.extensions import db
from review.models import Decision, ReviewItem
from review.services import api_tokens, appeals, applications, documents, idempotency, intake, withdrawals
from review.services.context import NotFound, PermissionDenied, ServiceError, ValidationFailed
from review.services.decisions import get_decision
from review.services.items import get_item, scoped
from review.web import MAX_RECORD_ID, error_message
from workflows import identity
from workflows.states import State

F = TypeVar("F", bound=Callable)
API_TOKEN = frozenset({"api_token"})
ITEMS_PER_PAGE = 100
CODE_LIST_COLUMNS = ("principal_dx", "secondary_dx", "procedures")
MAX_JSON_DEPTH = 16
"""Levels of objects and arrays in a body; a case batch needs four."""
MAX_JSON_INTEGER = 2**53
"""Integers beyond this are not exact in every JSON client (RFC 7493), and no field here needs them."""

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "unprocessable", 429: "rate_limited"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, rows: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.rows = status, code, message, rows or []


def error_body(code: str, message: str, rows: list[dict] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "rows": rows or []}}


def _service_error(error: ServiceError) -> tuple[dict, int]:
    """A refusal from a service as (JSON body, status); nothing was changed."""
    message = str(error.message)
    if isinstance(error, idempotency.IdempotencyConflict):
        return error_body("idempotency_conflict", message), 422
    if isinstance(error, idempotency.IdempotencyKeyInvalid):
        return error_body("idempotency_key_invalid", message), 400
    if isinstance(error, idempotency.IdempotencyInProgress):
        return error_body("idempotency_in_progress", message), 409
    if isinstance(error, NotFound):
        return error_body("not_found", message), 404
    if isinstance(error, PermissionDenied):
        return error_body("forbidden", message), 403
    if isinstance(error, ValidationFailed):
        rows = [{"row": None, "column": field, "message": str(text)}
                for field, texts in error.errors.items() for text in texts]
        return error_body("validation_failed", "; ".join(r["message"] for r in rows) or message, rows), 422
    rows = [{"row": None, "column": error.field, "message": message}] if error.field else []
    return error_body("refused", message, rows), 409


def _json_error(body: dict, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="drg-review"'
    return response


def token_required(view: F) -> F:
    """Authenticate `Authorization: Bearer <token>` and answer every failure in JSON."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        header = request.headers.get("Authorization", "")
        scheme, _sep, secret = header.partition(" ")
        actor = None
        if scheme.lower() == "bearer" and secret.strip():
            actor = api_tokens.authenticate(secret.strip(), ip=request.remote_addr)
        if actor is None:
            return _json_error(error_body("unauthorized", _("A valid API token is required: send "
                                                            "'Authorization: Bearer <token>'.")), 401)
        g.api_actor = actor
        try:
            return view(*args, **kwargs)
        except ApiError as error:
            db.session.rollback()
            return _json_error(error_body(error.code, error.message, error.rows), error.status)
        except ServiceError as error:
            db.session.rollback()
            return _json_error(*_service_error(error))
        except HTTPException as error:
            db.session.rollback()
            return http_error_response(error)

    wrapper.allowed_roles = API_TOKEN  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _actor() -> api_tokens.TokenActor:
    return g.api_actor


def _bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, "bad_request", message, [{"row": None, "column": field, "message": message}])


def _refuse_constant(name: str) -> None:
    raise ValueError(_("%(name)s is not a JSON number", name=name))


def _json_object() -> dict:
    """The body as a JSON object, or 400 naming what is wrong and where: not JSON, nested too deeply, a number
    out of range, text the database cannot hold. Checked before any field is used, so nothing half-runs."""
    if not request.is_json:
        raise _bad_request("body", _("The request body must be a JSON object (Content-Type: application/json)."))
    try:
        body = json.loads(request.get_data(cache=True), parse_constant=_refuse_constant)
    except RecursionError:
        raise _bad_request("body", _("The JSON is nested too deeply: at most %(n)s levels of objects and arrays.",
                                     n=MAX_JSON_DEPTH)) from None
    except json.JSONDecodeError as error:
        raise _bad_request("body", _("The body is not valid JSON: %(why)s at line %(line)s, column %(column)s.",
                                     why=error.msg, line=error.lineno, column=error.colno)) from None
    except ValueError as error:  # not UTF-8, NaN/Infinity, an integer of thousands of digits
        raise _bad_request("body", _("The body is not valid JSON: %(why)s.", why=str(error))) from None
    if not isinstance(body, dict):
        raise _bad_request("body", _("The request body must be a JSON object (Content-Type: application/json)."))
    _check_json_values(body)
    return body


def _check_json_values(body: dict) -> None:
    """Walk the parsed body without recursion; the first bad value is refused with its path (cases[3].age)."""
    pending: list[tuple[object, str, int]] = [(body, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        field = path or "body"
        if depth > MAX_JSON_DEPTH:
            raise _bad_request(field, _("%(field)s is nested too deeply: at most %(n)s levels of objects and "
                                        "arrays.", field=field, n=MAX_JSON_DEPTH))
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, field)
                pending.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{field}[{index}]", depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, field)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _bad_request(field, _("%(field)s is too large a number.", field=field))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_JSON_INTEGER:
            raise _bad_request(field, _("%(field)s is out of range: numbers run from -2^53 to 2^53.", field=field))


def _check_text(text: str, field: str) -> None:
    if "\x00" in text:
        raise _bad_request(field, _("%(field)s contains a NUL character; remove it and send again.", field=field))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
        raise _bad_request(field, _("%(field)s contains an unpaired UTF-16 surrogate; send valid Unicode text.",
                                    field=field)) from None


def _canonical(body: object) -> bytes:
    """The body as hashed for Idempotency-Key: key order and whitespace do not make a different request."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _write(body_bytes: bytes, run: Callable[[], tuple[dict, int]]) -> Response:
    """Run a write once; with an Idempotency-Key, through the stored-response table."""

    def guarded() -> tuple[dict, int]:
        try:
            return run()
        except ApiError as error:
            db.session.rollback()
            return error_body(error.code, error.message, error.rows), error.status
        except ServiceError as error:
            if isinstance(error, idempotency.IdempotencyConflict):
                raise
            db.session.rollback()
            return _service_error(error)

    key = request.headers.get("Idempotency-Key")
    if key is None:
        body, status = guarded()
    else:
        body, status = idempotency.replay_or_run(_actor().hospital_id, key.strip(), body_bytes,  # type: ignore[arg-type]
                                                 guarded)
    return _json_error(body, status) if status >= 400 else (jsonify(body), status)  # type: ignore[return-value]


def yuan(fen: int | None) -> str | None:
    """Fen as a plain yuan string ("-1234.50"), exact, for machines (no separators)."""
    if fen is None:
        return None
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def _screening(screening: dict | None) -> dict | None:
    """The stored result (rule codes and figures) with its summary worded in the request's language."""
    return None if screening is None else {**screening, "reason": messages.screening_summary(screening)}


def _decision_summary(decision: Decision | None) -> dict | None:
    if decision is None:
        return None
    return {"id": decision.id, "version": decision.version, "outcome": decision.outcome,
            "amount_fen": decision.amount_fen, "amount_yuan": yuan(decision.amount_fen),
            "issued_at": decision.issued_at.isoformat() if decision.issued_at else None,
            "url": url_for("api_v1.decision", decision_id=decision.id)}


def _issued_decisions(items: list[ReviewItem]) -> dict[int, Decision]:
    wanted = [(item.id, item.issued_version) for item in items if item.issued_version is not None]
    if not wanted:
        return {}
    found = db.session.scalars(db.select(Decision).where(
        Decision.item_id.in_([item_id for item_id, _v in wanted]), Decision.status == "issued"))
    versions = dict(wanted)
    return {d.item_id: d for d in found if versions.get(d.item_id) == d.version}


def _item_json(item: ReviewItem, decision: Decision | None) -> dict:
    return {"id": item.id, "kind": item.kind, "state": item.state, "case_id": item.case_id,
            "case_no": item.case.case_no, "drg": item.case.drg, "category": item.category,
            "screening": _screening(item.screening), "decision": _decision_summary(decision),
            "url": url_for("api_v1.item", item_id=item.id)}


# --- cases -------------------------------------------------------------------------------------------

def _cell(value: object) -> str | None:
    """A JSON value as the text a file cell would hold; None when the type cannot stand for a cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return None


def _rows(cases: list) -> list[tuple[int, dict[str, str]]]:
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[dict] = []
    for index, case in enumerate(cases, start=1):
        if not isinstance(case, dict):
            problems.append({"row": index, "column": "", "message": _("Each case must be a JSON object.")})
            continue
        row: dict[str, str] = {}
        for column, value in case.items():
            text = _cell(value)
            if text is None:
                problems.append({"row": index, "column": str(column), "message": _(
                    "%(column)s must be a string, a number or null (code lists may also be an array of strings).",
                    column=column)})
            else:
                row[str(column)] = text
        rows.append((index, row))
    if problems:
        raise ApiError(422, "malformed_cases", _("Some cases have values of the wrong JSON type; nothing was imported."),
                       problems)
    return rows


@bp.route("/cases", methods=["POST"])
@token_required
def create_cases() -> object:
    body = _json_object()

    def run() -> tuple[dict, int]:
        mode = body.get("mode", "all_or_nothing")
        if mode not in intake.MODES:
            raise ApiError(422, "validation_failed", _("mode must be \"all_or_nothing\" or \"valid_rows\"."),
                           [{"row": None, "column": "mode", "message": _("Choose all_or_nothing or valid_rows.")}])
        cases = body.get("cases")
        if not isinstance(cases, list) or not cases:
            raise ApiError(422, "validation_failed", _("cases must be a non-empty array of case objects."),
                           [{"row": None, "column": "cases", "message": _("Send at least one case.")}])
        if len(cases) > MAX_CASES:
            raise ApiError(413, "too_many_cases", _("A batch may hold at most %(max)s cases; this one has %(n)s. "
                                                    "Split it into several requests.", max=MAX_CASES, n=len(cases)))
        outcome = intake.import_rows(_actor(), _rows(cases), mode=mode)
        errors = [{**e.to_json(), "message": messages.row_error_text(e)} for e in outcome.errors]  # code + wording
        summary = {"accepted": outcome.accepted, "rejected": outcome.rejected, "skipped": outcome.skipped,
                   "applications": outcome.applications, "case_ids": outcome.case_ids, "errors": errors}
        if not outcome.committed:
            message = _("Nothing was imported: %(n)s rows have errors and the mode is all_or_nothing.",
                        n=outcome.rejected)
            rows = [{key: e[key] for key in ("row", "column", "message", "problem")} for e in errors]
            return {**summary, **error_body("rows_invalid", message, rows)}, 422
        return summary, 201

    return _write(_canonical(body), run)


# --- applications ------------------------------------------------------------------------------------

def _identity_warnings(field: str, text: str | None, case_no: str) -> list[dict]:
    return [{**problem.to_json()["params"], "code": problem.code, "message": messages.problem_text(problem)}
            for problem in identity.warnings(field, text or "", case_no)]


@bp.route("/applications", methods=["POST"])
@token_required
def create_application() -> object:
    body = _json_object()

    def run() -> tuple[dict, int]:
        case_id = body.get("case_id")
        if isinstance(case_id, bool) or not isinstance(case_id, int):
            raise _bad_request("case_id", _("case_id must be the integer id of one of your cases."))
        if not 1 <= case_id <= MAX_RECORD_ID:
            raise _bad_request("case_id", _("case_id is out of range: ids run from 1 to %(max)s.", max=MAX_RECORD_ID))
        category, reason = body.get("category"), body.get("reason")
        not_text = [{"row": None, "column": name, "message": _("%(name)s must be a string.", name=name)}
                    for name, value in (("category", category), ("reason", reason)) if not isinstance(value, str)]
        if not_text:
            raise ApiError(400, "bad_request", " ".join(row["message"] for row in not_text), not_text)
        item = applications.apply_for_case(_actor(), case_id, category, reason)
        warnings = _identity_warnings("reason", item.reason, item.case.case_no)
        return {**_application_json(item), "warnings": warnings}, 201

    return _write(_canonical(body), run)


def _application_json(item: ReviewItem) -> dict:
    return {"item_id": item.id, "state": item.state, "screening": _screening(item.screening),
            "missing_evidence": list(applications.missing_evidence(item)) if item.state == State.DRAFT else [],
            "url": url_for("api_v1.item", item_id=item.id)}


@bp.route("/items/<int:item_id>/submit", methods=["POST"])
@token_required
def submit_application(item_id: int) -> object:
    get_item(_actor(), item_id)  # another hospital's item answers 404 first

    def run() -> tuple[dict, int]:
        return _application_json(applications.submit(_actor(), item_id)), 200

    return _write(_canonical({"submit": item_id}), run)


# --- evidence ----------------------------------------------------------------------------------------

@bp.route("/items/<int:item_id>/documents", methods=["POST"])
@token_required
def upload_document(item_id: int) -> object:
    get_item(_actor(), item_id)  # another hospital's item answers 404 before anything is said about the upload
    upload = request.files.get("file")
    doc_type = request.form.get("doc_type", "")
    if upload is None:
        raise ApiError(422, "validation_failed", _("Send the file as multipart/form-data field \"file\"."),
                       [{"row": None, "column": "file", "message": _("No file was sent.")}])
    digest = hashlib.sha256()
    for chunk in iter(lambda: upload.stream.read(1024 * 1024), b""):
        digest.update(chunk)
    upload.stream.seek(0)
    # multipart boundaries differ between retries, so the idempotency hash covers the parts, not the raw body
    fingerprint = _canonical({"doc_type": doc_type, "filename": upload.filename or "", "sha256": digest.hexdigest()})

    def run() -> tuple[dict, int]:
        upload.stream.seek(0)
        document = documents.upload_evidence(_actor(), item_id, upload.stream, upload.filename or "upload", doc_type)
        return {"document_id": document.id, "sha256": document.sha256, "size_bytes": document.size_bytes,
                "content_type": document.content_type,
                "warnings": _identity_warnings("filename", upload.filename or "", get_item(_actor(), item_id).case.case_no)}, 201

    return _write(fingerprint, run)


# --- items -------------------------------------------------------------------------------------------

@bp.route("/items")
@token_required
def items() -> object:
    actor = _actor()
    query = scoped(actor, db.select(ReviewItem)).options(selectinload(ReviewItem.case)).order_by(ReviewItem.id.desc())
    state = request.args.get("state", "")
    if state:
        if state not in {s.value for s in State}:
            raise ApiError(422, "validation_failed", _("Unknown state %(state)s.", state=state),
                           [{"row": None, "column": "state", "message": _("Unknown state.")}])
        query = query.where(ReviewItem.state == state)
    page = request.args.get("page", 1, type=int) or 1
    if not 1 <= page <= MAX_RECORD_ID:
        raise _bad_request("page", _("page must be from 1 to %(max)s.", max=MAX_RECORD_ID))
    total = db.session.scalar(db.select(db.func.count()).select_from(query.order_by(None).subquery())) or 0
    found = list(db.session.scalars(query.limit(ITEMS_PER_PAGE).offset((page - 1) * ITEMS_PER_PAGE)))
    decisions = _issued_decisions(found)
    return jsonify({"items": [_item_json(item, decisions.get(item.id)) for item in found], "page": page,
                    "per_page": ITEMS_PER_PAGE, "total": total, "pages": max(1, -(-total // ITEMS_PER_PAGE))})


@bp.route("/items/<int:item_id>")
@token_required
def item(item_id: int) -> object:
    record = get_item(_actor(), item_id)
    return jsonify(_item_json(record, _issued_decisions([record]).get(record.id)))


@bp.route("/items/<int:item_id>/withdraw", methods=["POST"])
@token_required
def withdraw_item(item_id: int) -> object:
    get_item(_actor(), item_id)  # another hospital's item answers 404 before the body is looked at
    body = _json_object()

    def run() -> tuple[dict, int]:
        reason = body.get("reason")
        if not isinstance(reason, str):
            raise _bad_request("reason", _("%(name)s must be a string.", name="reason"))
        item = withdrawals.withdraw(_actor(), item_id, reason)
        return {"item_id": item.id, "state": item.state}, 200

    return _write(_canonical({"item_id": item_id, **body}), run)


# --- decisions ---------------------------------------------------------------------------------------

@bp.route("/decisions/<int:decision_id>")
@token_required
def decision(decision_id: int) -> object:
    d = get_decision(_actor(), decision_id)
    return jsonify({
        "id": d.id, "item_id": d.item_id, "version": d.version, "status": d.status, "outcome": d.outcome,
        "approvals": d.approvals, "panel_size": d.panel_size, "drg": d.drg,
        "drg_payment_fen": d.drg_payment_fen, "drg_payment_yuan": yuan(d.drg_payment_fen),
        "total_cost_fen": d.total_cost_fen, "total_cost_yuan": yuan(d.total_cost_fen),
        "deduction_fen": d.deduction_fen, "deduction_yuan": yuan(d.deduction_fen),
        "amount_fen": d.amount_fen, "amount_yuan": yuan(d.amount_fen),
        "issued_at": d.issued_at.isoformat() if d.issued_at else None,
        "appeal_deadline": d.appeal_deadline.isoformat() if d.appeal_deadline else None,
        "verification_code": d.verification_code, "letter_ref_zh": d.letter_ref_zh, "letter_ref_en": d.letter_ref_en,
        "letter_ready": d.letter_document_id is not None,
        "letter_url": url_for("api_v1.decision_letter", decision_id=d.id),
    })


@bp.route("/decisions/<int:decision_id>/appeal", methods=["POST"])
@token_required
def appeal_decision(decision_id: int) -> object:
    """File the case's one appeal against this decision while the deadline allows; after it, 409 with the
    deadline (`error.deadline`), so the hospital's system can tell "too late" from any other refusal."""
    get_decision(_actor(), decision_id)  # another hospital's decision answers 404 before the body is looked at
    body = _json_object()

    def run() -> tuple[dict, int]:
        grounds = body.get("grounds")
        if not isinstance(grounds, str):
            raise _bad_request("grounds", _("%(name)s must be a string.", name="grounds"))
        try:
            appeal = appeals.file_appeal(_actor(), decision_id, grounds)
        except appeals.AppealClosed as closed:
            db.session.rollback()
            refused = error_body("appeal_deadline_passed", str(closed.message))
            refused["error"]["deadline"] = closed.deadline.isoformat()
            return refused, 409
        return {"appeal_id": appeal.id, "decision_id": decision_id, "item_id": appeal.item_id,
                "state": appeal.state, "filed_at": appeal.filed_at.isoformat()}, 201

    return _write(_canonical({"decision_id": decision_id, **body}), run)


@bp.route("/decisions/<int:decision_id>/letter.pdf")
@token_required
def decision_letter(decision_id: int) -> object:
    d = get_decision(_actor(), decision_id)
    if d.letter_document_id is None:
        response = jsonify({"status": "rendering", "message": _("The letter is being prepared; try again shortly.")})
        response.status_code = 202
        response.headers["Retry-After"] = "30"
        return response
    document, path = documents.open_document(_actor(), d.letter_document_id)
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=document.filename)


# --- description -------------------------------------------------------------------------------------

@bp.route("/openapi.json")
@public
def openapi() -> object:
    return jsonify(build_document(request.url_root.rstrip("/") + bp.url_prefix))  # type: ignore[operator]


def http_error_response(error: HTTPException) -> Response:
    """Any HTTP error under /api/v1, whether a view raised it or no route matched, in the API's JSON shape."""
    status = error.code or 500
    message = error_message(error) if status < 500 else _("Internal error; the request may be retried.")
    field = getattr(error, "field", None)
    rows = [{"row": None, "column": field, "message": message}] if field else []
    return _json_error(error_body(HTTP_CODES.get(status, "internal_error"), message, rows), status)


@bp.errorhandler(500)
def _json_internal_error(error: HTTPException) -> Response:
    """An unexpected failure outside a view's own handling; whatever it wrote is rolled back."""
    db.session.rollback()
    return http_error_response(error)


from review.api import statements  # noqa: E402,F401  (registers the settlement statement routes)
