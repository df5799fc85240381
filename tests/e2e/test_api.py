"""The hospital API over HTTP with the Flask client: token auth, scoping, idempotency, uploads, description."""
from __future__ import annotations

import io
import re

from review.extensions import db
from review.models import ActivityLog, ApiToken, Case, IdempotencyRecord, ReviewItem
from review.services import api_tokens
from review.services.cases import create_case
from tests.e2e.test_walkthrough import PDF, login
from tests.factories import ami_case

REASON = "Cardiogenic shock requiring prolonged ICU care."


def bearer(secret: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **extra}


def token_for(world, username: str = "hosp1") -> str:  # type: ignore[no-untyped-def]
    actor = world.actors[username]
    if username != "hosp1":
        from review.models import User

        db.session.get(User, actor.user_id).hospital_admin = True
        db.session.commit()
    return api_tokens.create_token(actor, f"{username} HIS")[1]


def test_requests_without_a_valid_token_get_401_json(client, world) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer drg_wrong"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/items", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/api/v1/applications", json={}).status_code == 401
    secret = token_for(world)
    token = db.session.scalars(db.select(ApiToken)).one()
    api_tokens.revoke_token(world.actors["hosp1"], token.id)
    assert client.get("/api/v1/items", headers=bearer(secret)).status_code == 401


