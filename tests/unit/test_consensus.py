import json
from statistics import median

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.consensus import Outcome, Recommendation, Vote, propose

APPROVE = Recommendation.APPROVE
REJECT = Recommendation.REJECT


@st.composite
def ballots(draw: st.DrawFn) -> tuple[list[Vote], int]:
    k = draw(st.sampled_from([3, 5, 7, 9, 11]))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=k, max_size=k, unique=True))
    votes = [
        Vote(i, draw(st.sampled_from(Recommendation)), draw(st.integers(0, 10**9))) for i in ids
    ]
    return votes, k


def test_examples() -> None:
    assert propose([Vote(1, APPROVE, 0), Vote(2, APPROVE, 0), Vote(3, REJECT, 5)], 3).outcome == Outcome.APPROVED
    partial = propose([Vote(1, APPROVE, 100), Vote(2, APPROVE, 301), Vote(3, REJECT, 0)], 3)
    assert (partial.outcome, partial.deduction_fen) == (Outcome.PARTIALLY_APPROVED, 201)  # 200.5 → 201
    rejected = propose([Vote(1, APPROVE, 100), Vote(2, REJECT, 0), Vote(3, REJECT, 0)], 3)
    assert (rejected.outcome, rejected.deduction_fen, rejected.approvals) == (Outcome.REJECTED, 0, 1)


def test_median_resists_one_outlier() -> None:
    votes = [Vote(i, APPROVE, amount) for i, amount in enumerate([0, 10, 10, 20, 10**9], start=1)]
    assert propose(votes, 5).deduction_fen == 10


@pytest.mark.parametrize("k", [1, 2, 4, 0, -3])
def test_k_must_be_odd_at_least_3(k: int) -> None:
    with pytest.raises(ValueError, match="odd"):
        propose([Vote(i, APPROVE, 0) for i in range(max(k, 0))], k)


def test_vote_count_and_distinct_experts() -> None:
    with pytest.raises(ValueError, match="exactly 3"):
        propose([Vote(1, APPROVE, 0), Vote(2, APPROVE, 0)], 3)
    with pytest.raises(ValueError, match="duplicate"):
        propose([Vote(1, APPROVE, 0), Vote(1, APPROVE, 0), Vote(2, APPROVE, 0)], 3)
    with pytest.raises(ValueError, match="negative"):
        propose([Vote(1, APPROVE, -1), Vote(2, APPROVE, 0), Vote(3, APPROVE, 0)], 3)


@given(ballots(), st.randoms(use_true_random=False))
def test_order_never_matters(ballot: tuple[list[Vote], int], rnd) -> None:  # type: ignore[no-untyped-def]
    votes, k = ballot
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    assert propose(votes, k) == propose(shuffled, k)
    assert propose(votes, k).snapshot() == propose(shuffled, k).snapshot()


@given(ballots())
def test_majority_and_median(ballot: tuple[list[Vote], int]) -> None:
    votes, k = ballot
    proposal = propose(votes, k)
    supporters = [v.unreasonable_cost_fen for v in votes if v.recommendation == APPROVE]
    assert proposal.approvals == len(supporters)
    if len(supporters) > k / 2:
        assert proposal.outcome != Outcome.REJECTED
        assert min(supporters) <= proposal.deduction_fen <= max(supporters)
        assert abs(proposal.deduction_fen - median(supporters)) <= 0.5
        assert (proposal.outcome == Outcome.APPROVED) is (proposal.deduction_fen == 0)
    else:
        assert (proposal.outcome, proposal.deduction_fen) == (Outcome.REJECTED, 0)


@given(ballots())
def test_snapshot_is_json_and_sorted(ballot: tuple[list[Vote], int]) -> None:
    votes, k = ballot
    snapshot = propose(votes, k).snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    ids = [v["expert_id"] for v in snapshot["votes"]]
    assert ids == sorted(ids)
    assert snapshot["approvals"] + snapshot["rejections"] == k
    assert "more than k/2" in snapshot["rule"]


# --- record review ------------------------------------------------------------------------------------

