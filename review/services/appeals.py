"""Appeals (复核申请, issue 13 §1): a hospital files once per case against the issued decision, within the deadline
the letter prints, with its grounds and files; an appeal panel without the first panel's experts reviews it
(`assignment_runs.start(..., kind="appeal")`); issuing its decision makes version n+1 (`decisions.publish`).

One appeal per item, not per version: the decision an appeal produces, and any correction after it, can only be
taken to administrative reconsideration or to court, and its letter says so (it prints no appeal deadline).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l

from review.documents import RejectedFile, StoredFile, clean_filename
from review.extensions import db
from review.messages import problem_text
from review.models import Appeal, Assignment, Decision, Document, ReviewItem
from review.models.appeal import GROUNDS_MIN
from review.redaction import redacted
from review.services import activity
from review.services.context import Actor, ServiceError, ValidationFailed
from review.services.cycles import region_today
from review.services.decisions import Reasons, get_decision, panel_reasons
from review.services.documents import store
from review.services.items import get_item, move, scoped
from workflows.problems import Problem
from workflows.states import STANDING_STATES, Action, Role, State

APPEAL_DOC_TYPE = "appeal_evidence"
GROUNDS_MAX = 5000


class AppealClosed(ServiceError):
    """The appeal window has passed; `deadline` is the last day it was open (the API returns it with the 409)."""

    def __init__(self, deadline: date) -> None:
        super().__init__(problem_text(Problem("appeal.too_late", deadline=deadline.isoformat())))
        self.deadline = deadline


@dataclass(frozen=True)
class AppealStanding:
    """What the item page shows about appealing its current decision."""

    decision: Decision
    appeal: Appeal | None
    deadline: date | None
    open: bool
    """Whether the hospital may file now (its form is shown only then)."""


def _appeal_of(item_id: int) -> Appeal | None:
    return db.session.scalars(db.select(Appeal).where(Appeal.item_id == item_id)).first()


def _refusal(item: ReviewItem, decision: Decision, today: date) -> ServiceError | None:
    """Why this decision cannot be appealed today, or None when it can."""
    if _appeal_of(item.id) is not None or decision.basis == "appeal":
        return ServiceError(problem_text(Problem("appeal.already_filed")))
    if (decision.status != "issued" or item.issued_version != decision.version
            or State(item.state) not in STANDING_STATES):
        return ServiceError(problem_text(Problem("appeal.not_open")))
    if decision.appeal_deadline is None:
        return ServiceError(problem_text(Problem("appeal.already_filed")))
    if today > decision.appeal_deadline:
        return AppealClosed(decision.appeal_deadline)
    return None


def standing(actor: Actor, item: ReviewItem, decision: Decision | None) -> AppealStanding | None:
    """The appeal side of an item's current decision as `actor` may see it."""
    if decision is None:
        return None
    appeal = _appeal_of(item.id)
    can_file = actor.role == Role.HOSPITAL and _refusal(item, decision, region_today(item.cycle.region)) is None
    return AppealStanding(decision=decision, appeal=appeal, deadline=decision.appeal_deadline, open=can_file)


def _store_files(files: Sequence[tuple[BinaryIO, str]]) -> list[tuple[StoredFile, str]]:
    """The bytes first, outside any lock, with the evidence upload's content checks (type by content, size)."""
    stored = []
    for stream, filename in files:
        name = clean_filename(filename)
        try:
            stored.append((store().put_stream(stream, current_app.config["UPLOAD_MAX_BYTES"]), name))
        except RejectedFile as error:
            _discard_unreferenced([s for s, _name in stored])
            raise ValidationFailed({"files": [str(_l("File %(name)s refused: %(why)s.", name=name, why=str(error)))]})
    return stored


def _discard_unreferenced(stored: Sequence[StoredFile]) -> None:
    for file in stored:
        if file.created and db.session.scalar(db.select(Document.id).where(
                Document.sha256 == file.sha256).limit(1)) is None:
            store().discard(file.sha256)


