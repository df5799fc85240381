"""Panel consensus (DESIGN §7.5).

The median of the supporters' deductions is used rather than the mean so that one
outlying expert cannot move the amount; votes are normalised by expert id so the
order in which sheets arrived can never change a decision.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from workflows.money import Fen, round_half_up_fen

RULE_DESCRIPTION = (
    "approved when more than k/2 experts approve; the deduction is the median of the "
    "approving experts' unreasonable-cost amounts (mean of the two middle amounts when "
    "their number is even, rounded half up to the fen)"
)


class Recommendation(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Outcome(StrEnum):
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Vote:
    expert_id: int
    recommendation: Recommendation
    unreasonable_cost_fen: Fen


@dataclass(frozen=True)
class Proposal:
    outcome: Outcome
    k: int
    approvals: int
    deduction_fen: Fen
    votes: tuple[Vote, ...]

    def snapshot(self) -> dict[str, Any]:
        """Stored with the Decision so it can be re-derived after experts or rules change."""
        return {
            "rule": RULE_DESCRIPTION,
            "k": self.k,
            "approvals": self.approvals,
            "rejections": self.k - self.approvals,
            "outcome": self.outcome.value,
            "deduction_fen": self.deduction_fen,
            "votes": [
                {
                    "expert_id": vote.expert_id,
                    "recommendation": vote.recommendation.value,
                    "unreasonable_cost_fen": vote.unreasonable_cost_fen,
                }
                for vote in self.votes
            ],
        }


def _median_fen(amounts: Sequence[Fen]) -> Fen:
    ordered = sorted(amounts)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return round_half_up_fen(Decimal(ordered[middle - 1] + ordered[middle]) / 2)


def propose(votes: Sequence[Vote], k: int) -> Proposal:
    """Propose a decision once all k sheets are in; a missing or extra vote is a bug upstream."""
    if k < 3 or k % 2 == 0:
        raise ValueError(f"k must be odd and at least 3, got {k}.")
    if len(votes) != k:
        raise ValueError(f"Expected exactly {k} votes, got {len(votes)}.")
    if len({vote.expert_id for vote in votes}) != k:
        raise ValueError("Each expert may vote only once; duplicate expert ids found.")
    negative = [vote.expert_id for vote in votes if vote.unreasonable_cost_fen < 0]
    if negative:
        raise ValueError(f"Unreasonable cost must not be negative (experts {sorted(negative)}).")
    ordered = tuple(sorted(votes, key=lambda vote: vote.expert_id))
    supporters = [v.unreasonable_cost_fen for v in ordered if v.recommendation == Recommendation.APPROVE]
    approvals = len(supporters)
    if 2 * approvals <= k:
        return Proposal(Outcome.REJECTED, k, approvals, 0, ordered)
    deduction = _median_fen(supporters)
    outcome = Outcome.APPROVED if deduction == 0 else Outcome.PARTIALLY_APPROVED
    return Proposal(outcome, k, approvals, deduction, ordered)
