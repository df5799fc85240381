"""A statement as the hospital holds it (issue 14 §2), on SQLite and PostgreSQL: the PDF in both languages with the
文号, the figures, the case and the verification code; the workbook with the same figures as numbers; the public
verification page; and the draft run as a job (progress, written once, refused on an open period)."""
from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from flask_babel import force_locale
from openpyxl import load_workbook
from sqlalchemy import text

from review.extensions import db
from review.messages import stored_problem_text
from review.models import (Account, Decision, Document, Job, JournalEntry, Region, ReviewItem, Settlement,
                           SettlementLine, SettlementRun)
from review.services import decisions, letterheads, periods, settlements, statements
from review.services.context import ServiceError
from review.spreadsheets import yuan
from tests.e2e.test_walkthrough import login
from tests.factories import World, seat_panels
from tests.integration.test_appeals import issued_decision
from tests.integration.test_application_path import _apply, _review
from tests.pdftext import pdf_text


def _yuan(number: float) -> Decimal:
    """A number cell as read back (openpyxl gives floats) to the cent."""
    return Decimal(str(number)).quantize(Decimal("0.01"))


def _statement(world: World) -> tuple[Settlement, Decision]:
    decision = issued_decision(world)
    staff = world.actors["staff"]
    with pytest.raises(ServiceError, match="not closed"):
        settlements.start_drafts(staff, "T01", "2026Q3")
    periods.close(staff, "T01", "2026Q3")
    run = settlements.start_drafts(staff, "T01", "2026Q3")
    run = db.session.get(SettlementRun, run.id)
    assert (run.status, run.progress, run.done, run.total) == ("done", 100, 1, 1)
    assert db.session.scalar(db.select(Job.state).where(Job.kind == "settlement")) == "done"
    settlement = db.session.scalars(db.select(Settlement)).one()
    return settlements.issue(staff, settlement.id), decision


def test_the_pdf_says_what_the_statement_says_in_either_language(world: World) -> None:
    settlement, decision = _statement(world)
    zh = pdf_text(statements.statement_pdf(settlement, "zh_CN")).replace(" ", "")
    en = " ".join(pdf_text(statements.statement_pdf(settlement, "en")).split())  # table cells wrap
    assert settlement.statement_ref_zh.replace(" ", "") in zh and "结〔" in settlement.statement_ref_zh
    assert settlement.statement_ref_en in en
    assert settlement.verification_code in zh and settlement.verification_code in en
    amount = f"{yuan(decision.amount_fen):,}"
    assert amount in zh and amount in en  # the supplement, the movement and the closing figure
    assert decision.item.case.case_no in en and decision.letter_ref_en in en
    assert "季度结算单" in zh and "Quarterly settlement statement" in en


def test_the_workbook_carries_the_figures_as_numbers_and_one_row_per_line(world: World) -> None:
    settlement, decision = _statement(world)
    sheet = load_workbook(io.BytesIO(statements.statement_xlsx(settlement, "en"))).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    facts = {row[0]: row[1] for row in rows if row and row[0] and len([c for c in row if c is not None]) == 2}
    assert facts["Statement reference"] == settlement.statement_ref_en
    assert _yuan(facts["Closing balance due to the hospital (yuan)"]) == yuan(decision.amount_fen)
    header = rows.index(next(row for row in rows if row and row[0] == "Kind"))
    lines = [row for row in rows[header + 1:] if row and row[0]]
    assert [[*line[:6], _yuan(line[6]), line[7]] for line in lines] == [
        ["Supplement", decision.item.case.case_no, decision.drg, 1, decision.letter_ref_en, None,
         yuan(decision.amount_fen), db.session.scalar(db.select(SettlementLine.entry_id))]]
    zh_sheet = load_workbook(io.BytesIO(statements.statement_xlsx(settlement, "zh_CN"))).active
    assert any(row[0] == "补付" for row in zh_sheet.iter_rows(values_only=True))


