"""Users of every role and the experts of the pool."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.organisation import Hospital
from review.models.types import UTCDateTime, utcnow

ROLES = ("hospital", "expert", "staff", "admin", "auditor")


class Expert(db.Model):
    __tablename__ = "experts"
    __table_args__ = (
        CheckConstraint(
            "title IN ('chief_physician', 'deputy_chief_physician', 'attending_physician', 'resident_physician')",
            name="title",
        ),
        CheckConstraint("cap_per_cycle >= 0", name="cap"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    """The bureau's register number; CSV imports match experts on it."""
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(40))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    cap_per_cycle: Mapped[int] = mapped_column(default=30)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")

    hospital: Mapped[Hospital] = relationship()


class User(UserMixin, db.Model):
    """A login. A hospital user belongs to exactly one hospital, an expert user to one Expert."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        CheckConstraint("(role = 'hospital') = (hospital_id IS NOT NULL)", name="hospital_scope"),
        CheckConstraint("(role = 'expert') = (expert_id IS NOT NULL)", name="expert_link"),
        CheckConstraint("NOT hospital_admin OR role = 'hospital'", name="hospital_admin_scope"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(120))
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("experts.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    hospital_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Copied into the session at login; raising it (logout, password change) makes every older cookie worthless."""

    hospital: Mapped[Hospital | None] = relationship()
    expert: Mapped[Expert | None] = relationship()

    @property
    def is_active(self) -> bool:
        """Flask-login refuses inactive users; a hospital user is inactive with their hospital too."""
        return self.active and (self.hospital is None or self.hospital.active)
