"""DRG weights and the region's average cost per DRG."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from review.extensions import db
from review.models.types import Fen, UTCDateTime, utcnow


class DrgCatalogue(db.Model):
    __tablename__ = "drg_catalogue"
    __table_args__ = (UniqueConstraint("scheme", "drg"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(40))
    drg: Mapped[str] = mapped_column(String(10))
    mdc: Mapped[str] = mapped_column(String(10))
    drg_type: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(300))
    weight: Mapped[Decimal] = mapped_column(Numeric(9, 4))
    gmlos: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    amlos: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))


class DrgAverageCost(db.Model):
    """The 均费 the high-cost rule compares against, with the count of cases behind it."""

    __tablename__ = "drg_average_costs"
    __table_args__ = (UniqueConstraint("region_id", "drg"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    drg: Mapped[str] = mapped_column(String(10))
    average_cost_fen: Mapped[Fen]
    case_count: Mapped[int]
    source: Mapped[str] = mapped_column(String(20), default="imported", server_default="imported")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())
