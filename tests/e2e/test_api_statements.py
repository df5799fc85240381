"""Settlement statements through the hospital API (issue 14 §2), on SQLite and PostgreSQL: a hospital's finance
system reads its own issued statements with their lines and figures, downloads them, and answers one once,
acknowledging or disputing, with a retry under the same Idempotency-Key changing nothing."""
from __future__ import annotations

from review.extensions import db
from review.models import ActivityLog, Settlement
from tests.e2e.test_api import bearer, token_for
from tests.e2e.test_settlement_pages import DISPUTE, _closed, _draw, _statement
from tests.e2e.test_walkthrough import login
from tests.factories import World


def _issued_statements(client, world: World) -> tuple[dict, Settlement, Settlement]:  # type: ignore[no-untyped-def]
    """The closed quarter's drafts drawn; H2's issued, H1's still a draft."""
    period, decided = _closed(world)
    login(client, "staff")
    _draw(client, period)
    client.post(f"/staff/settlements/{_statement('H2').id}/issue")
    client.post("/logout")
    return decided, _statement("H1"), _statement("H2")


def test_a_hospital_system_reads_its_own_issued_statements_only(client, world: World) -> None:  # type: ignore[no-untyped-def]
    decided, h1, h2 = _issued_statements(client, world)
    headers = bearer(token_for(world))
    assert client.get("/api/v1/statements", headers=headers).get_json()["statements"] == []
    for hidden in (h1.id, h2.id):  # its own draft, another hospital's issued statement
        answer = client.get(f"/api/v1/statements/{hidden}", headers=headers)
        assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"
        assert client.get(f"/api/v1/statements/{hidden}/statement.pdf", headers=headers).status_code == 404

    login(client, "staff")
    client.post(f"/staff/settlements/{h1.id}/issue")
    client.post("/logout")
    h1 = _statement("H1")
    listed = client.get("/api/v1/statements", headers=headers).get_json()
    assert (listed["total"], [s["id"] for s in listed["statements"]]) == (1, [h1.id])
    summary = listed["statements"][0]
    assert (summary["period"], summary["state"], summary["statement_ref_zh"]) == ("2026Q3", "issued",
                                                                                  h1.statement_ref_zh)
    assert (summary["opening_fen"], summary["supplements_fen"], summary["closing_fen"]) == (
        h1.opening_fen, h1.supplements_fen, h1.closing_fen)
    assert summary["closing_yuan"] == f"{h1.closing_fen // 100}.{h1.closing_fen % 100:02d}"

    detail = client.get(summary["url"], headers=headers).get_json()
    approval = decided["H1"]
    assert [(line["kind"], line["amount_fen"], line["decision_id"]) for line in detail["lines"]] == [
        ("supplement", approval.amount_fen, approval.id)]
    assert [d["item_id"] for d in detail["decisions_without_money"]] == [decided["rejected"].item_id]
    assert detail["dispute"] is None and detail["lines"][0]["decision_url"] == f"/api/v1/decisions/{approval.id}"

    pdf = client.get(detail["pdf_url"], headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    workbook = client.get(detail["xlsx_url"], headers=headers)
    assert workbook.status_code == 200 and workbook.data.startswith(b"PK")
    assert client.get(detail["pdf_url"] + "?lang=zh_CN", headers=headers).data.startswith(b"%PDF")
    unknown = client.get(detail["pdf_url"] + "?lang=fr", headers=headers)
    assert unknown.status_code == 404 and unknown.is_json


def test_acknowledging_is_once_and_a_retry_replays(client, world: World) -> None:  # type: ignore[no-untyped-def]
    _decided, _h1, h2 = _issued_statements(client, world)
    headers = bearer(token_for(world, "hosp2"), **{"Idempotency-Key": "ack-2026Q3"})
    first = client.post(f"/api/v1/statements/{h2.id}/acknowledge", headers=headers)
    again = client.post(f"/api/v1/statements/{h2.id}/acknowledge", headers=headers)
    assert first.status_code == again.status_code == 200 and first.get_json() == again.get_json()
    assert first.get_json()["state"] == "acknowledged" and first.get_json()["answered_at"]
    assert db.session.scalar(db.select(db.func.count()).select_from(ActivityLog).where(
        ActivityLog.action == "settlement.acknowledged")) == 1

    fresh = client.post(f"/api/v1/statements/{h2.id}/acknowledge", headers=bearer(token_for(world, "hosp2")))
    assert fresh.status_code == 409 and fresh.get_json()["error"]["code"] == "refused"
    disputed_after = client.post(f"/api/v1/statements/{h2.id}/dispute", headers=bearer(token_for(world, "hosp2")),
                                 json={"reason": DISPUTE})
    assert disputed_after.status_code == 409 and _statement("H2").state == "acknowledged"


def test_a_dispute_names_its_reason_and_only_the_statement_s_cases(client, world: World) -> None:  # type: ignore[no-untyped-def]
    decided, h1, h2 = _issued_statements(client, world)
    headers = bearer(token_for(world, "hosp2"))
    url = f"/api/v1/statements/{h2.id}/dispute"
    not_text = client.post(url, headers=headers, json={"reason": 42})
    assert not_text.status_code == 400 and not_text.get_json()["error"]["rows"][0]["column"] == "reason"
    not_ids = client.post(url, headers=headers, json={"reason": DISPUTE, "item_ids": ["one"]})
    assert not_ids.status_code == 400 and not_ids.get_json()["error"]["rows"][0]["column"] == "item_ids"
    short = client.post(url, headers=headers, json={"reason": "short"})
    assert short.status_code == 422 and short.get_json()["error"]["rows"][0]["column"] == "reason"
    foreign = client.post(url, headers=headers, json={"reason": DISPUTE, "item_ids": [decided["H1"].item_id]})
    assert foreign.status_code == 422 and foreign.get_json()["error"]["rows"][0]["column"] == "item_ids"
    assert _statement("H2").state == "issued"

    own = decided["H2"].item_id
    answer = client.post(url, headers=headers, json={"reason": DISPUTE, "item_ids": [own]})
    assert answer.status_code == 200
    assert answer.get_json()["dispute"] == {"reason": DISPUTE, "item_ids": [own]}
    assert (_statement("H2").state, _statement("H2").disputed_item_ids) == ("disputed", [own])
    elsewhere = client.post(f"/api/v1/statements/{h1.id}/dispute", headers=headers, json={"reason": DISPUTE})
    assert elsewhere.status_code == 404
