"""Celery tasks: ids in, one service call, safe to run twice.

Every job task runs through the one job runner (`review.services.jobs`): its row is claimed before the work and
closed after it, a lost worker's message comes back (`acks_late`, `reject_on_worker_lost`), and the sweeper sends
again what was lost. The kinds' services only have to be idempotent.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from celery import Task, shared_task
from flask import current_app
from flask_babel import lazy_gettext as _l

from review.services import (activity, assignment_runs, calendar, exports, intake, jobs, letters, settlements,
                             statements)


def job_task(kind: str, name: str, label: object, *, give_up: Callable[..., None] | None = None,
             revive: Callable[..., None] | None = None) -> Callable[[Callable[..., object]], Task]:
    """Register a kind of job and make its work a Celery task that runs through the job runner."""
    jobs.register(jobs.Kind(kind, name, label, give_up, revive))

    def decorate(work: Callable[..., object]) -> Task:
        def run(self: Task, *args: int | str) -> None:
            jobs.perform(self, list(args), lambda: work(*args))

        run.__doc__ = work.__doc__
        return shared_task(name=name, bind=True, acks_late=True, reject_on_worker_lost=True)(run)  # type: ignore[return-value]

    return decorate


@job_task("letter", "review.render_letter", _l("Decision letter"))
def render_letter(decision_id: int) -> None:
    letters.render_letter(decision_id)


@job_task("import", "review.run_import", _l("Case import"), give_up=intake.give_up, revive=intake.revive)
def run_import(job_id: int) -> None:
    intake.run_job(job_id)


@job_task("assignment", "review.run_assignment", _l("Panel assignment run"), give_up=assignment_runs.give_up,
          revive=assignment_runs.revive)
def run_assignment(job_id: int) -> None:
    assignment_runs.execute(job_id)


@job_task("export", "review.run_export", _l("Export"), give_up=exports.give_up, revive=exports.revive)
def run_export(job_id: int) -> None:
    exports.run(job_id)


@job_task("settlement", "review.draw_settlements", _l("Settlement drafts"), give_up=settlements.give_up,
          revive=settlements.revive)
def draw_settlements(run_id: int) -> None:
    settlements.run_drafts(run_id)


@job_task("statement", "review.render_statement", _l("Settlement statement"))
def render_statement(settlement_id: int) -> None:
    statements.render_statement(settlement_id)


@job_task("calendar", "review.run_calendar_day", _l("Quarterly calendar"))
def run_calendar_day(day: str) -> None:
    """One day of the calendar (windows, reminders, records missing); idempotent, as the calendar itself is."""
    calendar.run(date.fromisoformat(day))


@shared_task(name="review.run_calendar")
def run_calendar() -> None:
    """Daily (Celery beat): today's calendar in the bureau's time zone, queued as a job of its own, once a day."""
    jobs.submit(run_calendar_day, calendar.today_in_region().isoformat())


@shared_task(name="review.sweep_jobs")
def sweep_jobs() -> None:
    """Every JOB_SWEEP_SECONDS (Celery beat): send again the jobs that were lost or stalled."""
    jobs.sweep()


@shared_task(name="review.anchor_register")
def anchor_register() -> None:
    """Daily (Celery beat): each register chain's head, signed, appended to the day's file in REGISTER_ANCHOR_DIR.

    Not a job: it changes nothing in the database, and running it twice only writes the same heads twice."""
    activity.write_anchors(Path(current_app.config["REGISTER_ANCHOR_DIR"]))
