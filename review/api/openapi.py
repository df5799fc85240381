"""The OpenAPI 3.0.3 description of the hospital API (/api/v1), served at /api/v1/openapi.json."""
from __future__ import annotations

from review.services.documents import EVIDENCE_TYPES
from review.web import MAX_RECORD_ID
from workflows.eligibility import Rule
from workflows.intake import COLUMNS
from workflows.settlement import LINE_KINDS
from workflows.states import ItemKind, SettlementState, State

MAX_CASES = 5000


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict:
    return {"description": description, "content": _json(_ref("Error"))}


ERRORS = {
    "400": _error("Malformed request: not a JSON object, invalid JSON or nested more than 16 levels, a value of the "
                  "wrong type or out of range, a NUL character, or a bad Idempotency-Key. `rows[0].column` names "
                  "the field (e.g. `case_id`, `cases[3].age`; `body` when the JSON itself is unreadable)."),
    "401": _error("Missing, unknown or revoked API token."),
    "403": _error("The token may not take this action."),
    "404": _error("Not found: no such object, or another hospital's (the answer is the same for both)."),
    "409": _error("The step is not possible now (e.g. the application window is closed)."),
    "413": _error("The request is too large: JSON bodies may be at most 2 MB, a document its upload limit; the "
                  "message gives the limit. Refused from Content-Length, before the body is read."),
    "422": _error("Validation failed, or Idempotency-Key reused with a different request."),
}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Any unique string (at most 120 characters). A retry with the same key and the same body "
                   "gets the first response again and changes nothing; the same key with a different body is "
                   "refused with 422.",
    "schema": {"type": "string", "maxLength": 120},
}


def _errors(*codes: str) -> dict:
    return {code: ERRORS[code] for code in codes}


def _id(name: str) -> dict:
    """An id in the path: primary keys are 32-bit, so an id outside 1..2^31-1 names nothing (404)."""
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_ID}}


def _case_schema() -> dict:
    properties: dict[str, dict] = {}
    for column in COLUMNS:
        description = f"{column.header_en} ({column.header_zh})"
        if column.kind == "codes":
            schema = {"oneOf": [{"type": "string", "description": "codes separated by commas"},
                                {"type": "array", "items": {"type": "string"}}]}
        elif column.kind in ("int", "money"):
            schema = {"oneOf": [{"type": "number"}, {"type": "string"}]}
        else:
            schema = {"type": "string"}
        properties[column.key] = {**schema, "description": description, "nullable": True}
    properties["total_cost"]["description"] += "; in yuan, e.g. 400000.00"
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": [column.key for column in COLUMNS if column.required]}


def _statement_schemas() -> dict:
    """The settlement statement as GET /statements lists it and GET /statements/{id} gives it whole."""
    text, nullable_text = {"type": "string"}, {"type": "string", "nullable": True}
    money = {f"{name}_{unit}": {"type": "integer" if unit == "fen" else "string"}
             for name in ("opening", "supplements", "recoveries", "adjustments", "closing") for unit in ("fen", "yuan")}
    summary = {
        "id": {"type": "integer"}, "period": {"type": "string", "example": "2026Q3"},
        "state": {"type": "string", "enum": [state.value for state in SettlementState if state != "draft"]},
        "statement_ref_zh": {**text, "description": "the statement's 文号"}, "statement_ref_en": text,
        "issued_at": {"type": "string", "format": "date-time"},
        "answered_at": {"type": "string", "format": "date-time", "nullable": True,
                        "description": "when the hospital acknowledged or disputed it"},
        **money, "line_count": {"type": "integer"}, "verification_code": text, "url": text,
    }
    line = {
        "kind": {"type": "string", "enum": list(LINE_KINDS)}, "amount_fen": {"type": "integer"}, "amount_yuan": text,
        "entry_id": {"type": "integer"}, "decision_id": {"type": "integer", "nullable": True},
        "decision_version": {"type": "integer", "nullable": True}, "item_id": {"type": "integer", "nullable": True},
        "case_no": nullable_text, "drg": nullable_text, "letter_ref_zh": nullable_text, "letter_ref_en": nullable_text,
        "corrects_period": {**nullable_text, "description": "a late adjustment: the closed period it corrects"},
        "decision_url": nullable_text,
    }
    unpaid = {"item_id": {"type": "integer"}, "case_no": text, "drg": text, "decision_version": {"type": "integer"},
              "outcome": text, "letter_ref_zh": nullable_text, "letter_ref_en": nullable_text}
    return {
        "StatementSummary": {"type": "object", "properties": summary},
        "StatementLine": {"type": "object", "properties": line},
        "Statement": {"type": "object", "properties": {
            **summary, "lines": {"type": "array", "items": _ref("StatementLine")},
            "decisions_without_money": {"type": "array", "description": "the period's decisions that changed no "
                                        "payment, which the statement settles too",
                                        "items": {"type": "object", "properties": unpaid}},
            "dispute": {"type": "object", "nullable": True, "properties": {
                "reason": text, "item_ids": {"type": "array", "items": {"type": "integer"}}}},
            "pdf_url": text, "xlsx_url": text}},
        "StatementPage": {"type": "object", "properties": {
            "statements": {"type": "array", "items": _ref("StatementSummary")}, "page": {"type": "integer"},
            "per_page": {"type": "integer"}, "total": {"type": "integer"}, "pages": {"type": "integer"}}},
    }


