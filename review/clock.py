"""The one clock of the product (DESIGN §10.1): every "now" the shell needs comes from here.

Services never call `datetime.now()` themselves, so tests move time by freezing this clock (time-machine in
`tests/conftest.py`) and a date in the region's zone is always computed the same way.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"


def utcnow() -> datetime:
    """Aware UTC: the only form in which times are stored (see `review.models.types.UTCDateTime`)."""
    return datetime.now(timezone.utc)


def zone(name: str | None) -> ZoneInfo:
    """A region's zone; a missing or unknown name falls back to the product's default rather than failing a page."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def today_in(zone_name: str | None) -> date:
    """Today's date in a region's time zone: windows, deadlines and letters count days there, not in UTC."""
    return utcnow().astimezone(zone(zone_name)).date()
