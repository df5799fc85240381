"""Panel assignment runs: the immutable record of one solve, and the job that computes and applies it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.cycle import Cycle
from review.models.immutable import make_append_only
from review.models.types import UTCDateTime, utcnow

RUN_KINDS = ("draw", "replacement", "appeal")
JOB_KINDS = ("draw", "appeal")
"""A job draws first panels for queued items or appeal panels for appealed ones."""
JOB_STATES = ("queued", "running", "done", "failed")


class AssignmentRun(db.Model):
    """Everything needed to recompute a panel assignment: input snapshot and hash, published value, seed,
    configuration, algorithm and library versions, and the hash of the result. Append-only (triggers)."""

    __tablename__ = "assignment_runs"
    __table_args__ = (CheckConstraint(f"kind IN {RUN_KINDS!r}", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    parent_run_id: Mapped[int | None] = mapped_column(ForeignKey("assignment_runs.id"))
    published_value: Mapped[str] = mapped_column(String(200))
    seed: Mapped[str] = mapped_column(String(64))
    algorithm_version: Mapped[str] = mapped_column(String(40))
    library_versions: Mapped[dict] = mapped_column(JSON)
    config: Mapped[dict] = mapped_column(JSON)
    input: Mapped[dict] = mapped_column(JSON)
    input_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict] = mapped_column(JSON)
    assignment_hash: Mapped[str] = mapped_column(String(64))
    stats: Mapped[dict] = mapped_column(JSON)
    solve_ms: Mapped[int]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cycle: Mapped[Cycle] = relationship()


make_append_only(AssignmentRun.__table__)


class AssignmentJob(db.Model):
    """A staff request for a run: progress while the worker solves, then the proposal until applied."""

    __tablename__ = "assignment_jobs"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATES!r}", name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        CheckConstraint("(applied_at IS NULL) OR (run_id IS NOT NULL)", name="applied_run"),
        CheckConstraint(f"kind IN {JOB_KINDS!r}", name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="draw", server_default="draw")
    published_value: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    stage: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("assignment_runs.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    cycle: Mapped[Cycle] = relationship()
    run: Mapped[AssignmentRun | None] = relationship()
