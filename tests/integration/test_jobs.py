"""The one job runner, on SQLite and PostgreSQL, through the services and the real Celery client.

A broker that is down is a Redis URL on a closed port; a message lost on its way is one sent to the in-memory
transport that no worker reads; a worker killed halfway is the state it leaves behind (the job running under its
lease, its heartbeat stopping). The real kills, with a real worker, are in test_worker_faults.py.
"""
from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import ANY

import time_machine
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import update

from review import messages
from review.extensions import celery_init_app, db
from review.models import ActivityLog, AssignmentJob, Case, Decision, ExportJob, ImportJob, Job
from review.models.types import utcnow
from review.pdf import html_to_pdf
from review.services import activity, assignment_runs, decisions, exports, intake, jobs, letters
from review.services.context import SYSTEM
from review.services.documents import store
from review.tasks import render_letter, run_calendar, run_import
from tests.e2e.test_walkthrough import login
from tests.integration.test_application_path import _apply
from tests.integration.test_decision_queue import APPROVE, make_decisions
from tests.integration.test_intake import csv_bytes, rows


@contextmanager
def broker(app: Flask, url: str) -> Iterator[None]:
    """Tasks go to a real broker client at `url` instead of running eagerly, as in production."""
    eager_config, eager_celery = app.config["CELERY"], app.extensions["celery"]
    app.config["CELERY"] = {**eager_config, "task_always_eager": False, "broker_url": url}
    celery_init_app(app)
    try:
        yield
    finally:
        app.config["CELERY"] = eager_config
        app.extensions["celery"] = eager_celery
        eager_celery.set_default()


def redis_down() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there any more


LOST = "memory://"  # accepted, and never read by any worker


@contextmanager
def later(app: Flask, setting: str) -> Iterator[None]:
    """The clock moved just past one of the runner's periods."""
    with time_machine.travel(utcnow() + timedelta(seconds=app.config[setting] + 1), tick=False):  # clock-ok: frozen
        yield


def outbox(kind: str, *args: object) -> Job:
    db.session.expire_all()
    return db.session.scalars(db.select(Job).where(Job.key == ":".join([kind, *map(str, args)]))).one()


def killed_while_running(job: Job) -> None:
    """What a worker killed halfway leaves: the job claimed under its lease, the heartbeat at the moment it died."""
    job.state, job.lease, job.worker, job.message_id = "running", "lease-of-a-dead-worker", "gone:1", "its-message"
    job.attempts += 1
    job.started_at = job.heartbeat_at = utcnow()  # clock-ok: frozen
    db.session.commit()


def actions(prefix: str) -> list[str]:
    return list(db.session.scalars(db.select(ActivityLog.action).where(ActivityLog.action.startswith(prefix))
                                   .order_by(ActivityLog.id)))


def stored_files(app: Flask) -> set[str]:
    return {p.name for p in store().root.rglob("*") if p.is_file() and "imports" not in p.parts}


def test_a_decision_issued_while_redis_is_down_gets_its_letter_from_the_sweeper(world, app) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    with broker(app, redis_down()):
        decisions.open_reasons(world.actors["staff"], decision_id)
        decision = decisions.issue(world.actors["staff"], decision_id)  # no error reaches the office
    assert decision.status == "issued" and decision.letter_document_id is None
    assert actions("ledger.posted") and actions("item.issue")
    job = outbox("letter", decision_id)
    assert (job.state, job.dispatched_at, job.attempts) == ("queued", None, 0)  # committed with the issue, unsent
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])  # Redis is back
    assert result.exit_code == 0 and f"jobs sent again: {job.id};" in result.output
    db.session.expire_all()
    assert db.session.get(Decision, decision_id).letter_document_id is not None
    assert (outbox("letter", decision_id).state, outbox("letter", decision_id).attempts) == ("done", 1)
    assert jobs.sweep().sent == []
    assert actions("job.") == ["job.resent"] and actions("letter.rendered") == ["letter.rendered"]


def test_a_rolled_back_change_sends_nothing_and_a_committed_one_runs_once(world) -> None:  # type: ignore[no-untyped-def]
    upload = intake.upload(world.actors["hosp1"], io.BytesIO(csv_bytes(rows({}, {}))), "q3.csv")
    db.session.get(ImportJob, upload.id).status = "queued"
    jobs.enqueue(run_import, upload.id)
    db.session.rollback()  # the change that asked for the job did not happen: neither does the job
    assert db.session.scalar(db.select(db.func.count(Job.id))) == 0
    assert db.session.get(ImportJob, upload.id).status == "uploaded"
    intake.start(world.actors["hosp1"], upload.id, "valid_rows")  # eager in tests: sent at commit, runs at once
    job = outbox("import", upload.id)
    assert (job.state, job.attempts) == ("done", 1) and job.steps >= 1  # progress steps beat the heartbeat
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 2


