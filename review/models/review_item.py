"""What a panel reviews, its evidence, and the experts assigned to it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.case import Case
from review.models.cycle import Cycle
from review.models.organisation import Hospital
from review.models.people import Expert
from review.models.types import Fen, UTCDateTime, utcnow
from workflows.eligibility import Rule
from workflows.states import ISSUED_STATES, ItemKind, State


def _sql_list(values: object) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(str(x) for x in values)) + ")"  # type: ignore[union-attr]


class ReviewItem(db.Model):
    """An Application or a SampledRecord; `state` only ever changes through workflows.states."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("cycle_id", "case_id", "kind"),
        CheckConstraint(f"kind IN {_sql_list(ItemKind)}", name="kind"),
        CheckConstraint(f"state IN {_sql_list(State)}", name="state"),
        CheckConstraint(f"category IS NULL OR category IN {_sql_list(Rule)}", name="category"),
        CheckConstraint("(kind = 'sampled_record') = (sampling_plan_id IS NOT NULL)", name="sample_plan"),
        # issued (and every state after it) <=> an issued decision version exists
        CheckConstraint(
            f"(state IN {_sql_list(ISSUED_STATES)}) = (issued_version IS NOT NULL)", name="issued_decision"
        ),
        CheckConstraint("(state = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawn_reason IS NOT NULL)",
                        name="withdrawn"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    category: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    screening: Mapped[dict | None] = mapped_column(JSON)
    panel_seed: Mapped[str | None] = mapped_column(String(64))
    sampling_plan_id: Mapped[int | None] = mapped_column(ForeignKey("sampling_plans.id"), index=True)
    stratum: Mapped[str | None] = mapped_column(String(60))
    issued_version: Mapped[int | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    lock_version: Mapped[int] = mapped_column(default=1)

    case: Mapped[Case] = relationship()
    hospital: Mapped[Hospital] = relationship()
    cycle: Mapped[Cycle] = relationship()
    assignments: Mapped[list["Assignment"]] = relationship(back_populates="item",
                                                           order_by="(Assignment.round, Assignment.rank)")

    __mapper_args__ = {"version_id_col": lock_version}

    def documents_count(self) -> int:
        return db.session.scalar(db.select(db.func.count(Document.id)).where(
            Document.item_id == self.id, Document.doc_type != "decision_letter")) or 0


class Document(db.Model):
    """Metadata of a stored file; the bytes live once per SHA-256 in the upload store."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("content_type IN ('application/pdf', 'image/png', 'image/jpeg')", name="content_type"),
        CheckConstraint("size_bytes > 0", name="size"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id"), index=True)
    doc_type: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Assignment(db.Model):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "expert_id"),
        CheckConstraint("status IN ('active', 'recused')", name="status"),
        CheckConstraint("tier IN ('exact', 'related')", name="tier"),
        CheckConstraint("(status = 'recused') = (recused_at IS NOT NULL)", name="recused_at"),
        CheckConstraint("status = 'active' OR length(recusal_reason) > 0", name="recusal_reason"),
        CheckConstraint("round IN (1, 2)", name="round"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("experts.id"), index=True)
    rank: Mapped[int]
    """The seat's order within its round (1 is the chair)."""
    round: Mapped[int] = mapped_column(default=1, server_default="1")
    """1: the first review; 2: the appeal panel, which never seats anyone of round 1."""
    status: Mapped[str] = mapped_column(String(10), default="active")
    tier: Mapped[str] = mapped_column(String(10), default="exact", server_default="exact")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("assignment_runs.id"), index=True)
    recusal_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    recused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[ReviewItem] = relationship(back_populates="assignments")
    expert: Mapped[Expert] = relationship()
    scoresheet: Mapped["Scoresheet | None"] = relationship(back_populates="assignment")


class Scoresheet(db.Model):
    __tablename__ = "scoresheets"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'submitted')", name="status"),
        CheckConstraint("recommendation IS NULL OR recommendation IN ('approve', 'reject')", name="recommendation"),
        CheckConstraint("unreasonable_cost_fen >= 0", name="unreasonable_cost"),
        CheckConstraint(
            "status = 'draft' OR (recommendation IS NOT NULL AND submitted_at IS NOT NULL)", name="submitted_complete"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    recommendation: Mapped[str | None] = mapped_column(String(10))
    unreasonable_cost_fen: Mapped[Fen] = mapped_column(default=0)
    admission_justified: Mapped[bool] = mapped_column(Boolean, default=True)
    rationale: Mapped[str] = mapped_column(Text, default="")
    corrected_principal_dx: Mapped[str | None] = mapped_column(String(10))
    corrected_principal_procedure: Mapped[str | None] = mapped_column(String(10))
    """Record review: a code the expert finds should replace the hospital's (None: the coding is correct)."""
    answers: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    """Every answer as entered, keyed by the question names of the cycle's scoresheet definition."""
    definition_version: Mapped[int] = mapped_column(default=1, server_default="1")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lock_version: Mapped[int] = mapped_column(default=1)

    assignment: Mapped[Assignment] = relationship(back_populates="scoresheet")

    __mapper_args__ = {"version_id_col": lock_version}
