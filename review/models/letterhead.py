"""What a region's letters say about who issues them, and the counter their 文号 are drawn from.

A decision letter is signed by the region's medical insurance bureau, not by the pooling area, and cites the
policy documents it rests on; both differ from bureau to bureau, so they are data an administrator edits
(`Letterhead`, at most one per region, defaults in review/services/letterheads.py when there is none).
`LetterCounter` holds the last 文号 sequence number given out per region, calendar year and series (decision letters,
settlement statements: each series has its own 代字 and its own numbers); the issuing transaction raises it under a
row lock, so numbers are unique and a rolled-back issue gives its number back.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from review.extensions import db
from review.models.types import UTCDateTime, utcnow


class Letterhead(db.Model):
    __tablename__ = "letterheads"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), unique=True)
    issuer_code_zh: Mapped[str] = mapped_column(String(40))
    """The issuer's prefix of the 文号, e.g. 测医保审 in 测医保审〔2026〕12号."""
    issuer_code_en: Mapped[str] = mapped_column(String(40))
    """The same prefix in Latin letters for the English letter, e.g. T01-MIB-R."""
    bureau_name_en: Mapped[str] = mapped_column(String(200))
    bureau_name_zh: Mapped[str] = mapped_column(String(200))
    legal_basis_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    legal_basis_zh: Mapped[str] = mapped_column(Text, default="", server_default="")
    """The names of the policy documents a decision rests on, one per line, without 《》."""
    address_en: Mapped[str] = mapped_column(String(300), default="", server_default="")
    address_zh: Mapped[str] = mapped_column(String(300), default="", server_default="")
    contact: Mapped[str] = mapped_column(String(200), default="", server_default="")
    """Telephone or e-mail of the review office, printed under the issuer."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LetterCounter(db.Model):
    __tablename__ = "letter_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number"),
                      CheckConstraint("series IN ('decision', 'statement')", name="series"))

    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    series: Mapped[str] = mapped_column(String(20), primary_key=True, default="decision",
                                        server_default="decision")
    last_number: Mapped[int] = mapped_column(default=0)
