"""The outbox of background work: one row per job, written in the transaction of the change that needs it.

The row, not the Celery message, is the truth (DESIGN §10.1): a message lost with Redis, or a worker killed halfway,
leaves a row that says so (queued and never started, or running with a heartbeat gone quiet), and the sweeper in
`review.services.jobs` sends it again. Kinds keep their own records (ImportJob, AssignmentJob, ExportJob) for
progress and results; this row only knows how to run the kind again, how often it was tried and what went wrong.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from review.extensions import db
from review.models.types import UTCDateTime, utcnow

JOB_STATES = ("queued", "running", "done", "failed")


class Job(db.Model):
    """One piece of background work: its kind and the ids it works on, where it is, and who holds it."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"state IN {JOB_STATES!r}", name="state"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
        # A running job always has a holder and a heartbeat, so the sweeper can tell a live one from a dead one.
        CheckConstraint("state <> 'running' OR (lease IS NOT NULL AND heartbeat_at IS NOT NULL)", name="running"),
        Index("ix_jobs_state_heartbeat_at", "state", "heartbeat_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    """Kind and ids: the same work asked for twice (a beat firing twice, a double click) is one job."""
    args: Mapped[list] = mapped_column(JSON)
    """The task's arguments: ids (or a date), never objects."""
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    """Runs started, plus deliveries presumed lost; at max_attempts the sweeper gives up."""
    max_attempts: Mapped[int]
    steps: Mapped[int] = mapped_column(default=0)
    """Heartbeats of the current run: each progress step (and each commit of the worker) counts one."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the message was last handed to the broker; NULL while it still has to be (the broker was down)."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease: Mapped[str | None] = mapped_column(String(32))
    """Token of the run holding the job; a run whose token was replaced may not commit anything."""
    worker: Mapped[str | None] = mapped_column(String(120))
    message_id: Mapped[str | None] = mapped_column(String(64))
    """Celery's id of the delivery holding the lease: the broker handing the same message back (its worker was
    lost) may take the job over at once."""
    files: Mapped[list] = mapped_column(JSON, default=list)
    """Files runs put in the store before recording them ({purpose, sha256}): adopted by the next run, and any
    left unreferenced removed when the job ends."""
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
