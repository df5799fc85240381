"""The quarter of issue 14 §2, on SQLite and PostgreSQL: three hospitals' special cases approved in full and in
part and rejected, record reviews recovering a payment or confirming it, an appeal whose version 2 reverses
version 1, all in cycle 2026Q3, driven through the services a bureau uses; the close, the statements drawn, issued
and settling their items; then a late correction of a settled Q3 case, booked in 2026Q4 naming Q3, and Q4's
statement carrying it from Q3's closing.

Every figure is computed here from the cases and the decisions' amounts (what each hospital is owed, by kind), and
compared with the ledger as a plain SQL sum, with the closed periods' stored balances and with each statement and
its lines. The smaller tests: a hospital answers its own statement only, once, and a dispute gives its reason."""
from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import text

from review.extensions import db
from review.models import (AccountingPeriod, Case, Decision, JournalEntry, PeriodBalance, ReviewItem, Settlement,
                           SettlementRun)
from review.services import (appeals, applications, cases, corrections, decisions, documents, periods, sampling,
                             settlements, users)
from review.services.context import Actor, NotFound, PermissionDenied, ServiceError
from tests.factories import World, ami_case, seat_panels
from tests.integration.test_application_path import _review
from tests.integration.test_appeals import GROUNDS, issued_decision, more_experts, review_round, seat_appeal_panel
from tests.integration.test_corrections import REASON
from tests.integration.test_record_review import FINDING, PDF, _sheet
from workflows.states import Role

DISPUTE = "The supplement for our ICU case is 4,500 yuan short of the appeal's outcome."
CORRECTION_FEN = 450_000
"""What the late correction adds to the partly approved case of H1 (a deduction keyed 4,500 yuan too high)."""
TOTALLED_AS = {"supplement": "supplements", "recovery": "recoveries", "reversal": "adjustments",
               "correction": "adjustments"}
"""Which figure of a statement each kind of movement adds to: reversals and corrections are its adjustments."""
FIGURES = ("opening_fen", "supplements_fen", "recoveries_fen", "adjustments_fen", "closing_fen")


@dataclass(frozen=True)
class Due:
    """One movement of a hospital's money as this test expects it, in the statement's sign (due to the hospital):
    the kind, and the decision and item it comes from."""

    hospital: str
    kind: str
    decision_id: int
    item_id: int
    amount_fen: int


@dataclass
class Quarter:
    """The quarter as built: its items by name and the movements expected in each period."""

    items: dict[str, int] = field(default_factory=dict)
    due: dict[str, list[Due]] = field(default_factory=lambda: defaultdict(list))

    def book(self, period: str, hospital: str, kind: str, decision: Decision, amount_fen: int) -> None:
        self.due[period].append(Due(hospital, kind, decision.id, decision.item_id, amount_fen))

    def totals(self, period: str) -> dict[str, dict[str, int]]:
        """Per hospital: supplements, recoveries, adjustments (reversals and corrections) and their sum."""
        found: dict[str, dict[str, int]] = {}
        for due in self.due[period]:
            figures = found.setdefault(due.hospital, nothing())
            figures[TOTALLED_AS[due.kind]] += due.amount_fen
            figures["movement"] += due.amount_fen
        return found


def nothing() -> dict[str, int]:
    """A hospital's figures in a period where its account did not move."""
    return dict.fromkeys(("supplements", "recoveries", "adjustments", "movement"), 0)


def _hospital_actor(world: World, code: str) -> Actor:
    """A clerk of `code`, made by the administrator as a bureau would (the world has none for H3)."""
    name = f"clerk_{code.lower()}"
    if name not in world.actors:
        user = users.create_user(world.actors["admin"], users.UserInput(
            f"Clerk of {code}", "hospital", username=name, hospital_id=world.hospitals[code]))
        world.actors[name] = Actor(user_id=user.id, role=Role.HOSPITAL, hospital_id=user.hospital_id,
                                   ip="127.0.0.1")
    return world.actors[name]


def _apply(world: World, hospital: str, case_no: str, total_cost_fen: int) -> ReviewItem:
    actor = _hospital_actor(world, hospital)
    case = cases.create_case(actor, ami_case(case_no=case_no, total_cost_fen=total_cost_fen))
    return applications.apply_for_case(actor, case.id, "high_cost",
                                       "Prolonged ICU stay with cardiogenic shock after PCI.")


