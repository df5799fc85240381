"""One runner for every background job (DESIGN §10.1 "Jobs"): imports, assignment runs, exports, letters, the calendar.

Seen before it existed: a killed worker left imports and assignment runs `running` forever, a killed pool child lost
its letter, and with Redis down an issued decision never got its letter. The rules that prevent each:

- **Outbox.** `enqueue` writes a `Job` row in the caller's transaction; the Celery message is sent only after that
  transaction commits (a session hook), and a send that fails (Redis down) only leaves the row waiting. The user's
  change stands either way.
- **Lease.** A worker runs a job only after claiming its row with a conditional update, under a fresh lease token.
  Every commit the worker makes while it runs the job re-checks the token in the same transaction and beats the
  heartbeat (a session hook), so a worker whose job was handed to another can never commit a second result.
- **Idempotent kinds.** Each kind's own service finds what an earlier run already did (a letter stored, an import or
  a run committed) and does not do it again; a run its dead predecessor left `running` is resumed.
- **Sweeper.** `sweep` (Celery beat, every JOB_SWEEP_SECONDS, and `flask jobs sweep`) sends again what was never
  sent, what was sent and never started (lost with its message), and what stopped beating (its worker died), until
  JOB_MAX_ATTEMPTS; then the job fails, the kind's record says so, and staff may retry it.
- **Files.** A run notes a file it puts in the store before recording it; the next run adopts it (letters) and the
  end of the job removes any noted file nothing refers to, so a kill between the two leaves no orphan.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import Task
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, Select, event, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from review.documents import StoredFile
from review.extensions import db
from review.models import Document, ExportJob, Job
from review.models.types import utcnow
from review.services import activity
from review.services.context import SYSTEM, Actor, NotFound, ServiceError
from review.services.documents import store
from workflows.problems import Problem
from workflows.states import Role

log = logging.getLogger(__name__)

READERS = (Role.STAFF, Role.ADMIN, Role.AUDITOR)
OFFICE = (Role.STAFF, Role.ADMIN)

_LEASE = "review.jobs.lease"
_OUTBOX = "review.jobs.outbox"
"""Keys in `Session.info`: the lease of the job this session runs, and the jobs to send once it commits."""


class LeaseLost(Exception):
    """The job was handed to another worker (this one was presumed dead): stop without committing anything."""


@dataclass(frozen=True)
class Kind:
    """A kind of job: its Celery task, its name for staff, and how its own record follows the runner's decisions."""

    name: str
    task: str
    label: object
    give_up: Callable[..., None] | None = None
    """Close the kind's record as failed, in the runner's transaction: called with the job's args and the
    `job.stopped` Problem that says why (worded when read, in the reader's language)."""
    revive: Callable[..., None] | None = None
    """Put the kind's record back in line when staff retry; may refuse with ServiceError (the retry is refused)."""


KINDS: dict[str, Kind] = {}
_BY_TASK: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    KINDS[kind.name] = kind
    _BY_TASK[kind.task] = kind


@dataclass(frozen=True)
class Lease:
    job_id: int
    token: str


def _purpose(kind: str, args: Sequence[object]) -> str:
    """`letter:17`: a kind and its ids as one string, the job's key and the tag of the files it puts in the store."""
    return ":".join([kind, *(str(arg) for arg in args)])


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=float(current_app.config[name]))


# --- the outbox: enqueue in the caller's transaction, send after it commits ------------------------------------


def enqueue(task: Task, *args: int | str, actor: Actor | None = None) -> Job:
    """Add the job to the caller's transaction; its message goes out when the caller commits. Asking again for
    work already asked for (the same kind and ids) returns the existing job."""
    kind = _BY_TASK[task.name]
    key = _purpose(kind.name, args)
    job = db.session.scalars(db.select(Job).where(Job.key == key)).first()
    if job is None:
        job = Job(kind=kind.name, key=key, args=list(args), max_attempts=int(current_app.config["JOB_MAX_ATTEMPTS"]),
                  dispatched_at=utcnow(), created_by_id=actor.user_id if actor else None)
        db.session.add(job)
        db.session.flush()
        _send_after_commit(job)
    return job


def submit(task: Task, *args: int | str) -> Job:
    """Enqueue and commit at once: for work that no business change comes with (the daily calendar)."""
    job = enqueue(task, *args)
    db.session.commit()
    return job


