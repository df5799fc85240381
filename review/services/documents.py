"""Evidence uploads and authorised reads of stored documents."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l

from review import labels
from review.documents import EXTENSIONS, BlobStore, RejectedFile, StoredFile, clean_filename
from review.extensions import db
from review.models import Document, ReviewItem
from review.services import activity
from review.services.context import HIDDEN, Actor, NotFound, ServiceError, ValidationFailed
from review.services.items import get_item
from workflows.policy import EVIDENCE_KINDS
from workflows.states import Role, State

EVIDENCE_TYPES = EVIDENCE_KINDS
LETTER_TYPE = "decision_letter"
UPLOAD_STATES = {State.DRAFT, State.SUBMITTED, State.SCREENED, State.RETURNED, State.QUEUED,
                 State.SELECTED, State.AWAITING_RECORDS}


def store() -> BlobStore:
    return BlobStore(current_app.config["UPLOAD_DIR"])


def upload_evidence(actor: Actor, item_id: int, stream: BinaryIO, filename: str, doc_type: str) -> Document:
    """Attach one file to the hospital's own item; a refused file leaves no row and no bytes behind.

    The bytes are stored first, outside any lock; then the item row is locked, so that its state and the
    per-item file cap are checked and the document inserted in one transaction: concurrent uploads wait for
    each other and cannot pass the cap together."""
    actor.require(Role.HOSPITAL)
    get_item(actor, item_id)
    if doc_type not in EVIDENCE_TYPES:
        raise ValidationFailed({"doc_type": [str(_l("Choose the document type."))]})
    name = clean_filename(filename)
    try:
        stored = store().put_stream(stream, current_app.config["UPLOAD_MAX_BYTES"])
    except RejectedFile as error:
        raise ValidationFailed({"files": [str(_l("File %(name)s refused: %(why)s.", name=name, why=str(error)))]})
    try:
        return _attach(actor, item_id, stored, name, doc_type)
    except BaseException:
        db.session.rollback()
        if stored.created and db.session.scalar(db.select(Document.id).where(
                Document.sha256 == stored.sha256).limit(1)) is None:
            store().discard(stored.sha256)
        raise


def _attach(actor: Actor, item_id: int, stored: StoredFile, filename: str, doc_type: str) -> Document:
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.id == item_id).with_for_update()
                              .execution_options(populate_existing=True)).one()
    if State(item.state) not in UPLOAD_STATES:
        raise ServiceError(_l("Evidence can no longer be added: the item is already with the panel."))
    cap = current_app.config["UPLOAD_MAX_FILES_PER_ITEM"]
    if db.session.scalar(db.select(db.func.count(Document.id)).where(Document.item_id == item.id)) >= cap:
        raise ServiceError(_l("This item already has the maximum of %(n)s files.", n=cap))
    document = Document(hospital_id=item.hospital_id, item_id=item.id, doc_type=doc_type, filename=filename,
                        content_type=stored.content_type, size_bytes=stored.size_bytes, sha256=stored.sha256,
                        uploaded_by_id=actor.user_id)
    db.session.add(document)
    db.session.flush()
    activity.record(actor, "document.uploaded", "document", document.id, item.hospital_id,
                    {"item_id": item.id, "doc_type": doc_type, "sha256": stored.sha256, "size": stored.size_bytes})
    db.session.commit()
    return document


def open_document(actor: Actor, document_id: int) -> tuple[Document, Path]:
    """A document is readable by whoever may read its item (hospital: own items; expert: assigned items)."""
    document = db.session.get(Document, document_id)
    if document is None or document.item_id is None:
        raise NotFound(HIDDEN)
    get_item(actor, document.item_id)  # raises NotFound outside the actor's scope
    if actor.role == Role.EXPERT and document.doc_type == LETTER_TYPE:
        raise NotFound(HIDDEN)
    path = store().path_for(document.sha256)
    if not path.exists():
        raise NotFound(_l("The stored file is missing; please contact the review office."))
    return document, path


def _neutral_name(document: Document) -> str:
    """The document's kind and its number among the item's files of that kind ("Discharge summary 2"): what an
    expert sees instead of the hospital's file name, which often carries the case number or the patient's name."""
    number = db.session.scalar(db.select(db.func.count(Document.id)).where(
        Document.item_id == document.item_id, Document.doc_type == document.doc_type, Document.id <= document.id))
    kind = labels.DOC_TYPE.get(document.doc_type, document.doc_type)
    return _l("%(kind)s %(number)s", kind=kind, number=number)


def shown_name(actor: Actor, document: Document, *, download: bool = False) -> str:
    """The name a reader sees and saves the file under: the original for the hospital and the bureau, the neutral
    label (with the extension of what the bytes are) for an expert."""
    if actor.role != Role.EXPERT:
        return document.filename
    name = str(_neutral_name(document))
    return name + EXTENSIONS.get(document.content_type, "") if download else name


def item_documents(actor: Actor, item_id: int) -> list[Document]:
    item = get_item(actor, item_id)
    query = db.select(Document).where(Document.item_id == item.id).order_by(Document.id)
    if actor.role == Role.EXPERT:
        query = query.where(Document.doc_type != LETTER_TYPE)
    return list(db.session.scalars(query))

