"""The appeal in a real browser (issue 13): the hospital files its appeal from the item page with a supporting
document, the review office finds it in the cycle's appeal queue and draws an appeal panel for it."""
from __future__ import annotations

import re
from pathlib import Path

from review.extensions import db
from review.models import Appeal, Assignment, Decision
from review.services import decisions
from tests.e2e.test_browser import PDF, browser_page, expect, login, served  # noqa: F401  (fixture)
from tests.integration.test_appeals import more_experts
from tests.integration.test_decision_queue import PARTIAL, make_decisions

GROUNDS = "The ICU stay was necessary throughout: see the attached nursing records for days 3 to 6."


def test_the_hospital_files_an_appeal_and_the_office_draws_its_panel(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, world, base = served
    with app.app_context():
        [decision_id] = make_decisions(world, [("hosp1", "ZY2026081001", PARTIAL)])
        more_experts(world, 3)  # the first panel took the world's free experts; an appeal panel needs others
        decisions.open_reasons(world.actors["staff"], decision_id)
        decision = decisions.issue(world.actors["staff"], decision_id)
        item_id, first_panel = decision.item_id, {a.expert_id for a in decision.item.assignments}
        db.session.remove()
    records = tmp_path / "nursing-records.pdf"
    records.write_bytes(PDF)

    with browser_page() as page:
        login(page, base, "hosp1")
        page.goto(f"{base}/hospital/items/{item_id}")
        page.locator("#appeal summary").click()
        page.fill("#grounds", GROUNDS)
        page.set_input_files("#files", str(records))
        page.get_by_role("button", name="File the appeal").click()
        expect(page.locator(".flash-success")).to_contain_text("Your appeal was filed")
        expect(page.locator("#appeal .badge")).to_have_text("Filed")
        expect(page.get_by_role("button", name="File the appeal")).to_have_count(0)  # one appeal per decision

        login(page, base, "staff")
        page.goto(f"{base}/staff/cycles/{world.cycle_id}/appeals")
        row = page.locator("#appeals tr[data-appeal]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("ZY2026081001")
        expect(row.locator(".badge")).to_have_text("Filed")
        expect(page.locator("[data-field=waiting]")).to_have_text("1")
        page.fill("#published_value", "2026-11-20 appeal lottery 0815")
        page.get_by_role("button", name="Start an appeal panel run").click()
        expect(page).to_have_url(re.compile(r"/staff/assignment-runs/\d+$"))
        expect(page.locator(".flash-success")).to_contain_text("Appeal panel run started")
        page.get_by_role("button", name="Apply this assignment").click()
        expect(page.locator(".flash-success")).to_be_visible()

    with app.app_context():
        appeal = db.session.scalars(db.select(Appeal)).one()
        assert appeal.grounds == GROUNDS and appeal.state == "in_review"
        assert db.session.get(Decision, decision_id).status == "issued"  # until the appeal panel decides
        seated = set(db.session.scalars(db.select(Assignment.expert_id).where(
            Assignment.item_id == item_id, Assignment.round == 2)))
        assert len(seated) == 3 and not seated & first_panel  # the appeal panel: three others
