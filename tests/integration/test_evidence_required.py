"""Evidence before review (issue 13 §2), on SQLite and PostgreSQL: under the default policy an application waits as
a draft, holding its quota place, until the evidence its category needs is uploaded; only then is it screened and
queued for a panel."""
from __future__ import annotations

import io

import pytest

from review.extensions import db
from review.models import Cycle
from review.services import api_tokens, applications, cases, documents, intake
from review.services.context import ServiceError
from tests.e2e.test_walkthrough import login
from tests.factories import World, ami_case, seat_panels
from tests.integration.test_application_path import PDF
from tests.integration.test_intake import rows
from workflows.policy import DEFAULTS

REASON = "Cardiogenic shock after PCI; four days of ICU care."


@pytest.fixture
def strict(world: World) -> World:
    """The world's cycle under the default evidence rule (high cost: discharge summary and special items list)."""
    cycle = db.session.get(Cycle, world.cycle_id)
    cycle.policy_snapshot = {**cycle.policy_snapshot, "required_evidence": DEFAULTS.to_json()["required_evidence"]}
    db.session.commit()
    return world


def _upload(world: World, item_id: int, kind: str) -> None:
    documents.upload_evidence(world.actors["hosp1"], item_id, io.BytesIO(PDF), f"{kind}.pdf", kind)


def test_a_draft_is_screened_only_once_its_evidence_is_complete(strict: World) -> None:
    case = cases.create_case(strict.actors["hosp1"], ami_case())
    item = applications.apply_for_case(strict.actors["hosp1"], case.id, "high_cost", REASON)
    assert item.state == "draft" and item.screening is None
    assert applications.missing_evidence(item) == ("discharge_summary", "special_items")
    [quota] = applications.open_quotas(strict.actors["hosp1"])
    assert quota.used == 1  # a draft holds its place
    seat_panels(strict)
    db.session.refresh(item)
    assert item.state == "draft" and item.assignments == []  # no panel for a draft

    _upload(strict, item.id, "discharge_summary")
    with pytest.raises(ServiceError) as refused:
        applications.submit(strict.actors["hosp1"], item.id)
    assert str(refused.value.message) == ("Upload the evidence this category needs before submitting: "
                                          "Special drugs / consumables list.")
    _upload(strict, item.id, "special_items")
    submitted = applications.submit(strict.actors["hosp1"], item.id)
    assert submitted.state == "queued" and submitted.screening["eligible"]
    with pytest.raises(ServiceError):  # once submitted it cannot be submitted again
        applications.submit(strict.actors["hosp1"], item.id)


def test_a_category_that_needs_nothing_is_screened_at_once_and_imports_make_drafts(strict: World) -> None:
    cycle = db.session.get(Cycle, strict.cycle_id)
    cycle.policy_snapshot = {**cycle.policy_snapshot, "required_evidence": {"long_stay": []}}
    db.session.commit()
    case = cases.create_case(strict.actors["hosp1"], ami_case())
    assert applications.apply_for_case(strict.actors["hosp1"], case.id, "high_cost", REASON).state != "draft"

    cycle.policy_snapshot = {**cycle.policy_snapshot, "required_evidence": DEFAULTS.to_json()["required_evidence"]}
    db.session.commit()
    outcome = intake.import_rows(strict.actors["hosp1"], rows({"case_no": "ZY2026089001", "category": "high_cost",
                                                               "reason": REASON}), mode="all_or_nothing")
    assert outcome.applications == 1
    imported = db.session.scalars(db.select(applications.ReviewItem).where(
        applications.ReviewItem.case_id == outcome.case_ids[0])).one()
    assert imported.state == "draft"


def test_the_hospital_and_the_api_are_told_what_is_missing(app, strict: World) -> None:  # type: ignore[no-untyped-def]
    case = cases.create_case(strict.actors["hosp1"], ami_case())
    client = app.test_client()
    login(client, "hosp1")
    applied = client.post(f"/hospital/cases/{case.id}", data={"category": "high_cost", "reason": REASON},
                          follow_redirects=True).text
    assert "Application saved as a draft" in applied
    item = db.session.scalars(db.select(applications.ReviewItem).where(
        applications.ReviewItem.case_id == case.id)).one()
    page = client.get(f"/hospital/items/{item.id}").text
    assert "Draft: submit when the evidence is uploaded" in page and "Submit the application" in page
    refused = client.post(f"/hospital/items/{item.id}/submit", follow_redirects=True).text
    assert "Discharge summary, Special drugs / consumables list" in refused
    for kind in ("discharge_summary", "special_items"):
        _upload(strict, item.id, kind)
    assert "All the evidence this category needs is uploaded." in client.get(f"/hospital/items/{item.id}").text
    submitted = client.post(f"/hospital/items/{item.id}/submit", follow_redirects=True).text
    assert "Application submitted and queued for the panel." in submitted and "Draft:" not in submitted

    second = cases.create_case(strict.actors["hosp1"], ami_case(case_no="ZY2026080002"))
    _token, secret = api_tokens.create_token(strict.actors["hosp1"], "HIS")
    headers = {"Authorization": f"Bearer {secret}"}
    created = client.post("/api/v1/applications", headers=headers,
                          json={"case_id": second.id, "category": "high_cost", "reason": REASON})
    assert created.status_code == 201 and created.json["state"] == "draft"
    assert created.json["missing_evidence"] == ["discharge_summary", "special_items"]
    item_id = created.json["item_id"]
    assert client.post(f"/api/v1/items/{item_id}/submit", headers=headers).status_code == 409
    for kind in ("discharge_summary", "special_items"):
        client.post(f"/api/v1/items/{item_id}/documents", headers=headers, content_type="multipart/form-data",
                    data={"doc_type": kind, "file": (io.BytesIO(PDF), f"{kind}.pdf")})
    done = client.post(f"/api/v1/items/{item_id}/submit", headers=headers)
    assert done.status_code == 200 and done.json["state"] == "queued" and done.json["missing_evidence"] == []
