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


def is_majority(count: int, k: int) -> bool:
    """More than half of a panel of k: the one rule every panel decision rests on (DESIGN §3 "Consensus")."""
    return 2 * count > k


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
    if not is_majority(approvals, k):
        return Proposal(Outcome.REJECTED, k, approvals, 0, ordered)
    deduction = _median_fen(supporters)
    outcome = Outcome.APPROVED if deduction == 0 else Outcome.PARTIALLY_APPROVED
    return Proposal(outcome, k, approvals, deduction, ordered)


# --- record review (DESIGN §7.5: coding needs a majority, else the panel chair adjudicates) -----------------

RECORD_RULE_DESCRIPTION = (
    "admission not justified when more than k/2 experts say so (the whole DRG payment is recovered); each "
    "code is replaced when more than k/2 experts propose the same replacement, kept when more than k/2 find "
    "it correct, and otherwise ruled on by the panel chair among the codes proposed"
)


class Decided(StrEnum):
    UNCHANGED = "unchanged"
    MAJORITY = "majority"
    CHAIR = "chair"


class RecordOutcome(StrEnum):
    CONFIRMED = "confirmed"
    REGROUPED = "regrouped"
    ADMISSION_UNJUSTIFIED = "admission_unjustified"


CODED_FIELDS = ("principal_dx", "principal_procedure")


@dataclass(frozen=True)
class RecordVote:
    """One expert's record-review findings; a code of None means the hospital's code is correct."""

    expert_id: int
    admission_justified: bool
    principal_dx: str | None = None
    principal_procedure: str | None = None


@dataclass(frozen=True)
class CodeFinding:
    before: str | None
    after: str | None
    decided_by: Decided

    def as_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "decided_by": self.decided_by.value}


class NeedsChair(Exception):
    """No code reached a majority: the chair must choose among `options[field]` (the codes on the table)."""

    def __init__(self, options: dict[str, list[str | None]]) -> None:
        super().__init__(f"The panel chair must rule on: {', '.join(options)}.")
        self.options = options


@dataclass(frozen=True)
class RecordProposal:
    outcome: RecordOutcome
    k: int
    justified_votes: int
    findings: dict[str, CodeFinding]
    votes: tuple[RecordVote, ...]

    @property
    def admission_justified(self) -> bool:
        return 2 * self.justified_votes > self.k

    def snapshot(self) -> dict[str, Any]:
        return {
            "rule": RECORD_RULE_DESCRIPTION,
            "k": self.k,
            "admission_justified_votes": self.justified_votes,
            "outcome": self.outcome.value,
            "coding": {name: finding.as_dict() for name, finding in self.findings.items()},
            "votes": [{"expert_id": v.expert_id, "admission_justified": v.admission_justified,
                       "principal_dx": v.principal_dx, "principal_procedure": v.principal_procedure}
                      for v in self.votes],
        }


def _adopt(before: str | None, proposals: Sequence[str | None], k: int, ruling: str | None,
           ruled: bool) -> CodeFinding | list[str | None]:
    """The finding for one code, or the options the chair must choose among when no majority exists."""
    counts: dict[str | None, int] = {}
    for proposal in proposals:
        value = before if proposal is None else proposal
        counts[value] = counts.get(value, 0) + 1
    for value, n in counts.items():
        if is_majority(n, k):
            return CodeFinding(before, value, Decided.UNCHANGED if value == before else Decided.MAJORITY)
    options = sorted(counts, key=lambda v: (v != before, v or ""))
    if not ruled:
        return options
    if ruling not in counts:
        raise ValueError(f"The chair's ruling {ruling!r} is not among the codes proposed: {options}.")
    return CodeFinding(before, ruling, Decided.CHAIR)


def propose_record_review(votes: Sequence[RecordVote], k: int, coded: dict[str, str | None],
                          chair: dict[str, str | None] | None = None) -> RecordProposal:
    """Propose a record-review finding once all k sheets are in. `coded` holds the hospital's codes;
    `chair` the chair's rulings, consulted only for codes without a majority. Raises NeedsChair otherwise."""
    if k < 3 or k % 2 == 0:
        raise ValueError(f"k must be odd and at least 3, got {k}.")
    if len(votes) != k or len({v.expert_id for v in votes}) != k:
        raise ValueError(f"Expected exactly {k} votes from distinct experts, got {len(votes)}.")
    ordered = tuple(sorted(votes, key=lambda vote: vote.expert_id))
    chair = chair or {}
    findings: dict[str, CodeFinding] = {}
    open_questions: dict[str, list[str | None]] = {}
    for name in CODED_FIELDS:
        adopted = _adopt(coded.get(name), [getattr(v, name) for v in ordered], k, chair.get(name), name in chair)
        if isinstance(adopted, CodeFinding):
            findings[name] = adopted
        else:
            open_questions[name] = adopted
    if open_questions:
        raise NeedsChair(open_questions)
    justified = sum(v.admission_justified for v in ordered)
    if 2 * justified <= k:
        outcome = RecordOutcome.ADMISSION_UNJUSTIFIED
    elif any(f.after != f.before for f in findings.values()):
        outcome = RecordOutcome.REGROUPED
    else:
        outcome = RecordOutcome.CONFIRMED
    return RecordProposal(outcome, k, justified, findings, ordered)
