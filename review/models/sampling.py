"""Record-review sampling plans and the notices sent to hospitals and experts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from review.extensions import db
from review.models.types import UTCDateTime, utcnow


class SamplingPlan(db.Model):
    """Everything needed to re-draw a sample: the population snapshot, its hash, the published value and
    the seed (fixed before the draw), the configuration and the hash of what was drawn."""

    __tablename__ = "sampling_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    config: Mapped[dict] = mapped_column(JSON)
    published_value: Mapped[str] = mapped_column(String(200))
    population: Mapped[list] = mapped_column(JSON)
    population_size: Mapped[int]
    population_sha256: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str] = mapped_column(String(64))
    algorithm_version: Mapped[str] = mapped_column(String(40))
    sample_sha256: Mapped[str] = mapped_column(String(64))
    strata: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(db.Model):
    """A notice to a hospital or a user; `dedupe_key` makes reminders from the daily calendar idempotent."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    """What the notice says, as data: `review/messages.notice_text` words `kind` with these in the reader's language."""
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    """Only notices written before notices were stored as data carry their (English) wording here."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
