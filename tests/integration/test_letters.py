"""Decision letters of every kind in both languages, the PDF fetcher's refusals, the public verification page and
the per-language letter download, on SQLite and PostgreSQL.

Special-case decisions come through the real services (apply, panel draw, scoresheets, issue). Record-review
decisions are written as proposed rows on a sampled record and then issued through the real issue service, since
the record-review consensus service is built separately.
"""
from __future__ import annotations

import re
import socket
from decimal import Decimal

import pytest
from flask_babel import force_locale, gettext

from review.extensions import db
from review.models import Decision, ReviewItem
from review.pdf import STATIC_ROOT, RefusedURL, StaticOnlyFetcher, html_to_pdf
from review.services import decisions, letters, sampling
from review.services.catalogue import catalogue_entry
from review.services.context import SYSTEM
from review.services.documents import store
from review.services.items import move
from tests.e2e.test_walkthrough import login
from tests.factories import BASE_RATE_FEN, seat_panels
from tests.integration.test_application_path import _apply, _review
from tests.integration.test_sampling_calendar import CONFIG, _population
from tests.pdftext import pdf_text
from workflows.money import format_fen
from workflows.payment import drg_payment_fen
from workflows.states import Action

TITLES = {
    "approval": "Special-case review decision: approval",
    "partial": "Special-case review decision: partial approval",
    "rejection": "Special-case review decision: rejection",
    "confirmed": "Medical record review decision",
    "regrouped": "Medical record review decision",
    "admission_unjustified": "Medical record review decision",
}
TEMPLATES = {
    "approval": "pdf/letter_approval.html",
    "partial": "pdf/letter_partial_approval.html",
    "rejection": "pdf/letter_rejection.html",
    "confirmed": "pdf/letter_record_review.html",
    "regrouped": "pdf/letter_record_review.html",
    "admission_unjustified": "pdf/letter_record_review.html",
}
VOTES = {
    "approval": [("approve", 0)] * 3,
    "partial": [("approve", 1_000_000), ("approve", 3_000_000), ("reject", 0)],
    "rejection": [("reject", 0), ("reject", 0), ("approve", 0)],
}
CJK = re.compile(r"[\u4e00-\u9fff]")
EXPERT_TRACES = ("Dr Expert", "E001", "E002", "E003", "E004", "E005", "E006")


def _flat(text: str) -> str:
    """Line breaks and the spaces a PDF text layer puts between runs are not part of the letter's wording."""
    return re.sub(r"\s+", "", text)


def _application_decision(world, kind: str, *, issue: bool = True) -> Decision:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    decision = _review(world, item, VOTES[kind])
    if issue:
        decisions.open_reasons(world.actors["staff"], decision.id)
        decisions.issue(world.actors["staff"], decision.id)
    return decision


def _record_decision(world, outcome: str, *, drg_unchanged: bool = False) -> Decision:  # type: ignore[no-untyped-def]
    """A sampled record of H1 with a proposed record-review decision, issued through the service; with
    `drg_unchanged`, a regrouping whose corrected codes leave the case in its DRG (no money moves)."""
    _population(world)
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "2026-10-08 lottery 0815")
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id,
                                                          ReviewItem.hospital_id == world.hospitals["H1"])
                              .order_by(ReviewItem.id)).first()
    move(item, Action.MARK_RECORDS_MISSING, SYSTEM)
    move(item, Action.PROPOSE, SYSTEM)
    case = item.case
    principal_dx = {"before": case.principal_dx, "after": case.principal_dx, "decided_by": "unchanged"}
    procedure = (case.procedures or [None])[0]
    principal_procedure = {"before": procedure, "after": procedure, "decided_by": "unchanged"}
    drg_after, weight_after, payment_after = case.drg, case.drg_weight, case.drg_payment_fen
    justified = 3
    if outcome == "regrouped":
        principal_dx = {"before": case.principal_dx, "after": "I2109", "decided_by": "majority"}
        principal_procedure = {**principal_procedure, "after": "02703ZZ", "decided_by": "chair"}
        drg_after = case.drg if drg_unchanged else "322" if case.drg != "322" else "323"
        weight_after = catalogue_entry(drg_after).weight
        payment_after = case.drg_payment_fen if drg_unchanged else drg_payment_fen(
            Decimal(weight_after), BASE_RATE_FEN, item.hospital.coefficient)
        assert drg_unchanged or payment_after < case.drg_payment_fen  # the regrouping recovers money
    amount = payment_after - case.drg_payment_fen
    if outcome == "admission_unjustified":
        justified, amount = 1, -case.drg_payment_fen
    decision = Decision(item_id=item.id, version=1, outcome=outcome, approvals=justified, panel_size=3,
                        deduction_fen=0, drg=case.drg, drg_payment_fen=case.drg_payment_fen,
                        total_cost_fen=case.total_cost_fen, amount_fen=amount, drg_after=drg_after,
                        drg_weight_after=str(weight_after), drg_payment_after_fen=payment_after,
                        admission_justified=justified >= 2,
                        coding={"principal_dx": principal_dx, "principal_procedure": principal_procedure},
                        vote_snapshot={"k": 3, "admission_justified_votes": justified, "outcome": outcome,
                                       "votes": [{"expert_id": n, "admission_justified": n <= justified,
                                                  "principal_dx": "I2109" if outcome == "regrouped" and n < 3
                                                  else None,
                                                  "principal_procedure": "02703ZZ" if outcome == "regrouped"
                                                  and n == 1 else None}
                                                 for n in (1, 2, 3)]},
                        verification_code=f"REC{outcome[:3].upper()}0123456789")
    db.session.add(decision)
    db.session.commit()
    decisions.open_reasons(world.actors["staff"], decision.id)
    decisions.issue(world.actors["staff"], decision.id)
    return decision


