"""Bulk exports of a cycle's issued decisions: every letter in one ZIP, or the decisions as a CSV or XLSX table.

The office sends the letters to hospitals and the finance office in batches, and reports the quarter's decisions
upward; both are a whole cycle at once, which is too much work for a request. `start` records the request and
enqueues `review.run_export`; `run` (in the worker) builds the file with progress committed as it goes and keeps
it in the content-addressed file store, from where only an authorised view hands it out.

The tables are opened in Excel by people who did not write their contents; review/spreadsheets.py writes them so
that no cell runs as a formula.
"""
from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, NamedTuple

from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, update

from review import labels
from review.extensions import db
from review.spreadsheets import DAY, MINUTE, Cell, local_time, money, write_csv, write_xlsx
from review.models import Case, Cycle, Decision, Document, ExportJob, Hospital, Region, ReviewItem
from review.models.exports import EXPORT_KINDS
from review.models.types import utcnow
from review.services import activity, jobs, letters
from review.services.context import SYSTEM, Actor, NotFound, ServiceError, ValidationFailed
from review.services.documents import store
from workflows.problems import Problem, ProblemError
from workflows.states import Role

READERS = (Role.STAFF, Role.ADMIN, Role.AUDITOR)
"""Exporting reads; the auditor, who reads everything, may export too."""

STALE_AFTER = timedelta(minutes=15)
"""A running job whose progress has not moved for this long lost its worker (killed, redeployed); a redelivered
task may take it over. Far above the slowest single step, which is rendering one missing letter."""

TABLE_PROGRESS_EVERY = 500
CONTENT_TYPES = {
    "letters_zip": "application/zip",
    "decisions_csv": "text/csv; charset=utf-8",
    "decisions_xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS = {"letters_zip": "letters.zip", "decisions_csv": "decisions.csv", "decisions_xlsx": "decisions.xlsx"}
_MAGIC = {
    "letters_zip": (b"PK\x03\x04", b"PK\x05\x06"),  # a ZIP, or the empty ZIP of a cycle without letters
    "decisions_csv": (b"\xef\xbb\xbf",),  # the BOM we write first
    "decisions_xlsx": (b"PK\x03\x04",),
}

HEADERS = (
    _l("Hospital code"), _l("Hospital"), _l("Case number"), _l("Cycle"), _l("Review kind"), _l("Outcome"),
    _l("Decision version"), _l("DRG before"), _l("DRG after"), _l("Total cost (yuan)"), _l("DRG payment (yuan)"),
    _l("DRG payment after (yuan)"), _l("Unreasonable cost deducted (yuan)"), _l("Adjustment (yuan)"),
    _l("Adjustment type"), _l("Issued at"), _l("Appeal deadline"), _l("Letter reference"), _l("Verification code"),
)
"""In the language of whoever asked for the export (`ExportJob.locale`), like the kinds, outcomes and adjustment
types in the rows: the bureau's finance office reads the file as it is."""
_WIDTHS = (12, 28, 20, 10, 16, 24, 8, 10, 10, 16, 16, 16, 16, 16, 12, 18, 14, 20)


class ExportFailed(ProblemError):
    """A refusal found while building (a letter that cannot be rendered, a stored file gone): the job ends failed
    with this problem and nothing is stored, because an export silently missing letters is worse than none."""


# --- requests: start, read, download -----------------------------------------------------------------


def start(actor: Actor, cycle_id: int, kind: str, locale: str = "zh_CN") -> ExportJob:
    """Record the request, log it, commit, then enqueue the build; a second request for an export of the same
    cycle and kind still being built returns that job instead of building the same file twice."""
    actor.require(*READERS)
    if kind not in EXPORT_KINDS:
        raise ValidationFailed({"kind": [str(_l("Choose what to export."))]})
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(_l("No such cycle."))
    building = db.session.scalars(db.select(ExportJob).where(
        ExportJob.cycle_id == cycle.id, ExportJob.kind == kind, ExportJob.locale == locale,
        ExportJob.status.in_(("queued", "running")),
        ExportJob.updated_at >= utcnow() - STALE_AFTER).order_by(ExportJob.id.desc())).first()
    if building is not None:
        return building
    count = issued_count(cycle.id)
    if not count:
        raise ServiceError(_l("No decision of this cycle has been issued yet; there is nothing to export."))
    job = ExportJob(cycle_id=cycle.id, kind=kind, locale=locale, created_by_id=actor.user_id, total=count)
    db.session.add(job)
    db.session.flush()
    activity.record(actor, "export.requested", "export_job", job.id, None,
                    {"cycle": cycle.code, "kind": kind, "decisions": count})
    job_id = job.id
    from review.tasks import run_export  # here, not at the top: the task module imports this one

    jobs.enqueue(run_export, job_id, actor=actor)  # committed with the request, sent after it
    # Nothing is read between the commit (which sends the task) and the return: an eager task runs in its own
    # session, and a read here would pin this session to a snapshot from before the export.
    db.session.commit()
    return db.session.get(ExportJob, job_id)  # type: ignore[return-value]


def get_job(actor: Actor, job_id: int) -> ExportJob:
    actor.require(*READERS)
    job = db.session.get(ExportJob, job_id)
    if job is None:
        raise NotFound(_l("No such export."))
    return job


def open_result(actor: Actor, job_id: int) -> tuple[ExportJob, Path]:
    """The finished file, for the download view only; a job not done yet has nothing to hand out."""
    job = get_job(actor, job_id)
    if job.status != "done" or job.sha256 is None:
        raise NotFound(_l("This export is not ready."))
    path = store().path_for(job.sha256)
    if not path.exists():
        raise NotFound(_l("The stored file is missing; please start the export again."))
    return job, path


def recent_jobs(cycle_id: int, limit: int = 10) -> list[ExportJob]:
    return list(db.session.scalars(db.select(ExportJob).where(ExportJob.cycle_id == cycle_id)
                                   .order_by(ExportJob.id.desc()).limit(limit)))


def _issued(cycle_id: int) -> Select:
    return (db.select(Decision).join(ReviewItem, ReviewItem.id == Decision.item_id)
            .where(ReviewItem.cycle_id == cycle_id, Decision.status == "issued"))


def issued_count(cycle_id: int) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(_issued(cycle_id).subquery())) or 0


