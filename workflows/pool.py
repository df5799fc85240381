"""Who may sit on a panel, and which specialty a case calls for (DESIGN §3 "Panel").

Pure rules the assignment service applies before the solver sees anyone: the solver only ever receives
qualified experts, so no cost or fallback can put an unqualified one on a panel.
"""
from __future__ import annotations

from collections.abc import Iterable

TITLES = ("chief_physician", "deputy_chief_physician", "attending_physician", "resident_physician")
"""Professional titles from the highest; a policy's minimum admits that title and every one above it."""

HOSPITAL_LEVELS = ("tertiary", "secondary", "primary")

SPECIALTIES = (
    "cardiology", "neurology", "general_surgery", "orthopaedics", "oncology", "respiratory", "critical_care",
    "neonatology", "nephrology", "gastroenterology", "ophthalmology", "otolaryngology", "dermatology",
    "endocrinology", "urology", "gynaecology", "obstetrics", "haematology", "infectious_disease", "psychiatry",
    "burns", "general_medicine",
)

MDC_SPECIALTY = {
    "PRE": "critical_care", "01": "neurology", "02": "ophthalmology", "03": "otolaryngology", "04": "respiratory",
    "05": "cardiology", "06": "gastroenterology", "07": "general_surgery", "08": "orthopaedics",
    "09": "dermatology", "10": "endocrinology", "11": "nephrology", "12": "urology", "13": "gynaecology",
    "14": "obstetrics", "15": "neonatology", "16": "haematology", "17": "oncology", "18": "infectious_disease",
    "19": "psychiatry", "20": "psychiatry", "21": "general_surgery", "22": "burns", "23": "general_medicine",
    "24": "critical_care", "25": "infectious_disease",
}
"""The specialty that reviews a case, from its MS-DRG major diagnostic category (pre-MDC DRGs are
transplants, ECMO and tracheostomies: critical care)."""


def specialty_for_mdc(mdc: str | None) -> str | None:
    """None when the MDC is unknown: such an item may then be reviewed by any qualified expert."""
    return MDC_SPECIALTY.get((mdc or "").strip().upper())


def qualifies(title: str, hospital_level: str, min_title: str, levels: Iterable[str]) -> bool:
    """Title at or above the minimum and the expert's hospital of an admitted level."""
    if title not in TITLES or min_title not in TITLES:
        return False
    return TITLES.index(title) <= TITLES.index(min_title) and hospital_level in set(levels)


def parse_specialties(text: str) -> tuple[list[str], list[str]]:
    """Split a cell like "cardiology; critical_care" into known codes and unknown words (for row errors)."""
    words = [w.strip().lower() for w in text.replace("，", ",").replace(";", ",").replace("；", ",").split(",")]
    known = [w for w in dict.fromkeys(words) if w in SPECIALTIES]
    unknown = [w for w in words if w and w not in SPECIALTIES]
    return known, unknown
