"""Experts judge the record, not the patient: the hospital's file names (which carry the case number and the
patient's name) never reach an expert's page or download header; the hospital keeps seeing its own names."""
from __future__ import annotations

import io
import re

from flask import Flask

from review.extensions import db
from review.models import Assignment, ReviewItem
from review.services import api_tokens, cases, documents
from review.services.documents import item_documents
from tests.e2e.test_walkthrough import login
from tests.factories import World, ami_case, seat_panels
from tests.integration.test_application_path import PDF, _apply

CASE_NO = ami_case().case_no
ORIGINAL_NAMES = (f"{CASE_NO} 张三 出院小结.pdf", f"{CASE_NO}-zhang-san-discharge.pdf")


def _expert_answers(app: Flask, username: str, assignment_id: int, document_ids: list[int]) -> list[tuple[str, str]]:
    """(url, status line + headers + body) for every page an expert can open without typing text: each GET route
    of theirs from the URL map, with their assignment and the item's documents, inline and as a download."""
    client = app.test_client()
    login(client, username)
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "expert" not in getattr(app.view_functions[rule.endpoint], "allowed_roles", ()):
            continue
        if "<int:document_id>" in rule.rule:
            urls += [rule.rule.replace("<int:document_id>", str(d)) + query
                     for d in document_ids for query in ("", "?inline=1")]
        elif not re.search(r"<(?!int:assignment_id>)[^>]+>", rule.rule):
            urls.append(rule.rule.replace("<int:assignment_id>", str(assignment_id)))
    answers = []
    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)  # a refusal is shown too, so it is read
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        body = response.get_data(as_text=True) if response.mimetype != "application/pdf" else ""
        answers.append((url, f"{headers}\n{body}"))
    return answers


def test_expert_sees_neutral_labels_and_hospital_the_original_names(app: Flask, world: World) -> None:
    item = _apply(world)
    uploaded = [documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF), name, "discharge_summary")
                for name in ORIGINAL_NAMES]
    seat_panels(world)
    assignment = db.session.scalars(db.select(Assignment).where(Assignment.item_id == item.id)).first()
    expert = next(name for name, expert_id in world.experts.items() if expert_id == assignment.expert_id)
    answers = _expert_answers(app, expert, assignment.id, [d.id for d in uploaded])
    assert any(url == f"/expert/assignments/{assignment.id}" for url, _text in answers)
    for url, text in answers:
        for secret in (CASE_NO, "张三", "zhang-san", "%E5%BC%A0%E4%B8%89"):
            assert secret not in text, (url, secret)
    page = dict(answers)[f"/expert/assignments/{assignment.id}"]
    assert "Discharge summary 1" in page and "Discharge summary 2" in page
    download = dict(answers)[f"/documents/{uploaded[1].id}"]
    assert 'filename="Discharge summary 2.pdf"' in download

    hospital = app.test_client()
    login(hospital, "hosp1")
    response = hospital.get(f"/documents/{uploaded[1].id}")
    assert f"{CASE_NO}-zhang-san-discharge.pdf" in response.headers["Content-Disposition"]
    assert ORIGINAL_NAMES[0] in hospital.get(f"/hospital/items/{item.id}").get_data(as_text=True)


ID_NUMBER = "11010519491231002X"  # a valid GB 11643 number (check digit X)


def test_identity_typed_by_the_hospital_is_flagged_to_it_and_masked_for_the_expert(app: Flask, world: World) -> None:
    """The hospital is warned when a file name or its reason carries the case number or an identity card number;
    the expert reads the reason with both masked, on every page of theirs."""
    hospital = app.test_client()
    login(hospital, "hosp1")
    case = cases.create_case(world.actors["hosp1"], ami_case())
    reason = f"Patient {CASE_NO} (身份证 {ID_NUMBER}) stayed 9 days in the ICU with cardiogenic shock."
    page = hospital.post(f"/hospital/cases/{case.id}", data={"category": "high_cost", "reason": reason},
                         follow_redirects=True).get_data(as_text=True)
    assert "The reason contains the case number" in page
    assert "The reason contains what looks like an identity card number" in page
    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.case_id == case.id)).one()
    assert item.reason == reason  # the bureau keeps what the hospital wrote
    upload = hospital.post(f"/hospital/items/{item.id}", data={
        "doc_type": "discharge_summary", "files": [(io.BytesIO(PDF), f"{CASE_NO} 出院小结.pdf")]},
        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "1 file uploaded." in upload and "The file name contains the case number" in upload
    clean = hospital.post(f"/hospital/items/{item.id}", data={
        "doc_type": "discharge_summary", "files": [(io.BytesIO(PDF), "discharge summary.pdf")]},
        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "1 file uploaded." in clean and "contains the case number" not in clean

    seat_panels(world)
    assignment = db.session.scalars(db.select(Assignment).where(Assignment.item_id == item.id)).first()
    expert = next(name for name, expert_id in world.experts.items() if expert_id == assignment.expert_id)
    answers = _expert_answers(app, expert, assignment.id, [d.id for d in item_documents(world.actors["hosp1"],
                                                                                         item.id)])
    for url, text in answers:
        assert CASE_NO not in text and ID_NUMBER not in text, url
    page = dict(answers)[f"/expert/assignments/{assignment.id}"]
    assert "Patient [case number hidden] (身份证 [identity number hidden]) stayed 9 days" in page


def test_the_api_returns_the_same_warnings_and_still_accepts(app: Flask, world: World) -> None:
    _token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS")
    case = cases.create_case(world.actors["hosp1"], ami_case())
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    applied = client.post("/api/v1/applications", headers=headers, json={
        "case_id": case.id, "category": "high_cost", "reason": f"Long ICU stay; ID {ID_NUMBER} on the summary."})
    assert applied.status_code == 201
    assert [(w["code"], w["field"]) for w in applied.json["warnings"]] == [("identity.id_card", "reason")]
    uploaded = client.post(f"/api/v1/items/{applied.json['item_id']}/documents", headers=headers,
                           data={"doc_type": "discharge_summary", "file": (io.BytesIO(PDF), f"{CASE_NO}.pdf")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 201
    assert [(w["code"], w["field"]) for w in uploaded.json["warnings"]] == [("identity.case_number", "filename")]
    assert "neutral label" in uploaded.json["warnings"][0]["message"]


def test_hospital_reads_the_panels_reasons_under_letters_only(app: Flask, world: World) -> None:
    from review.models import Decision, Expert
    from review.services import decisions
    from tests.integration.test_decision_queue import PARTIAL, make_decisions, open_all

    (decision_id,) = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", PARTIAL)]))
    decisions.issue(world.actors["staff"], decision_id)
    decision = db.session.get(Decision, decision_id)
    hospital = app.test_client()
    login(hospital, "hosp1")
    page = hospital.get(f"/hospital/items/{decision.item_id}").get_data(as_text=True)
    assert all(f"Expert {letter}" in page for letter in "ABC")
    assert "Reviewed against the records in detail." in page  # the rationale itself is the hospital's to read
    traces = [e.code for e in db.session.scalars(db.select(Expert))] + ["Dr Expert", "专家"]
    assert not [trace for trace in traces if trace in page]
    staff = app.test_client()
    login(staff, "staff")
    assert "Dr Expert" in staff.get(f"/staff/decisions/{decision_id}").get_data(as_text=True)
