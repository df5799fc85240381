"""What a new password must be: 12 to 128 characters, not the user name, not a commonly used password.

The common-password list is the "passwords" frequency list that ships with zxcvbn (the 30,000 passwords most
often found in published breaches, lower-case); it is loaded once, on first use, and read offline.
"""
from __future__ import annotations

from functools import cache

from flask_babel import lazy_gettext as _l
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 128


@cache
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def problems(password: str, username: str) -> list[str]:
    """Every reason this password is refused (empty: it is acceptable), worded for the person choosing it."""
    found: list[str] = []
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        found.append(str(_l("The password must be %(min)s to %(max)s characters long.", min=MIN_LENGTH,
                            max=MAX_LENGTH)))
    folded = password.strip().casefold()
    if folded == username.strip().casefold():
        found.append(str(_l("The password cannot be your user name.")))
    elif folded in _common():
        found.append(str(_l("This password is on a list of commonly used passwords; choose another.")))
    return found
