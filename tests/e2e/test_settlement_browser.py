"""Settlement in a real browser (issue 14 §2, "done when"): the office closes the quarter on the ledger page, draws
the drafts and watches the run's progress until a worker has drawn them, issues the hospital's statement; the
hospital opens it from its Statements page and acknowledges it, and the office's list shows it acknowledged.

The drafts' job goes to a broker no worker reads (as if the workers were busy), so the page shows the run waiting;
the test then delivers the message as a worker would, and the page's poller (static/js/job-progress.js) reloads it
once the run is done."""
from __future__ import annotations

import re

from review.extensions import db
from review.models import Settlement, SettlementRun
from review.services import decisions
from review.tasks import draw_settlements
from tests.e2e.test_browser import browser_page, expect, login, served  # noqa: F401  (fixture)
from tests.integration.test_decision_queue import APPROVE, make_decisions
from tests.integration.test_jobs import LOST, broker


def test_generate_issue_and_the_hospital_acknowledges(served) -> None:  # type: ignore[no-untyped-def]
    app, world, base = served
    with app.app_context():
        [decision_id] = make_decisions(world, [("hosp1", "ZY2026083001", APPROVE)])
        decisions.open_reasons(world.actors["staff"], decision_id)
        decisions.issue(world.actors["staff"], decision_id)
        db.session.remove()

    with browser_page() as page:
        login(page, base, "staff")
        nav = page.get_by_role("navigation", name="Main navigation")
        nav.get_by_role("link", name="Ledger").click()
        page.locator('#periods tr[data-period="2026Q3"]').get_by_role("button", name="Reconcile and close").click()
        expect(page.locator(".flash-success")).to_contain_text("Period 2026Q3 is closed")

        nav.get_by_role("link", name="Settlements").click()
        expect(page).to_have_url(re.compile(r"/staff/settlements"))
        with broker(app, LOST):
            page.get_by_role("button", name="Draw drafts").click()
            expect(page.locator(".flash-success")).to_contain_text("Drafts of 2026Q3 requested for 1 hospital.")
        expect(page.locator("#run-status")).to_have_text("Queued")
        expect(page.locator("#job-progress progress")).to_have_attribute("value", "0")
        expect(page.locator("#job-progress")).to_contain_text("0 of 1 hospitals")
        with app.app_context():
            run_id = db.session.scalars(db.select(SettlementRun.id)).one()
            draw_settlements.apply(args=[run_id])  # a worker takes the message
            db.session.remove()
        expect(page.locator("#run-status")).to_have_text("Done")  # reloaded by the poller, not by the test
        expect(page.locator("#job-progress")).to_have_count(0)
        row = page.locator('#statements tr[data-hospital="H1"]')
        expect(row.locator(".badge")).to_have_text("Draft")
        row.get_by_role("link", name="Open").click()
        page.get_by_role("button", name="Issue", exact=True).click()
        expect(page.locator(".flash-success")).to_contain_text("Statement issued as")
        expect(page.locator(".page-head .badge")).to_have_text("Issued")

        login(page, base, "hosp1")
        page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Statements").click()
        statement = page.locator("#statements tr[data-settlement]")
        expect(statement).to_have_count(1)
        statement.get_by_role("link", name="Open").click()
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator(".flash-success")).to_have_text("Statement acknowledged.")
        expect(page.locator(".page-head .badge")).to_have_text("Acknowledged")
        expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)  # answered once

        login(page, base, "staff")
        page.goto(f"{base}/staff/settlements")
        expect(page.locator('#statements tr[data-hospital="H1"] .badge')).to_have_text("Acknowledged")

    with app.app_context():
        answered = db.session.scalars(db.select(Settlement)).one()
        assert answered.state == "acknowledged" and answered.statement_ref_en and answered.answered_at is not None