def test_apply_is_idempotent_and_scoped(client, world) -> None:  # type: ignore[no-untyped-def]
    case = create_case(world.actors["hosp1"], ami_case())
    secret = token_for(world)
    body = {"case_id": case.id, "category": "high_cost", "reason": REASON}
    first = client.post("/api/v1/applications", json=body, headers=bearer(secret, **{"Idempotency-Key": "apply-1"}))
    assert first.status_code == 201, first.text
    created = first.get_json()
    assert created["state"] and isinstance(created["screening"], dict)
    again = client.post("/api/v1/applications", json=body, headers=bearer(secret, **{"Idempotency-Key": "apply-1"}))
    assert again.status_code == 201 and again.get_json() == created
    assert db.session.scalar(db.select(db.func.count(ReviewItem.id))) == 1
    changed = client.post("/api/v1/applications", json={**body, "category": "long_stay"},
                          headers=bearer(secret, **{"Idempotency-Key": "apply-1"}))
    assert changed.status_code == 422
    assert "Idempotency-Key reused" in changed.get_json()["error"]["message"]
    # without a key, a second application for the same case is refused by the service, in JSON
    twice = client.post("/api/v1/applications", json=body, headers=bearer(secret))
    assert twice.status_code == 409 and "already has an application" in twice.get_json()["error"]["message"]
    bad = client.post("/api/v1/applications", json={**body, "reason": "short"}, headers=bearer(secret))
    assert bad.status_code == 422 and bad.get_json()["error"]["rows"][0]["column"] == "reason"
    assert client.post("/api/v1/applications", data="nonsense", headers=bearer(secret)).status_code == 400
    assert db.session.scalar(db.select(db.func.count(ReviewItem.id))) == 1

    listed = client.get("/api/v1/items", headers=bearer(secret)).get_json()
    assert [i["id"] for i in listed["items"]] == [created["item_id"]]
    assert listed["items"][0]["case_no"] == case.case_no and listed["items"][0]["decision"] is None
    one = client.get(f"/api/v1/items/{created['item_id']}", headers=bearer(secret))
    assert one.status_code == 200 and one.get_json()["drg"] == case.drg
    assert client.get(f"/api/v1/items?state={created['state']}", headers=bearer(secret)).get_json()["total"] == 1
    assert client.get("/api/v1/items?state=draft", headers=bearer(secret)).get_json()["items"] == []
    assert client.get("/api/v1/items?state=nonsense", headers=bearer(secret)).status_code == 422

    other = token_for(world, "hosp2")
    assert client.get("/api/v1/items", headers=bearer(other)).get_json()["items"] == []
    hidden = client.get(f"/api/v1/items/{created['item_id']}", headers=bearer(other))
    assert hidden.status_code == 404 and hidden.get_json()["error"]["code"] == "not_found"
    # another hospital cannot apply for H1's case, and its Idempotency-Keys are its own
    foreign = client.post("/api/v1/applications", json=body, headers=bearer(other, **{"Idempotency-Key": "apply-1"}))
    assert foreign.status_code == 404
    assert client.get("/api/v1/decisions/999", headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/decisions/999/letter.pdf", headers=bearer(secret)).status_code == 404


def test_document_upload_checks_content(client, world) -> None:  # type: ignore[no-untyped-def]
    case = create_case(world.actors["hosp1"], ami_case())
    secret = token_for(world)
    item_id = client.post("/api/v1/applications", json={"case_id": case.id, "category": "high_cost", "reason": REASON},
                          headers=bearer(secret)).get_json()["item_id"]
    url = f"/api/v1/items/{item_id}/documents"
    disguised = client.post(url, headers=bearer(secret), content_type="multipart/form-data",
                            data={"doc_type": "discharge_summary", "file": (io.BytesIO(b"MZ\x90\x00binary"), "a.pdf")})
    assert disguised.status_code == 422
    error = disguised.get_json()["error"]
    assert "not a PDF, PNG or JPEG" in error["message"] and error["rows"][0]["column"].startswith("file")
    missing = client.post(url, headers=bearer(secret), content_type="multipart/form-data",
                          data={"doc_type": "discharge_summary"})
    assert missing.status_code == 422

    def upload(key: str, content: bytes = PDF):  # type: ignore[no-untyped-def]
        return client.post(url, headers=bearer(secret, **{"Idempotency-Key": key}), content_type="multipart/form-data",
                           data={"doc_type": "discharge_summary", "file": (io.BytesIO(content), "summary.pdf")})

    stored = upload("doc-1")
    assert stored.status_code == 201, stored.text
    body = stored.get_json()
    assert body["content_type"] == "application/pdf" and body["size_bytes"] == len(PDF) and len(body["sha256"]) == 64
    assert upload("doc-1").get_json() == body  # a retry (new multipart boundary) is the same request
    assert upload("doc-1", PDF + b"%extra\n").status_code == 422
    other = token_for(world, "hosp2")
    assert client.post(url, headers=bearer(other), content_type="multipart/form-data",
                       data={"doc_type": "other", "file": (io.BytesIO(PDF), "x.pdf")}).status_code == 404


def test_case_batch(client, world) -> None:  # type: ignore[no-untyped-def]
    secret = token_for(world)
    good = {"case_no": "API0001", "age": 67, "sex": "M", "admission_date": "2026-08-01",
            "discharge_date": "2026-08-20", "principal_dx": "I21.4", "secondary_dx": ["I50.21", "N17.9"],
            "procedures": ["02703DZ"], "total_cost": 400000, "icu_days": 4, "hospital_drg": None}
    bad = {**good, "case_no": "API0002", "principal_dx": "XYZ123"}
    refused = client.post("/api/v1/cases", json={"mode": "all_or_nothing", "cases": [good, bad]},
                          headers=bearer(secret))
    assert refused.status_code == 422, refused.text
    body = refused.get_json()
    assert body["accepted"] == 0 and body["error"]["rows"][0]["row"] == 2
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0

    batch = {"mode": "valid_rows", "cases": [good, bad]}
    done = client.post("/api/v1/cases", json=batch, headers=bearer(secret, **{"Idempotency-Key": "batch-1"}))
    assert done.status_code == 201, done.text
    result = done.get_json()
    assert result["accepted"] == 1 and result["rejected"] == 1 and len(result["case_ids"]) == 1
    assert result["errors"][0]["row"] == 2 and result["errors"][0]["column"] == "principal_dx"
    assert client.post("/api/v1/cases", json=batch,
                       headers=bearer(secret, **{"Idempotency-Key": "batch-1"})).get_json() == result
    again = client.post("/api/v1/cases", json=batch, headers=bearer(secret)).get_json()
    assert again["skipped"] == 1 and again["accepted"] == 0
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 1

    wrong_type = client.post("/api/v1/cases", json={"cases": [{**good, "age": {"years": 67}}]}, headers=bearer(secret))
    assert wrong_type.status_code == 422 and wrong_type.get_json()["error"]["rows"][0]["column"] == "age"
    too_many = client.post("/api/v1/cases", json={"cases": [good] * 5001}, headers=bearer(secret))
    assert too_many.status_code == 413 and "5000" in too_many.get_json()["error"]["message"]
    assert client.post("/api/v1/cases", json={"mode": "some", "cases": [good]}, headers=bearer(secret)).status_code == 422


def test_openapi_describes_every_route(app, client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.0.3"
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "Error" in document["components"]["schemas"]
    routes = {(re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api_v1.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert described == routes
    for path, operations in document["paths"].items():
        for operation in operations.values():
            refs = re.findall(r'"#/components/schemas/(\w+)"', str(operation).replace("'", '"'))
            assert all(name in document["components"]["schemas"] for name in refs), path


def test_token_page(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1clerk")
    assert client.get("/hospital/tokens").status_code == 403
    assert "API tokens" not in client.get("/hospital/").text
    login(client, "hosp1")
    page = client.get("/hospital/tokens")
    assert page.status_code == 200 and "API tokens" in client.get("/hospital/").text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    created = client.post("/hospital/tokens", data={"name": "HIS export", "csrf_token": csrf.group(1)})  # type: ignore[union-attr]
    assert created.status_code == 200
    secret = re.search(r'value="(drg_[^"]+)"', created.text).group(1)  # type: ignore[union-attr]
    assert api_tokens.authenticate(secret) is not None
    listed = client.get("/hospital/tokens")
    assert secret not in listed.text and secret[:8] in listed.text
    token = db.session.scalars(db.select(ApiToken)).one()
    client.post(f"/hospital/tokens/{token.id}/revoke", data={"csrf_token": csrf.group(1)})  # type: ignore[union-attr]
    assert api_tokens.authenticate(secret) is None
    assert db.session.scalar(db.select(db.func.count(IdempotencyRecord.id))) == 0


def test_api_actions_name_the_token_in_the_register(client, world) -> None:  # type: ignore[no-untyped-def]
    token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS bridge")
    case = create_case(world.actors["hosp1"], ami_case())
    response = client.post("/api/v1/applications", headers={"Authorization": f"Bearer {secret}"},
                           json={"case_id": case.id, "category": "high_cost",
                                 "reason": "Cardiogenic shock with a long ICU stay."})
    assert response.status_code == 201
    created = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "item.created")).one()
    assert created.data["api_token_id"] == token.id


def test_an_issued_decision_reads_with_its_letter_reference(client, world) -> None:  # type: ignore[no-untyped-def]
    from review.services import decisions
    from tests.integration.test_decision_queue import APPROVE, make_decisions

    [decision_id] = make_decisions(world, [("hosp1", "ZY2026081001", APPROVE)])
    secret = token_for(world)
    assert client.get(f"/api/v1/decisions/{decision_id}", headers=bearer(secret)).status_code == 404  # proposed
    decisions.open_reasons(world.actors["staff"], decision_id)
    issued = decisions.issue(world.actors["staff"], decision_id)
    body = client.get(f"/api/v1/decisions/{decision_id}", headers=bearer(secret)).get_json()
    assert (body["status"], body["amount_fen"], body["letter_ref_zh"], body["letter_ref_en"]) == (
        "issued", issued.amount_fen, issued.letter_ref_zh, issued.letter_ref_en)
    assert body["letter_ref_zh"].endswith("1号") and body["appeal_deadline"] == issued.appeal_deadline.isoformat()
