"""The settlement pages (issue 14 §2) over HTTP, on SQLite and PostgreSQL: the office draws a closed period's
drafts, reads and issues them; a hospital reads its own issued statements only and answers one, acknowledging or
disputing with a reason; an auditor reads without acting; an expert reads nothing."""
from __future__ import annotations

import io
import re

import pytest
from flask_babel import refresh
from openpyxl import load_workbook

from review.extensions import db
from review.models import AccountingPeriod, Decision, Hospital, ReviewItem, Settlement
from review.services import decisions, periods
from tests.e2e.test_ledger_pages import _issued
from tests.e2e.test_walkthrough import login
from tests.e2e.test_zh_walk import html_text, known_values, latin_runs
from tests.factories import World
from tests.integration.test_decision_queue import APPROVE, PARTIAL, REJECT, make_decisions
from tests.pdftext import pdf_text
from workflows.money import format_fen

DISPUTE = "The supplement for our ICU case is 4,500 yuan short of the panel outcome."


def _closed(world: World) -> tuple[AccountingPeriod, dict[str, Decision]]:
    """H1's full approval and rejection and H2's partial approval issued in 2026Q3, and the period closed by the
    office. The rejection moves no money: it has no line, and the statement lists and settles it all the same."""
    ids = make_decisions(world, [("hosp1", "ZY2026082001", APPROVE), ("hosp2", "ZY2026082002", PARTIAL),
                                 ("hosp1", "ZY2026082003", REJECT)])
    for decision_id in ids:
        decisions.open_reasons(world.actors["staff"], decision_id)
        decisions.issue(world.actors["staff"], decision_id)
    period = periods.close(world.actors["staff"], "T01", "2026Q3")
    return period, dict(zip(("H1", "H2", "rejected"), (db.session.get(Decision, d) for d in ids)))


def _rows(page: str) -> dict[str, str]:
    """The statements table's rows by hospital code."""
    return dict(re.findall(r'<tr data-settlement="\d+" data-hospital="(\w+)">(.*?)</tr>', page, re.S))


def _statement(hospital_code: str) -> Settlement:
    db.session.expire_all()
    return db.session.scalars(db.select(Settlement).join(Hospital, Hospital.id == Settlement.hospital_id)
                              .where(Hospital.code == hospital_code)).one()


def _draw(client, period: AccountingPeriod) -> str:  # type: ignore[no-untyped-def]
    return client.post(f"/staff/settlements/periods/{period.id}/drafts", follow_redirects=True).text


def test_the_office_draws_a_closed_period_s_drafts_and_issues_one(client, world: World) -> None:  # type: ignore[no-untyped-def]
    period, decided = _closed(world)
    login(client, "staff")
    page = client.get("/staff/settlements").text
    assert 'id="draw-drafts"' in page and "No statements match the filter." in page

    page = _draw(client, period)
    assert "Drafts of 2026Q3 requested for 2 hospitals." in page
    assert 'id="run-done"' in page and "2 of 2 hospitals" in page and 'id="job-progress"' not in page
    rows = _rows(page)
    assert set(rows) == {"H1", "H2"} and all('data-state="draft"' in row for row in rows.values())
    for code in ("H1", "H2"):  # one supplement each, nothing carried in: closing = the amount
        decision = decided[code]
        assert decision.amount_fen > 0
        assert re.findall(r'<td class="num amount">(?:<strong>)?([-\d,.]+)', rows[code]) == [
            format_fen(0), format_fen(decision.amount_fen), format_fen(0), format_fen(0),
            format_fen(decision.amount_fen)]
    assert re.search(r'<span class="n">2</span><span class="badge state-draft" data-state="draft">', page)
    assert "data-status-url" not in page  # a finished run has nothing to poll

    h1 = _statement("H1")
    status = client.get(f"/staff/settlements/runs/{h1.run_id}/status").get_json()
    assert status == {"status": "done", "progress": 100, "done": 2, "total": 2, "finished": True}
    detail = client.get(f"/staff/settlements/{h1.id}").text
    case_no = db.session.get(ReviewItem, decided["H1"].item_id).case.case_no
    assert case_no in detail and f'href="/staff/decisions/{decided["H1"].id}"' in detail
    assert decided["H1"].letter_ref_en in detail and format_fen(decided["H1"].amount_fen) in detail
    rejected = db.session.get(ReviewItem, decided["rejected"].item_id)
    unpaid = re.search(r'<table class="data compact" id="unpaid">(.*?)</table>', detail, re.S)
    assert decided["rejected"].amount_fen == 0 and unpaid and rejected.case.case_no in unpaid.group(1)
    assert decided["rejected"].letter_ref_en in unpaid.group(1) and case_no not in unpaid.group(1)

    issued = client.post(f"/staff/settlements/{h1.id}/issue", follow_redirects=True).text
    h1 = _statement("H1")
    assert h1.state == "issued" and f"Statement issued as {h1.statement_ref_en}" in issued
    assert 'data-state="issued"' in issued and 'id="issue-statement"' not in issued
    assert db.session.get(ReviewItem, decided["H1"].item_id).state == "settled"
    assert db.session.get(ReviewItem, rejected.id).state == "settled"
    only_drafts = client.get(f"/staff/settlements?period={period.id}&state=draft").text
    assert set(_rows(only_drafts)) == {"H2"}