def file_appeal(actor: Actor, decision_id: int, grounds: str,
                files: Sequence[tuple[BinaryIO, str]] = ()) -> Appeal:
    """File the item's one appeal against its current decision, in time, with grounds and files.

    Checked again under the item's lock, so two clicks (or a browser and the API) cannot file twice; a refusal
    keeps no file and no row. The item moves to `appealed` and waits for an appeal run."""
    actor.require(Role.HOSPITAL)
    decision = get_decision(actor, decision_id)
    grounds = (grounds or "").strip()
    if len(grounds) < GROUNDS_MIN:
        raise ValidationFailed({"grounds": [problem_text(Problem("appeal.grounds_short", minimum=GROUNDS_MIN))]})
    if len(grounds) > GROUNDS_MAX:
        raise ValidationFailed({"grounds": [str(_l("At most %(n)s characters.", n=GROUNDS_MAX))]})
    cap = current_app.config["UPLOAD_MAX_FILES_PER_ITEM"]
    if len(files) > cap:
        raise ValidationFailed({"files": [str(_l("At most %(n)s files.", n=cap))]})
    stored = _store_files(files)
    try:
        appeal = _file(actor, decision, grounds, stored)
    except BaseException:
        db.session.rollback()
        _discard_unreferenced([s for s, _name in stored])
        raise
    return appeal


def _file(actor: Actor, decision: Decision, grounds: str, stored: list[tuple[StoredFile, str]]) -> Appeal:
    item = get_item(actor, decision.item_id, for_update=True)
    db.session.refresh(decision)
    refusal = _refusal(item, decision, region_today(item.cycle.region))
    if refusal is not None:
        raise refusal
    appeal = Appeal(decision_id=decision.id, item_id=item.id, hospital_id=item.hospital_id, grounds=grounds,
                    filed_by_id=actor.user_id)
    db.session.add(appeal)
    db.session.flush()
    for file, name in stored:
        db.session.add(Document(hospital_id=item.hospital_id, item_id=item.id, doc_type=APPEAL_DOC_TYPE, filename=name, content_type=file.content_type,
                                size_bytes=file.size_bytes, sha256=file.sha256, uploaded_by_id=actor.user_id))
    move(item, Action.APPEAL, actor, {"appeal_id": appeal.id, "decision_id": decision.id})
    activity.record(actor, "appeal.filed", "appeal", appeal.id, item.hospital_id, {
        "decision_id": decision.id, "version": decision.version, "files": len(stored),
        "deadline": decision.appeal_deadline.isoformat() if decision.appeal_deadline else None})
    db.session.commit()
    return appeal


@dataclass(frozen=True)
class AppealContext:
    """What an appeal panel's expert reads beside the scoresheet: the decision appealed against, its panel's
    reasons (as Expert A/B/C) and the hospital's grounds."""

    appeal: Appeal
    reasons: Reasons
    grounds: str
    """Masked like the application's reason: experts never read the case number or an identity card number."""


def appeal_context(actor: Actor, assignment: Assignment) -> AppealContext | None:
    """The appeal an appeal-panel seat is about; None for a first-review seat."""
    if assignment.round != 2:
        return None
    appeal = _appeal_of(assignment.item_id)
    if appeal is None:
        return None
    return AppealContext(appeal=appeal, reasons=panel_reasons(actor, appeal.decision),
                         grounds=redacted(appeal.grounds, appeal.item.case.case_no))


def appeal_documents(appeal: Appeal) -> list[Document]:
    """The files filed with the appeal: the item's documents of the appeal type (an item has one appeal at most,
    so the type names the appeal without a column that would tie documents, appeals and decisions in a cycle)."""
    return list(db.session.scalars(db.select(Document).where(
        Document.item_id == appeal.item_id, Document.doc_type == APPEAL_DOC_TYPE).order_by(Document.id)))


def for_item(actor: Actor, item_id: int) -> Appeal | None:
    """The item's appeal, for whoever may read the item."""
    return _appeal_of(get_item(actor, item_id).id)


def cycle_appeals(actor: Actor, cycle_id: int, state: str | None = None) -> list[Appeal]:
    """The office's list of a cycle's appeals, oldest first, optionally in one state."""
    actor.require(Role.STAFF, Role.ADMIN, Role.AUDITOR)
    query = scoped(actor, db.select(Appeal).join(ReviewItem, ReviewItem.id == Appeal.item_id)
                   .where(ReviewItem.cycle_id == cycle_id))
    if state:
        query = query.where(Appeal.state == state)
    return list(db.session.scalars(query.order_by(Appeal.filed_at, Appeal.id)))