def test_a_lost_message_is_sent_again_once_it_is_overdue(world, app) -> None:  # type: ignore[no-untyped-def]
    upload = intake.upload(world.actors["hosp1"], io.BytesIO(csv_bytes(rows({}, {}))), "q3.csv")
    with broker(app, LOST):
        intake.start(world.actors["hosp1"], upload.id, "valid_rows")
    job = outbox("import", upload.id)
    assert job.state == "queued" and job.dispatched_at is not None
    assert jobs.sweep().sent == []  # sent a moment ago: a worker may still pick it up
    with later(app, "JOB_LOST_AFTER_SECONDS"):
        assert jobs.sweep().sent == [job.id]
    job = outbox("import", upload.id)
    assert (job.state, job.attempts) == ("done", 2)  # the lost delivery counts as an attempt
    assert db.session.get(ImportJob, upload.id).accepted == 2


def test_an_import_whose_worker_died_is_resumed_and_imports_once(world, app) -> None:  # type: ignore[no-untyped-def]
    upload = intake.upload(world.actors["hosp1"], io.BytesIO(csv_bytes(rows({}, {}, {}))), "q3.csv")
    with broker(app, LOST):
        intake.start(world.actors["hosp1"], upload.id, "valid_rows")
    killed_while_running(outbox("import", upload.id))
    db.session.execute(update(ImportJob).where(ImportJob.id == upload.id).values(status="running", processed_rows=2))
    db.session.commit()
    assert jobs.sweep().sent == []  # the heartbeat is fresh: the worker may be alive
    with later(app, "JOB_STALE_AFTER_SECONDS"):
        assert jobs.sweep().sent == [outbox("import", upload.id).id]
    imported = db.session.get(ImportJob, upload.id)
    assert (imported.status, imported.accepted) == ("done", 3)
    finished_at = imported.finished_at
    run_import.delay(upload.id)  # the dead worker's own message, handed back by Redis an hour later
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 3
    assert db.session.get(ImportJob, upload.id).finished_at == finished_at
    assert actions("cases.imported") == ["cases.imported"]
    job = outbox("import", upload.id)
    assert (job.state, job.attempts, job.lease) == ("done", 2, None)
    assert db.session.scalars(db.select(ActivityLog.data).where(ActivityLog.action == "job.resent")).one()[
        "reason"] == "stalled"


def test_an_assignment_whose_workers_keep_dying_fails_at_the_limit_and_frees_the_cycle(world, app) -> None:  # type: ignore[no-untyped-def]
    app.config["JOB_MAX_ATTEMPTS"] = 2
    _apply(world)
    with broker(app, LOST):
        started = assignment_runs.start(world.actors["staff"], world.cycle_id, "1")
        for _attempt in range(2):
            killed_while_running(outbox("assignment", started.id))
            db.session.get(AssignmentJob, started.id).status = "running"
            db.session.commit()
            with later(app, "JOB_STALE_AFTER_SECONDS"):
                report = jobs.sweep()
    job = outbox("assignment", started.id)
    assert report.failed == [job.id] and (job.state, job.attempts) == ("failed", 2)
    assert json.loads(job.last_error) == {"code": "job.stalled", "params": {"worker": "gone:1",
                                                                          "heartbeat": ANY}}  # worded when read
    run_job = db.session.get(AssignmentJob, started.id)
    assert run_job.status == "failed"
    with force_locale("en"):
        assert messages.stored_problem_text(run_job.message).startswith(
            "stopped after 2 attempt(s): the worker gone:1 stopped beating (last heartbeat ")
    assert actions("job.") == ["job.resent", "job.failed"]
    again = assignment_runs.start(world.actors["staff"], world.cycle_id, "2")  # no longer "already in progress"
    assert db.session.get(AssignmentJob, again.id).status == "done"


def test_a_job_that_keeps_raising_is_retried_by_the_sweeper_then_failed(world, app) -> None:  # type: ignore[no-untyped-def]
    app.config["JOB_MAX_ATTEMPTS"] = 2
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    db.session.get(Decision, decision_id).outcome = "regrouped"  # an application outcome no letter exists for
    db.session.commit()
    decisions.open_reasons(world.actors["staff"], decision_id)
    decisions.issue(world.actors["staff"], decision_id)  # the letter fails in the worker, not in the office's request
    job = outbox("letter", decision_id)
    assert (job.state, job.dispatched_at, job.attempts) == ("queued", None, 1)
    assert "UnknownLetterKind" in job.last_error
    assert jobs.sweep().sent == [job.id]
    job = outbox("letter", decision_id)
    assert (job.state, job.attempts) == ("failed", 2) and "UnknownLetterKind" in job.last_error
    assert actions("job.") == ["job.attempt_failed", "job.resent", "job.failed"]
    assert jobs.sweep().sent == []


