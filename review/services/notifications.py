"""Notices to hospitals and users, kept in the database and, where configured, written to an outbox folder."""
from __future__ import annotations

from pathlib import Path

from flask import current_app
from flask_babel import force_locale

from review.extensions import db
from review.messages import notice_text
from review.models import Notification
from review.models.types import utcnow
from workflows.problems import Problem


def notify(*, kind: str, dedupe_key: str, hospital_id: int | None = None, user_id: int | None = None,
           **params: object) -> Notification | None:
    """Add a notice once per `dedupe_key` (the caller commits); a repeat returns None and sends nothing.

    The notice is stored as its kind and parameters (ids, codes, counts, ISO dates), never as sentences, so each
    reader sees it in their own language; the outbox copy is worded in the bureau's default language.
    """
    if db.session.scalar(db.select(Notification.id).where(Notification.dedupe_key == dedupe_key)) is not None:
        return None
    notice = Notification(kind=kind, dedupe_key=dedupe_key, params=Problem(kind, **params).params,
                          hospital_id=hospital_id, user_id=user_id)
    db.session.add(notice)
    db.session.flush()
    outbox = current_app.config.get("OUTBOX_DIR")
    if outbox:
        folder = Path(outbox)
        folder.mkdir(parents=True, exist_ok=True)
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            subject, body = notice_text(notice)
        (folder / f"{utcnow():%Y%m%dT%H%M%S}-{notice.id}.txt").write_text(
            f"To: hospital {hospital_id or '-'} user {user_id or '-'}\nSubject: {subject}\n\n{body}\n", encoding="utf-8")
    return notice


def for_hospital(hospital_id: int, limit: int = 10) -> list[Notification]:
    return list(db.session.scalars(db.select(Notification).where(Notification.hospital_id == hospital_id)
                                   .order_by(Notification.id.desc()).limit(limit)))


def for_user(user_id: int, limit: int = 10) -> list[Notification]:
    return list(db.session.scalars(db.select(Notification).where(Notification.user_id == user_id)
                                   .order_by(Notification.id.desc()).limit(limit)))
