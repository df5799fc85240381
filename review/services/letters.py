"""Decision letters: one template per letter kind, rendered in either language, stored once when issued, and
confirmed publicly by their verification code.

The letter is what the hospital holds in its hands and forwards to its finance office, so it carries the facts of
the decision (case, DRG before and after, amounts, vote count, appeal deadline) and nothing that identifies the
patient or the experts. The verification page answers "is this letter genuine, and is it still the current
decision?" for anyone holding a copy, without a login, and so shows only what the letter itself shows.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import current_app, render_template
from flask_babel import force_locale

from review import clock
from review.documents import StoredFile
from review.extensions import db
from review.models import Decision, Document, ReviewItem
from review.pdf import html_to_pdf
from review.services import activity, jobs
from review.services.catalogue import catalogue_entry
from review.services.context import SYSTEM
from review.services.documents import LETTER_TYPE, store
from workflows.states import ItemKind

APPLICATION_TEMPLATES = {
    "approved": "pdf/letter_approval.html",
    "partially_approved": "pdf/letter_partial_approval.html",
    "rejected": "pdf/letter_rejection.html",
}
RECORD_REVIEW_TEMPLATE = "pdf/letter_record_review.html"
VERIFY_PATH = "/verify/{code}"
"""The public verification route (review/verify.py); printed on the letter, so it must never move."""

CODE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015_.]+")
CODE_SHAPE = re.compile(r"[0-9A-Z]{1,32}")


class UnknownLetterKind(ValueError):
    """A decision whose item kind and outcome have no letter: issuing a letter that says the wrong thing is
    worse than issuing none, so rendering stops."""


def letter_template(decision: Decision) -> str:
    """The one place that decides which letter a decision gets.

    The item kind picks the family (a hospital's application or the bureau's record review) and, for an
    application, the outcome picks approval, partial approval or rejection. Every record-review outcome
    (confirmed, regrouped, admission not justified) shares one template, because the facts it shows (coding
    before and after, regrouped DRG, adjustment) are the same and only the reason paragraph differs.
    """
    kind = decision.item.kind
    if kind == ItemKind.SAMPLED_RECORD.value:
        return RECORD_REVIEW_TEMPLATE
    if kind == ItemKind.APPLICATION.value and decision.outcome in APPLICATION_TEMPLATES:
        return APPLICATION_TEMPLATES[decision.outcome]
    raise UnknownLetterKind(f"No letter template for a {kind} decision with outcome {decision.outcome!r}.")


def local_date(moment: datetime | None, zone_name: str | None) -> date | None:
    """Times are stored in UTC; a letter dates itself in the region's time zone, as the bureau's stamp would."""
    return None if moment is None else moment.astimezone(clock.zone(zone_name)).date()


def _weight_before(decision: Decision) -> Decimal | str | None:
    """The weight of the DRG the decision started from: the case's own unless the case was regrouped since."""
    case = decision.item.case
    if case.drg == decision.drg:
        return case.drg_weight
    entry = catalogue_entry(decision.drg, decision.item.cycle.catalogue_scheme)
    return entry.weight if entry is not None else None


def _votes(decision: Decision) -> dict[str, int]:
    """Counts only, never who voted how: the hospital may learn the split but not the experts."""
    snapshot = decision.vote_snapshot or {}
    k = int(snapshot.get("k") or decision.panel_size)
    if decision.item.kind == ItemKind.SAMPLED_RECORD.value:
        justified = int(snapshot.get("admission_justified_votes", decision.approvals))
        return {"k": k, "for": justified, "against": k - justified}
    approvals = int(snapshot.get("approvals", decision.approvals))
    return {"k": k, "for": approvals, "against": int(snapshot.get("rejections", k - approvals))}