def test_a_letter_stored_but_not_recorded_is_adopted_not_rendered_again(world, app) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    with broker(app, LOST):
        decisions.open_reasons(world.actors["staff"], decision_id)
        decisions.issue(world.actors["staff"], decision_id)
    # the worker rendered and stored the PDF, noted it, and was killed before the Document row was committed
    decision = db.session.get(Decision, decision_id)
    pdf = html_to_pdf(letters.letter_html(decision, letters.stored_locale())) + b"\n% the dead worker's copy\n"
    orphan = store().put_bytes(pdf, max_bytes=len(pdf) + 1).sha256
    job = outbox("letter", decision_id)
    job.files = [{"purpose": f"letter:{decision_id}", "sha256": orphan}]
    killed_while_running(job)
    with later(app, "JOB_STALE_AFTER_SECONDS"):
        jobs.sweep()
    decision = db.session.get(Decision, decision_id)
    assert decision.letter.sha256 == orphan and stored_files(app) == {orphan}
    rendered = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "letter.rendered")).one()
    assert rendered.data["adopted"] is True
    assert outbox("letter", decision_id).files == []


def test_a_file_left_by_a_dead_run_is_removed_when_the_job_ends(world, app) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    decisions.open_reasons(world.actors["staff"], decision_id)
    decisions.issue(world.actors["staff"], decision_id)
    with broker(app, LOST):
        export = exports.start(world.actors["staff"], world.cycle_id, "decisions_csv")
    partial = b"\xef\xbb\xbfHospital code,the dead worker's half-written table"
    orphan = store().put_stream(io.BytesIO(partial), len(partial) + 1, sniffer=lambda head: "text/csv").sha256
    job = outbox("export", export.id)
    job.files = [{"purpose": f"export:{export.id}", "sha256": orphan}]
    killed_while_running(job)
    db.session.get(ExportJob, export.id).status = "running"
    db.session.commit()
    with later(app, "JOB_STALE_AFTER_SECONDS"):
        jobs.sweep()
    built = db.session.get(ExportJob, export.id)
    assert built.status == "done" and built.sha256 != orphan
    assert orphan not in stored_files(app) and built.sha256 in stored_files(app)
    removed = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "job.file_removed")).one()
    assert removed.data["sha256"] == orphan


def test_a_worker_whose_job_was_handed_on_cannot_commit(world) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    decisions.open_reasons(world.actors["staff"], decision_id)
    decisions.issue(world.actors["staff"], decision_id)
    job = outbox("letter", decision_id)
    job.state = "queued"
    db.session.commit()

    def work_after_the_sweeper_gave_the_job_to_another_worker() -> None:
        with db.engine.begin() as other:
            other.execute(update(Job).where(Job.id == job.id).values(lease="another-worker"))
        activity.record(SYSTEM, "letter.rendered", "decision", decision_id, None, {"late": True})
        db.session.commit()

    jobs.perform(render_letter, [decision_id], work_after_the_sweeper_gave_the_job_to_another_worker)
    assert not [row for row in db.session.scalars(db.select(ActivityLog).where(
        ActivityLog.action == "letter.rendered")) if row.data.get("late")]
    job = outbox("letter", decision_id)
    assert (job.state, job.lease) == ("running", "another-worker")  # left to the worker that holds it


def test_staff_see_failed_jobs_and_retry_them(world, app, client) -> None:  # type: ignore[no-untyped-def]
    app.config["JOB_MAX_ATTEMPTS"] = 1
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    with broker(app, LOST):
        decisions.open_reasons(world.actors["staff"], decision_id)
        decisions.issue(world.actors["staff"], decision_id)
    job = outbox("letter", decision_id)
    killed_while_running(job)
    with later(app, "JOB_STALE_AFTER_SECONDS"):
        assert jobs.sweep().failed == [job.id]
    login(client, "auditor")
    page = client.get("/staff/jobs").text
    assert "Background jobs" in page and "Decision letter" in page and "stopped beating" in page
    assert "Retry" not in page
    assert client.post(f"/staff/jobs/{job.id}/retry").status_code == 403
    login(client, "hosp1")
    assert client.get("/staff/jobs").status_code == 403
    login(client, "staff")
    assert "Retry" in client.get("/staff/jobs").text
    assert client.post(f"/staff/jobs/{job.id}/retry").status_code == 302
    job = outbox("letter", decision_id)
    assert (job.state, job.attempts) == ("done", 1)
    assert db.session.get(Decision, decision_id).letter_document_id is not None
    retried = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "job.retried")).one()
    assert retried.actor_id == world.users["staff"] and retried.data["error"]["code"] == "job.stalled"
    assert "No jobs in this state." in client.get("/staff/jobs").text


def test_the_daily_calendar_runs_as_one_job_a_day(world) -> None:  # type: ignore[no-untyped-def]
    run_calendar.delay()
    run_calendar.delay()  # beat firing twice, or a second beat process
    calendar_jobs = db.session.scalars(db.select(Job).where(Job.kind == "calendar")).all()
    assert [(job.state, job.attempts) for job in calendar_jobs] == [("done", 1)]
    assert actions("cycle.application_window_opened") == ["cycle.application_window_opened"]
