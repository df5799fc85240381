"""The ledger pages (issue 14 §3) over HTTP: the office reads periods, accounts and the journal with filters and
closes a period; an auditor reads; a hospital reads its own account only."""
from __future__ import annotations

import re

from review.extensions import db
from review.models import AccountingPeriod, Decision
from review.services import decisions
from tests.e2e.test_walkthrough import login
from tests.factories import World
from tests.integration.test_decision_queue import APPROVE, PARTIAL, make_decisions


def _issued(world: World) -> list[Decision]:
    ids = make_decisions(world, [("hosp1", "ZY2026082001", APPROVE), ("hosp2", "ZY2026082002", PARTIAL)])
    for decision_id in ids:
        decisions.open_reasons(world.actors["staff"], decision_id)
        decisions.issue(world.actors["staff"], decision_id)
    return [db.session.get(Decision, decision_id) for decision_id in ids]


def test_the_office_reads_the_ledger_filters_it_and_closes_a_period(client, world: World) -> None:  # type: ignore[no-untyped-def]
    h1, h2 = _issued(world)
    login(client, "staff")
    page = client.get("/staff/ledger").text
    assert 'data-period="2026Q3"' in page and "hospital:H1" in page and "hospital:H2" in page and "fund:T01" in page
    assert len(re.findall(r'<tr data-entry="', page)) == 2 and h1.letter_ref_en in page
    only_h2 = client.get(f"/staff/ledger?hospital={world.hospitals['H2']}").text
    assert len(re.findall(r'<tr data-entry="', only_h2)) == 1 and h2.letter_ref_en in only_h2
    assert h1.letter_ref_en not in only_h2
    assert "No entries." in client.get("/staff/ledger?kind=reversal").text

    login(client, "auditor")
    assert client.get("/staff/ledger").status_code == 200
    period = db.session.scalars(db.select(AccountingPeriod)).one()
    assert client.post(f"/staff/ledger/periods/{period.id}/close").status_code == 403
    login(client, "staff")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/staff/ledger").text)
    closed = client.post(f"/staff/ledger/periods/{period.id}/close",
                         data={"csrf_token": token.group(1) if token else ""}, follow_redirects=True).text
    assert "Period 2026Q3 is closed: 2 entries." in closed and "period-closed" in closed


def test_a_hospital_reads_its_own_account_only(client, world: World) -> None:  # type: ignore[no-untyped-def]
    h1, h2 = _issued(world)
    login(client, "hosp1")
    page = client.get("/hospital/account").text
    assert "hospital:H1" in page and h1.letter_ref_en in page
    assert "hospital:H2" not in page and h2.letter_ref_en not in page and "fund:T01" not in page
    assert client.get("/staff/ledger").status_code == 403
