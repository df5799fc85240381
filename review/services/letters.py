"""Decision letters: one template per letter kind, rendered in either language, stored once when issued, and
confirmed publicly by their verification code.

The letter is what the hospital holds in its hands and forwards to its finance office, and what the bureau signs
and seals: it carries a 文号 (the issuer's code, the year and a gap-free sequence number given at issue), the
bureau as issuer and the policy documents it rests on (the region's letterhead), the facts of the decision, each
finding with the code or rule behind it, its effect on the amount and the panel majority that carried it, the
appeal route and deadline, the notice of the rights to administrative reconsideration and litigation, page
numbers and the verification QR code and address; and nothing that identifies the patient or the experts. The verification page answers "is this letter genuine, and is it still the current
decision?" for anyone holding a copy, without a login, and so shows only what the letter itself shows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import segno
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from review import clock, labels
from review.messages import rule_text
from review.extensions import db
from review.models import Appeal, Decision, Document, ReviewItem
from review.models.decision import ISSUED_OR_SUPERSEDED
from review.pdf import html_to_pdf
from review.services import activity, jobs, letterheads
from review.services.catalogue import catalogue_entry
from review.services.context import SYSTEM
from review.services.documents import LETTER_TYPE
from workflows.consensus import is_majority
from workflows.money import format_fen
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


@dataclass(frozen=True)
class Finding:
    """One itemised reason of a letter: what the panel looked at, what it changed (or that nothing changed), the
    code or rule it rests on, its effect on the amount (None: none of its own) and the panel votes that carried it.
    """

    subject: str
    change: str
    basis: str
    amount_fen: int | None
    votes: int
    k: int
    decided: str


CODE_SUBJECTS = {"principal_dx": _l("Principal diagnosis"), "principal_procedure": _l("Principal procedure")}
DECIDED = {
    "unchanged": _l("hospital's code confirmed"),
    "majority": _l("corrected by a majority of the panel"),
    "chair": _l("ruled by the panel chair (no majority)"),
}


def _majority(votes: int, k: int) -> str:
    return _("majority of the panel") if is_majority(votes, k) else _("no majority")


def _application_findings(decision: Decision, votes: dict[str, int], payment_method: str) -> list[Finding]:
    """Eligibility, the unreasonable cost deducted and the supplement; a rejection is one finding."""
    item = decision.item
    rule = str(labels.CATEGORY.get(item.category, item.category)) if item.category else _("special-case rules")
    screened = [result for result in (item.screening or {}).get("results") or []
                if result.get("rule") == item.category and result.get("met")]
    if screened:  # the rule with the case's own figures, as screening found them
        rule = f"{rule}: {rule_text(screened[0])}"
    k, approvals = votes["k"], votes["for"]
    if decision.outcome == "rejected":
        return [Finding(_("Special-case payment"), _("not granted: the case is paid at its DRG payment standard"),
                        rule, 0, votes["against"], k, _majority(votes["against"], k))]
    formula = (_("CMS outlier: 80% × (cost − DRG payment − fixed-loss threshold)") if payment_method == "cms_outlier"
               else _("Fee for service: cost − unreasonable cost − DRG payment"))
    deducted = (_("%(amount)s yuan found unreasonable and deducted", amount=format_fen(decision.deduction_fen))
                if decision.deduction_fen else _("no change: no unreasonable cost found"))
    carried = _majority(approvals, k)
    return [
        Finding(_("Eligibility"), _("qualifies for special-case payment"), rule, None, approvals, k, carried),
        Finding(_("Unreasonable cost"), deducted, _("median of the amounts found by the approving experts"),
                -decision.deduction_fen, approvals, k, carried),
        Finding(_("Supplemental payment"), _("paid on top of the DRG payment"), formula, decision.amount_fen,
                approvals, k, carried),
    ]


def _record_findings(decision: Decision, votes: dict[str, int], drg_after: str) -> list[Finding]:
    """Admission, each coded item and the DRG, each saying "no change" when the panel changed nothing; the amount
    effects add up to the decision's adjustment."""
    k = votes["k"]
    cast = (decision.vote_snapshot or {}).get("votes", [])
    justified = decision.admission_justified is not False
    findings = [Finding(
        _("Admission"), _("no change: medically justified") if justified else _("not medically justified"),
        _("medical necessity of the inpatient admission"), 0 if justified else -decision.drg_payment_fen,
        votes["for"] if justified else votes["against"], k,
        _majority(votes["for"] if justified else votes["against"], k))]
    agreeing_all = len(cast)
    for name, finding in (decision.coding or {}).items():
        if not isinstance(finding, dict):
            continue
        before, after = finding.get("before"), finding.get("after")
        agreeing = [v for v in cast if (v.get(name) or before) == after]
        agreeing_all = min(agreeing_all, len(agreeing))
        change = (_("no change: %(code)s", code=before or "—") if before == after
                  else _("%(before)s → %(after)s", before=before or "—", after=after or "—"))
        findings.append(Finding(str(CODE_SUBJECTS.get(name, name)), change, after or before or "—", None,
                                len(agreeing), k, str(DECIDED.get(finding.get("decided_by"), "—"))))
    regrouped = drg_after != decision.drg
    findings.append(Finding(
        _("DRG"), (_("DRG %(before)s → DRG %(after)s", before=decision.drg, after=drg_after) if regrouped
                   else _("no change: DRG %(drg)s", drg=decision.drg)),
        _("grouped with the adopted coding"), decision.amount_fen if justified else 0, agreeing_all, k,
        _("follows from the adopted coding")))
    return findings


