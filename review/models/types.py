"""Column types shared by the models."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

from review.clock import utcnow

__all__ = ["Fen", "UTCDateTime", "utcnow"]

Fen = Annotated[int, mapped_column(BigInteger().with_variant(Integer(), "sqlite"))]
"""A money column: integer fen in 64 bits, so a province's fund (and a ¥30 M case) fits. SQLite's INTEGER already
stores 8 bytes, so only PostgreSQL needs BIGINT (and SQLite's schema, with its triggers, stays as it was)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC and always returns aware UTC, so SQLite and PostgreSQL behave the same."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: times are stored in UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)
