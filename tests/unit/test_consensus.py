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
