"""A real Celery worker consumes the letter task from Redis and renders the PDF into the shared store."""
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
from review.models import Decision
from tests.conftest import PG_URL, REDIS_URL, empty_postgresql, make_config
from tests.pdftext import pdf_text
from workflows.money import format_fen

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set (CI always sets it)")


def _start_worker(database_url: str, upload_dir: Path, queue: str) -> subprocess.Popen:
    env = {**os.environ, "REVIEW_ENV": "production", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "UPLOAD_DIR": str(upload_dir), "SECRET_KEY": "worker-test", "CELERY_QUEUE": queue}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "wsgi:celery_app", "worker", "--pool=solo", "--loglevel=WARNING",
         "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_worker_renders_letter_from_redis(tmp_path: Path) -> None:
    if PG_URL:
        empty_postgresql(PG_URL)
        database_url = PG_URL
    else:
        database_url = f"sqlite:///{tmp_path / 'worker.sqlite'}"
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
            from review.services import decisions, panels

            world = build_world()
            item = _apply(world)
            panels.draw_cycle_panels(world.actors["staff"], world.cycle_id, "worker")
            db.session.refresh(item)
            decision = _review(world, item, [("approve", 0)] * 3)
            decisions.issue(world.actors["staff"], decision.id)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                db.session.expire_all()
                current = db.session.get(Decision, decision.id)
                if current.letter_document_id is not None:
                    break
                assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else "worker died"
                time.sleep(0.5)
            else:
                pytest.fail("the worker did not render the letter within 90 s")
            letter = current.letter
            data = (upload_dir / letter.sha256[:2] / letter.sha256[2:4] / letter.sha256).read_bytes()
            assert format_fen(current.amount_fen) in pdf_text(data)
            db.session.remove()
    finally:
        worker.terminate()
        worker.wait(timeout=20)
