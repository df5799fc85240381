"""Issuing proposed decisions in bulk, on SQLite and PostgreSQL: each through `issue`, one transaction each, so a
refusal on one leaves the others issued and nothing is ever posted twice."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from review.extensions import db
from review.models import Decision, JournalEntry, ReviewItem
from review.services import activity, applications, cases, decisions, ledger
from review.services.context import PermissionDenied, ServiceError
from tests.factories import ami_case, seat_panels
from tests.integration.test_application_path import _apply, _review

APPROVE = [("approve", 0)] * 3
PARTIAL = [("approve", 1_000_000), ("approve", 3_000_000), ("reject", 0)]
REJECT = [("reject", 0), ("reject", 0), ("approve", 0)]
REASON = "Prolonged ICU stay with cardiogenic shock after PCI."


def make_decisions(world, specs):  # type: ignore[no-untyped-def]
    """Proposed decisions through the real path (case, application, panel draw, three scoresheets).

    `specs` is a list of (hospital user, case number, votes); returns the decision ids in that order."""
    items = []
    for user, case_no, _votes in specs:
        if user == "hosp1":
            items.append(_apply(world, case_no=case_no))
        else:
            case = cases.create_case(world.actors[user], ami_case(case_no=case_no))
            items.append(applications.apply_for_case(world.actors[user], case.id, "high_cost", REASON))
    seat_panels(world)
    ids = []
    for item, (_user, _case_no, votes) in zip(items, specs):
        db.session.refresh(item)
        ids.append(_review(world, item, votes).id)
    return ids


def open_all(world, ids, user="staff"):  # type: ignore[no-untyped-def]
    """The office reads each decision's reasons, as it must before issuing it."""
    for decision_id in ids:
        decisions.open_reasons(world.actors[user], decision_id)
    return ids


def _three(world):  # type: ignore[no-untyped-def]
    return open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", APPROVE),
                                                  ("hosp1", "ZY2026080002", PARTIAL),
                                                  ("hosp2", "ZY2026080003", APPROVE)]))


def _entries() -> list[JournalEntry]:
    return list(db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id)))


def test_issue_many_issues_several_and_skips_one_already_issued(world) -> None:  # type: ignore[no-untyped-def]
    first, second, third = _three(world)
    decisions.issue(world.actors["staff"], first)
    issued, skipped = decisions.issue_many(world.actors["staff"], [third, first, second, second, 999_999])
    assert issued == [second, third]
    assert [(s.decision_id, s.reason) for s in skipped] == [
        (first, "This decision has already been issued."), (999_999, "No such decision.")]
    for decision_id in (first, second, third):
        decision = db.session.get(Decision, decision_id)
        assert decision.status == "issued" and decision.issued_at is not None
        assert db.session.get(ReviewItem, decision.item_id).state == "issued"
    entries = _entries()
    assert sorted(e.idempotency_key for e in entries) == sorted(f"decision:{d}:v1" for d in (first, second, third))
    assert all(sum(line.amount_fen for line in e.lines) == 0 and len(e.lines) == 2 for e in entries)
    assert {e.decision_id: -min(line.amount_fen for line in e.lines) for e in entries} == {
        d: db.session.get(Decision, d).amount_fen for d in (first, second, third)}
    assert ledger.reconcile() == [] and activity.verify_chain() == []


def test_issuing_the_same_list_again_posts_nothing_more(world) -> None:  # type: ignore[no-untyped-def]
    ids = open_all(world, _three(world), "admin")
    assert decisions.issue_many(world.actors["admin"], ids)[0] == ids
    issued, skipped = decisions.issue_many(world.actors["staff"], ids)
    assert issued == [] and [s.decision_id for s in skipped] == ids
    assert len(_entries()) == 3


@pytest.mark.parametrize("refusal", [ServiceError("The period 2026Q3 is closed."),
                                     OperationalError("INSERT", {}, Exception("lock timeout"))],
                         ids=["service-refusal", "database-error"])
def test_a_failure_on_one_leaves_the_others_issued(world, monkeypatch, refusal) -> None:  # type: ignore[no-untyped-def]
    first, second, third = _three(world)
    real_post = ledger.post_many

    def post(postings, period, posted_by_id):  # type: ignore[no-untyped-def]
        if any(p.decision_id == second for p in postings):
            raise refusal
        return real_post(postings, period, posted_by_id)

    monkeypatch.setattr(ledger, "post_many", post)
    issued, skipped = decisions.issue_many(world.actors["staff"], [first, second, third])
    assert issued == [first, third] and [s.decision_id for s in skipped] == [second]
    assert "closed" in skipped[0].reason or "database refused" in skipped[0].reason
    refused = db.session.get(Decision, second)
    assert refused.status == "proposed" and refused.issued_at is None  # rolled back, not half issued
    assert db.session.get(ReviewItem, refused.item_id).state == "proposed"
    assert {e.decision_id for e in _entries()} == {first, third}

    monkeypatch.setattr(ledger, "post_many", real_post)
    assert decisions.issue_many(world.actors["staff"], [first, second, third])[0] == [second]
    assert sorted(e.decision_id for e in _entries()) == sorted([first, second, third])
    assert ledger.reconcile() == []


def test_a_rejection_is_issued_without_a_posting(world) -> None:  # type: ignore[no-untyped-def]
    approved, rejected = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", APPROVE),
                                                                ("hosp1", "ZY2026080002", REJECT)]))
    assert decisions.issue_many(world.actors["staff"], [approved, rejected]) == ([approved, rejected], [])
    assert [e.decision_id for e in _entries()] == [approved]


def test_only_decisions_of_the_given_cycle_are_issued(world) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)]))
    issued, skipped = decisions.issue_many(world.actors["staff"], [decision_id], cycle_id=world.cycle_id + 1)
    assert issued == [] and skipped[0].reason == "No such decision in this cycle."
    assert db.session.get(Decision, decision_id).status == "proposed"
    assert decisions.issue_many(world.actors["staff"], [decision_id], cycle_id=world.cycle_id)[0] == [decision_id]


@pytest.mark.parametrize("user", ["hosp1", "expert1", "auditor"])
def test_only_the_office_may_issue(world, user) -> None:  # type: ignore[no-untyped-def]
    ids = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)]), "auditor")
    with pytest.raises(PermissionDenied):
        decisions.issue_many(world.actors[user], ids)
    assert db.session.get(Decision, ids[0]).status == "proposed" and _entries() == []
