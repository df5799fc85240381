"""Public verification of decision letters and settlement statements: whoever holds one (a hospital's finance
office, an auditor, a court) can confirm at /verify/<code> that the bureau issued it and, for a letter, whether it
is still the current version.

Public on purpose and therefore rate-limited like the login: the codes are 64 random bits, but a limit keeps
anyone from sweeping the space or scraping the register through this page. The page shows only the document's
own facts; an unknown code and a proposed (not yet issued) decision get the same 404, so nothing unissued leaks.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from review.auth import public
from review.extensions import limiter
from review.services import settlements
from review.services.letters import canonical_code, verify_code

bp = Blueprint("verify", __name__)


def _rate_limit() -> str:
    return str(current_app.config["VERIFY_RATE_LIMIT"])


@bp.route("/verify/<code>")
@public
@limiter.limit(_rate_limit)
def verify(code: str) -> object:
    letter = verify_code(code[:100])
    canonical = canonical_code(code[:100])
    statement = settlements.verify_code(canonical) if letter is None and canonical else None
    if letter is None and statement is None:
        return render_template("verify.html", letter=None, statement=None, code=code[:100]), 404
    response = current_app.make_response(render_template("verify.html", letter=letter, statement=statement,
                                                         code=(letter or statement).code))
    response.headers["Cache-Control"] = "no-store"  # a later appeal decision must show at once
    return response
