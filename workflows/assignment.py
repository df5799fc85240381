"""Seeded panel draw (DESIGN §7.3).

Randomness comes only from (seed, item id, expert id) so that anyone holding the
recorded seed can recompute a draw, and so that shuffling the input lists cannot
change who is drawn.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

_MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def splitmix64(x: int) -> int:
    """One SplitMix64 step from state x: add the golden gamma, then apply the finaliser.

    Defined with the increment included so that splitmix64(0), splitmix64(γ),
    splitmix64(2γ) reproduce the reference generator's first outputs from state 0
    (0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f).
    """
    z = (x + GOLDEN_GAMMA) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def noise(seed: str, item_id: int, expert_id: int) -> int:
    """A 64-bit tie-breaker per (item, expert) that no participant can steer without the seed."""
    digest = hashlib.sha256(f"{seed}|{item_id}|{expert_id}".encode()).digest()
    return splitmix64(int.from_bytes(digest[:8], "big"))


def seed_from(published_value: str, *parts: str) -> str:
    """Bind a seed to a value published before the draw, so staff cannot shop for seeds."""
    return hashlib.sha256("|".join((published_value, *parts)).encode()).hexdigest()


@dataclass(frozen=True)
class Candidate:
    expert_id: int
    hospital_id: int


@dataclass(frozen=True)
class PanelDraw:
    item_id: int
    expert_ids: tuple[int, ...]
    unfilled_reason: str | None


def draw_panel(
    seed: str,
    item_id: int,
    hospital_id: int,
    candidates: Sequence[Candidate],
    k: int,
    conflicts: frozenset[int] = frozenset(),
) -> PanelDraw:
    """Draw k experts or none: a short panel is listed as unfilled, never filled by relaxing a rule."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    if len({candidate.expert_id for candidate in candidates}) != len(candidates):
        raise ValueError("Each expert may appear only once among the candidates.")
    eligible = sorted(
        (
            candidate.expert_id
            for candidate in candidates
            if candidate.hospital_id != hospital_id and candidate.expert_id not in conflicts
        ),
        key=lambda expert_id: (noise(seed, item_id, expert_id), expert_id),
    )
    if len(eligible) < k:
        return PanelDraw(
            item_id,
            (),
            f"only {len(eligible)} eligible experts without a conflict, {k} needed",
        )
    return PanelDraw(item_id, tuple(eligible[:k]), None)
