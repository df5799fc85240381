"""Form helpers shared by the blueprints."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import Field, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from review.services.context import ValidationFailed
from workflows.states import Action, ItemKind, Role, State, allowed_actions

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


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the withdrawal"), validators=[Length(max=2000)])
    """The minimum is the service's rule (review/services/withdrawals.py), worded there."""


def withdrawal_form(item: object) -> WithdrawForm | None:
    """The withdrawal form when the reader may withdraw this item now (the transition table decides), else None."""
    if not current_user.is_authenticated:
        return None
    actions = allowed_actions(ItemKind(item.kind), State(item.state), Role(current_user.role))  # type: ignore[attr-defined]
    return WithdrawForm() if Action.WITHDRAW in actions else None
