"""Bulk case intake: a file, an API batch or the operator's command line, all through `import_rows`.

Rows are parsed and grouped first, then written in one transaction: in all-or-nothing mode any error
writes nothing; otherwise the valid rows are written and every rejected row is reported with its row
number, column and the problem (a code and its parameters, worded when the report is read, in the reader's
language: DESIGN §10.1). Rows already recorded (same hospital, case number and discharge
date) are skipped, so importing the same file twice creates no duplicates.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, text, update

from review.documents import BlobStore, RejectedFile
from review.extensions import db
from review.intake.parallel import checked_rows
from review.messages import problem_text
from review.intake.readers import FileRejected, Table, open_table, rows_as_dicts
from review.models import Case, Hospital, ImportJob, Policy
from review.models.types import utcnow
from review.services import activity, applications, jobs
from review.services.cases import grouper, warning_records
from review.services.catalogue import RegionWeights
from review.services.context import HIDDEN, Actor, ServiceError, ValidationFailed
from review.services.scope import get_hospital_owned
from workflows.intake import CaseRow, HeaderError, RowError, duplicate_key, map_headers, parse_row
from workflows.payment import drg_payment_fen
from workflows.problems import Problem
from workflows.row_check import RowRules
from workflows.states import Role

MODES = ("all_or_nothing", "valid_rows")
INSERT_BATCH = 2000
PREVIEW_ROWS = 10

Progress = Callable[[int, int], bool]
"""Called with (rows done, rows rejected so far); returning False cancels the import."""


class ImportCancelled(Exception):
    pass


@dataclass
class ImportOutcome:
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    applications: int = 0
    errors: list[RowError] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    committed: bool = True


@dataclass(frozen=True)
class _Valid:
    row: CaseRow
    drg: str
    mcc_codes: tuple[str, ...]
    warnings: list[dict[str, str | None]]


def _hospital(actor: Actor) -> Hospital:
    actor.require(Role.HOSPITAL)
    hospital = db.session.get(Hospital, actor.hospital_id)
    if hospital is None:
        raise ServiceError(_l("Your account is not linked to a hospital."))
    return hospital


def _row_rules(policy: Policy) -> RowRules:
    """The figures of the current policy a row is checked against (intake belongs to no cycle)."""
    return RowRules(policy.max_case_cost_fen, frozenset(policy.blocking_code_edits or ()))


def _validate(rows: Iterable[tuple[int, dict[str, str]]], weights: RegionWeights, rules: RowRules,
              progress: Progress | None, every: int) -> tuple[list[_Valid], list[RowError], int]:
    """Check every row (in several processes for large inputs); a repeat of an earlier row of the same input
    is an error naming that row."""
    valid: list[_Valid] = []
    errors: list[RowError] = []
    rejected_rows: set[int] = set()
    first_seen: dict[tuple[str, object], int] = {}
    count = 0
    for count, check in enumerate(checked_rows(rows, grouper(), current_app.config["IMPORT_WORKERS"], rules),
                                  start=1):
        row_errors = list(check.errors)
        parsed = check.parsed
        if parsed is not None:
            key = duplicate_key(parsed)
            if key in first_seen:
                row_errors = [RowError(check.row, "case_no", Problem(
                    "import.repeated_row", case_no=parsed.case_no, discharge_date=parsed.discharge_date.isoformat(),
                    first_row=first_seen[key]), parsed.case_no)]
            else:
                first_seen[key] = check.row
                if check.drg is not None and check.drg not in weights.table(parsed.discharge_date):
                    row_errors = [RowError(check.row, "principal_dx", Problem("import.no_weight", drg=check.drg),
                                           check.drg)]
                elif not row_errors and check.drg is not None:
                    valid.append(_Valid(parsed, check.drg, check.mcc_codes, warning_records(check.warnings)))
        if row_errors:
            errors.extend(row_errors)
            rejected_rows.add(check.row)
        if progress is not None and count % every == 0 and not progress(count, len(rejected_rows)):
            raise ImportCancelled
    if progress is not None and not progress(count, len(rejected_rows)):
        raise ImportCancelled  # the last chance to cancel: nothing has been written yet
    return valid, errors, count


def _already_recorded(hospital_id: int, valid: list[_Valid]) -> dict[tuple[str, object], int]:
    found: dict[tuple[str, object], int] = {}
    numbers = sorted({v.row.case_no for v in valid})
    for start in range(0, len(numbers), 500):
        chunk = numbers[start:start + 500]
        for case_id, case_no, discharge in db.session.execute(
                db.select(Case.id, Case.case_no, Case.discharge_date).where(
                    Case.hospital_id == hospital_id, Case.case_no.in_(chunk))):
            found[(case_no, discharge)] = case_id
    return found


def _insert(actor: Actor, hospital: Hospital, new: list[_Valid], weights: RegionWeights,
            job_id: int | None) -> list[int]:
    base_rate = hospital.region.current_policy().base_rate_fen
    coefficient = Decimal(hospital.coefficient)
    weight = {id(v): weights.table(v.row.discharge_date)[v.drg] for v in new}
    prices = {value: drg_payment_fen(value, base_rate, coefficient) for value in set(weight.values())}
    now = utcnow()
    records = [{
        "hospital_id": hospital.id, "case_no": v.row.case_no, "age": v.row.age, "sex": v.row.sex.value,
        "admission_date": v.row.admission_date, "discharge_date": v.row.discharge_date,
        "los_days": v.row.los_days, "principal_dx": v.row.principal_dx,
        "secondary_dx": list(v.row.secondary_dx), "procedures": list(v.row.procedures),
        "total_cost_fen": v.row.total_cost_fen, "cost_breakdown": dict(v.row.cost_breakdown),
        "icu_days": v.row.icu_days, "birth_weight_grams": v.row.birth_weight_grams, "mcc_codes": list(v.mcc_codes),
        "code_warnings": v.warnings,
        "hospital_drg": v.row.hospital_drg, "drg": v.drg,
        "drg_weight": weight[id(v)], "drg_payment_fen": prices[weight[id(v)]], "grouper_version": grouper().version,
        "created_at": now, "created_by_id": actor.user_id, "import_job_id": job_id,
    } for v in new]
    if not records:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return _copy_postgresql(records)
    ids: list[int] = []
    for start in range(0, len(records), INSERT_BATCH):
        ids.extend(db.session.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True),
                                      records[start:start + INSERT_BATCH]))
    return ids


def _copy_postgresql(records: list[dict]) -> list[int]:
    """COPY is several times faster than multi-row INSERT for large files; ids are drawn from the
    sequence first so the caller still learns which id each row got."""
    connection = db.session.connection()
    ids = list(connection.execute(text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) "
                                       "FROM generate_series(1, :n)"), {"n": len(records)}).scalars())
    columns = ["id", *records[0]]
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY cases ({', '.join(columns)}) FROM STDIN") as copy:
            for case_id, record in zip(ids, records):
                copy.write_row([case_id, *(_copy_value(value) for value in record.values())])
    return ids


def _copy_value(value: object) -> object:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None)  # stored as naive UTC, as UTCDateTime does
    return value


def import_rows(actor: Actor, rows: Iterable[tuple[int, Mapping[str, str]]], *, mode: str,
                job: ImportJob | None = None, progress: Progress | None = None, every: int = 1000) -> ImportOutcome:
    """Import rows for the actor's hospital in one transaction; see the module docstring for the rules."""
    if mode not in MODES:
        raise ValidationFailed({"mode": [str(_l("Choose all-or-nothing or accept valid rows."))]})
    hospital = _hospital(actor)
    weights = RegionWeights(hospital.region_id)  # each case priced with its quarter's catalogue version
    valid, errors, total = _validate(rows, weights, _row_rules(hospital.region.current_policy()), progress, every)
    recorded = _already_recorded(hospital.id, valid)
    new = [v for v in valid if duplicate_key(v.row) not in recorded]
    outcome = ImportOutcome(rejected=len({e.row for e in errors}), skipped=len(valid) - len(new), errors=errors)
    if errors and mode == "all_or_nothing":
        return _finish(actor, hospital, outcome, job, total, committed=False)
    outcome.case_ids = _insert(actor, hospital, new, weights, job.id if job else None)
    outcome.accepted = len(new)
    requests = [applications.ApplicationRequest(v.row.row, case_id, v.row.category, v.row.reason or "")
                for v, case_id in zip(new, outcome.case_ids) if v.row.category]
    if requests:
        cases = {c.id: c for c in db.session.scalars(db.select(Case).where(
            Case.id.in_([r.case_id for r in requests])))}
        planned, refused = applications.plan_many(actor, requests, cases)
        all_or_nothing = mode == "all_or_nothing"
        for row_number, (column, problem) in sorted(refused.items()):
            outcome.errors.append(RowError(row_number, column, Problem(
                "import.application_refused" if all_or_nothing else "import.application_not_made",
                why_code=problem.code, **problem.params), ""))
        if refused and all_or_nothing:
            db.session.rollback()  # the cases inserted above go too: all or nothing
            outcome.accepted, outcome.case_ids = 0, []
            outcome.rejected = len({e.row for e in outcome.errors})
            return _finish(actor, hospital, outcome, job, total, committed=False)
        outcome.applications = len(applications.create_many(actor, planned, cases))
    return _finish(actor, hospital, outcome, job, total, committed=True)


