"""Cross-cutting web behaviour: security headers, error pages, template helpers, and the guards that turn
bad input (out-of-range ids, oversized bodies, text the database cannot hold) into a clear 4xx, never a 500."""
from __future__ import annotations

import json
from collections.abc import Iterable

from flask import Flask, current_app, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, Map

from review import labels, messages
from review.forms import withdrawal_form
from review.services import average_costs, experts
from review.services.context import NotFound, PermissionDenied, ServiceError
from workflows.money import format_fen

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'")
MAX_RECORD_ID = 2**31 - 1
"""Primary keys are 32-bit INTEGER columns: no record has a larger id."""
FORM_OVERHEAD_BYTES = 64 * 1024
"""Room in a body for multipart headers and the small fields beside its files."""
MIB = 1024 * 1024


class RecordIdConverter(IntegerConverter):
    """The app's `int` converter: an id outside 1..2^31-1 names no record, so the URL matches no route (404)
    instead of reaching the database, where PostgreSQL refuses it as out of range (a 500)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_RECORD_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def record_id(text: str) -> int:
    """A query argument naming a record (`request.args.get(name, type=record_id)`): out of range counts as
    not given, like a word."""
    value = int(text)
    if not 1 <= value <= MAX_RECORD_ID:
        raise ValueError(text)
    return value


def _body_limit() -> int:
    """The content the matched route may receive: uploads and imports their own file limits, the API's JSON
    its limit, everything else (and any unmatched URL) the small default."""
    config = current_app.config
    own = {"api_v1.create_cases": config["API_MAX_JSON_BYTES"],
           "api_v1.create_application": config["API_MAX_JSON_BYTES"],
           "api_v1.upload_document": config["UPLOAD_MAX_BYTES"],
           "hospital.item": config["UPLOAD_MAX_REQUEST_BYTES"],
           "hospital.imports": config["IMPORT_MAX_BYTES"],
           "staff.import_average_costs": average_costs.MAX_FILE_BYTES,
           "staff.import_experts": experts.MAX_IMPORT_BYTES}
    return own.get(request.endpoint or "", config["MAX_CONTENT_LENGTH"])


def limit_request_body() -> None:
    """The first before-request hook (CSRF and the forms read the body after it): a body whose Content-Length
    is over its route's limit is refused unread; one sent without a length is cut off at the limit as it is
    read. Both answer 413."""
    request.max_content_length = _body_limit() + FORM_OVERHEAD_BYTES
    if (request.content_length or 0) > request.max_content_length:
        raise RequestEntityTooLarge()


def too_large_message() -> str:
    """What a 413 says, in terms of the figure the sender controls (the file limit, not the multipart total)."""
    limit = _body_limit()
    size = f"{limit / MIB:g} MB" if limit >= MIB else f"{limit // 1024} KB"
    return _("The request is too large: this address accepts at most %(size)s.", size=size)


class UnstorableText(BadRequest):
    """A text value holds a NUL character, which no database column can store; refused naming the field."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(_("%(field)s contains a NUL character; remove it and send again.", field=field))


def refuse_unstorable_text() -> None:
    """Path, query and form values are checked once here, so no view passes a NUL on to PostgreSQL."""
    values: Iterable[tuple[str, object]] = [*(request.view_args or {}).items(), *request.args.items(multi=True)]
    if request.method in ("POST", "PUT", "PATCH"):
        values = [*values, *request.form.items(multi=True)]
    for field, value in values:
        if isinstance(value, str) and "\x00" in value:
            raise UnstorableText(field)


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"
"""No page of the product needs these browser features; refusing them limits what injected script could do."""


def register_web(app: Flask) -> None:
    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:  # over plain HTTP the header is ignored by browsers and would only mislead
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static" and current_user.is_authenticated:  # static files hold no one's data
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(NotFound)
    def not_found(error: NotFound):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=404, message=error.message), 404

    @app.errorhandler(PermissionDenied)
    def denied(error: PermissionDenied):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=403, message=error.message), 403

    @app.errorhandler(ServiceError)
    def refused(error: ServiceError):  # type: ignore[no-untyped-def]
        """A refused step goes back to the page it came from with the reason; nothing was changed."""
        flash(str(error.message), "error")
        return redirect(request.referrer or "/"), 303

    app.before_request(refuse_unstorable_text)
    for code_or_class in (UnstorableText, 403, 404, 405, 413, 429):
        app.register_error_handler(code_or_class, _error_response)

    app.jinja_env.filters["yuan"] = format_fen
    app.jinja_env.filters["json_text"] = lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True)
    app.jinja_env.globals["labels"] = labels
    app.jinja_env.globals.update(screening_summary=messages.screening_summary, rule_text=messages.rule_text,
                                 problem_text=messages.problem_text, notice_text=messages.notice_text,
                                 stored_problem_text=messages.stored_problem_text,
                                 stratum_text=messages.stratum_text, withdrawal_form=withdrawal_form)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())


ERROR_MESSAGES = {403: _l("You may not open this page."), 404: _l("Page not found."),
                  405: _l("This address does not accept that method."), 429: _l("Too many attempts; wait a minute.")}


def error_message(error: HTTPException) -> str:
    """What an HTTP error says to a person (page) or a program (the API's JSON), in the user's language."""
    if isinstance(error, RequestEntityTooLarge):
        return too_large_message()
    if isinstance(error, UnstorableText) or error.code not in ERROR_MESSAGES:
        return str(error.description)
    return str(ERROR_MESSAGES[error.code])


def _error_response(error: HTTPException):  # type: ignore[no-untyped-def]
    """An error page; under the API's prefix (matched route or not) the API's JSON error instead."""
    from review.api import v1  # the API module builds on this one

    if request.path.startswith(f"{v1.bp.url_prefix}/"):
        return v1.http_error_response(error)
    return render_template("error.html", code=error.code, message=error_message(error)), error.code