def _draw_records(world: World, hospitals: tuple[str, ...]) -> dict[str, ReviewItem]:
    """One discharge per hospital drawn for record review (the only cases of the cycle yet, share 1), records
    uploaded and submitted by the hospital."""
    for index, code in enumerate(hospitals, start=1):
        cases.create_case(_hospital_actor(world, code), ami_case(case_no=f"ZY20260700{index:02d}"))
    plan = sampling.create_plan(world.actors["staff"], world.cycle_id, sampling.PlanConfig(share=Decimal("1")),
                                "0815")
    drawn = {item.hospital_id: item for item in db.session.scalars(
        db.select(ReviewItem).where(ReviewItem.sampling_plan_id == plan.id))}
    records = {}
    for code in hospitals:
        item = drawn[world.hospitals[code]]
        actor = _hospital_actor(world, code)
        documents.upload_evidence(actor, item.id, io.BytesIO(PDF), "record.pdf", "front_page")
        sampling.submit_records(actor, item.id)
        records[code] = item
    assert len(drawn) == len(hospitals)
    return records


def _issue(world: World, decision: Decision) -> Decision:
    decisions.open_reasons(world.actors["staff"], decision.id)
    return decisions.issue(world.actors["staff"], decision.id)


def _supplement(case: Case, deduction_fen: int) -> int:
    """What an approval pays beyond the DRG payment (fee for service, the test policy): reasonable cost less the
    DRG payment, never negative."""
    return max(0, case.total_cost_fen - deduction_fen - case.drg_payment_fen)


def _record(world: World, item: ReviewItem, justified: bool) -> Decision:
    for assignment in item.assignments:
        _sheet(world, assignment, justified=justified, rationale="" if justified else FINDING)
    return db.session.scalars(db.select(Decision).where(Decision.item_id == item.id)).one()


def build_quarter(world: World) -> Quarter:
    """Cycle 2026Q3 of three hospitals, every decision issued through the services, the appeal decided."""
    quarter = Quarter()
    records = _draw_records(world, ("H1", "H2", "H3"))
    appealed = _apply(world, "H1", "ZY2026080001", 40_000_000)
    partial = _apply(world, "H1", "ZY2026080002", 36_500_000)
    rejected = _apply(world, "H1", "ZY2026080003", 38_000_000)
    approved = _apply(world, "H2", "ZY2026080101", 42_300_000)
    seat_panels(world)
    for item in (*records.values(), appealed, partial, rejected, approved):
        db.session.refresh(item)
        assert item.state == "assigned"

    first = _review(world, appealed, [("approve", 5_000_000)] * 3)
    assert first.amount_fen == _supplement(appealed.case, 5_000_000) > 0
    quarter.book("2026Q3", "H1", "supplement", _issue(world, first), first.amount_fen)
    cut = _review(world, partial, [("approve", 1_000_000), ("approve", 3_000_000), ("reject", 0)])
    assert (cut.outcome, cut.amount_fen) == ("partially_approved", _supplement(partial.case, 2_000_000))
    quarter.book("2026Q3", "H1", "supplement", _issue(world, cut), cut.amount_fen)
    refused = _review(world, rejected, [("reject", 0), ("reject", 0), ("approve", 0)])
    assert (refused.outcome, refused.amount_fen) == ("rejected", 0)  # no money, so no movement
    _issue(world, refused)
    full = _review(world, approved, [("approve", 0)] * 3)
    assert (full.outcome, full.amount_fen) == ("approved", _supplement(approved.case, 0))
    quarter.book("2026Q3", "H2", "supplement", _issue(world, full), full.amount_fen)
    for code, justified in (("H1", False), ("H2", True), ("H3", False)):
        decision = _record(world, records[code], justified)
        paid = records[code].case.drg_payment_fen
        assert decision.amount_fen == (0 if justified else -paid)  # an unjustified admission pays it all back
        _issue(world, decision)
        if decision.amount_fen:
            quarter.book("2026Q3", code, "recovery", decision, decision.amount_fen)

    appeals.file_appeal(world.actors["hosp1"], first.id, GROUNDS)
    more_experts(world, 3)
    seat_appeal_panel(world)
    db.session.refresh(appealed)
    review_round(world, appealed, 2, 0)  # the appeal panel finds nothing unreasonable
    second = db.session.scalars(db.select(Decision).where(Decision.item_id == appealed.id,
                                                          Decision.version == 2)).one()
    assert second.amount_fen == _supplement(appealed.case, 0)
    _issue(world, second)
    quarter.book("2026Q3", "H1", "reversal", first, -first.amount_fen)  # the reversal names version 1
    quarter.book("2026Q3", "H1", "supplement", second, second.amount_fen)
    quarter.items.update(appealed=appealed.id, partial=partial.id, rejected=rejected.id, approved=approved.id,
                         **{f"record_{code}": item.id for code, item in records.items()})
    return quarter