def _decision(world, kind: str) -> Decision:  # type: ignore[no-untyped-def]
    if kind in VOTES:
        return _application_decision(world, kind)
    return _record_decision(world, kind)


@pytest.mark.parametrize("kind", list(TITLES))
def test_each_letter_kind_in_both_languages(world, kind: str) -> None:  # type: ignore[no-untyped-def]
    decision = _decision(world, kind)
    db.session.refresh(decision)
    assert decision.status == "issued" and decision.letter_document_id is not None  # stored at issue
    assert letters.letter_template(decision) == TEMPLATES[kind]
    amounts = [decision.drg_payment_fen, decision.total_cost_fen, abs(decision.amount_fen)]
    if kind == "partial":
        amounts.append(decision.deduction_fen)
    if kind == "regrouped":
        amounts.append(decision.drg_payment_after_fen)
    for locale in ("en", "zh_CN"):
        text = _flat(pdf_text(letters.letter_pdf(decision, locale)))
        with force_locale(locale):
            title = gettext(TITLES[kind])
            labels = [gettext(m) for m in ("Case number", "Discharge date", "Verification code", "Appeal deadline")]
        assert _flat(title) in text, (locale, title)
        for fen in amounts:
            assert format_fen(fen) in text, (locale, fen)
        assert decision.appeal_deadline.isoformat() in text
        assert decision.verification_code in text
        assert f"/verify/{decision.verification_code}" in text
        assert decision.item.case.case_no in text
        for label in labels:
            assert _flat(label) in text, (locale, label)
        assert not any(trace in text for trace in EXPERT_TRACES)
        if locale == "zh_CN":  # the Chinese wording is in the text layer, not tofu boxes
            assert all(CJK.search(label) for label in labels)
            assert "测试统筹区" in text and "H1医院" in text
        else:
            assert not CJK.search(text)
            assert "HospitalH1" in text
    if decision.amount_fen < 0:  # a recovery is shown as a recovery, never as a negative payment
        english = pdf_text(letters.letter_pdf(decision, "en"))
        assert "recovered" in english and f"-{format_fen(-decision.amount_fen)}" not in english


def test_rejection_letter_gives_counts_and_no_rationale(world) -> None:  # type: ignore[no-untyped-def]
    decision = _application_decision(world, "rejection")
    text = " ".join(pdf_text(letters.letter_pdf(decision, "en")).split())
    assert "2 of 3 experts voted against the application, 1 in favour" in text
    assert "Reviewed against the records" not in text  # the experts' rationale stays in the file


def test_stored_letter_is_rendered_once_in_the_letter_locale(world, app) -> None:  # type: ignore[no-untyped-def]
    decision = _application_decision(world, "partial")
    db.session.refresh(decision)
    first = decision.letter_document_id
    assert first is not None and letters.render_letter(decision.id) == first
    stored = store().path_for(decision.letter.sha256).read_bytes()
    assert app.config.get("LETTER_LOCALE", "zh_CN") == "zh_CN"
    assert "测试统筹区" in pdf_text(stored)


