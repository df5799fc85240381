"""Corrections with four eyes (issue 13 §2), on SQLite and PostgreSQL; and, on PostgreSQL, one reversal however
many processes post it at once."""
from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from review import create_app
from review.extensions import db
from review.messages import notice_text
from review.models import Account, Decision, JournalEntry, Notification
from review.services import corrections, decisions, ledger
from review.services.context import Actor, ServiceError, ValidationFailed
from tests.conftest import make_config
from tests.factories import World
from tests.integration.test_appeals import issued_decision
from workflows.ledger import Line, reversal

REASON = "The deduction was keyed as 50,000.00 instead of 5,000.00 yuan."


def _second_staff(world: World) -> Actor:
    """Another member of the review office: the world's admin is one (office roles: staff and admin)."""
    return world.actors["admin"]


def test_a_correction_is_approved_by_a_second_member_of_the_office(world: World) -> None:
    first = issued_decision(world)
    corrected_amount = first.amount_fen + 450_000
    with pytest.raises(ValidationFailed):
        corrections.propose(world.actors["staff"], first.id, corrected_amount, "typo")
    with pytest.raises(ServiceError):  # a hospital cannot correct its decision
        corrections.propose(world.actors["hosp1"], first.id, corrected_amount, REASON)
    proposal = corrections.propose(world.actors["staff"], first.id, corrected_amount, REASON)
    assert (proposal.version, proposal.status, proposal.basis) == (2, "awaiting_approval", "correction")
    with pytest.raises(ServiceError) as pending:
        corrections.propose(world.actors["admin"], first.id, corrected_amount + 1, REASON)
    assert "already waiting" in str(pending.value.message)
    with pytest.raises(ServiceError) as not_by_issue:  # the ordinary issue path cannot skip the second pair of eyes
        decisions.issue(world.actors["staff"], proposal.id)
    assert "second member" in str(not_by_issue.value.message)
    with pytest.raises(ServiceError) as own:
        corrections.approve(world.actors["staff"], proposal.id)
    assert "another member of the review office must approve it" in str(own.value.message)
    db.session.rollback()
    assert db.session.get(Decision, proposal.id).status == "awaiting_approval"
    assert [d.id for d in corrections.awaiting(world.actors["admin"])] == [proposal.id]

    corrections.approve(_second_staff(world), proposal.id)
    db.session.refresh(first)
    assert (first.status, proposal.status, proposal.issued_by_id) == ("superseded", "issued", world.users["admin"])
    item = proposal.item
    assert (item.state, item.issued_version) == ("issued", 2)
    assert proposal.letter_ref_en and proposal.letter_ref_en != first.letter_ref_en
    entries = {e.idempotency_key: e for e in db.session.scalars(db.select(JournalEntry))}
    original = entries[f"decision:{first.id}:v1"]
    assert f"reversal:{original.id}" in entries and f"decision:{proposal.id}:v2" in entries
    hospital = db.session.scalars(db.select(Account).where(Account.code == "hospital:H1")).one()
    assert hospital.balance_fen == -corrected_amount and ledger.reconcile() == []
    notice = db.session.scalars(db.select(Notification).where(Notification.kind == "decision_corrected")).one()
    assert notice.hospital_id == world.hospitals["H1"] and "corrected" in notice_text(notice)[0]
    assert corrections.awaiting(world.actors["admin"]) == []


def _post_reversal(url: str, upload_dir: str, entry_id: int, lines: list[tuple[str, int]], start: Barrier) -> None:
    app = create_app(make_config(url, Path(upload_dir)))
    with app.app_context():
        plan = reversal(entry_id, [Line(code, amount) for code, amount in lines])
        start.wait()
        ledger.post_many([ledger.Posting(plan, None, reverses_entry_id=entry_id)], "2026Q3", None)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.wall_clock
def test_one_reversal_however_many_processes_post_it(app, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every writer: there is no concurrent posting to check")
    first = issued_decision(world)
    entry = db.session.scalars(db.select(JournalEntry).where(JournalEntry.decision_id == first.id)).one()
    lines = [(line.account.code, line.amount_fen) for line in entry.lines]
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [context.Process(target=_post_reversal, args=(url, str(tmp_path / "uploads"), entry.id, lines, start))
               for _ in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0]  # the second gets the first's entry, no error
    keys = db.session.scalars(db.select(JournalEntry.idempotency_key)).all()
    assert sorted(keys) == sorted([f"decision:{first.id}:v1", f"reversal:{entry.id}"])
    assert ledger.reconcile() == []
    assert {a.code: a.balance_fen for a in db.session.scalars(db.select(Account))} == {"fund:T01": 0,
                                                                                      "hospital:H1": 0}


def test_the_office_role_rule_holds_for_approval(world: World) -> None:
    first = issued_decision(world)
    proposal = corrections.propose(world.actors["staff"], first.id, first.amount_fen - 100, REASON)
    for name in ("auditor", "hosp1", "expert1"):
        with pytest.raises(ServiceError):
            corrections.approve(world.actors[name], proposal.id)
        db.session.rollback()
    assert db.session.get(Decision, proposal.id).status == "awaiting_approval"