def test_an_open_period_says_why_no_draft_can_be_drawn(client, world: World) -> None:  # type: ignore[no-untyped-def]
    _issued(world)
    period = db.session.scalars(db.select(AccountingPeriod)).one()
    login(client, "staff")
    page = client.get("/staff/settlements").text
    assert 'id="not-closed"' in page and "Period 2026Q3 is not closed yet" in page and 'id="draw-drafts"' not in page
    refused = _draw(client, period)
    assert "Period 2026Q3 is not closed yet" in refused and db.session.scalar(
        db.select(db.func.count(Settlement.id))) == 0


def test_the_office_issues_all_drafts_at_once(client, world: World) -> None:  # type: ignore[no-untyped-def]
    period, _decided = _closed(world)
    login(client, "admin")
    _draw(client, period)
    page = client.post(f"/staff/settlements/periods/{period.id}/issue", follow_redirects=True).text
    assert "2 statements issued." in page and 'id="issue-all"' not in page
    assert {s.state for s in db.session.scalars(db.select(Settlement))} == {"issued"}
    assert all('data-state="issued"' in row for row in _rows(page).values())


def test_a_hospital_reads_its_own_issued_statements_and_acknowledges_one(client, world: World) -> None:  # type: ignore[no-untyped-def]
    period, decided = _closed(world)
    login(client, "staff")
    _draw(client, period)
    h1, h2 = _statement("H1"), _statement("H2")
    client.post(f"/staff/settlements/{h2.id}/issue")

    login(client, "hosp1")
    assert client.get(f"/hospital/statements/{h1.id}").status_code == 404  # its own, but a draft
    assert client.get(f"/hospital/statements/{h2.id}").status_code == 404  # another hospital's
    assert client.post(f"/hospital/statements/{h2.id}/acknowledge").status_code == 404
    assert "No statement has been issued to the hospital yet." in client.get("/hospital/statements").text
    login(client, "staff")
    client.post(f"/staff/settlements/{h1.id}/issue")

    login(client, "hosp1")
    listing = client.get("/hospital/statements").text
    assert re.findall(r'<tr data-settlement="(\d+)">', listing) == [str(h1.id)]
    h1 = _statement("H1")
    assert h1.statement_ref_en in listing and format_fen(decided["H1"].amount_fen) in listing
    detail = client.get(f"/hospital/statements/{h1.id}").text
    assert f'href="/hospital/items/{decided["H1"].item_id}"' in detail and 'id="acknowledge"' in detail
    answered = client.post(f"/hospital/statements/{h1.id}/acknowledge", follow_redirects=True).text
    assert "Statement acknowledged." in answered and 'data-state="acknowledged"' in answered
    assert 'id="acknowledge"' not in answered and _statement("H1").state == "acknowledged"
    login(client, "staff")
    assert 'data-state="acknowledged"' in _rows(client.get("/staff/settlements").text)["H1"]


def test_a_dispute_needs_its_reason_and_leads_to_the_cases(client, world: World) -> None:  # type: ignore[no-untyped-def]
    period, decided = _closed(world)
    login(client, "staff")
    _draw(client, period)
    h1 = _statement("H1")
    client.post(f"/staff/settlements/{h1.id}/issue")
    item_id = decided["H1"].item_id

    login(client, "hosp1")
    refused = client.post(f"/hospital/statements/{h1.id}/dispute", data={"reason": "  ", "items": [str(item_id)]})
    assert refused.status_code == 422
    errors = re.search(r'<ul class="errors" id="reason-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "Give the reason in 10 to 2000 characters." in errors.group(1)
    assert _statement("H1").state == "issued"

    page = client.post(f"/hospital/statements/{h1.id}/dispute", data={"reason": DISPUTE, "items": [str(item_id)]},
                       follow_redirects=True).text
    assert "Statement disputed" in page and 'data-state="disputed"' in page and DISPUTE in page
    assert f'<li data-item="{item_id}"><a href="/hospital/items/{item_id}#appeal">' in page
    disputed = _statement("H1")
    assert (disputed.state, disputed.dispute_reason, disputed.disputed_item_ids) == ("disputed", DISPUTE, [item_id])

    login(client, "staff")
    office = client.get(f"/staff/settlements/{h1.id}").text
    assert DISPUTE in office and f'<a href="/staff/items/{item_id}">#{item_id}</a>' in office


def test_an_auditor_reads_and_an_expert_does_not(client, world: World) -> None:  # type: ignore[no-untyped-def]
    period, _decided = _closed(world)
    login(client, "staff")
    _draw(client, period)
    h1 = _statement("H1")

    login(client, "auditor")
    page = client.get("/staff/settlements").text
    assert set(_rows(page)) == {"H1", "H2"} and 'id="draw-drafts"' not in page and 'id="issue-all"' not in page
    assert 'id="issue-statement"' not in client.get(f"/staff/settlements/{h1.id}").text
    for url in (f"/staff/settlements/periods/{period.id}/drafts", f"/staff/settlements/periods/{period.id}/issue",
                f"/staff/settlements/{h1.id}/issue"):
        assert client.post(url).status_code == 403, url
    assert _statement("H1").state == "draft"

    login(client, "expert1")
    for url in ("/staff/settlements", f"/staff/settlements/{h1.id}", "/hospital/statements",
                f"/hospital/statements/{h1.id}"):
        assert client.get(url).status_code == 403, url


def _workbook_text(body: bytes) -> list[str]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None]