def _period(code: str) -> AccountingPeriod:
    return db.session.scalars(db.select(AccountingPeriod).where(AccountingPeriod.code == code)).one()


def _hospital_lines(period_id: int) -> dict[str, int]:
    """Σ of the period's journal lines per hospital account, by plain SQL (ledger's own sign: a supplement is
    negative on the hospital's account)."""
    rows = db.session.execute(text(
        "SELECT a.code, SUM(l.amount_fen) FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id "
        "JOIN accounts a ON a.id = l.account_id WHERE e.period_id = :period AND a.kind = 'hospital' "
        "GROUP BY a.code"), {"period": period_id}).all()
    return {code.removeprefix("hospital:"): int(total) for code, total in rows}


def _closing(period_id: int) -> dict[str, int]:
    """The stored closing balance of each hospital account at the period's close, in the ledger's sign."""
    rows = db.session.execute(text(
        "SELECT a.code, b.closing_fen FROM period_balances b JOIN accounts a ON a.id = b.account_id "
        "WHERE b.period_id = :period AND a.kind = 'hospital'"), {"period": period_id}).all()
    return {code.removeprefix("hospital:"): int(closing) for code, closing in rows}


def _check_ledger(quarter: Quarter, code: str, opening: dict[str, int]) -> dict[str, int]:
    """The closed period's hospital lines and stored balances agree with the expected movements to the fen;
    returns each hospital's closing balance due to it."""
    period = _period(code)
    expected = quarter.totals(code)
    assert _hospital_lines(period.id) == {h: -figures["movement"] for h, figures in expected.items()}
    closing = {h: opening.get(h, 0) + (expected.get(h) or nothing())["movement"]
               for h in set(opening) | set(expected)}
    assert _closing(period.id) == {h: -amount for h, amount in closing.items()}
    assert periods.verify("T01", code) == []
    return closing


def _statements(code: str) -> dict[str, Settlement]:
    """The period's statements by hospital code, read afresh (the service commits in its own steps)."""
    db.session.expire_all()
    return {s.hospital.code: s for s in db.session.scalars(db.select(Settlement).where(
        Settlement.period_id == _period(code).id))}


def _drafts(world: World, code: str) -> dict[str, Settlement]:
    """The office draws the period's drafts (the job runs eagerly in tests) and the run reports them all."""
    run = db.session.get(SettlementRun, settlements.start_drafts(world.actors["staff"], "T01", code).id,
                         populate_existing=True)
    statements = _statements(code)
    assert (run.status, run.progress, run.total, run.done) == ("done", 100, len(statements), len(statements))
    return statements


def _check_statements(quarter: Quarter, code: str, opening: dict[str, int], corrects: int | None
                      ) -> dict[str, Settlement]:
    """Each hospital's statement of the closed period, figure by figure and line by line, against the expected
    movements; together they are the period's postings to hospital accounts and their closings the stored ones."""
    period = _period(code)
    expected = quarter.totals(code)
    statements = _statements(code)
    assert set(statements) == set(opening) | set(expected)  # every hospital whose account has a balance there
    for hospital, statement in statements.items():
        figures = expected.get(hospital) or nothing()
        start = opening.get(hospital, 0)
        assert tuple(getattr(statement, name) for name in FIGURES) == (
            start, figures["supplements"], figures["recoveries"], figures["adjustments"], start + figures["movement"])
        lines = statement.lines
        assert sorted((line.kind, line.decision_id, line.item_id, line.amount_fen) for line in lines) == sorted(
            (due.kind, due.decision_id, due.item_id, due.amount_fen) for due in quarter.due[code]
            if due.hospital == hospital)
        assert sum(line.amount_fen for line in lines) == statement.closing_fen - statement.opening_fen
        assert statement.line_count == len(lines)
        assert {line.corrects_period_id for line in lines} <= {corrects}
        booked = db.session.scalars(db.select(JournalEntry.period_id).where(
            JournalEntry.id.in_([line.entry_id for line in lines]))).all()
        assert set(booked) <= {period.id} and len(set(line.entry_id for line in lines)) == len(lines)
    movements = sum(s.supplements_fen + s.recoveries_fen + s.adjustments_fen for s in statements.values())
    assert movements == -sum(_hospital_lines(period.id).values())
    assert {h: s.closing_fen for h, s in statements.items()} == {h: -c for h, c in _closing(period.id).items()}
    return statements


