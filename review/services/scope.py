"""Reading one row that belongs to a hospital, within the actor's reach, in the query itself."""
from __future__ import annotations

from typing import Any, TypeVar

from review.extensions import db
from review.services.context import Actor, NotFound
from workflows.states import Role

T = TypeVar("T")
READ_ALL_ROLES = (Role.STAFF, Role.ADMIN, Role.AUDITOR)


def get_hospital_owned(actor: Actor, model: type[T], object_id: int, missing: object) -> T:
    """Hospital users reach only their own hospital's rows; the bureau's roles reach all; others none.

    A row out of reach is reported exactly like a missing one, so ids reveal nothing across hospitals.
    """
    entity: Any = model
    query = db.select(entity).where(entity.id == object_id)
    if actor.role == Role.HOSPITAL:
        query = query.where(entity.hospital_id == actor.hospital_id)
    elif actor.role not in READ_ALL_ROLES:
        raise NotFound(missing)
    found = db.session.scalars(query).first()
    if found is None:
        raise NotFound(missing)
    return found
