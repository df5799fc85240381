"""Celery tasks: ids in, one service call, safe to run twice."""
from __future__ import annotations

from celery import shared_task

from review.services import assignment_runs, calendar, exports, intake, letters


@shared_task(name="review.render_letter", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def render_letter(decision_id: int) -> int | None:
    return letters.render_letter(decision_id)


@shared_task(name="review.run_import")
def run_import(job_id: int) -> None:
    intake.run_job(job_id)


@shared_task(name="review.run_calendar")
def run_calendar() -> None:
    """Daily (Celery beat): the calendar for today in the bureau's time zone."""
    calendar.run(calendar.today_in_region())


@shared_task(name="review.run_assignment")
def run_assignment(job_id: int) -> int | None:
    return assignment_runs.execute(job_id)


@shared_task(name="review.run_export")
def run_export(job_id: int) -> None:
    exports.run(job_id)
