"""Region, its versioned Policy, and contracted hospitals."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.clock import DEFAULT_ZONE
from review.extensions import db
from review.models.types import Fen, UTCDateTime, utcnow
from workflows import scoresheets
from workflows.grouping import DEFAULT_BLOCKING_EDITS
from workflows.policy import DEFAULTS, PolicySnapshot


_REQUIRED_EVIDENCE_JSON = DEFAULTS.to_json()["required_evidence"]


class Region(db.Model):
    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_ZONE)

    def current_policy(self) -> "Policy":
        return db.session.scalars(
            db.select(Policy).where(Policy.region_id == self.id).order_by(Policy.version.desc()).limit(1)
        ).one()


class Policy(db.Model):
    """One version of a region's rules; rows are never edited, a change adds a version."""

    __tablename__ = "policies"
    __table_args__ = (
        UniqueConstraint("region_id", "version"),
        CheckConstraint("base_rate_fen > 0", name="base_rate_positive"),
        CheckConstraint("max_case_cost_fen > 0", name="max_case_cost_positive"),
        CheckConstraint("panel_size >= 3 AND panel_size % 2 = 1", name="panel_size_odd"),
        CheckConstraint("payment_method IN ('fee_for_service', 'cms_outlier')", name="payment_method"),
        CheckConstraint("panel_min_title IN ('chief_physician', 'deputy_chief_physician', 'attending_physician', "
                        "'resident_physician')", name="panel_min_title"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    version: Mapped[int]
    base_rate_fen: Mapped[Fen]
    # Python-side defaults come from workflows.policy.DEFAULTS, the one place a policy default is written.
    quota_share: Mapped[Decimal] = mapped_column(Numeric(6, 4), default=DEFAULTS.quota_share)
    high_cost_multiple: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=DEFAULTS.high_cost_multiple)
    long_stay_days: Mapped[int] = mapped_column(default=DEFAULTS.long_stay_days)
    icu_share: Mapped[Decimal] = mapped_column(Numeric(4, 2), default=DEFAULTS.icu_share)
    panel_size: Mapped[int] = mapped_column(default=DEFAULTS.panel_size)
    appeal_days: Mapped[int] = mapped_column(default=DEFAULTS.appeal_days)
    appeal_review_days: Mapped[int] = mapped_column(default=DEFAULTS.appeal_review_days,
                                                    server_default=str(DEFAULTS.appeal_review_days))
    payment_method: Mapped[str] = mapped_column(String(20), default=DEFAULTS.payment_method)
    fixed_loss_threshold_fen: Mapped[Fen] = mapped_column(default=DEFAULTS.fixed_loss_threshold_fen)
    high_cost_bands: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    newborn_weight_grams: Mapped[int] = mapped_column(default=DEFAULTS.newborn_weight_grams,
                                                      server_default=str(DEFAULTS.newborn_weight_grams))
    newborn_cost_multiple: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=DEFAULTS.newborn_cost_multiple,
                                                           server_default=str(DEFAULTS.newborn_cost_multiple))
    new_technology_codes: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    min_reviewed_for_extrapolation: Mapped[int] = mapped_column(
        default=DEFAULTS.min_reviewed_for_extrapolation, server_default=str(DEFAULTS.min_reviewed_for_extrapolation))
    panel_min_title: Mapped[str] = mapped_column(String(40), default=DEFAULTS.panel_min_title,
                                                 server_default=DEFAULTS.panel_min_title)
    panel_hospital_levels: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULTS.panel_hospital_levels),
                                                        server_default=json.dumps(list(DEFAULTS.panel_hospital_levels)))
    panel_one_per_hospital: Mapped[bool] = mapped_column(Boolean, default=DEFAULTS.panel_one_per_hospital,
                                                         server_default=false())
    max_case_cost_fen: Mapped[Fen] = mapped_column(default=DEFAULTS.max_case_cost_fen,
                                                   server_default=str(DEFAULTS.max_case_cost_fen))
    """Intake refuses a stay whose total cost is above this: a figure beyond it is a typing error."""
    blocking_code_edits: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULT_BLOCKING_EDITS),
                                                      server_default=json.dumps(list(DEFAULT_BLOCKING_EDITS)))
    """Code-editor findings that refuse a case; the others are recorded with it (workflows.grouping.EDIT_KINDS)."""
    required_evidence: Mapped[dict] = mapped_column(JSON, default=lambda: _REQUIRED_EVIDENCE_JSON,
                                                    server_default=json.dumps(_REQUIRED_EVIDENCE_JSON))
    """Per category, the evidence kinds uploaded before an application is screened (workflows.policy)."""
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region] = relationship()

    def typed(self) -> PolicySnapshot:
        """This version as the value a cycle freezes."""
        return PolicySnapshot(
            version=self.version, policy_id=self.id, base_rate_fen=self.base_rate_fen, quota_share=self.quota_share,
            high_cost_multiple=self.high_cost_multiple,
            high_cost_bands=PolicySnapshot.from_json({"high_cost_bands": self.high_cost_bands or []}).high_cost_bands,
            long_stay_days=self.long_stay_days, icu_share=self.icu_share,
            newborn_weight_grams=self.newborn_weight_grams, newborn_cost_multiple=self.newborn_cost_multiple,
            new_technology_codes=frozenset(self.new_technology_codes or ()), panel_size=self.panel_size,
            panel_min_title=self.panel_min_title, panel_hospital_levels=tuple(self.panel_hospital_levels or ()),
            panel_one_per_hospital=self.panel_one_per_hospital, appeal_days=self.appeal_days,
            appeal_review_days=self.appeal_review_days,
            payment_method=self.payment_method, fixed_loss_threshold_fen=self.fixed_loss_threshold_fen,
            min_reviewed_for_extrapolation=self.min_reviewed_for_extrapolation,
            max_case_cost_fen=self.max_case_cost_fen, blocking_code_edits=frozenset(self.blocking_code_edits or ()),
            required_evidence=PolicySnapshot.from_json({"required_evidence": self.required_evidence or {}})
            .required_evidence,
            scoresheets=scoresheets.snapshot())

    def snapshot(self) -> dict[str, object]:
        """The figures a cycle freezes when it opens, as JSON (read back with `Cycle.policy`)."""
        return self.typed().to_json()


class Hospital(db.Model):
    __tablename__ = "hospitals"
    __table_args__ = (
        CheckConstraint("level IN ('tertiary', 'secondary', 'primary')", name="level"),
        CheckConstraint("coefficient > 0", name="coefficient_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))
    coefficient: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """An inactive hospital's users cannot log in and it cannot be chosen for a new user (review/services/users.py)."""

    region: Mapped[Region] = relationship()
