"""The policy a cycle froze, as one typed value (DESIGN §3, §10.1).

A cycle stores its policy as JSON so that later policy versions never change how it is judged. Reading that JSON
with `snapshot["panel_size"]` and a default at every call site wrote each default and each conversion several
times; `PolicySnapshot.from_json` is now the only reader and `DEFAULTS` the only place a default is written. Older
snapshots, frozen before a field existed, read as that field's default.

The quota, pure arithmetic on the policy, lives here as a method; the majority is `consensus.is_majority`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from workflows.eligibility import Thresholds
from workflows.grouping import DEFAULT_BLOCKING_EDITS
from workflows.intake import DEFAULT_MAX_CASE_COST_FEN
from workflows.money import Fen

PAYMENT_METHODS = ("fee_for_service", "cms_outlier")
EVIDENCE_KINDS = ("admission_record", "discharge_summary", "front_page", "progress_notes", "orders", "lab_reports",
                  "operative_record", "special_items", "other")
"""The kinds of evidence a hospital uploads; the policy names which of them each category needs."""
DEFAULT_REQUIRED_EVIDENCE: Mapping[str, tuple[str, ...]] = {
    "high_cost": ("discharge_summary", "special_items"),
    "long_stay": ("discharge_summary",),
    "icu_heavy": ("discharge_summary",),
    "complex_care": ("discharge_summary",),
    "newborn": ("discharge_summary",),
    "new_technology": ("discharge_summary", "operative_record"),
}


@dataclass(frozen=True)
class PolicySnapshot:
    version: int = 1
    policy_id: int | None = None
    base_rate_fen: Fen = 0
    quota_share: Decimal = Decimal("0.05")
    """Applications allowed per cycle, as a share of the hospital's DRG discharges (5%; some regions 5‰)."""
    high_cost_multiple: Decimal = Decimal("3")
    high_cost_bands: tuple[tuple[Decimal, Decimal], ...] = ()
    long_stay_days: int = 60
    icu_share: Decimal = Decimal("0.6")
    newborn_weight_grams: int = 1500
    newborn_cost_multiple: Decimal = Decimal("2.5")
    new_technology_codes: frozenset[str] = frozenset()
    panel_size: int = 3
    panel_min_title: str = "deputy_chief_physician"
    panel_hospital_levels: tuple[str, ...] = ("tertiary",)
    panel_one_per_hospital: bool = False
    appeal_days: int = 10
    appeal_review_days: int = 15
    """Working days an appeal panel has from being seated to its sheets: appeals come after the decisions, when the
    cycle's review deadline has usually passed, so an appeal carries a deadline of its own."""
    payment_method: str = "fee_for_service"
    fixed_loss_threshold_fen: Fen = 0
    min_reviewed_for_extrapolation: int = 30
    max_case_cost_fen: Fen = DEFAULT_MAX_CASE_COST_FEN
    blocking_code_edits: frozenset[str] = frozenset(DEFAULT_BLOCKING_EDITS)
    required_evidence: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_REQUIRED_EVIDENCE))
    """Per application category, the evidence kinds that must be uploaded before it is screened and queued."""
    scoresheets: Mapping[str, Any] = field(default_factory=dict)
    """Scoresheet definitions as frozen (read with `workflows.scoresheets.for_cycle`); empty before they were."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PolicySnapshot:
        """Read a stored snapshot; unknown keys are ignored and missing ones take the defaults."""
        data = data or {}
        values: dict[str, Any] = {}
        for name, convert in _READERS.items():
            if data.get(name) is not None:
                values[name] = convert(data[name])
        return replace(DEFAULTS, **values)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe: Decimals as strings (no float ever touches a rate), sets as sorted lists."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, frozenset):
                value = sorted(value)
            elif item.name == "high_cost_bands":
                value = [{"max_weight": str(weight), "multiple": str(multiple)} for weight, multiple in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif item.name == "required_evidence":
                value = {category: list(kinds) for category, kinds in sorted(value.items())}
            elif isinstance(value, Mapping):
                value = dict(value)
            out[item.name] = value
        return out

    def thresholds(self) -> Thresholds:
        """The eligibility screen's view of the policy."""
        return Thresholds(high_cost_multiple=self.high_cost_multiple, long_stay_days=self.long_stay_days,
                          icu_share=self.icu_share, high_cost_bands=self.high_cost_bands,
                          newborn_weight_grams=self.newborn_weight_grams,
                          newborn_cost_multiple=self.newborn_cost_multiple,
                          new_technology_codes=self.new_technology_codes)

    def missing_evidence(self, category: str, uploaded: Iterable[str]) -> tuple[str, ...]:
        """The kinds this category still needs, in the policy's order; empty when the application may go on."""
        have = set(uploaded)
        return tuple(kind for kind in self.required_evidence.get(category, ()) if kind not in have)

    def quota_allowed(self, drg_discharges: int | None) -> int:
        """Applications a hospital may make: the share of its discharges, rounded down; none until they are known."""
        if drg_discharges is None:
            return 0
        return math.floor(self.quota_share * drg_discharges)


def _bands(raw: Any) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple(sorted((Decimal(str(band["max_weight"])), Decimal(str(band["multiple"]))) for band in raw))


def _evidence(raw: Any) -> dict[str, tuple[str, ...]]:
    return {str(category): tuple(str(kind) for kind in kinds) for category, kinds in dict(raw).items()}


def _flag(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return bool(raw)


_READERS: dict[str, Any] = {
    "version": int, "policy_id": int, "base_rate_fen": int,
    "quota_share": lambda raw: Decimal(str(raw)), "high_cost_multiple": lambda raw: Decimal(str(raw)),
    "high_cost_bands": _bands, "long_stay_days": int, "icu_share": lambda raw: Decimal(str(raw)),
    "newborn_weight_grams": int, "newborn_cost_multiple": lambda raw: Decimal(str(raw)),
    "new_technology_codes": lambda raw: frozenset(str(code) for code in raw),
    "panel_size": int, "panel_min_title": str, "panel_hospital_levels": lambda raw: tuple(str(level) for level in raw),
    "panel_one_per_hospital": _flag, "appeal_days": int, "appeal_review_days": int, "payment_method": str, "fixed_loss_threshold_fen": int,
    "min_reviewed_for_extrapolation": int, "max_case_cost_fen": int,
    "blocking_code_edits": lambda raw: frozenset(str(kind) for kind in raw),
    "scoresheets": dict, "required_evidence": _evidence,
}

DEFAULTS = PolicySnapshot()
"""Every policy default, once: the Policy model's column defaults and every older snapshot read from here."""