def _finish(actor: Actor, hospital: Hospital, outcome: ImportOutcome, job: ImportJob | None, total: int,
            committed: bool) -> ImportOutcome:
    outcome.committed = committed
    summary = {"rows": total, "accepted": outcome.accepted, "rejected": outcome.rejected,
               "skipped": outcome.skipped, "applications": outcome.applications, "committed": committed}
    activity.record(actor, "cases.imported" if committed else "cases.import_refused", "import_job",
                    job.id if job else None, hospital.id, summary)
    if job is not None:
        job.status = "done" if committed else "failed"
        job.total_rows = job.processed_rows = total
        job.accepted, job.rejected, job.skipped = outcome.accepted, outcome.rejected, outcome.skipped
        job.applications = outcome.applications
        job.errors = [error.to_json() for error in outcome.errors]
        job.message = "" if committed else jobs.stored(Problem("import.nothing_imported"))
        job.finished_at = utcnow()
    db.session.commit()
    return outcome


# --- files -------------------------------------------------------------------------------------------

def import_store() -> BlobStore:
    return BlobStore(Path(current_app.config["UPLOAD_DIR"]) / "imports")


def _accept_any(head: bytes) -> str | None:
    """Import files are recognised later by the reader, which knows CSV encodings and workbooks."""
    return "application/octet-stream"