def outcome_words(decision: Decision, drg_after: str) -> str:
    """The outcome as the letter states it: a regrouping that moves no money says so, instead of "payment
    adjusted" beside ¥0."""
    if decision.outcome == "regrouped" and decision.amount_fen == 0:
        return (_("Coding corrected: DRG unchanged, no payment change") if drg_after == decision.drg
                else _("Regrouped: no payment change"))
    return str(labels.OUTCOME.get(decision.outcome, decision.outcome))


def verify_url(code: str) -> str:
    """The address printed on the letter; absolute when the deployment names its public site."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return base + VERIFY_PATH.format(code=code)


def qr_svg(url: str) -> Markup:
    """The verification address as a QR code, inline SVG (no file, no fetch); sized by the letter's CSS."""
    return Markup(segno.make(url, error="m").svg_inline(omitsize=True, border=2, svgclass="qr"))


def page_counter_css() -> str:
    """The CSS `content` of the page footer from one translated sentence ("Page %(page)s of %(pages)s"), so a
    translator words the whole phrase and the counters fall where the language puts them."""
    marker = "\x00"
    sentence = _("Page %(page)s of %(pages)s", page=marker + "page" + marker, pages=marker + "pages" + marker)
    parts = []
    for index, piece in enumerate(sentence.split(marker)):
        if index % 2:
            parts.append(f"counter({piece})")
        elif piece:
            parts.append('"' + piece.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(parts)


def _earlier(decision: Decision) -> Decision | None:
    """The issued version this one replaces, whose 文号 the letter cites (after an appeal or a correction)."""
    if decision.version <= 1:
        return None
    return db.session.scalars(db.select(Decision).where(
        Decision.item_id == decision.item_id, Decision.version < decision.version,
        Decision.status.in_(ISSUED_OR_SUPERSEDED)).order_by(Decision.version.desc()).limit(1)).first()


def _appeal_cited(decision: Decision, zone_name: str | None) -> dict[str, object] | None:
    """The appeal an appeal panel's decision answers: when it was filed (the letter cites it); None otherwise."""
    if decision.basis != "appeal":
        return None
    appeal = db.session.scalars(db.select(Appeal).where(Appeal.item_id == decision.item_id)).first()
    return None if appeal is None else {"filed_on": local_date(appeal.filed_at, zone_name)}


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
    votes = _votes(decision)
    head = letterheads.letterhead_for(region)
    findings = (_record_findings(decision, votes, drg_after) if record_review
                else _application_findings(decision, votes, cycle.policy.payment_method))
    url = verify_url(decision.verification_code)
    earlier = _earlier(decision)
    return {
        "decision": decision, "item": item, "case": case, "hospital": hospital, "cycle": cycle, "region": region,
        "locale": locale, "zh": zh, "record_review": record_review,
        "colon": "：" if zh else ": ",  # Chinese punctuation is full width and takes no space after it
        "region_name": region.name_zh if zh else region.name_en,
        "hospital_name": hospital.name_zh if zh else hospital.name_en,
        "issue_date": local_date(decision.issued_at, region.timezone),
        "weight_before": weight_before, "drg_after": drg_after, "weight_after": weight_after,
        "payment_after_fen": payment_after_fen,
        "votes": votes, "findings": findings, "outcome_words": outcome_words(decision, drg_after),
        "payment_method": cycle.policy.payment_method,
        "letter_ref": decision.letter_ref_zh if zh else decision.letter_ref_en,
        "earlier_ref": None if earlier is None else (earlier.letter_ref_zh if zh else earlier.letter_ref_en),
        "earlier_date": None if earlier is None else local_date(earlier.issued_at, region.timezone),
        "appeal": _appeal_cited(decision, region.timezone),
        "bureau": head.bureau_name_zh if zh else head.bureau_name_en,
        "bureau_address": head.address_zh if zh else head.address_en, "bureau_contact": head.contact,
        "legal_basis": head.documents(zh),
        "page_counter": Markup(page_counter_css()),
        "verify_url": url, "qr_svg": qr_svg(url),
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
    if decision is None or decision.status not in ISSUED_OR_SUPERSEDED:
        return None
    if decision.letter_document_id is not None:
        return decision.letter_document_id
    stored, adopted = jobs.rendered_once("letter", decision.id,
                                         lambda: html_to_pdf(letter_html(decision, stored_locale())))
    document = Document(hospital_id=decision.item.hospital_id, item_id=decision.item_id, doc_type=LETTER_TYPE,
                        filename=letter_filename(decision), content_type=stored.content_type,
                        size_bytes=stored.size_bytes, sha256=stored.sha256)
    db.session.add(document)
    db.session.flush()
    decision.letter_document_id = document.id
    activity.record(SYSTEM, "letter.rendered", "decision", decision.id, decision.item.hospital_id,
                    {"document_id": document.id, "sha256": stored.sha256, "adopted": adopted})
    db.session.commit()
    return document.id


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
    letter_ref_zh: str | None
    letter_ref_en: str | None
    """The 文号 printed on the letter (None for letters issued before letters were numbered)."""
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
        Decision.verification_code.in_((canonical, canonical.lower())),
        Decision.status.in_(ISSUED_OR_SUPERSEDED))).first()
    if decision is None:
        return None
    item = decision.item
    later = db.session.scalar(db.select(db.func.max(Decision.version)).where(
        Decision.item_id == decision.item_id, Decision.status.in_(ISSUED_OR_SUPERSEDED),
        Decision.version > decision.version))
    region = item.cycle.region
    return VerifiedLetter(
        code=decision.verification_code.upper(), region_name_en=region.name_en, region_name_zh=region.name_zh,
        hospital_name_en=item.hospital.name_en, hospital_name_zh=item.hospital.name_zh,
        hospital_code=item.hospital.code, cycle_code=item.cycle.code, case_no=item.case.case_no, kind=item.kind,
        outcome=decision.outcome, amount_fen=decision.amount_fen,
        issued_on=local_date(decision.issued_at, region.timezone), version=decision.version,
        letter_ref_zh=decision.letter_ref_zh, letter_ref_en=decision.letter_ref_en, superseded_by=later)
