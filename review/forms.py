"""Form helpers shared by the blueprints."""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.fields.choices import SelectChoice

from review.services.context import ValidationFailed

CODE_SEPARATORS = re.compile(r"[\s,;，；]+")


def choices(labels: dict[str, object]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]  # type: ignore[arg-type]


def split_codes(text: str | None) -> tuple[str, ...]:
    """Codes may be typed one per line or separated by commas, as hospital coders paste them."""
    return tuple(code for code in CODE_SEPARATORS.split(text or "") if code)


def attach_errors(form: FlaskForm, failure: ValidationFailed) -> list[str]:
    """Put service errors on the matching fields; return those that match no field, to flash."""
    unplaced: list[str] = []
    for name, messages in failure.errors.items():
        field: Field | None = getattr(form, name, None)
        if isinstance(field, Field):
            field.errors = [*field.errors, *messages]  # type: ignore[assignment]
        else:
            unplaced.extend(messages)
    return unplaced