def _open(job: ImportJob) -> tuple[Table, dict[int, str]]:
    """The job's file and its column mapping; raises FileRejected or HeaderError."""
    table = open_table(import_store().path_for(job.sha256), max_bytes=current_app.config["IMPORT_MAX_BYTES"],
                       max_rows=current_app.config["IMPORT_MAX_ROWS"])
    return table, map_headers(table.headers)


def _file_refused(error: FileRejected) -> ValidationFailed:
    return ValidationFailed({"file": [problem_text(error.problem)]})


def open_job_table(job: ImportJob) -> tuple[Table, dict[int, str]]:
    """As `_open`, for a person waiting on the answer: a refusal is a form error in their language."""
    try:
        return _open(job)
    except FileRejected as error:
        raise _file_refused(error) from error
    except HeaderError as error:
        raise ValidationFailed({"file": [str(_l("The columns do not match the template: %(why)s",
                                                 why="; ".join(problem_text(p) for p in error.problems)))]}) from error


def upload(actor: Actor, stream: BinaryIO, filename: str) -> ImportJob:
    """Keep the file and check that it can be read and its columns are known; nothing else is written yet."""
    hospital = _hospital(actor)
    try:
        stored = import_store().put_stream(stream, current_app.config["IMPORT_MAX_BYTES"], sniffer=_accept_any,
                                           limit_message=str(_l("the file is larger than the import limit")))
    except RejectedFile as error:
        raise ValidationFailed({"file": [str(_l("The file was refused: %(why)s.", why=str(error)))]}) from error
    job = ImportJob(hospital_id=hospital.id, created_by_id=actor.user_id, filename=Path(filename).name[:255] or "upload",
                    sha256=stored.sha256, mode="valid_rows", status="uploaded")
    try:
        open_job_table(job)
    except ValidationFailed:
        _discard_unreferenced(stored.sha256)
        raise
    db.session.add(job)
    db.session.flush()
    activity.record(actor, "import.uploaded", "import_job", job.id, hospital.id,
                    {"filename": job.filename, "sha256": stored.sha256, "size": stored.size_bytes})
    db.session.commit()
    return job


def _discard_unreferenced(sha256: str) -> None:
    if db.session.scalar(db.select(ImportJob.id).where(ImportJob.sha256 == sha256)) is None:
        path = import_store().path_for(sha256)
        if path.exists():
            os.unlink(path)


def get_job(actor: Actor, job_id: int) -> ImportJob:
    return get_hospital_owned(actor, ImportJob, job_id, HIDDEN)


def preview(job: ImportJob) -> list[tuple[int, dict[str, str], list[RowError]]]:
    """The first rows as the import will read them, with the problems each has (grouping not included)."""
    table, mapping = open_job_table(job)
    max_cost = db.session.get_one(Hospital, job.hospital_id).region.current_policy().max_case_cost_fen
    shown = []
    try:
        for row_number, values in rows_as_dicts(table, mapping):
            parsed = parse_row(row_number, values, max_cost)
            shown.append((row_number, values, parsed if isinstance(parsed, list) else []))
            if len(shown) >= PREVIEW_ROWS:
                break
    except FileRejected as error:
        raise _file_refused(error) from error
    return shown


