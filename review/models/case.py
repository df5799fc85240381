"""An inpatient discharge as the hospital coded it, with the DRG the system computed."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.organisation import Hospital
from review.models.types import Fen, UTCDateTime, utcnow


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("hospital_id", "case_no", "discharge_date"),
        CheckConstraint("admission_date <= discharge_date", name="dates"),
        CheckConstraint("total_cost_fen >= 0", name="cost"),
        CheckConstraint("icu_days >= 0 AND icu_days <= los_days + 1", name="icu_days"),
        CheckConstraint("sex IN ('M', 'F', 'U')", name="sex"),
        CheckConstraint("age >= 0 AND age <= 124", name="age"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    case_no: Mapped[str] = mapped_column(String(40))
    age: Mapped[int]
    sex: Mapped[str] = mapped_column(String(1))
    admission_date: Mapped[date]
    discharge_date: Mapped[date]
    los_days: Mapped[int]
    principal_dx: Mapped[str] = mapped_column(String(8))
    secondary_dx: Mapped[list[str]] = mapped_column(JSON, default=list)
    procedures: Mapped[list[str]] = mapped_column(JSON, default=list)
    total_cost_fen: Mapped[Fen]
    icu_days: Mapped[int] = mapped_column(default=0)
    birth_weight_grams: Mapped[int | None]
    mcc_codes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    code_warnings: Mapped[list[dict]] = mapped_column(JSON, default=list, server_default="[]")
    """Code-editor findings the policy records rather than refuses: [{"field", "code", "kind"}]."""
    hospital_drg: Mapped[str | None] = mapped_column(String(10))
    cost_breakdown: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    drg: Mapped[str] = mapped_column(String(10))
    drg_weight: Mapped[Decimal] = mapped_column(Numeric(9, 4))
    drg_payment_fen: Mapped[Fen]
    grouper_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_jobs.id"), index=True)

    @property
    def drg_mismatch(self) -> bool:
        """The hospital's own grouping differs from ours: a lead for record review, never an error."""
        return bool(self.hospital_drg) and self.hospital_drg.lstrip("0") != self.drg.lstrip("0")

    hospital: Mapped[Hospital] = relationship()
