"""Patient identity kept from experts in the hospital's free text, and the warnings the hospital gets for it.

The finding is pure (`workflows/identity.py`); this module words it: warnings in the reader's language for the
hospital, and the masked text an expert reads (docs/ARCHITECTURE.md, "Experts do not see who the patient is").
"""
from __future__ import annotations

from flask_babel import gettext as _

from review.messages import problem_text
from workflows import identity


def identity_warnings(field: str, text: str | None, case_no: str | None) -> list[str]:
    """What the hospital is told after it typed the case number or an identity card number into a field."""
    return [problem_text(problem) for problem in identity.warnings(field, text or "", case_no)]


def redacted(text: str | None, case_no: str | None) -> str:
    """The text as an expert reads it: the case number and identity card numbers replaced by a marker."""
    text = text or ""
    spans = identity.find(text, case_no)
    if not spans:
        return text
    return identity.mask(text, spans, {identity.CASE_NUMBER: _("[case number hidden]"),
                                       identity.ID_CARD: _("[identity number hidden]")})
