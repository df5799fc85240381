"""Who is acting, passed explicitly into services so they never reach for request globals."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from workflows.states import Role


class ServiceError(Exception):
    """A refusal a user can act on; `message` is shown as is (it is already translated lazily)."""

    def __init__(self, message: object, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


HIDDEN = _l("Not found.")
"""The one answer for an object outside the actor's reach and for one that does not exist: any wording that names
what was looked up (an item, a document) would tell a hospital or an expert which ids exist elsewhere."""


class ValidationFailed(ServiceError):
    """Several field errors at once, so a form can show every problem in one round trip."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(_l("Please correct the highlighted fields."))
        self.errors = errors


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    role: Role
    hospital_id: int | None = None
    expert_id: int | None = None
    ip: str | None = None
    token_id: int | None = None  # set when a hospital acts through an API token; recorded in the register

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise PermissionDenied(_l("Your role may not take this action."))


SYSTEM = Actor(user_id=None, role=Role.SYSTEM)
