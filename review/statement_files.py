"""A settlement statement as a download (PDF or XLSX), for the office's, the hospital's and the API's routes alike,
each after its own scoped `settlements.get`: in the reader's language, or with `?lang=` the other one, as letters
are offered; the PDF in the issue's language is the official copy kept at issue."""
from __future__ import annotations

import io

from flask import request, send_file
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from review.models import Settlement
from review.services import statements
from review.services.context import NotFound
from review.services.letters import letter_locales, stored_locale
from review.shared_routes import LANG_ALIASES

DOWNLOADS = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _reader_locale() -> str:
    """The catalogue's code (`en`, `zh_CN`) of the reader's language: Babel spells zh_CN as zh_Hans_CN."""
    language = get_locale().language  # type: ignore[union-attr]
    return next((code for code in letter_locales() if code.split("_")[0] == language), stored_locale())


def statement_file(statement: Settlement, ext: str) -> object:
    """A language the catalogue has no letters in is "not found"; what was edited since the issue never changes the
    official copy."""
    asked = request.args.get("lang", "")
    locale = LANG_ALIASES.get(asked, asked) or _reader_locale()
    if locale not in letter_locales():
        raise NotFound(_l("There is no statement in this language."))
    name = statements.statement_filename(statement, locale, ext)
    official = statements.official_copy(statement) if ext == "pdf" and locale == stored_locale() else None
    if official is not None:  # the copy kept at issue: what the statement said, whatever was edited since
        return send_file(official, mimetype=DOWNLOADS[ext], as_attachment=True, download_name=name, max_age=0)
    write = statements.statement_pdf if ext == "pdf" else statements.statement_xlsx
    return send_file(io.BytesIO(write(statement, locale)), mimetype=DOWNLOADS[ext], as_attachment=True,
                     download_name=name, max_age=0)