def test_a_statement_downloads_in_either_language_for_its_readers_only(client, world: World) -> None:  # type: ignore[no-untyped-def]
    period, decided = _closed(world)
    login(client, "staff")
    _draw(client, period)
    h1 = _statement("H1")
    client.post(f"/staff/settlements/{h1.id}/issue")
    h1 = _statement("H1")
    case_no = db.session.get(ReviewItem, decided["H1"].item_id).case.case_no

    login(client, "hosp1")
    pdf = client.get(f"/hospital/statements/{h1.id}/statement.pdf")  # the reader's language: English here
    assert pdf.content_type == "application/pdf" and "attachment" in pdf.headers["Content-Disposition"]
    assert "statement-2026Q3-H1-en.pdf" in pdf.headers["Content-Disposition"]
    assert h1.statement_ref_en in pdf_text(pdf.data) and case_no in pdf_text(pdf.data)
    chinese = client.get(f"/hospital/statements/{h1.id}/statement.pdf?lang=zh_CN")
    assert h1.statement_ref_zh in pdf_text(chinese.data)
    workbook = client.get(f"/hospital/statements/{h1.id}/statement.xlsx?lang=zh")
    assert "statement-2026Q3-H1-zh_CN.xlsx" in workbook.headers["Content-Disposition"]
    assert case_no in _workbook_text(workbook.data)
    assert client.get(f"/hospital/statements/{h1.id}/statement.pdf?lang=fr").status_code == 404
    h2 = _statement("H2")
    assert client.get(f"/hospital/statements/{h2.id}/statement.xlsx").status_code == 404  # a draft, and not its own

    login(client, "auditor")  # the office and auditors read drafts too, before they are issued
    draft = client.get(f"/staff/settlements/{h2.id}/statement.xlsx")
    assert draft.status_code == 200 and db.session.get(ReviewItem, decided["H2"].item_id).case.case_no in \
        _workbook_text(draft.data)


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_pages_the_walk_cannot_reach_read_in_chinese(app, client, world: World) -> None:  # type: ignore[no-untyped-def]
    """The zh walk's quarter has one statement, issued and disputed; a draft, the office's run, the hospital's
    answer form and a refused dispute are read here the same way (tests/e2e/test_zh_walk.py)."""
    period, _decided = _closed(world)
    login(client, "staff")
    _draw(client, period)
    h1, h2 = _statement("H1"), _statement("H2")
    client.post(f"/staff/settlements/{h1.id}/issue", follow_redirects=True)  # its message read in English
    client.post("/lang/zh_CN")
    refresh()  # the test's app context outlives each request, and Babel keeps the first request's locale in it
    office = ("/staff/settlements", f"/staff/settlements?period={period.id}&state=draft", f"/staff/settlements/{h2.id}")
    pages = {url: client.get(url) for url in office}
    login(client, "hosp1")
    pages[f"/hospital/statements/{h1.id}"] = client.get(f"/hospital/statements/{h1.id}")
    pages["refused dispute"] = client.post(f"/hospital/statements/{h1.id}/dispute", data={"reason": "太短"})
    assert [response.status_code for response in pages.values()] == [200, 200, 200, 200, 422]
    assert "太短" in pages["refused dispute"].text and 'id="reason-errors"' in pages["refused dispute"].text
    known = known_values()
    leaks = {(url, run) for url, response in pages.items() for run in latin_runs(html_text(response.text), known)}
    assert sorted(leaks) == [], "\n".join(f"{url}\t{run}" for url, run in sorted(leaks))
