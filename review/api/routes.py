"""JSON endpoints. The hospital API (/api/v1, token auth) grows here; for now the health probe."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from review.auth import public
from review.extensions import db

bp = Blueprint("api", __name__)


def _database_state() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # noqa: BLE001 - any failure is reported, not raised
        db.session.rollback()
        return f"error: {type(error).__name__}"


def _redis_state() -> str:
    """Redis carries the task queue and the shared login throttle; without it pages still work (work waits in the
    job outbox, the throttle falls back to memory), but this node is degraded and the balancer should know."""
    celery_conf = current_app.extensions["celery"].conf
    if celery_conf.task_always_eager:
        return "not_used"
    try:
        with current_app.extensions["celery"].connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception:  # noqa: BLE001 - any failure means the queue cannot be reached
        return "down"


@bp.route("/healthz")
@public
def healthz() -> object:
    """Load balancers and operators read this; 503 when the database or Redis is unreachable."""
    database, redis = _database_state(), _redis_state()
    healthy = database == "ok" and redis != "down"
    return jsonify(status="ok" if healthy else "degraded", database=database, redis=redis), (200 if healthy else 503)