from workflows.consensus import (  # noqa: E402  (kept beside the tests that use them)
    CODED_FIELDS,
    Decided,
    NeedsChair,
    RecordOutcome,
    RecordVote,
    propose_record_review,
)

CODED = {"principal_dx": "I21.4", "principal_procedure": "02703DZ"}
codes = st.sampled_from([None, "I21.09", "I21.19", "I25.10"])


@st.composite
def record_ballots(draw: st.DrawFn) -> tuple[list[RecordVote], int]:
    k = draw(st.sampled_from([3, 5, 7, 9]))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=k, max_size=k, unique=True))
    return [RecordVote(i, draw(st.booleans()), draw(codes), draw(st.sampled_from([None, "0270346", "02703DZ"])))
            for i in ids], k


def _support(votes: list[RecordVote], name: str, value: str | None) -> int:
    return sum((getattr(v, name) or CODED[name]) == value for v in votes)


@given(record_ballots())
def test_record_review_follows_the_majority_or_asks_the_chair(ballot) -> None:  # type: ignore[no-untyped-def]
    votes, k = ballot
    try:
        proposal = propose_record_review(votes, k, CODED)
    except NeedsChair as needs:
        for name, options in needs.options.items():
            assert all(2 * _support(votes, name, option) <= k for option in options)
            assert set(options) == {getattr(v, name) or CODED[name] for v in votes}
        return
    for name in CODED_FIELDS:
        finding = proposal.findings[name]
        assert 2 * _support(votes, name, finding.after) > k
        assert finding.decided_by == (Decided.UNCHANGED if finding.after == CODED[name] else Decided.MAJORITY)
    justified = sum(v.admission_justified for v in votes)
    assert proposal.admission_justified == (2 * justified > k)
    if 2 * justified <= k:
        assert proposal.outcome == RecordOutcome.ADMISSION_UNJUSTIFIED
    elif any(f.after != f.before for f in proposal.findings.values()):
        assert proposal.outcome == RecordOutcome.REGROUPED
    else:
        assert proposal.outcome == RecordOutcome.CONFIRMED


@given(record_ballots(), st.randoms(use_true_random=False))
def test_chair_rules_only_where_there_is_no_majority(ballot, rnd) -> None:  # type: ignore[no-untyped-def]
    votes, k = ballot
    try:
        propose_record_review(votes, k, CODED)
        return
    except NeedsChair as needs:
        options = needs.options
    rulings = {name: rnd.choice(choices) for name, choices in options.items()}
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    proposal = propose_record_review(shuffled, k, CODED, rulings)
    assert proposal.snapshot() == propose_record_review(votes, k, CODED, rulings).snapshot()  # order-free
    for name in CODED_FIELDS:
        finding = proposal.findings[name]
        if name in options:
            assert (finding.after, finding.decided_by) == (rulings[name], Decided.CHAIR)
        else:
            assert finding.decided_by != Decided.CHAIR


def test_record_review_examples() -> None:
    split = [RecordVote(1, True, "I21.09"), RecordVote(2, True, "I21.19"), RecordVote(3, True)]
    with pytest.raises(NeedsChair) as needs:
        propose_record_review(split, 3, CODED)
    assert needs.value.options == {"principal_dx": ["I21.4", "I21.09", "I21.19"]}
    with pytest.raises(ValueError, match="not among the codes proposed"):
        propose_record_review(split, 3, CODED, {"principal_dx": "A00.0"})
    ruled = propose_record_review(split, 3, CODED, {"principal_dx": "I21.19"})
    assert (ruled.outcome, ruled.findings["principal_dx"].after) == (RecordOutcome.REGROUPED, "I21.19")
    upheld = propose_record_review([RecordVote(1, True), RecordVote(2, False), RecordVote(3, True, "I21.09")], 3, CODED)
    assert upheld.outcome == RecordOutcome.CONFIRMED
    refused = propose_record_review([RecordVote(1, False), RecordVote(2, False), RecordVote(3, True)], 3, CODED)
    assert refused.outcome == RecordOutcome.ADMISSION_UNJUSTIFIED and not refused.admission_justified
    with pytest.raises(ValueError):
        propose_record_review(split[:2], 3, CODED)
