"""Entry point for gunicorn (`wsgi:app`), Celery (`celery -A wsgi:celery_app worker`) and the flask CLI.

Celery's `-A wsgi` looks for an attribute named `app` first and would find the Flask app, so the worker
command names `celery_app` explicitly.
"""
from review import create_app

app = create_app()
celery_app = app.extensions["celery"]
