"""The whole special-case path over HTTP with the Flask client, one role after another."""
from __future__ import annotations

import io
import re

from review.extensions import db
from review.services import documents
from review.models import Decision, ReviewItem
from tests.factories import PASSWORD
from tests.pdftext import pdf_text
from workflows.money import format_fen

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text


CASE_FORM = {
    "case_no": "ZY2026080777", "age": "67", "sex": "M", "admission_date": "2026-08-01",
    "discharge_date": "2026-08-20", "principal_dx": "I21.4", "secondary_dx": "I50.21\nN17.9",
    "procedures": "02703DZ", "total_cost": "400000.00", "icu_days": "4",
}


def test_hospital_to_letter(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    bad = client.post("/hospital/cases/new", data={**CASE_FORM, "principal_dx": "XYZ123", "total_cost": "1,234.5元"})
    assert bad.status_code == 422
    assert "XYZ123" in bad.text and "thousands separator" in bad.text

    created = client.post("/hospital/cases/new", data=CASE_FORM)
    assert created.status_code == 302
    case_url = created.headers["Location"]
    applied = client.post(case_url, data={"category": "high_cost",
                                          "reason": "Cardiogenic shock requiring prolonged ICU care."})
    assert applied.status_code == 302
    item_url = applied.headers["Location"]
    item_id = int(re.search(r"/items/(\d+)", item_url).group(1))  # type: ignore[union-attr]
    disguised = client.post(item_url, data={"doc_type": "discharge_summary",
                                            "files": (io.BytesIO(b"MZ\x90\x00binary"), "summary.pdf")},
                            content_type="multipart/form-data")
    assert "not a PDF, PNG or JPEG" in disguised.text
    uploaded = client.post(item_url, data={"doc_type": "discharge_summary",
                                           "files": [(io.BytesIO(PDF), "summary.pdf"),
                                                     (io.BytesIO(PDF + b"%second"), "orders.pdf")]},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302
    assert len(documents.item_documents(world.actors["hosp1"], item_id)) == 2
    assert client.get("/staff/").status_code == 403

    login(client, "hosp2")
    assert client.get(item_url).status_code == 404

    login(client, "staff")
    started = client.post(f"/staff/cycles/{world.cycle_id}/panel", data={"published_value": "2026-11-23 lottery 0815"})
    assert started.status_code == 302 and "/staff/assignment-runs/" in started.headers["Location"]
    run_page = client.get(started.headers["Location"])
    assert run_page.status_code == 200 and "Apply this assignment" in run_page.text
    applied = client.post(started.headers["Location"] + "/apply")
    assert applied.status_code == 302
    item = db.session.get(ReviewItem, item_id)
    experts = {expert_id: name for name, expert_id in world.experts.items()}
    for assignment in item.assignments:
        login(client, experts[assignment.expert_id])
        page = client.get(f"/expert/assignments/{assignment.id}")
        assert page.status_code == 200
        assert "ZY2026080777" not in page.text and "Hospital H1" not in page.text  # no identity for experts
        saved = client.post(f"/expert/assignments/{assignment.id}",
                            data={"admission_justified": "yes", "medically_necessary": "yes",
                                  "recommendation": "approve", "unreasonable_cost": "20000.00",
                                  "cost_reasons": "Consumables beyond the record.",
                                  "rationale": "Supported by ICU records.", "lock_version": "0", "submit": "1"})
        assert saved.status_code == 302

    login(client, "staff")
    decision = db.session.scalars(db.select(Decision).where(Decision.item_id == item_id)).one()
    assert client.get(f"/staff/decisions/{decision.id}").status_code == 200  # the reasons, opened before issuing
    assert client.post(f"/staff/decisions/{decision.id}/issue").status_code == 302
    db.session.refresh(decision)
    assert decision.status == "issued" and decision.letter_document_id is not None

    login(client, "hosp1")
    letter = client.get(f"/decisions/{decision.id}/letter.pdf")
    assert letter.status_code == 200 and letter.mimetype == "application/pdf"
    text = pdf_text(letter.data)
    assert format_fen(decision.amount_fen) in text
    assert "ZY2026080777" in text
    login(client, "hosp2")
    assert client.get(f"/decisions/{decision.id}/letter.pdf").status_code == 404
