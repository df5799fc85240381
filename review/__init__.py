"""The Flask application: the imperative shell around the pure `workflows` core."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from review.config import CONFIGS, PROJECT_ROOT


def _select_locale() -> str:
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI commands and tasks speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: object, connection_record: object) -> None:
    """SQLite enforces foreign keys only when asked, and WAL lets the web and a worker share the file."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def create_app(config: object | None = None) -> Flask:
    """Build an app for `config`: a config object, a name in CONFIGS, or REVIEW_ENV (default embedded)."""
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"),
                static_folder=str(PROJECT_ROOT / "static"), instance_path=str(PROJECT_ROOT / "instance"))
    if config is None:
        config = os.environ.get("REVIEW_ENV", "embedded")
    if isinstance(config, str):
        config_class = CONFIGS[config]
        config = config_class()
    from review.web import RecordIdConverter, limit_request_body

    app.url_map.converters["int"] = RecordIdConverter  # before any route is added
    app.config.from_object(config)
    if isinstance(config, dict):
        app.config.update(config)
    if app.config["PROXY_FIX_HOPS"] > 0:  # trust exactly that many proxies' X-Forwarded-For/-Proto, no more
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    Path(app.config["UPLOAD_DIR"] or app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)

    from review.extensions import babel, celery_init_app, csrf, db, limiter, login_manager, migrate

    app.before_request(limit_request_body)  # before the CSRF check, which reads the form
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale,
                   default_translation_directories=str(PROJECT_ROOT / "review" / "translations"))
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    celery_init_app(app)

    from review import models  # noqa: F401  (register tables)
    from review import tasks  # noqa: F401  (register tasks)
    from review.api.routes import bp as api_bp
    from review.api.v1 import bp as api_v1_bp
    from review.auth import bp as auth_bp
    from review.expert.routes import bp as expert_bp
    from review.hospital.routes import bp as hospital_bp
    from review.shared_routes import bp as shared_bp
    from review.staff.routes import bp as staff_bp
    from review.verify import bp as verify_bp

    for blueprint in (auth_bp, shared_bp, hospital_bp, expert_bp, staff_bp, api_bp, api_v1_bp, verify_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)
    csrf.exempt(api_v1_bp)  # token-authenticated JSON, no cookies

    from review.cli import register_cli
    from review.web import register_web

    register_cli(app)
    register_web(app)
    return app