def test_anyone_holding_the_statement_can_check_it(world: World, client: FlaskClient) -> None:
    settlement, _decision = _statement(world)
    page = client.get(f"/verify/{settlement.verification_code.lower()}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert settlement.statement_ref_en in body and "2026Q3" in body and "H1" in body
    assert client.get("/verify/0123456789ABCDEF").status_code == 404


def test_a_second_run_writes_nothing_twice_and_a_draft_reads_as_not_issued(world: World) -> None:
    issued_decision(world)
    staff = world.actors["staff"]
    periods.close(staff, "T01", "2026Q3")
    first = settlements.start_drafts(staff, "T01", "2026Q3")
    again = settlements.start_drafts(staff, "T01", "2026Q3")
    assert again.id != first.id and db.session.get(SettlementRun, again.id).status == "done"
    assert db.session.scalar(db.select(db.func.count(Settlement.id))) == 1
    assert db.session.scalar(db.select(db.func.count(SettlementLine.id))) == 1
    draft = db.session.scalars(db.select(Settlement)).one()
    text = pdf_text(statements.statement_pdf(draft, "en"))
    assert "Draft: not issued" in text and "no legal effect" in text


def test_drafts_that_disagree_with_the_close_are_not_written_and_the_run_says_whose(world: World) -> None:
    """Someone who can lift the ledger's guards moves a hospital's account inside the closed period: the drafts
    would no longer end at the balance the close stored, so the run fails naming the hospital and writes nothing."""
    decision = issued_decision(world)
    staff = world.actors["staff"]
    periods.close(staff, "T01", "2026Q3")
    entry_id = db.session.scalar(db.select(JournalEntry.id).where(JournalEntry.decision_id == decision.id))
    accounts = dict(db.session.execute(db.select(Account.code, Account.id)).all())
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    for account, amount in (("hospital:H1", -100), ("fund:T01", 100)):  # a balanced pair, slipped in after the close
        db.session.execute(text("INSERT INTO journal_lines (entry_id, account_id, amount_fen) VALUES (:e, :a, :x)"),
                           {"e": entry_id, "a": accounts[account], "x": amount})
    db.session.commit()
    run = db.session.get(SettlementRun, settlements.start_drafts(staff, "T01", "2026Q3").id)
    assert run.status == "failed" and db.session.scalar(db.select(db.func.count(Settlement.id))) == 0
    with force_locale("en"):
        why = stored_problem_text(run.message)
    assert "H1" in why and "2026Q3" in why and "no statement was written" in why


def test_the_issued_statement_is_kept_as_issued_whatever_the_letterhead_says_later(world: World,
                                                                                  client: FlaskClient) -> None:
    settlement, _decision = _statement(world)
    settlement = db.session.get(Settlement, settlement.id, populate_existing=True)
    assert settlement.document_id is not None  # the job after the issue stored the official copy
    assert db.session.scalar(db.select(Job.state).where(Job.kind == "statement")) == "done"
    kept = db.session.get(Document, settlement.document_id)
    region = db.session.get(Region, world.region_id)
    head = letterheads.letterhead_for(region)
    letterheads.save(world.actors["admin"], region.id, replace(head, bureau_name_zh="新名称医疗保障局",
                                                              bureau_name_en="Renamed Medical Insurance Bureau"))
    login(client, "staff")
    official = client.get(f"/staff/settlements/{settlement.id}/statement.pdf?lang=zh_CN")
    assert official.status_code == 200 and hashlib.sha256(official.data).hexdigest() == kept.sha256
    assert "新名称" not in pdf_text(official.data)
    english = client.get(f"/staff/settlements/{settlement.id}/statement.pdf?lang=en")  # rendered now, not kept
    assert "Renamed Medical Insurance Bureau" in " ".join(pdf_text(english.data).split())
    assert statements.render_statement(settlement.id) == kept.id  # a second run of the job adds nothing


def test_a_hospital_whose_decisions_moved_no_money_gets_a_nil_statement_that_settles_them(world: World) -> None:
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    rejected = _review(world, item, [("reject", 0)] * 3)
    decisions.open_reasons(world.actors["staff"], rejected.id)
    decisions.issue(world.actors["staff"], rejected.id)
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id))) == 0  # nothing posted
    periods.ensure(world.region_id, "2026Q3")  # the period its cycle opens (the world's cycle is made directly)
    db.session.commit()
    periods.close(world.actors["staff"], "T01", "2026Q3")
    run = settlements.start_drafts(world.actors["staff"], "T01", "2026Q3")
    draft = db.session.scalars(db.select(Settlement)).one()
    assert (db.session.get(SettlementRun, run.id).total, draft.hospital_id) == (1, world.hospitals["H1"])
    assert (draft.opening_fen, draft.closing_fen, draft.line_count) == (0, 0, 0)
    assert [d.case_no for d in settlements.decisions_without_money(draft)] == [item.case.case_no]
    settlements.issue(world.actors["staff"], draft.id)
    assert db.session.get(ReviewItem, item.id, populate_existing=True).state == "settled"
