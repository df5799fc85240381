"""Bulk exports of a cycle: the decision letters as one ZIP, the decisions as a CSV or XLSX table.

An export is a job, not a request: a quarter's letters can be a thousand PDFs, some still to be rendered, which is
minutes of work that must survive the page being closed. Progress is committed as the worker goes, so any page
(and any web process) can show it; the result is kept in the content-addressed file store and only its SHA-256,
name, type and size are recorded here.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from review.extensions import db
from review.models.cycle import Cycle
from review.models.types import UTCDateTime, utcnow

EXPORT_KINDS = ("letters_zip", "decisions_csv", "decisions_xlsx")
EXPORT_STATES = ("queued", "running", "done", "failed")


class ExportJob(db.Model):
    """One requested export and, once done, where its file is."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint(f"kind IN {EXPORT_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {EXPORT_STATES!r}", name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        CheckConstraint("done BETWEEN 0 AND total", name="counts"),
        # A finished export always names its file, and a file is only ever named once the export is finished,
        # so a download can never hand out a half-written result.
        CheckConstraint("(status = 'done') = (sha256 IS NOT NULL)", name="result"),
        CheckConstraint("(sha256 IS NULL) = (filename IS NULL)", name="result_name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN", server_default="zh_CN")
    """The language of whoever asked: headers and coded values (kinds, outcomes) are written in it."""
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    """Moves with every progress step: a running job that has not moved for long was abandoned by its worker."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cycle: Mapped[Cycle] = relationship()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")