# --- the worker ----------------------------------------------------------------------------------------


def run(job_id: int) -> None:
    """Build the export of a queued job (Celery); idempotent: a job already done, failed or being built by a live
    worker is left alone, so a redelivered task never builds a second file."""
    if not _claim(job_id):
        db.session.rollback()
        return
    job = db.session.get(ExportJob, job_id)
    assert job is not None
    kind, cycle_id = job.kind, job.cycle_id
    builder = _BUILDERS[kind]
    try:
        with tempfile.TemporaryFile() as output, force_locale(job.locale):
            count = builder(job, output)
            size = output.tell()
            output.seek(0)
            magic = _MAGIC[kind]
            stored = store().put_stream(output, max_bytes=size + 1,  # type: ignore[arg-type]
                                        sniffer=lambda head: CONTENT_TYPES[kind] if head.startswith(magic) else None)
    except ExportFailed as failure:
        _fail(job_id, failure.problem)
        return
    except Exception:
        db.session.rollback()  # the job runner tries again, and fails the export visibly when it gives up
        raise
    jobs.note_file(stored.sha256, "export", job_id)
    job = db.session.get(ExportJob, job_id)
    assert job is not None
    cycle_code = db.session.scalar(db.select(Cycle.code).where(Cycle.id == cycle_id)) or str(cycle_id)
    job.status, job.progress, job.done, job.finished_at = "done", 100, count, utcnow()
    job.total = max(job.total, count)
    job.sha256, job.size_bytes, job.content_type = stored.sha256, stored.size_bytes, CONTENT_TYPES[kind]
    job.filename = f"{_safe_part(cycle_code)}-{EXTENSIONS[kind]}"
    activity.record(SYSTEM, "export.done", "export_job", job.id, None,
                    {"kind": kind, "decisions": count, "sha256": stored.sha256, "size": stored.size_bytes})
    db.session.commit()