def _statement_paths(secured: list[dict]) -> dict:
    one = [_id("settlement_id")]
    answered = {"200": {"description": "The statement as it now stands", "content": _json(_ref("Statement"))}}
    lang = {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["en", "zh_CN"]},
            "description": "the other language's version; by default the request's (Accept-Language)"}

    def download(kind: str, media: str) -> dict:
        return {"get": {
            "summary": f"The statement as {kind} (the PDF is the copy kept at issue)",
            "operationId": f"getStatement{kind.title()}", "security": secured, "parameters": [*one, lang],
            "responses": {"200": {"description": f"The statement ({kind})",
                                  "content": {media: {"schema": {"type": "string", "format": "binary"}}}},
                          **_errors("401", "404")}}}

    return {
        "/statements": {"get": {
            "summary": "The hospital's issued settlement statements, newest period first, 100 per page",
            "operationId": "listStatements", "security": secured,
            "parameters": [{"name": "page", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_ID}}],
            "responses": {"200": {"description": "A page of statements", "content": _json(_ref("StatementPage"))},
                          **_errors("400", "401")}}},
        "/statements/{settlement_id}": {"get": {
            "summary": "One statement with its lines", "operationId": "getStatement", "security": secured,
            "parameters": one,
            "responses": {"200": {"description": "The statement", "content": _json(_ref("Statement"))},
                          **_errors("401", "404")}}},
        "/statements/{settlement_id}/statement.pdf": download("pdf", "application/pdf"),
        "/statements/{settlement_id}/statement.xlsx": download(
            "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "/statements/{settlement_id}/acknowledge": {"post": {
            "summary": "Acknowledge an issued statement (once; an answered statement is refused with 409)",
            "operationId": "acknowledgeStatement", "security": secured, "parameters": [*one, IDEMPOTENCY_KEY],
            "responses": {**answered, **_errors("401", "404", "409", "422")}}},
        "/statements/{settlement_id}/dispute": {"post": {
            "summary": "Dispute an issued statement with a reason, naming the statement's cases it concerns if "
                       "any; each can then be appealed while its letter's deadline runs",
            "operationId": "disputeStatement", "security": secured, "parameters": [*one, IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": _json({
                "type": "object", "required": ["reason"],
                "properties": {"reason": {"type": "string", "minLength": 10, "maxLength": 2000},
                               "item_ids": {"type": "array", "items": {"type": "integer"},
                                            "description": "item ids of cases on this statement"}}})},
            "responses": {**answered, **_errors("400", "401", "404", "409", "413", "422")}}},
    }


