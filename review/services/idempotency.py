"""Idempotency-Key handling for API writes: the first answer is stored and replayed for every retry.

The request hash covers method, path and body, so a key reused for a different request is refused rather
than answered with an unrelated response. Server errors (5xx) are not stored: a retry may then succeed.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Callable

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from review.extensions import db
from review.models import IdempotencyRecord
from review.models.types import utcnow
from review.services.context import ServiceError

MAX_KEY_CHARS = 120


class IdempotencyKeyInvalid(ServiceError):
    """The key itself is unusable (too long or empty); answered with 400."""

    status = 400


class IdempotencyConflict(ServiceError):
    """The key was used before for a different request; answered with 422."""

    status = 422


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no two requests hash alike by shifting bytes
        digest.update(part)
    return digest.hexdigest()


def _find(hospital_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalars(db.select(IdempotencyRecord).where(
        IdempotencyRecord.hospital_id == hospital_id, IdempotencyRecord.key == key)).first()


IN_PROGRESS = 0
"""Status of a claimed key whose request has not answered yet."""
STALE_AFTER = timedelta(minutes=10)


class IdempotencyInProgress(ServiceError):
    """A twin request with the same key is still running (or died); answered with 409."""

    status = 409


def _replay(record: IdempotencyRecord, wanted_hash: str) -> tuple[dict, int]:
    if record.request_hash != wanted_hash:
        raise IdempotencyConflict(_l("Idempotency-Key reused with a different request"))
    if record.status_code == IN_PROGRESS:
        if utcnow() - record.created_at > STALE_AFTER:
            raise IdempotencyInProgress(_l("A request with this Idempotency-Key started but never answered; its "
                                           "outcome is unknown. Check the resource, then retry with a new key."))
        raise IdempotencyInProgress(_l("A request with this Idempotency-Key is still being processed; retry shortly."))
    return record.response, record.status_code


def replay_or_run(hospital_id: int, key: str, request_body_bytes: bytes, run: Callable[[], tuple[dict, int]], *,
                  method: str | None = None, path: str | None = None) -> tuple[dict, int]:
    """The stored response for a retry of the same request, or run it once and store its response.

    The key is claimed (committed) before `run`, so two simultaneous twins cannot both run: the second one
    finds the claim and is told to retry. `run` returns (JSON body, status) and commits its own work; a
    server error releases the claim so that a retry may succeed.
    """
    if not key or len(key) > MAX_KEY_CHARS:
        raise IdempotencyKeyInvalid(_l("Idempotency-Key must have 1 to %(n)s characters.", n=MAX_KEY_CHARS))
    if method is None or path is None:
        if not has_request_context():
            raise ValueError("method and path are required outside a request")
        method, path = method or request.method, path or request.path
    wanted = request_hash(method, path, request_body_bytes)
    record = _find(hospital_id, key)
    if record is not None:
        return _replay(record, wanted)
    claim = IdempotencyRecord(hospital_id=hospital_id, key=key, request_hash=wanted, status_code=IN_PROGRESS,
                              response={})
    db.session.add(claim)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        record = _find(hospital_id, key)
        if record is None:
            raise
        return _replay(record, wanted)
    claim_id = claim.id
    try:
        body, status = run()
    except Exception:
        db.session.rollback()
        _release(claim_id)
        raise
    if status >= 500:
        _release(claim_id)
        return body, status
    stored = db.session.get(IdempotencyRecord, claim_id)
    assert stored is not None
    stored.status_code, stored.response = status, body
    db.session.commit()
    return body, status


def _release(claim_id: int) -> None:
    db.session.execute(db.delete(IdempotencyRecord).where(IdempotencyRecord.id == claim_id))
    db.session.commit()
