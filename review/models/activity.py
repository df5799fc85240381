"""The supervision register (监管台账): one signed row per action, never changed, chained per region.

Each row carries its chain (the region's code, or `global` when the action names no hospital), its place in that
chain (`seq` 1, 2, 3 … with no gaps), the previous row's hash and an HMAC-SHA256 over every column, signed by the
key named in `key_id` (`review/services/activity.py`). `register_heads` holds each chain's last seq and hash, kept
in the row's transaction, so a cut tail shows as a head ahead of the rows.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from review.extensions import db
from review.models.immutable import PRIVILEGES, make_append_only
from review.models.types import UTCDateTime, utcnow


class ActivityLog(db.Model):
    __tablename__ = "activity_log"
    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    true_actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None]
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"), index=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int]
    key_id: Mapped[str] = mapped_column(String(16))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


make_append_only(ActivityLog.__table__)


class RegisterHead(db.Model):
    """A chain's last row as its writer left it, signed (`mac`) so it cannot be set back without the key.

    The one row a register write locks: writers on other chains never wait for each other. The application may
    insert and update it, never delete it.
    """

    __tablename__ = "register_heads"
    __table_args__ = {"info": {PRIVILEGES: ("SELECT", "INSERT", "UPDATE")}}
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))
    mac: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
