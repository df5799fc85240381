"""The one clock of the product (DESIGN §10.1): every "now" the shell needs comes from here.

Services never call `datetime.now()` themselves, so tests move time by freezing this clock (time-machine in
`tests/conftest.py`) and a date in the region's zone is always computed the same way.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Aware UTC: the only form in which times are stored (see `review.models.types.UTCDateTime`)."""
    return datetime.now(timezone.utc)


def region_today(zone: str) -> date:
    """Today's date in a region's time zone: windows, deadlines and letters count days there, not in UTC."""
    return utcnow().astimezone(ZoneInfo(zone)).date()
