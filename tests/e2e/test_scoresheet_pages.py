"""The expert's scoresheet over HTTP and in the browser: questions of the item's kind, live regrouping of a
corrected code, background drafts that never overwrite a newer save."""
from __future__ import annotations

import re

from review.extensions import db
from review.models import Assignment, Scoresheet
from tests.e2e.test_browser import browser_page, expect, login, served  # noqa: F401
from tests.e2e.test_walkthrough import login as client_login
from tests.integration.test_application_path import _apply
from tests.integration.test_record_review import _sampled
from tests.factories import PASSWORD, seat_panels


def _expert_of(world, assignment: Assignment) -> str:  # type: ignore[no-untyped-def]
    return next(name for name, expert_id in world.experts.items() if expert_id == assignment.expert_id)


def test_record_review_page_asks_its_own_questions(client, world) -> None:  # type: ignore[no-untyped-def]
    item = _sampled(world)
    assignment = item.assignments[0]
    client_login(client, _expert_of(world, assignment))
    page = client.get(f"/expert/assignments/{assignment.id}").text
    assert 'name="principal_dx_correct"' in page and 'name="corrected_principal_dx"' in page
    assert 'name="recommendation"' not in page and 'name="unreasonable_cost"' not in page


def test_live_regrouping_answers_json(client, world) -> None:  # type: ignore[no-untyped-def]
    item = _sampled(world)
    assignment = item.assignments[0]
    client_login(client, _expert_of(world, assignment))
    url = f"/expert/assignments/{assignment.id}/regroup"
    good = client.get(url, query_string={"dx": "I21.09"}).get_json()
    assert good["ok"] and good["drg"] and "Regrouped: DRG" in good["summary"]
    bad = client.get(url, query_string={"dx": "I21.X9"})
    assert bad.status_code == 422 and "corrected_principal_dx" in bad.get_json()["errors"]
    other = next(a for a in item.assignments if a.id != assignment.id)
    assert client.get(f"/expert/assignments/{other.id}/regroup", query_string={"dx": "I21.09"}).status_code == 404


def test_live_regrouping_is_for_record_reviews_only(client, world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    assignment = item.assignments[0]
    client_login(client, _expert_of(world, assignment))
    assert client.get(f"/expert/assignments/{assignment.id}/regroup", query_string={"dx": "I21.09"}).status_code == 409


def test_background_draft_refuses_a_stale_version(client, world) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    assignment = item.assignments[0]
    client_login(client, _expert_of(world, assignment))
    url = f"/expert/assignments/{assignment.id}/draft"
    first = client.post(url, data={"rationale": "first window", "unreasonable_cost": "0", "lock_version": "0"})
    assert first.status_code == 200 and first.get_json()["ok"]
    version = first.get_json()["lock_version"]
    again = client.post(url, data={"rationale": "same window", "unreasonable_cost": "0", "lock_version": str(version)})
    assert again.status_code == 200
    stale = client.post(url, data={"rationale": "other window", "unreasonable_cost": "0", "lock_version": str(version)})
    assert stale.status_code == 409 and "another window" in stale.get_json()["message"]
    sheet = db.session.scalars(db.select(Scoresheet).where(Scoresheet.assignment_id == assignment.id)).one()
    db.session.refresh(sheet)
    assert sheet.rationale == "same window" and sheet.status == "draft"


def test_expert_corrects_a_code_and_sees_the_drg_change(served) -> None:  # type: ignore[no-untyped-def]
    app, world, base = served
    with app.app_context():
        item = _sampled(world)
        assignment = item.assignments[0]
        assignment_id, username, drg = assignment.id, _expert_of(world, assignment), item.case.drg
        db.session.remove()
    with browser_page() as page:
        login(page, base, username)
        page.goto(f"{base}/expert/assignments/{assignment_id}")
        expect(page.locator("[data-question=corrected_principal_dx]")).to_be_hidden()
        page.check("#admission_justified-0")
        page.check("#principal_dx_correct-1")  # no: the corrected-code question appears
        expect(page.locator("#corrected_principal_dx")).to_be_visible()
        page.fill("#corrected_principal_dx", "I21.X9")
        expect(page.locator("#regroup-result")).to_contain_text("I21X9")  # the code editor names the bad code
        page.fill("#corrected_principal_dx", "I21.09")
        expect(page.locator("#regroup-result")).to_contain_text("Regrouped: DRG")
        page.check("#principal_procedure_correct-0")
        page.check("#secondary_supported-0")
        page.fill("#rationale", "The record documents an anterior wall STEMI, not a subendocardial infarction.")
        page.get_by_role("button", name="Submit (locks the sheet)").click()
        expect(page.locator(".notice-success")).to_contain_text("The scoresheet is locked.")
        expect(page.locator(".readonly-sheet")).to_contain_text("I2109")
        assert drg  # the case was grouped before review
        expect(page).to_have_url(re.compile(rf"/expert/assignments/{assignment_id}$"))


def test_staff_see_the_record_review_findings(client, world) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_record_review import _sheet

    item = _sampled(world)
    for assignment, dx in zip(item.assignments, ("I21.09", "I21.09", "")):
        _sheet(world, assignment, dx=dx, rationale="The record documents an anterior wall STEMI." if dx else "")
    client_login(client, "staff")
    page = client.get(f"/staff/items/{item.id}").text
    assert "Regrouped: payment adjusted" in page and "Panel majority" in page and "I2109" in page
    assert "Recovery" in page or "DRG payment after review" in page
    # each expert's part is named for the office (code and name), never an internal id
    assert "Expert ID" not in page and all(a.expert.code in page for a in item.assignments)
    assert "Open the reasons to issue" in page and "Coding corrected" in page