def _issue_statement(world: World, statement: Settlement) -> Settlement:
    issued = settlements.issue(world.actors["staff"], statement.id)
    assert issued.state == "issued" and issued.statement_ref_zh and issued.statement_ref_en
    assert issued.verification_code and issued.issued_at is not None
    return issued


def _item_states(quarter: Quarter) -> dict[str, str]:
    return {name: db.session.get(ReviewItem, item_id, populate_existing=True).state
            for name, item_id in quarter.items.items()}


def _as_issued(statement: Settlement) -> tuple:
    """What an issued statement shows, to prove a later run of the drafts leaves it alone."""
    return (statement.id, statement.state, statement.statement_ref_zh, statement.verification_code,
            statement.issued_at, *(getattr(statement, name) for name in FIGURES),
            tuple((line.id, line.entry_id, line.amount_fen) for line in statement.lines))


def test_the_quarter_settles_to_the_fen(world: World) -> None:
    quarter = build_quarter(world)
    entries = db.session.scalars(db.select(JournalEntry)).all()
    assert {e.period for e in entries} == {"2026Q3"} and all(e.corrects_period_id is None for e in entries)
    assert len(entries) == len(quarter.due["2026Q3"])  # one entry per movement: none for the zero decisions
    with pytest.raises(ServiceError):  # no statement of a period still open
        settlements.start_drafts(world.actors["staff"], "T01", "2026Q3")
    db.session.rollback()

    q3 = periods.close(world.actors["staff"], "T01", "2026Q3")
    assert q3.state == "closed" and q3.entry_count == len(entries)
    q3_closing = _check_ledger(quarter, "2026Q3", {})
    assert q3_closing["H3"] < 0 < q3_closing["H2"]  # H3 owes the fund; H2 is owed
    with pytest.raises(ServiceError):  # drafts are the office's
        settlements.start_drafts(world.actors["hosp1"], "T01", "2026Q3")
    db.session.rollback()
    drafts = _drafts(world, "2026Q3")
    assert {s.state for s in drafts.values()} == {"draft"}
    _check_statements(quarter, "2026Q3", {}, None)

    unsettled = _item_states(quarter)
    for hospital in ("H1", "H2"):
        _issue_statement(world, drafts[hospital])
    issued = {h: _as_issued(s) for h, s in _statements("2026Q3").items() if h != "H3"}
    again = _drafts(world, "2026Q3")  # a second run redraws H3's draft only
    assert {h: _as_issued(s) for h, s in again.items() if h != "H3"} == issued
    assert again["H3"].state == "draft"
    _check_statements(quarter, "2026Q3", {}, None)
    _issue_statement(world, again["H3"])
    statements = _check_statements(quarter, "2026Q3", {}, None)
    assert len({s.statement_ref_zh for s in statements.values()}) == len(statements)  # a 文号 each
    moved_no_money = {name for name, item_id in quarter.items.items()
                      if not any(d.item_id == item_id for d in quarter.due["2026Q3"])}
    assert moved_no_money and set(unsettled.values()) == {"issued"}
    # every item of the quarter settles with its hospital's statement, those whose decision moved no money too
    assert set(_item_states(quarter).values()) == {"settled"}
    unpaid = {d.case_no for s in statements.values() for d in settlements.decisions_without_money(s)}
    assert unpaid == {db.session.get(ReviewItem, quarter.items[name]).case.case_no for name in moved_no_money}

    # A late correction of H1's partly approved case, settled in Q3: refused while no period is open ...
    partial = db.session.scalars(db.select(Decision).where(Decision.item_id == quarter.items["partial"])).one()
    proposal = corrections.propose(world.actors["staff"], partial.id, partial.amount_fen + CORRECTION_FEN, REASON)
    with pytest.raises(ServiceError, match="2026Q3"):
        corrections.approve(world.actors["admin"], proposal.id)
    db.session.rollback()
    assert db.session.get(Decision, proposal.id).status == "awaiting_approval"
    # ... and booked in Q4 naming Q3 once Q4 is open
    assert periods.booking("T01", "2026Q4").period_code == "2026Q4"
    db.session.commit()
    corrections.approve(world.actors["admin"], proposal.id)
    quarter.book("2026Q4", "H1", "reversal", partial, -partial.amount_fen)
    quarter.book("2026Q4", "H1", "correction", proposal, proposal.amount_fen)
    late = db.session.scalars(db.select(JournalEntry).where(JournalEntry.period == "2026Q4")).all()
    assert {(e.period_id, e.corrects_period_id) for e in late} == {(_period("2026Q4").id, q3.id)}
    assert sorted(e.decision_id for e in late) == sorted([partial.id, proposal.id])
    assert _item_states(quarter)["partial"] == "issued"  # version 2 waits for Q4's statement
    assert _as_issued(_statements("2026Q3")["H1"]) == issued["H1"]  # Q3's statement stands as issued
    with pytest.raises(ServiceError):
        settlements.start_drafts(world.actors["staff"], "T01", "2026Q4")
    db.session.rollback()

    periods.close(world.actors["staff"], "T01", "2026Q4")
    q4_closing = _check_ledger(quarter, "2026Q4", q3_closing)
    assert q4_closing["H1"] - q3_closing["H1"] == CORRECTION_FEN
    assert db.session.scalar(db.select(db.func.count(PeriodBalance.id)).where(
        PeriodBalance.period_id == _period("2026Q4").id)) == 4  # the fund and three hospitals carried forward
    q4 = _drafts(world, "2026Q4")
    _check_statements(quarter, "2026Q4", q3_closing, q3.id)
    assert {h: s.opening_fen for h, s in q4.items()} == {h: s.closing_fen for h, s in statements.items()}
    _issue_statement(world, q4["H1"])
    assert _item_states(quarter)["partial"] == "settled"
    # H1 disputes its rejected case: it has no line, yet the statement settled it, so the dispute may name it
    h1 = _statements("2026Q3")["H1"]
    assert quarter.items["rejected"] in settlements.statement_cases(h1)
    with pytest.raises(ServiceError):  # another hospital's case is not on H1's statement
        settlements.dispute(world.actors["hosp1"], h1.id, DISPUTE, [quarter.items["approved"]])
    db.session.rollback()
    disputed = settlements.dispute(world.actors["hosp1"], h1.id, DISPUTE, [quarter.items["rejected"]])
    assert (disputed.state, disputed.disputed_item_ids) == ("disputed", [quarter.items["rejected"]])


