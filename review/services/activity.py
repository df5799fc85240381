"""Append rows to the hash-chained supervision register inside the caller's transaction."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import text

from review.extensions import db
from review.models import ActivityLog
from review.models.types import utcnow
from review.services.context import Actor

GENESIS = "0" * 64


def _digest(prev_hash: str, at: datetime, actor: Actor, action: str, object_type: str,
            object_id: int | None, hospital_id: int | None, data: dict) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(), actor.user_id, action, object_type, object_id, hospital_id, data],
        sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(actor: Actor, action: str, object_type: str, object_id: int | None,
           hospital_id: int | None = None, data: dict | None = None) -> ActivityLog:
    """Chain a row onto the register; serialised on PostgreSQL so concurrent writers never fork the chain."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(7301)"))
    db.session.flush()
    last = db.session.scalars(db.select(ActivityLog.hash).order_by(ActivityLog.id.desc()).limit(1)).first()
    prev_hash = last or GENESIS
    at = utcnow()
    payload = json.loads(json.dumps(data or {}, default=str))  # store exactly what is hashed
    if actor.token_id is not None:
        payload["api_token_id"] = actor.token_id
    row = ActivityLog(
        at=at, actor_id=actor.user_id, true_actor_id=actor.user_id, action=action, object_type=object_type,
        object_id=object_id, hospital_id=hospital_id, data=payload, ip=actor.ip, prev_hash=prev_hash,
        hash=_digest(prev_hash, at, actor, action, object_type, object_id, hospital_id, payload),
    )
    db.session.add(row)
    return row


def verify_chain() -> list[int]:
    """Ids of rows whose hash or link does not match; an empty list means the register is intact."""
    broken: list[int] = []
    prev_hash = GENESIS
    for row in db.session.scalars(db.select(ActivityLog).order_by(ActivityLog.id)).yield_per(1000):
        actor = Actor(user_id=row.actor_id, role=None)  # type: ignore[arg-type]
        expected = _digest(row.prev_hash, row.at, actor, row.action, row.object_type, row.object_id,
                           row.hospital_id, row.data)
        if row.prev_hash != prev_hash or row.hash != expected:
            broken.append(row.id)
        prev_hash = row.hash
    return broken
