"""The two-step register import screens (experts, hospitals): upload → preview → confirm, or upload → import.

"Check the file" keeps the upload under UPLOAD_DIR/import-previews (one per user and kind, a newer preview replaces
the older) and shows the service's plan: each row created or updated, with the changed fields, or the row errors.
"Import" on the preview imports that same kept file, checked again against the database as it is then, all or
nothing. An upload sent without asking for a preview is imported at once, as before.
"""
from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from review.auth import current_actor
from review.forms import attach_errors
from review.services.context import Actor, ValidationFailed
from review.services.table_import import Outcome, Plan

PREVIEW = "preview"
"""The value of the upload form's `step` button that asks for a preview instead of an import."""


@dataclass(frozen=True)
class ImportScreen:
    kind: str
    preview: Callable[[Actor, Path], Plan]
    commit: Callable[[Actor, Path, str], Outcome]
    """(actor, file, the name the user gave the file) → the outcome; commits when there is no row error."""
    page: Callable[..., object]
    """page(form, plan=None, outcome=None, token=None, file_name=None, status=200): the import page."""
    done: Callable[[Outcome], object]
    """The answer once the file is imported."""


def _folder() -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"]) / "import-previews"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _kept(kind: str, token: str) -> Path | None:
    if not token.isalnum() or len(token) > 64:
        return None
    path = _folder() / f"{current_user.id}-{kind}-{token}"
    return path if path.is_file() else None


def _keep(kind: str, upload: FileStorage) -> str:
    for older in _folder().glob(f"{current_user.id}-{kind}-*"):
        older.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    upload.save(_folder() / f"{current_user.id}-{kind}-{token}")
    return token


def _name(upload: FileStorage) -> str:
    return secure_filename(upload.filename or "") or "upload"


def _refused(screen: ImportScreen, form: FlaskForm, failure: ValidationFailed) -> object:
    for message in attach_errors(form, failure):
        flash(message, "error")
    return screen.page(form, status=422)


def _answer(screen: ImportScreen, form: FlaskForm, outcome: Outcome) -> object:
    if outcome.errors:
        flash(_("Nothing was imported: correct the rows listed below and import the whole file again."), "error")
        return screen.page(form, outcome=outcome, status=422)
    return screen.done(outcome)


def upload(screen: ImportScreen, form: FlaskForm) -> object:
    """The upload form's post (its file field is `file`): a preview, or the import itself."""
    if not form.validate_on_submit():
        return screen.page(form, status=422 if form.errors else 200)
    file: FileStorage = form.file.data  # type: ignore[attr-defined]
    if request.form.get("step") == PREVIEW:
        token = _keep(screen.kind, file)
        try:
            plan = screen.preview(current_actor(), _folder() / f"{current_user.id}-{screen.kind}-{token}")
        except ValidationFailed as failure:
            return _refused(screen, form, failure)
        return screen.page(form, plan=plan, token=None if plan.errors else token, file_name=_name(file),
                           status=422 if plan.errors else 200)
    # The readers sniff the format from the bytes and need a path; the original name is kept only so that the
    # register says which file was imported.
    with tempfile.TemporaryDirectory(prefix=f"{screen.kind}-import-") as folder:
        path = Path(folder) / _name(file)
        file.save(path)
        try:
            outcome = screen.commit(current_actor(), path, path.name)
        except ValidationFailed as failure:
            return _refused(screen, form, failure)
    return _answer(screen, form, outcome)


def confirm(screen: ImportScreen, form: FlaskForm) -> object:
    """The preview's "Import" button: the kept file, checked again and imported."""
    if not FlaskForm().validate_on_submit():  # the CSRF token of the preview's form
        flash(_("The form expired; please try again."), "error")
        return screen.page(form, status=422)
    path = _kept(screen.kind, request.form.get("token", ""))
    if path is None:
        flash(_("The checked file is no longer kept; upload it again."), "error")
        return screen.page(form, status=422)
    try:
        outcome = screen.commit(current_actor(), path, secure_filename(request.form.get("file_name", "")) or "upload")
    except ValidationFailed as failure:
        return _refused(screen, form, failure)
    finally:
        path.unlink(missing_ok=True)
    return _answer(screen, form, outcome)