def _draft_statement(world: World) -> Settlement:
    """H1's Q3 draft statement of one approved case."""
    issued_decision(world)
    periods.close(world.actors["staff"], "T01", "2026Q3")
    return _drafts(world, "2026Q3")["H1"]


def _issued_statement(world: World) -> Settlement:
    return _issue_statement(world, _draft_statement(world))


def test_a_draft_is_not_the_hospital_s_yet(world: World) -> None:
    draft = _draft_statement(world)
    with pytest.raises(NotFound):  # the office's working copy: the hospital sees its statement once issued
        settlements.acknowledge(world.actors["hosp1"], draft.id)
    db.session.rollback()
    assert db.session.get(Settlement, draft.id, populate_existing=True).state == "draft"


def test_only_the_statement_s_hospital_answers_it(world: World) -> None:
    statement = _issued_statement(world)
    for answer in (lambda actor: settlements.acknowledge(actor, statement.id),
                   lambda actor: settlements.dispute(actor, statement.id, DISPUTE)):
        with pytest.raises(NotFound):  # another hospital's statement does not exist for it
            answer(world.actors["hosp2"])
        db.session.rollback()
        with pytest.raises(PermissionDenied):  # the office issues statements, it does not answer them
            answer(world.actors["staff"])
        db.session.rollback()
    assert db.session.get(Settlement, statement.id, populate_existing=True).state == "issued"


def test_a_hospital_answers_its_statement_once(world: World) -> None:
    statement = _issued_statement(world)
    answered = settlements.acknowledge(world.actors["hosp1"], statement.id)
    assert answered.state == "acknowledged" and answered.answered_at is not None
    with pytest.raises(ServiceError):
        settlements.acknowledge(world.actors["hosp1"], statement.id)
    db.session.rollback()
    with pytest.raises(ServiceError):
        settlements.dispute(world.actors["hosp1"], statement.id, DISPUTE)
    db.session.rollback()
    assert db.session.get(Settlement, statement.id, populate_existing=True).state == "acknowledged"


def test_a_dispute_needs_its_reason(world: World) -> None:
    statement = _issued_statement(world)
    item_id = statement.lines[0].item_id
    for reason in ("", "   ", "Too low."):  # a reason says why: 10 characters at least
        with pytest.raises(ServiceError):
            settlements.dispute(world.actors["hosp1"], statement.id, reason, [item_id])
        db.session.rollback()
    assert db.session.get(Settlement, statement.id, populate_existing=True).state == "issued"
    disputed = settlements.dispute(world.actors["hosp1"], statement.id, f"  {DISPUTE}  ", [item_id])
    assert (disputed.state, disputed.dispute_reason, disputed.disputed_item_ids) == ("disputed", DISPUTE, [item_id])
