"""Experts judge the record, not the patient: the hospital's file names (which carry the case number and the
patient's name) never reach an expert's page or download header; the hospital keeps seeing its own names."""
from __future__ import annotations

import io
import re

from flask import Flask

from review.extensions import db
from review.models import Assignment
from review.services import documents
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