def test_letter_for_an_application_with_a_record_outcome_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    decision = _application_decision(world, "approval", issue=False)
    decision.outcome = "regrouped"
    with pytest.raises(letters.UnknownLetterKind):
        letters.letter_template(decision)
    db.session.rollback()


# --- the URL fetcher -----------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records (and blocks) any attempt to open a connection, so "never fetched" is checked, not assumed."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError("network access during PDF rendering")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    f"file://{STATIC_ROOT}/../review/config.py",
    f"file://{STATIC_ROOT}/does-not-exist.png",
    "http://example.com/x.png",
    "https://example.com/x.css",
    "ftp://example.com/x.png",
])
def test_fetcher_refuses_everything_outside_static(url: str, no_network: list[object]) -> None:
    with pytest.raises(RefusedURL):
        StaticOnlyFetcher().fetch(url)
    assert no_network == []


def test_fetcher_serves_static_files_and_data_urls() -> None:
    icon = StaticOnlyFetcher().fetch((STATIC_ROOT / "favicon.svg").as_uri())
    assert b"<svg" in icon.read()
    assert StaticOnlyFetcher().fetch("data:text/plain;base64,aGk=").read() == b"hi"


@pytest.mark.parametrize("markup", [
    '<img src="file:///etc/passwd">',
    '<img src="http://example.com/x.png">',
    '<link rel="stylesheet" href="https://example.com/x.css">',
    '<div style="background: url(http://example.com/x.png)">x</div>',
    '<img src="../review/config.py">',
])
def test_html_to_pdf_stops_on_a_forbidden_url(markup: str, no_network: list[object]) -> None:
    with pytest.raises(RefusedURL):
        html_to_pdf(f"<!doctype html><html><body><p>Letter</p>{markup}</body></html>")
    assert no_network == []


def test_markup_in_data_is_text_and_never_fetched(world, no_network: list[object]) -> None:  # type: ignore[no-untyped-def]
    decision = _application_decision(world, "approval")
    hostile = '<img src="file:///etc/passwd"><img src="http://example.com/x.png">'
    decision.item.hospital.name_en = hostile
    decision.item.cycle.region.name_en = hostile
    text = pdf_text(letters.letter_pdf(decision, "en"))
    assert 'src="file:///etc/passwd"' in text and "root:" not in text
    assert no_network == []
    db.session.rollback()


# --- public verification -------------------------------------------------------------------------------------


def test_verify_shows_an_issued_decision(world, client) -> None:  # type: ignore[no-untyped-def]
    decision = _application_decision(world, "partial")
    response = client.get(f"/verify/{decision.verification_code}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for fact in ("This decision letter is authentic", "Test Pooling Area", "Hospital H1", "2026Q3",
                 decision.item.case.case_no, "Partially approved", format_fen(decision.amount_fen),
                 letters.local_date(decision.issued_at, "Asia/Shanghai").isoformat(),
                 "No later version has replaced this decision"):
        assert fact in page, fact
    assert not any(trace in page for trace in EXPERT_TRACES + ("专家1", "Reviewed against the records"))
    assert "no-store" in response.headers["Cache-Control"]


def test_verify_accepts_lowercase_spaced_and_dashed_codes(world, client) -> None:  # type: ignore[no-untyped-def]
    code = _application_decision(world, "approval").verification_code
    dashed = "-".join(code[i:i + 4] for i in range(0, len(code), 4)).lower()
    for typed in (code.lower(), dashed, f" {code[:8]} {code[8:]} ".replace(" ", "%20"), f"{code[:6]}–{code[6:]}"):
        assert client.get(f"/verify/{typed}").status_code == 200, typed


def test_verify_refuses_unknown_and_proposed_codes_alike(world, client) -> None:  # type: ignore[no-untyped-def]
    proposed = _application_decision(world, "approval", issue=False)
    assert proposed.status == "proposed"
    pages = []
    for code in (proposed.verification_code, "0000000000000000", "not a code!", "x" * 300):
        response = client.get(f"/verify/{code}")
        assert response.status_code == 404, code
        pages.append(response.get_data(as_text=True))
    assert all("No issued decision has this code" in page for page in pages)
    assert "Hospital H1" not in pages[0] and proposed.item.case.case_no not in pages[0]


