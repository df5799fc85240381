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


def _broker_state() -> str:
    celery_conf = current_app.extensions["celery"].conf
    if celery_conf.task_always_eager:
        return "eager"
    try:
        with current_app.extensions["celery"].connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:  # noqa: BLE001
        return f"error: {type(error).__name__}"


@bp.route("/healthz")
@public
def healthz() -> object:
    """Load balancers and operators read this; 503 when the database is unreachable."""
    database, broker = _database_state(), _broker_state()
    healthy = database == "ok" and not broker.startswith("error")
    return jsonify(status="ok" if healthy else "degraded", database=database, broker=broker), (200 if healthy else 503)