def _claim(job_id: int) -> bool:
    """A conditional update, so two deliveries of the same task cannot both build: only a queued job, or a
    running one whose worker has gone silent for STALE_AFTER (or, under the job runner, whose worker died: nothing
    else can hold it then), is taken."""
    now = utcnow()
    abandoned = ExportJob.status == "running"
    if not jobs.leased():
        abandoned = abandoned & (ExportJob.updated_at < now - STALE_AFTER)
    claimed = db.session.execute(
        update(ExportJob).where(ExportJob.id == job_id, or_(ExportJob.status == "queued", abandoned))
        .values(status="running", started_at=now, updated_at=now, progress=0, done=0, message="")
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(claimed)


def _fail(job_id: int, why: Problem) -> None:
    db.session.rollback()
    give_up(job_id, why)
    db.session.commit()


def give_up(job_id: int, why: Problem) -> None:
    """The export ends failed with nothing stored; also what the job runner calls, in its transaction, when it
    stops trying. The reason is kept as a code, worded in the reader's language."""
    job = db.session.get(ExportJob, job_id)
    assert job is not None
    job.status, job.message, job.finished_at = "failed", jobs.stored(why), utcnow()
    activity.record(SYSTEM, "export.failed", "export_job", job.id, None, {"kind": job.kind, "problem": why.to_json()})


def revive(job_id: int) -> None:
    """Staff retry the job: the export waits to be built again."""
    job = db.session.get(ExportJob, job_id)
    assert job is not None
    job.status, job.message, job.finished_at, job.progress, job.done = "queued", "", None, 0, 0


def _advance(job: ExportJob, done: int, total: int) -> None:
    """Committed at once, so the page polling the status sees it; 100 is kept for the stored result."""
    job.done, job.total = done, max(total, done)
    job.progress = jobs.percent_done(done, total)
    db.session.commit()


# --- rows ----------------------------------------------------------------------------------------------


class DecisionRow(NamedTuple):
    decision_id: int
    hospital_code: str
    hospital_name: str
    case_no: str
    cycle_code: str
    kind: str
    outcome: str
    version: int
    drg: str
    drg_after: str | None
    total_cost_fen: int
    drg_payment_fen: int
    drg_payment_after_fen: int | None
    deduction_fen: int
    amount_fen: int
    issued_at: datetime | None
    appeal_deadline: date | None
    letter_ref_zh: str | None
    letter_ref_en: str | None
    verification_code: str
    timezone: str


def decision_rows(cycle_id: int) -> list[DecisionRow]:
    """Every issued decision of the cycle (every issued version: an appeal's new decision is a row of its own),
    by hospital, case number and version, as plain values so that progress commits cannot expire them."""
    query = (db.select(Decision.id, Hospital.code, Hospital.name_zh, Case.case_no, Cycle.code, ReviewItem.kind,
                       Decision.outcome, Decision.version, Decision.drg, Decision.drg_after, Decision.total_cost_fen,
                       Decision.drg_payment_fen, Decision.drg_payment_after_fen, Decision.deduction_fen,
                       Decision.amount_fen, Decision.issued_at, Decision.appeal_deadline, Decision.letter_ref_zh,
                       Decision.letter_ref_en, Decision.verification_code, Region.timezone)
             .join(ReviewItem, ReviewItem.id == Decision.item_id)
             .join(Case, Case.id == ReviewItem.case_id)
             .join(Hospital, Hospital.id == ReviewItem.hospital_id)
             .join(Cycle, Cycle.id == ReviewItem.cycle_id)
             .join(Region, Region.id == Cycle.region_id)
             .where(ReviewItem.cycle_id == cycle_id, Decision.status == "issued")
             .order_by(Hospital.code, Case.case_no, ReviewItem.kind, Decision.version, Decision.id))
    return [DecisionRow(*row) for row in db.session.execute(query)]


def adjustment_type(amount_fen: int) -> str:
    return "supplement" if amount_fen > 0 else "recovery" if amount_fen < 0 else "none"


def _row_cells(row: DecisionRow) -> list[Cell]:
    return [
        Cell(row.hospital_code), Cell(row.hospital_name), Cell(row.case_no), Cell(row.cycle_code),
        Cell(str(labels.ITEM_KIND.get(row.kind, row.kind))), Cell(str(labels.OUTCOME.get(row.outcome, row.outcome))),
        Cell(row.version), Cell(row.drg), Cell(row.drg_after or ""),
        money(row.total_cost_fen), money(row.drg_payment_fen),
        money(row.drg_payment_after_fen), money(row.deduction_fen),
        money(row.amount_fen),
        Cell(str(labels.ADJUSTMENT_TYPE[adjustment_type(row.amount_fen)])),
        Cell(local_time(row.issued_at, row.timezone), MINUTE),
        Cell(row.appeal_deadline, DAY), Cell(_letter_ref(row)), Cell(row.verification_code),
    ]


def _letter_ref(row: DecisionRow) -> str:
    """The 文号 as the export's language prints it (fixed at issue in both)."""
    locale = get_locale()
    return (row.letter_ref_zh if locale is not None and locale.language == "zh" else row.letter_ref_en) or ""


def _rows(job: ExportJob) -> Iterator[list[Cell]]:
    """The cycle's decisions as cells, with progress committed every TABLE_PROGRESS_EVERY rows."""
    rows = decision_rows(job.cycle_id)
    total = len(rows)
    _advance(job, 0, total)
    for number, row in enumerate(rows, start=1):
        yield _row_cells(row)
        if number % TABLE_PROGRESS_EVERY == 0:
            _advance(job, number, total)


def build_csv(job: ExportJob, output: IO[bytes]) -> int:
    return write_csv(HEADERS, _rows(job), output)


def build_xlsx(job: ExportJob, output: IO[bytes]) -> int:
    return write_xlsx("Decisions", HEADERS, _WIDTHS, _rows(job), output)


# --- letters -------------------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def _safe_part(text: str) -> str:
    """One path component that cannot climb out of its folder or break a file system: a case number is the
    hospital's own text and may hold a slash, two dots or a control character."""
    cleaned = _UNSAFE_NAME.sub("_", text).strip(" .")
    return cleaned[:80] or "_"


def letter_entry_name(hospital_code: str, case_no: str, version: int, taken: set[str], decision_id: int) -> str:
    """`{hospital code}/{case number}-v{version}.pdf`; the rare second decision of the same case and version (a
    special-case application and a record review of the same discharge) gets its decision id appended."""
    name = f"{_safe_part(hospital_code)}/{_safe_part(case_no)}-v{version}.pdf"
    if name in taken:
        name = f"{_safe_part(hospital_code)}/{_safe_part(case_no)}-v{version}-d{decision_id}.pdf"
    taken.add(name)
    return name


def build_letters_zip(job: ExportJob, output: IO[bytes]) -> int:
    """The stored letter of every issued decision, rendering any not rendered yet (a letter task still queued or
    lost). Entries carry the letter's issue time, so the same letters always make the same ZIP."""
    rows = decision_rows(job.cycle_id)
    total = len(rows)
    _advance(job, 0, total)
    taken: set[str] = set()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, row in enumerate(rows, start=1):
            path = _letter_path(row)
            moment = local_time(row.issued_at, row.timezone) or datetime(1980, 1, 1)
            info = zipfile.ZipInfo(letter_entry_name(row.hospital_code, row.case_no, row.version, taken,
                                                     row.decision_id),
                                   date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as letter, archive.open(info, "w") as entry:
                while chunk := letter.read(1024 * 1024):
                    entry.write(chunk)
            _advance(job, number, total)
    return total


def _letter_path(row: DecisionRow) -> Path:
    document_id = db.session.scalar(db.select(Decision.letter_document_id).where(Decision.id == row.decision_id))
    if document_id is None:
        try:
            document_id = letters.render_letter(row.decision_id)
        except Exception as error:
            db.session.rollback()
            raise ExportFailed("export.letter_unrendered", case_no=row.case_no, hospital=row.hospital_code,
                               version=row.version, error=f"{type(error).__name__}: {error}"[:500]) from error
        if document_id is None:
            raise ExportFailed("export.decision_not_issued", case_no=row.case_no, hospital=row.hospital_code)
    sha256 = db.session.scalar(db.select(Document.sha256).where(Document.id == document_id))
    path = store().path_for(sha256 or "")
    if sha256 is None or not path.exists():
        raise ExportFailed("export.letter_missing", case_no=row.case_no, hospital=row.hospital_code,
                           version=row.version)
    return path


_BUILDERS: dict[str, Callable[[ExportJob, IO[bytes]], int]] = {
    "letters_zip": build_letters_zip,
    "decisions_csv": build_csv,
    "decisions_xlsx": build_xlsx,
}