def start(actor: Actor, job_id: int, mode: str) -> ImportJob:
    if mode not in MODES:
        raise ValidationFailed({"mode": [str(_l("Choose all-or-nothing or accept valid rows."))]})
    job = get_job(actor, job_id)
    actor.require(Role.HOSPITAL)
    if job.status != "uploaded":
        raise ServiceError(_l("This import has already been started."))
    job.mode, job.status = mode, "queued"
    activity.record(actor, "import.started", "import_job", job.id, job.hospital_id, {"mode": mode})
    from review.tasks import run_import  # here, not at the top: the task module imports this one

    jobs.enqueue(run_import, job.id, actor=actor)  # committed with the start, sent after it
    db.session.commit()
    return job


def cancel(actor: Actor, job_id: int) -> ImportJob:
    job = get_job(actor, job_id)
    actor.require(Role.HOSPITAL)
    if job.finished:
        raise ServiceError(_l("This import has already finished."))
    job.cancel_requested = True
    activity.record(actor, "import.cancel_requested", "import_job", job.id, job.hospital_id)
    db.session.commit()
    return job


def _count_rows(job: ImportJob) -> int:
    table, mapping = _open(job)
    return sum(1 for _ in rows_as_dicts(table, mapping))


def run_job(job_id: int) -> None:
    """Worker side; claims the job with a conditional update so a redelivered task never runs it twice. Under the
    job runner an import its killed predecessor left `running` is resumed: the cases and the result are committed
    together at the end, so nothing of that run was kept."""
    claimable = ("queued", "running") if jobs.leased() else ("queued",)
    claimed = db.session.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status.in_(claimable))
                                 .values(status="running")).rowcount
    db.session.commit()
    if not claimed:
        return
    job = db.session.get(ImportJob, job_id)
    assert job is not None
    owner = job.created_by_id
    actor = Actor(user_id=owner, role=Role.HOSPITAL, hospital_id=job.hospital_id)
    engine = db.engine

    def report(done: int, rejected: int) -> bool:
        """Progress goes through its own connection so the page sees it while the import's transaction runs."""
        with engine.begin() as connection:
            connection.execute(update(ImportJob).where(ImportJob.id == job_id)
                               .values(processed_rows=done, rejected=rejected))
            jobs.beat(connection)
            return not connection.scalar(db.select(ImportJob.cancel_requested).where(ImportJob.id == job_id))

    try:
        total = _count_rows(job)
        with engine.begin() as connection:
            connection.execute(update(ImportJob).where(ImportJob.id == job_id).values(total_rows=total))
        table, mapping = _open(job)
        import_rows(actor, rows_as_dicts(table, mapping), mode=job.mode, job=job, progress=report, every=250)
    except ImportCancelled:
        _close(job_id, "cancelled", Problem("import.cancelled"))
    except FileRejected as error:  # found deep in the file (row limit, a broken CSV record): nothing written
        _close(job_id, "failed", error.problem)
    except HeaderError as error:
        _close(job_id, "failed", Problem("import.columns_mismatch"),
               [RowError(1, "", problem, "") for problem in error.problems])
    except (ValidationFailed, ServiceError) as error:  # worded by the service, in the worker's language
        _close(job_id, "failed", Problem("import.refused", why=str(getattr(error, "errors", None) or error.message)))
    except Exception:
        db.session.rollback()  # the job runner tries again, and closes the import when it gives up
        raise


def _close(job_id: int, status: str, problem: Problem, errors: Iterable[RowError] = ()) -> None:
    db.session.rollback()
    _end(job_id, status, problem, errors)
    db.session.commit()


def _end(job_id: int, status: str, problem: Problem, errors: Iterable[RowError] = ()) -> None:
    job = db.session.get(ImportJob, job_id)
    assert job is not None
    job.status, job.message, job.finished_at = status, jobs.stored(problem), utcnow()
    if errors:
        job.errors = [error.to_json() for error in errors]
    activity.record(Actor(user_id=job.created_by_id, role=Role.HOSPITAL, hospital_id=job.hospital_id),
                    f"import.{status}", "import_job", job.id, job.hospital_id, {"problem": problem.to_json()})


def give_up(job_id: int, stopped: Problem) -> None:
    """The job runner stopped trying (the worker kept dying, or the import kept failing); in its transaction.
    Its reason is the runner's, carried as a code."""
    _end(job_id, "failed", Problem("import.stopped", **stopped.params))


def revive(job_id: int) -> None:
    """Staff retry the job: the import waits to start again, from the first row."""
    job = db.session.get(ImportJob, job_id)
    assert job is not None
    job.status, job.message, job.finished_at, job.processed_rows, job.rejected = "queued", "", None, 0, 0


def iter_errors(job: ImportJob) -> Iterator[Mapping[str, object]]:
    """The job's stored errors, each {row, column, value, problem} (or, from before problems, a message)."""
    return iter(job.errors or ())
