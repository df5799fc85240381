"""One-time links that let a user set their own password: an administrator never chooses or sees one."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.people import User
from review.models.types import UTCDateTime, utcnow

PURPOSES = ("welcome", "reset")


class Invitation(db.Model):
    """A single-use, expiring link. Only the SHA-256 of its random token is stored, so a copy of the database
    opens no account; the token itself is shown once to the administrator who made it."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(f"purpose IN {PURPOSES!r}", name="purpose"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when a newer invitation or a reset replaces this one, or the user is disabled."""

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    def usable_at(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at
