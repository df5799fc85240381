"""A real Celery worker consumes tasks from Redis: it computes the panel assignment run and renders the decision
letter PDF into the shared store."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from review import create_app
from review.config import PROJECT_ROOT, TestConfig
from review.extensions import db
from review.models import AssignmentJob, Decision
from tests.conftest import PG_URL, REDIS_URL, blank_database, make_config
from tests.pdftext import pdf_text
from workflows.money import format_fen

pytestmark = [pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set (CI always sets it)"), pytest.mark.wall_clock]


def _start_worker(database_url: str, upload_dir: Path, queue: str) -> subprocess.Popen:
    env = {**os.environ, "REVIEW_ENV": "production", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "UPLOAD_DIR": str(upload_dir), "SECRET_KEY": "worker-test", "CELERY_QUEUE": queue,
           "PUBLIC_BASE_URL": "https://ybj.example.gov.cn",
           "REGISTER_HMAC_KEY": TestConfig.REGISTER_HMAC_KEY, "REGISTER_ANCHOR_KEY": TestConfig.REGISTER_ANCHOR_KEY}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--pool=solo", "--loglevel=WARNING",
         "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(check, worker: subprocess.Popen, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        db.session.expire_all()
        found = check()
        if found:
            return found
        assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else "worker died"
        time.sleep(0.5)
    pytest.fail(f"the worker did not {what} within 90 s")


def test_worker_assigns_panels_and_renders_letter_from_redis(tmp_path: Path) -> None:
    database_url = blank_database("postgresql" if PG_URL else "sqlite", tmp_path / "worker.sqlite")
    queue = f"test-{os.getpid()}-{time.time_ns()}"
    upload_dir = tmp_path / "uploads"
    celery_conf = {**TestConfig.CELERY, "task_always_eager": False, "broker_url": REDIS_URL,
                   "task_default_queue": queue}
    app = create_app(make_config(database_url, upload_dir, CELERY=celery_conf))
    worker = _start_worker(database_url, upload_dir, queue)
    try:
        with app.app_context():
            db.create_all()
            from tests.factories import build_world
            from tests.integration.test_application_path import _apply, _review
            from review.services import assignment_runs, decisions

            world = build_world()
            item = _apply(world)
            job_id = assignment_runs.start(world.actors["staff"], world.cycle_id, "worker").id

            def run_done() -> AssignmentJob | None:
                job = db.session.get(AssignmentJob, job_id)
                return job if job.status == "done" else None

            def letter_rendered() -> Decision | None:
                decision = db.session.get(Decision, decision_id)
                return decision if decision.letter_document_id is not None else None

            run_id = _wait_for(run_done, worker, "compute the assignment run").run_id
            assignment_runs.apply(world.actors["staff"], job_id)
            assert assignment_runs.verify(run_id).ok
            db.session.refresh(item)
            decision_id = _review(world, item, [("approve", 0)] * 3).id
            decisions.open_reasons(world.actors["staff"], decision_id)
            decisions.issue(world.actors["staff"], decision_id)
            current = _wait_for(letter_rendered, worker, "render the letter")
            letter = current.letter
            data = (upload_dir / letter.sha256[:2] / letter.sha256[2:4] / letter.sha256).read_bytes()
            assert format_fen(current.amount_fen) in pdf_text(data)
            db.session.remove()
    finally:
        worker.terminate()
        worker.wait(timeout=20)
