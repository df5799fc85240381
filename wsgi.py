"""Entry point for gunicorn (`wsgi:app`), Celery (`celery -A wsgi worker`) and the flask CLI."""
from review import create_app

app = create_app()
celery_app = app.extensions["celery"]