def verify_url(code: str) -> str:
    """The address printed on the letter; absolute when the deployment names its public site."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return base + VERIFY_PATH.format(code=code)


def letter_context(decision: Decision, locale: str) -> dict[str, object]:
    """Everything a letter template shows, resolved once here so the four templates stay declarative."""
    item: ReviewItem = decision.item
    case, hospital, cycle = item.case, item.hospital, item.cycle
    region = cycle.region
    zh = locale.startswith("zh")
    record_review = item.kind == ItemKind.SAMPLED_RECORD.value
    weight_before = _weight_before(decision)
    if decision.drg_after is not None:
        drg_after, weight_after = decision.drg_after, decision.drg_weight_after
        payment_after_fen = decision.drg_payment_after_fen
    else:  # a special-case decision pays on top of the DRG; it does not regroup the case
        drg_after, weight_after, payment_after_fen = decision.drg, weight_before, decision.drg_payment_fen
    coding = [(name, finding) for name, finding in (decision.coding or {}).items() if isinstance(finding, dict)]
    return {
        "decision": decision, "item": item, "case": case, "hospital": hospital, "cycle": cycle, "region": region,
        "locale": locale, "zh": zh, "record_review": record_review,
        "colon": "：" if zh else ": ",  # Chinese punctuation is full width and takes no space after it
        "region_name": region.name_zh if zh else region.name_en,
        "hospital_name": hospital.name_zh if zh else hospital.name_en,
        "issue_date": local_date(decision.issued_at, region.timezone),
        "weight_before": weight_before, "drg_after": drg_after, "weight_after": weight_after,
        "payment_after_fen": payment_after_fen,
        "votes": _votes(decision),
        "coding": coding,
        "payment_method": cycle.policy.payment_method,
        "verify_url": verify_url(decision.verification_code),
    }


def letter_html(decision: Decision, locale: str = "zh_CN") -> str:
    """The letter as HTML in `locale`; force_locale so a worker or a request in another language renders the
    language asked for, not its own."""
    with force_locale(locale):
        return render_template(letter_template(decision), **letter_context(decision, locale))


def letter_locales() -> tuple[str, ...]:
    return tuple(current_app.config.get("LANGUAGES", ("en", "zh_CN")))


def stored_locale() -> str:
    """The language of the letter stored at issue (the official copy); the other is rendered on demand."""
    return str(current_app.config.get("LETTER_LOCALE", "zh_CN"))


def letter_pdf(decision: Decision, locale: str) -> bytes:
    """A letter rendered now, for a download in the language that is not stored; never stored itself."""
    return html_to_pdf(letter_html(decision, locale))


def letter_filename(decision: Decision, locale: str | None = None) -> str:
    suffix = f"-{locale}" if locale else ""
    return f"decision-{decision.item.case.case_no}-v{decision.version}{suffix}.pdf"


def render_letter(decision_id: int) -> int | None:
    """Idempotent: a second call (a retried task) finds the letter and does nothing, and a retry of a run killed
    between storing the PDF and recording it adopts that PDF: each letter is rendered and stored once."""
    decision = db.session.scalars(db.select(Decision).where(Decision.id == decision_id).with_for_update()).first()
    if decision is None or decision.status != "issued":
        return None
    if decision.letter_document_id is not None:
        return decision.letter_document_id
    adopted = _unrecorded_letter(decision_id)
    stored = adopted or _render_and_store(decision)
    document = Document(hospital_id=decision.item.hospital_id, item_id=decision.item_id, doc_type=LETTER_TYPE,
                        filename=letter_filename(decision), content_type=stored.content_type,
                        size_bytes=stored.size_bytes, sha256=stored.sha256)
    db.session.add(document)
    db.session.flush()
    decision.letter_document_id = document.id
    activity.record(SYSTEM, "letter.rendered", "decision", decision.id, decision.item.hospital_id,
                    {"document_id": document.id, "sha256": stored.sha256, "adopted": adopted is not None})
    db.session.commit()
    return document.id


def _render_and_store(decision: Decision) -> StoredFile:
    """The PDF is noted on the running job before it reaches the store, so a kill before the Document row is
    committed leaves a file the next run finds."""
    pdf = html_to_pdf(letter_html(decision, stored_locale()))
    jobs.note_file(hashlib.sha256(pdf).hexdigest(), "letter", decision.id)
    return store().put_bytes(pdf, max_bytes=len(pdf) + 1)


def _unrecorded_letter(decision_id: int) -> StoredFile | None:
    """The PDF an earlier run of this job stored for the decision and did not live to record, if it is intact."""
    sha256 = jobs.unrecorded_file("letter", decision_id)
    path = store().path_for(sha256 or "")
    if sha256 is None or not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        return None
    return StoredFile(sha256=sha256, size_bytes=path.stat().st_size, content_type="application/pdf")


@dataclass(frozen=True)
class VerifiedLetter:
    """What the public verification page may show: the letter's own facts, nothing about the panel."""

    code: str
    region_name_en: str
    region_name_zh: str
    hospital_name_en: str
    hospital_name_zh: str
    hospital_code: str
    cycle_code: str
    case_no: str
    kind: str
    outcome: str
    amount_fen: int
    issued_on: date | None
    version: int
    superseded_by: int | None
    """The latest issued version that replaced this one (after an appeal), or None when this one stands."""


def canonical_code(code: str) -> str | None:
    """A code as typed or read aloud (any case, spaces, dashes) reduced to the stored form; None when it cannot
    be a code at all, so garbage never reaches the database."""
    cleaned = CODE_SEPARATORS.sub("", code or "").upper()
    return cleaned if CODE_SHAPE.fullmatch(cleaned) else None


def verify_code(code: str) -> VerifiedLetter | None:
    """The issued decision with this code, or None: an unknown code and a decision not yet issued look the same,
    so the page never reveals that a proposal exists.

    Codes are generated as upper-case hex; the lower-case variant is also tried so that rows written by hand or
    by older code still match, and both lookups use the unique index.
    """
    canonical = canonical_code(code)
    if canonical is None:
        return None
    decision = db.session.scalars(db.select(Decision).where(
        Decision.verification_code.in_((canonical, canonical.lower())), Decision.status == "issued")).first()
    if decision is None:
        return None
    item = decision.item
    later = db.session.scalar(db.select(db.func.max(Decision.version)).where(
        Decision.item_id == decision.item_id, Decision.status == "issued", Decision.version > decision.version))
    region = item.cycle.region
    return VerifiedLetter(
        code=decision.verification_code.upper(), region_name_en=region.name_en, region_name_zh=region.name_zh,
        hospital_name_en=item.hospital.name_en, hospital_name_zh=item.hospital.name_zh,
        hospital_code=item.hospital.code, cycle_code=item.cycle.code, case_no=item.case.case_no, kind=item.kind,
        outcome=decision.outcome, amount_fen=decision.amount_fen,
        issued_on=local_date(decision.issued_at, region.timezone), version=decision.version, superseded_by=later)