def _send_after_commit(job: Job) -> None:
    db.session.info.setdefault(_OUTBOX, {})[job.id] = (KINDS[job.kind].task, list(job.args))


def _send(job_id: int, task_name: str, args: list) -> None:
    """Hand the message to the broker; if that fails the row is marked unsent and the sweeper sends it."""
    try:
        current_app.extensions["celery"].tasks[task_name].delay(*args)
    except Exception:  # whatever the broker raised: the committed change must stand and the user see success
        log.warning("job %s (%s) could not be sent; it waits in the outbox for the sweeper", job_id, task_name,
                    exc_info=True)
        with db.engine.begin() as connection:
            connection.execute(update(Job).where(Job.id == job_id, Job.state == "queued").values(dispatched_at=None))


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the jobs are not committed yet
        return
    for job_id, (task_name, args) in session.info.pop(_OUTBOX, {}).items():
        _send(job_id, task_name, args)


@event.listens_for(Session, "after_transaction_end")
def _forget_outbox(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back transaction's jobs were never written: nothing to send."""
    if transaction.parent is None:
        session.info.pop(_OUTBOX, None)


# --- the worker: claim, heartbeat and fence, finish ------------------------------------------------------------


def _heartbeat(lease: Lease) -> object:
    return (update(Job).where(Job.id == lease.job_id, Job.lease == lease.token, Job.state == "running")
            .values(heartbeat_at=utcnow(), steps=Job.steps + 1).execution_options(synchronize_session=False))


def _current() -> Lease | None:
    return db.session.info.get(_LEASE)


def leased() -> bool:
    """True while this session runs a job for the runner: a kind's record left `running` by a dead run of the same
    job may then be resumed, since nothing else can hold it."""
    return _current() is not None


def beat(connection: Connection | None = None) -> None:
    """A progress step of the running job, written through `connection` when progress is written beside the job's
    own transaction; raises LeaseLost when the job was handed to another worker. Nothing outside a job."""
    lease = _current()
    if lease is not None:
        _beat(connection or db.session, lease)


def _beat(executor: Connection | Session, lease: Lease) -> None:
    if not executor.execute(_heartbeat(lease)).rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(f"job {lease.job_id} is no longer held by this worker")


@event.listens_for(Session, "before_commit")
def _fence(session: Session) -> None:
    """Every commit of a running job checks, in its own transaction, that the job is still this run's, and beats."""
    lease = session.info.get(_LEASE)
    if lease is not None and not session.in_nested_transaction():
        _beat(session, lease)


def perform(task: Task, args: list, work: Callable[[], object]) -> None:
    """Run one delivery of a job's message (the body of every job task): claim, work, then done or not."""
    kind = _BY_TASK[task.name]
    job_id = _ensure(kind, args)
    lease = _claim(job_id, task.request.id)
    if lease is None:
        log.info("job %s (%s): nothing to do, it is finished or held by a live worker", job_id, kind.name)
        return
    db.session.info[_LEASE] = lease
    error: Exception | None = None
    try:
        work()
    except Exception as raised:  # recorded on the job below; the runner, not Celery, decides about another try
        error = raised
    finally:
        db.session.info.pop(_LEASE, None)
        db.session.rollback()
    if isinstance(error, LeaseLost):
        log.warning("job %s (%s): handed to another worker while this one ran; stopped", job_id, kind.name)
    elif error is not None:
        log.error("job %s (%s) failed", job_id, kind.name, exc_info=error)
        _attempt_failed(lease, error)
    else:
        _finish(lease)


def _ensure(kind: Kind, args: list) -> int:
    """The job's row; a message with none (sent before the outbox existed) gets one now."""
    key = _purpose(kind.name, args)
    job_id = db.session.scalar(db.select(Job.id).where(Job.key == key))
    if job_id is not None:
        return job_id
    job = Job(kind=kind.name, key=key, args=list(args), max_attempts=int(current_app.config["JOB_MAX_ATTEMPTS"]),
              dispatched_at=utcnow())
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:  # another delivery wrote it first
        db.session.rollback()
        return db.session.scalars(db.select(Job.id).where(Job.key == key)).one()
    return job.id


def _claim(job_id: int, message_id: str | None) -> Lease | None:
    """Take a queued job, or a running one whose worker is gone: its heartbeat is stale, or the broker handed this
    same message back (a lost worker's, under reject_on_worker_lost)."""
    now = utcnow()
    token = uuid.uuid4().hex
    gone = Job.heartbeat_at < now - _seconds("JOB_STALE_AFTER_SECONDS")
    if message_id is not None:
        gone = gone | (Job.message_id == message_id)
    claimed = db.session.execute(
        update(Job).where(Job.id == job_id, Job.attempts < Job.max_attempts,
                          or_(Job.state == "queued", (Job.state == "running") & gone))
        .values(state="running", lease=token, worker=f"{socket.gethostname()}:{os.getpid()}", message_id=message_id,
                attempts=Job.attempts + 1, steps=0, started_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return Lease(job_id, token) if claimed else None


def _held(lease: Lease) -> Job | None:
    """The job, locked, if this run still holds it."""
    job = db.session.scalars(db.select(Job).where(Job.id == lease.job_id).with_for_update()).first()
    return job if job is not None and job.state == "running" and job.lease == lease.token else None


def _release(job: Job, state: str, now: datetime) -> None:
    job.state, job.lease, job.worker, job.message_id = state, None, None, None
    if state in ("done", "failed"):
        job.finished_at = now


def _finish(lease: Lease) -> None:
    job = _held(lease)
    if job is not None:
        _release(job, "done", utcnow())
        job.last_error = ""
        _remove_unrecorded_files(job)
    db.session.commit()


def _attempt_failed(lease: Lease, error: Exception) -> None:
    """The work raised: try again at the next sweep, or give up once the attempts are spent."""
    job = _held(lease)
    if job is None:
        db.session.commit()
        return
    why = Problem("job.error", error=f"{type(error).__name__}: {error}"[:2000])  # the program's own words
    if job.attempts >= job.max_attempts:
        _give_up(job, "error", why)
    else:
        _release(job, "queued", utcnow())
        job.dispatched_at, job.last_error = None, stored(why)  # unsent: the next sweep sends it again
        activity.record(SYSTEM, "job.attempt_failed", "job", job.id, None,
                        {"kind": job.kind, "attempt": job.attempts, "error": why.to_json()})
    db.session.commit()


def stored(problem: Problem) -> str:
    """A problem as a message column keeps it (JSON); `messages.stored_problem_text` words it when it is read."""
    return json.dumps(problem.to_json(), ensure_ascii=False)


def _give_up(job: Job, reason: str, why: Problem) -> None:
    _release(job, "failed", utcnow())
    job.last_error = stored(why)
    kind = KINDS[job.kind]
    if kind.give_up is not None:
        kind.give_up(*job.args, Problem("job.stopped", attempts=job.attempts, why_code=why.code, **why.params))
    _remove_unrecorded_files(job)
    activity.record(SYSTEM, "job.failed", "job", job.id, None, {"kind": job.kind, "args": job.args, "reason": reason,
                                                                 "attempts": job.attempts, "error": why.to_json()})


# --- files a run put in the store before recording them ---------------------------------------------------------


def note_file(sha256: str, kind: str, *args: object) -> None:
    """Record that the run is putting `sha256` in the store as the file of `kind` and ids (the letter of decision
    17: `"letter", 17`) before it records the file itself; committed at once, so a kill before the run's own
    commit leaves a trace. Nothing outside a job."""
    lease = _current()
    if lease is None:
        return
    entry = {"purpose": _purpose(kind, args), "sha256": sha256}
    with db.engine.begin() as connection:
        files = connection.scalar(db.select(Job.files).where(Job.id == lease.job_id)) or []
        if entry not in files:
            _beat(connection, lease)
            connection.execute(update(Job).where(Job.id == lease.job_id).values(files=[*files, entry]))


def unrecorded_file(kind: str, *args: object) -> str | None:
    """The file of `kind` and ids that an earlier run of the current job put in the store and did not record."""
    lease = _current()
    if lease is None:
        return None
    purpose = _purpose(kind, args)
    files = db.session.scalar(db.select(Job.files).where(Job.id == lease.job_id)) or []
    return next((entry["sha256"] for entry in reversed(files) if entry["purpose"] == purpose), None)


def percent_done(done: int, total: int) -> int:
    """A kind's progress as its page shows it while it runs; 100 is kept for the finished result."""
    return min(99, done * 100 // total) if total else 99


def rendered_once(kind: str, object_id: int, render: Callable[[], bytes]) -> tuple[StoredFile, bool]:
    """The PDF of `kind` and `object_id` in the store, and whether it was adopted: the file an earlier run of this
    job stored and did not live to record, when it is intact; else `render()`, noted on the job before it reaches
    the store, so a kill before the caller's record is committed leaves a file the next run finds."""
    sha256 = unrecorded_file(kind, object_id)
    path = store().path_for(sha256 or "")
    if sha256 is not None and path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
        return StoredFile(sha256=sha256, size_bytes=path.stat().st_size, content_type="application/pdf"), True
    pdf = render()
    note_file(hashlib.sha256(pdf).hexdigest(), kind, object_id)
    return store().put_bytes(pdf, max_bytes=len(pdf) + 1), False


def _remove_unrecorded_files(job: Job) -> None:
    """At the end of a job, a noted file that no document and no export refers to is an orphan: removed."""
    for sha256 in sorted({entry["sha256"] for entry in job.files or ()}):
        referenced = (db.session.scalar(db.select(Document.id).where(Document.sha256 == sha256).limit(1))
                      or db.session.scalar(db.select(ExportJob.id).where(ExportJob.sha256 == sha256).limit(1)))
        path = store().path_for(sha256)
        if referenced is None and path.exists():
            path.unlink()
            activity.record(SYSTEM, "job.file_removed", "job", job.id, None, {"kind": job.kind, "sha256": sha256})
    job.files = []


# --- the sweeper -------------------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def sweep() -> SweepReport:
    """Send again every job whose message was never sent, was lost, or whose worker stopped beating; give up on
    those out of attempts. Safe to run anywhere and often: rows are locked (skipping those another sweep holds) and
    a message sent twice runs once."""
    now = utcnow()
    lost_before = now - _seconds("JOB_LOST_AFTER_SECONDS")
    query = db.select(Job).where(or_(
        (Job.state == "running") & (Job.heartbeat_at < now - _seconds("JOB_STALE_AFTER_SECONDS")),
        (Job.state == "queued") & or_(Job.dispatched_at.is_(None), Job.dispatched_at < lost_before)),
    ).order_by(Job.id).with_for_update(skip_locked=True)
    report = SweepReport()
    for job in db.session.scalars(query):
        if job.state == "running":
            reason = "stalled"
            why = Problem("job.stalled", worker=job.worker or "", heartbeat=f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S}")
        elif job.dispatched_at is None:
            reason, why = "not_sent", Problem("job.not_sent")
        else:
            reason, why = "lost", Problem("job.lost")
            job.attempts += 1
        if reason != "not_sent" and job.attempts >= job.max_attempts:
            _give_up(job, reason, why)
            report.failed.append(job.id)
            continue
        _release(job, "queued", now)
        job.dispatched_at = now
        if reason != "not_sent":
            job.last_error = stored(why)
        activity.record(SYSTEM, "job.resent", "job", job.id, None,
                        {"kind": job.kind, "args": job.args, "reason": reason, "attempts": job.attempts})
        _send_after_commit(job)
        report.sent.append(job.id)
    db.session.commit()
    return report


# --- staff: the failed jobs and their retry ----------------------------------------------------------------------


def listing(actor: Actor, state: str) -> Select:
    """Jobs in `state`, newest first, for the staff page."""
    actor.require(*READERS)
    return db.select(Job).where(Job.state == state).order_by(Job.id.desc())


def counts(actor: Actor) -> dict[str, int]:
    actor.require(*READERS)
    return {state: int(n) for state, n in db.session.execute(db.select(Job.state, db.func.count()).group_by(Job.state))}


def retry(actor: Actor, job_id: int) -> Job:
    """Put a failed job back in line with fresh attempts, through the same runner; its kind's record follows."""
    actor.require(*OFFICE)
    job = db.session.scalars(db.select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise NotFound(_l("No such job."))
    if job.state != "failed":
        raise ServiceError(_l("Only a failed job can be retried."))
    kind = KINDS[job.kind]
    if kind.revive is not None:
        kind.revive(*job.args)
    error = json.loads(job.last_error) if job.last_error.startswith("{") else job.last_error  # stored before codes
    activity.record(actor, "job.retried", "job", job.id, None,
                    {"kind": job.kind, "args": job.args, "attempts": job.attempts, "error": error})
    job.state, job.attempts, job.steps, job.last_error = "queued", 0, 0, ""
    job.dispatched_at, job.started_at, job.heartbeat_at, job.finished_at = utcnow(), None, None, None
    _send_after_commit(job)
    db.session.commit()
    return job