def test_verify_shows_a_recovery_and_a_superseding_version(world, client) -> None:  # type: ignore[no-untyped-def]
    first = _record_decision(world, "regrouped")
    item = first.item
    move(item, Action.APPEAL, world.actors["hosp1"])
    move(item, Action.START_APPEAL_REVIEW, SYSTEM)
    move(item, Action.PROPOSE_APPEAL, SYSTEM)
    second = Decision(item_id=item.id, version=2, outcome="confirmed", approvals=3, panel_size=3, deduction_fen=0,
                      drg=first.drg, drg_payment_fen=first.drg_payment_fen, total_cost_fen=first.total_cost_fen,
                      amount_fen=0, drg_after=first.drg, drg_weight_after=str(item.case.drg_weight),
                      drg_payment_after_fen=first.drg_payment_fen, admission_justified=True, coding={},
                      vote_snapshot={"k": 3, "admission_justified_votes": 3}, verification_code="APPEAL0123456789")
    db.session.add(second)
    db.session.commit()
    decisions.open_reasons(world.actors["staff"], second.id)
    decisions.issue(world.actors["staff"], second.id)
    page = client.get(f"/verify/{first.verification_code}").get_data(as_text=True)
    assert "replaced by a later version" in page and "Version 2 of the decision" in page
    assert "Amount recovered from the hospital (yuan)" in page and format_fen(-first.amount_fen) in page
    assert "Medical record review" in page
    current = client.get(f"/verify/{second.verification_code}").get_data(as_text=True)
    assert "No later version has replaced this decision" in current
    letter = _flat(pdf_text(letters.letter_pdf(second, "en")))
    assert _flat("This decision replaces version 1 of the decision on this case.") in letter
    db.session.refresh(first)
    assert first.letter_number == 1 and db.session.get(Decision, second.id).letter_number == 2  # each version its own
    assert _flat(f"The earlier letter, {first.letter_ref_en}, no longer applies.") in letter  # v2 cites v1's 文号


def test_verify_page_speaks_the_visitors_language(world, client) -> None:  # type: ignore[no-untyped-def]
    code = _application_decision(world, "approval").verification_code
    client.post("/lang/zh_CN")
    page = client.get(f"/verify/{code}").get_data(as_text=True)
    with force_locale("zh_CN"):
        region_label = gettext("Region")
    assert CJK.search(region_label) and region_label in page
    assert "H1医院" in page and "测试统筹区" in page


# --- the letter download in either language ------------------------------------------------------------------


def test_hospital_downloads_its_letter_in_either_language(world, client) -> None:  # type: ignore[no-untyped-def]
    decision = _application_decision(world, "approval")
    login(client, "hosp1")
    english = client.get(f"/decisions/{decision.id}/letter.pdf?lang=en")
    assert english.status_code == 200 and english.mimetype == "application/pdf"
    assert "-en.pdf" in english.headers["Content-Disposition"]
    text = pdf_text(english.data)
    assert "Special-case review decision: approval" in " ".join(text.split())
    assert decision.verification_code in text
    stored = client.get(f"/decisions/{decision.id}/letter.pdf?lang=zh_CN")
    assert stored.status_code == 200 and "测试统筹区" in pdf_text(stored.data)
    assert client.get(f"/decisions/{decision.id}/letter.pdf").data == stored.data
    assert client.get(f"/decisions/{decision.id}/letter.pdf?lang=fr").status_code == 404
    login(client, "staff")
    assert client.get(f"/decisions/{decision.id}/letter.pdf?lang=en").status_code == 200
    login(client, "hosp2")
    for query in ("?lang=en", "?lang=zh_CN", ""):
        assert client.get(f"/decisions/{decision.id}/letter.pdf{query}").status_code == 404, query
    login(client, "expert1")
    assert client.get(f"/decisions/{decision.id}/letter.pdf?lang=en").status_code == 403


def test_no_english_letter_before_issue(world, client) -> None:  # type: ignore[no-untyped-def]
    decision = _application_decision(world, "approval", issue=False)
    login(client, "staff")
    response = client.get(f"/decisions/{decision.id}/letter.pdf?lang=en")
    assert response.status_code == 202 and response.mimetype == "text/html"
    login(client, "hosp1")
    assert client.get(f"/decisions/{decision.id}/letter.pdf?lang=en").status_code == 404