def build_document(server_url: str = "/api/v1") -> dict:
    states = [state.value for state in State]
    schemas = {
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {
                "type": "object", "required": ["code", "message", "rows"],
                "properties": {
                    "code": {"type": "string", "example": "validation_failed"},
                    "message": {"type": "string"},
                    "rows": {"type": "array", "items": _ref("RowError")},
                }}},
        },
        "RowError": {
            "type": "object",
            "properties": {"row": {"type": "integer", "nullable": True,
                                   "description": "1-based position in the batch; null for a single object"},
                           "column": {"type": "string", "nullable": True}, "message": {"type": "string"},
                           "value": {"type": "string", "description": "the offending value (case imports)"},
                           "problem": {"type": "object", "description": "case imports: the problem as a code and its "
                                       "parameters (amounts in fen), for systems that word it in their own language",
                                       "properties": {"code": {"type": "string"}, "params": {"type": "object"}}}},
        },
        "Case": _case_schema(),
        "CaseBatch": {
            "type": "object", "required": ["cases"],
            "properties": {"mode": {"type": "string", "enum": ["all_or_nothing", "valid_rows"],
                                    "default": "all_or_nothing"},
                           "cases": {"type": "array", "minItems": 1, "maxItems": MAX_CASES, "items": _ref("Case")}},
        },
        "ImportResult": {
            "type": "object",
            "properties": {"accepted": {"type": "integer"}, "rejected": {"type": "integer"},
                           "skipped": {"type": "integer", "description": "already recorded (same case number and "
                                                                         "discharge date)"},
                           "applications": {"type": "integer"},
                           "case_ids": {"type": "array", "items": {"type": "integer"}},
                           "errors": {"type": "array", "items": _ref("RowError")}},
        },
        "ApplicationRequest": {
            "type": "object", "required": ["case_id", "category", "reason"],
            "properties": {"case_id": {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_ID},
                           "category": {"type": "string", "enum": [rule.value for rule in Rule]},
                           "reason": {"type": "string", "minLength": 10}},
        },
        "Application": {
            "type": "object",
            "properties": {"item_id": {"type": "integer"}, "state": {"type": "string", "enum": states},
                           "screening": {"type": "object", "nullable": True}, "url": {"type": "string"},
                           "missing_evidence": {"type": "array", "items": {"type": "string", "enum": list(EVIDENCE_TYPES)},
                                                "description": "a draft waits for these kinds of evidence; upload "
                                                               "them, then POST /items/{item_id}/submit"},
                           "warnings": {"type": "array", "items": _ref("Warning")}},
        },
        "Document": {
            "type": "object",
            "properties": {"document_id": {"type": "integer"}, "sha256": {"type": "string"},
                           "size_bytes": {"type": "integer"},
                           "content_type": {"type": "string", "enum": ["application/pdf", "image/png", "image/jpeg"]},
                           "warnings": {"type": "array", "items": _ref("Warning")}},
        },
        "Warning": {
            "type": "object",
            "description": "Accepted, but worth a look: e.g. the patient's case number or an identity card number in "
                           "a file name or a reason (experts are shown a neutral label and a masked reason).",
            "properties": {"code": {"type": "string", "enum": ["identity.case_number", "identity.id_card"]},
                           "field": {"type": "string", "enum": ["filename", "reason"]},
                           "message": {"type": "string"}},
        },
        "DecisionSummary": {
            "type": "object", "nullable": True,
            "properties": {"id": {"type": "integer"}, "version": {"type": "integer"},
                           "outcome": {"type": "string", "enum": ["approved", "partially_approved", "rejected"]},
                           "amount_fen": {"type": "integer"}, "amount_yuan": {"type": "string"},
                           "issued_at": {"type": "string", "format": "date-time"}, "url": {"type": "string"}},
        },
        "Item": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "kind": {"type": "string", "enum": [kind.value for kind in ItemKind]},
                           "state": {"type": "string", "enum": states}, "case_id": {"type": "integer"},
                           "case_no": {"type": "string"}, "drg": {"type": "string"},
                           "category": {"type": "string", "nullable": True},
                           "screening": {"type": "object", "nullable": True},
                           "decision": _ref("DecisionSummary"), "url": {"type": "string"}},
        },
        "ItemPage": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": _ref("Item")}, "page": {"type": "integer"},
                           "per_page": {"type": "integer"}, "total": {"type": "integer"},
                           "pages": {"type": "integer"}},
        },
        "Decision": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"}, "item_id": {"type": "integer"}, "version": {"type": "integer"},
                "status": {"type": "string"},
                "outcome": {"type": "string", "enum": ["approved", "partially_approved", "rejected"]},
                "approvals": {"type": "integer"}, "panel_size": {"type": "integer"}, "drg": {"type": "string"},
                **{f"{name}_{unit}": {"type": "integer" if unit == "fen" else "string"}
                   for name in ("drg_payment", "total_cost", "deduction", "amount") for unit in ("fen", "yuan")},
                "issued_at": {"type": "string", "format": "date-time"},
                "appeal_deadline": {"type": "string", "format": "date"},
                "verification_code": {"type": "string"}, "letter_ready": {"type": "boolean"},
                "letter_ref_zh": {"type": "string", "nullable": True, "description": "the letter's 文号"},
                "letter_ref_en": {"type": "string", "nullable": True},
                "letter_url": {"type": "string"},
            },
        },
        **_statement_schemas(),
    }
    secured = [{"bearerAuth": []}]
    paths = {
        "/cases": {"post": {
            "summary": "Import a batch of cases (and optionally apply for them)", "operationId": "createCases",
            "security": secured, "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": _json(_ref("CaseBatch"))},
            "responses": {"201": {"description": "Imported", "content": _json(_ref("ImportResult"))},
                          **_errors("400", "401", "413"),
                          "422": {"description": "All-or-nothing batch with errors (nothing imported), or a "
                                                 "malformed batch", "content": _json(_ref("Error"))}},
        }},
        "/applications": {"post": {
            "summary": "Apply for special-case review of one case", "operationId": "createApplication",
            "security": secured, "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": _json(_ref("ApplicationRequest"))},
            "responses": {"201": {"description": "Created: screened at once, or a draft until its evidence is "
                                                 "uploaded (see missing_evidence)", "content": _json(_ref("Application"))},
                          **_errors("400", "401", "403", "404", "409", "413", "422")},
        }},
        "/items": {"get": {
            "summary": "The hospital's review items, newest first, 100 per page", "operationId": "listItems",
            "security": secured,
            "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "enum": states}},
                           {"name": "page", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_ID}}],
            "responses": {"200": {"description": "A page of items", "content": _json(_ref("ItemPage"))},
                          **_errors("400", "401", "422")},
        }},
        "/items/{item_id}": {"get": {
            "summary": "One review item", "operationId": "getItem", "security": secured,
            "parameters": [_id("item_id")],
            "responses": {"200": {"description": "The item", "content": _json(_ref("Item"))},
                          **_errors("401", "404")},
        }},
        "/items/{item_id}/documents": {"post": {
            "summary": "Upload evidence (PDF, PNG or JPEG, recognised by content)", "operationId": "uploadDocument",
            "security": secured,
            "parameters": [_id("item_id"), IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file", "doc_type"],
                "properties": {"file": {"type": "string", "format": "binary"},
                               "doc_type": {"type": "string", "enum": list(EVIDENCE_TYPES)}}}}}},
            "responses": {"201": {"description": "Stored", "content": _json(_ref("Document"))},
                          **_errors("400", "401", "404", "409", "413", "422")},
        }},
        "/items/{item_id}/submit": {"post": {
            "summary": "Submit a draft application once its evidence is uploaded: it is screened and queued",
            "operationId": "submitApplication", "security": secured,
            "parameters": [_id("item_id"), IDEMPOTENCY_KEY],
            "responses": {"200": {"description": "Submitted and screened", "content": _json(_ref("Application"))},
                          **_errors("401", "404", "409")},
        }},
        "/items/{item_id}/withdraw": {"post": {
            "summary": "Withdraw an application before a panel is seated (gives its quota place back)",
            "operationId": "withdrawItem", "security": secured,
            "parameters": [_id("item_id"), IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": _json({
                "type": "object", "required": ["reason"],
                "properties": {"reason": {"type": "string", "minLength": 10, "maxLength": 2000}}})},
            "responses": {"200": {"description": "Withdrawn", "content": _json({
                "type": "object", "properties": {"item_id": {"type": "integer"},
                                                 "state": {"type": "string", "enum": ["withdrawn"]}}})},
                          **_errors("400", "401", "404", "409", "413", "422")},
        }},
        "/decisions/{decision_id}": {"get": {
            "summary": "An issued decision", "operationId": "getDecision", "security": secured,
            "parameters": [_id("decision_id")],
            "responses": {"200": {"description": "The decision", "content": _json(_ref("Decision"))},
                          **_errors("401", "404")},
        }},
        "/decisions/{decision_id}/appeal": {"post": {
            "summary": "Appeal against an issued decision (once per case, until the deadline on the letter); after "
                       "the deadline: 409 with error.code appeal_deadline_passed and error.deadline",
            "operationId": "appealDecision", "security": secured,
            "parameters": [_id("decision_id"), IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": _json({
                "type": "object", "required": ["grounds"],
                "properties": {"grounds": {"type": "string", "minLength": 20, "maxLength": 5000}}})},
            "responses": {"201": {"description": "Filed", "content": _json({
                "type": "object", "properties": {
                    "appeal_id": {"type": "integer"}, "decision_id": {"type": "integer"},
                    "item_id": {"type": "integer"}, "state": {"type": "string", "enum": ["filed"]},
                    "filed_at": {"type": "string", "format": "date-time"}}})},
                          **_errors("400", "401", "404", "409", "413", "422")},
        }},
        "/decisions/{decision_id}/letter.pdf": {"get": {
            "summary": "The decision letter as PDF", "operationId": "getDecisionLetter", "security": secured,
            "parameters": [_id("decision_id")],
            "responses": {
                "200": {"description": "The letter",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                "202": {"description": "Not rendered yet; retry after the Retry-After seconds",
                        "content": _json({"type": "object", "properties": {"status": {"type": "string"},
                                                                           "message": {"type": "string"}}})},
                **_errors("401", "404"),
            },
        }},
        **_statement_paths(secured),
        "/openapi.json": {"get": {
            "summary": "This document", "operationId": "getOpenApi", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.0.3", "content": _json({"type": "object"})}},
        }},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "DRG Special-Case Review: hospital API", "version": "1.0.0",
                 "description": "Token-authenticated API for hospital systems. Create a token under "
                                "'API tokens' in the web application (hospital administrators) and send it as "
                                "'Authorization: Bearer <token>'. Amounts are given in fen (integers) and as "
                                "yuan strings."},
        "servers": [{"url": server_url}],
        "security": secured,
        "paths": paths,
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                          "bearerFormat": "drg_<random>"}},
                       "schemas": schemas},
    }
