"""Cross-cutting web behaviour: security headers, error pages, template helpers."""
from __future__ import annotations

import json

from flask import Flask, flash, redirect, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import get_locale
from flask_login import current_user

from review import labels
from review.services.context import NotFound, PermissionDenied, ServiceError
from workflows.money import format_fen

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'")


def register_web(app: Flask) -> None:
    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if current_user.is_authenticated:
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

    for code, message in ((403, _l("You may not open this page.")), (404, _l("Page not found.")),
                          (413, _l("The upload is larger than the limit.")),
                          (429, _l("Too many attempts; wait a minute."))):
        app.register_error_handler(code, _error_page(code, message))

    app.jinja_env.filters["yuan"] = format_fen
    app.jinja_env.filters["json_text"] = lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True)
    app.jinja_env.globals["labels"] = labels
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())


def _error_page(code: int, message: object):  # type: ignore[no-untyped-def]
    def handler(error: Exception):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=code, message=str(message)), code

    return handler
