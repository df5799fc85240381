"""Seeded panel assignment by min-cost flow (DESIGN §7.3).

Who reviews a case decides its outcome, so the draw has to be conflict-free, balanced and reproducible by
anyone holding the recorded input and seed. The network is

    source → expert (one unit arc per free seat, cost rising with the expert's relative load)
           → item   (capacity 1; no arc at all when there is a conflict; W_rel extra for a related specialty,
                     plus seeded noise)
           → sink   (the item's open seats)

and one OR-Tools max-flow-with-minimum-cost solve fills as many seats as possible at least cost. W_rel is
larger than every other cost the whole solution can carry, so related-specialty fallbacks are kept to their
minimum before balance and noise are considered; balance steps are larger than any noise difference, so
identical experts end up with loads that differ by at most one.

Randomness comes only from (seed, item id, expert id): per-id SHA-256 keys mixed by SplitMix64. Shuffling
the input therefore cannot change the result, and a different published value gives a different panel.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from ortools.graph.python import min_cost_flow

ALGORITHM_VERSION = "mcf-2"
NOISE_BITS = 20
READD_ATTEMPTS = 32
"""How many items given up for lack of seats are offered back, one solve each, when seats run short."""
_MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_INT64_LIMIT = (1 << 63) - 1


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


def _splitmix64_array(x: np.ndarray) -> np.ndarray:
    """splitmix64 over a uint64 array; numpy's uint64 arithmetic wraps modulo 2^64 as the scalar masks do."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(GOLDEN_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def key(seed: str, label: str, ident: int) -> int:
    """A 64-bit key per id, so the noise of a pair needs two hashes per id instead of one per pair."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{label}|{ident}".encode()).digest()[:8], "big")


def noise(seed: str, item_id: int, expert_id: int) -> int:
    """A 20-bit tie-breaker per (item, expert) that no participant can steer without the seed."""
    mixed = key(seed, "item", item_id) ^ splitmix64(key(seed, "expert", expert_id))
    return splitmix64(mixed) >> (64 - NOISE_BITS)


def _noise_row(item_key: int, expert_mixed: np.ndarray) -> np.ndarray:
    return (_splitmix64_array(np.uint64(item_key) ^ expert_mixed) >> np.uint64(64 - NOISE_BITS)).astype(np.int64)


def seed_from(published_value: str, *parts: str) -> str:
    """Bind a seed to a value published before the draw, so staff cannot shop for seeds."""
    return hashlib.sha256("|".join((published_value, *parts)).encode()).hexdigest()


class Tier(StrEnum):
    EXACT = "exact"
    RELATED = "related"


class Unfilled(StrEnum):
    """Why an item got no panel; the numbers travel beside the code so the screen can explain it."""

    TOO_FEW_ELIGIBLE = "too_few_eligible"
    CAPACITY = "capacity"


@dataclass(frozen=True)
class ItemSpec:
    """One review item. `panel` holds experts already seated (locked); `excluded` those who may not sit."""

    item_id: int
    hospital_id: int
    specialty: str | None
    panel: frozenset[int] = frozenset()
    excluded: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ExpertSpec:
    """A qualified expert; `load` is the seats already taken this cycle, `cap` the cycle's maximum."""

    expert_id: int
    hospital_id: int
    specialties: frozenset[str]
    cap: int
    load: int = 0


@dataclass(frozen=True)
class Problem:
    items: tuple[ItemSpec, ...]
    experts: tuple[ExpertSpec, ...]
    conflicts: frozenset[tuple[int, int]] = frozenset()
    """(expert id, hospital id) pairs declared in conflict; the own hospital is always a conflict."""
    related: frozenset[tuple[str, str]] = frozenset()
    """(item specialty, stand-in specialty): experts of the second may review items of the first."""

    def canonical(self) -> dict[str, object]:
        """A JSON-safe form in id order: what is stored with a run, hashed, and read back by `verify`."""
        return {
            "items": [[i.item_id, i.hospital_id, i.specialty, sorted(i.panel), sorted(i.excluded)]
                      for i in sorted(self.items, key=lambda i: i.item_id)],
            "experts": [[e.expert_id, e.hospital_id, sorted(e.specialties), e.cap, e.load]
                        for e in sorted(self.experts, key=lambda e: e.expert_id)],
            "conflicts": sorted([list(pair) for pair in self.conflicts]),
            "related": sorted([list(pair) for pair in self.related]),
        }

    @classmethod
    def from_canonical(cls, data: dict) -> Problem:
        return cls(
            items=tuple(ItemSpec(i, h, s, frozenset(p), frozenset(x)) for i, h, s, p, x in data["items"]),
            experts=tuple(ExpertSpec(e, h, frozenset(s), c, n) for e, h, s, c, n in data["experts"]),
            conflicts=frozenset((e, h) for e, h in data["conflicts"]),
            related=frozenset((a, b) for a, b in data["related"]),
        )

    def input_hash(self) -> str:
        return canonical_hash(self.canonical())


@dataclass(frozen=True)
class Config:
    k: int = 3
    one_per_hospital: bool = False
    """At most one expert from any one hospital on an item."""
    candidates_per_item: int = 0
    """At province scale, keep per item and tier only this many lowest-noise candidates (0 keeps all)."""

    def __post_init__(self) -> None:
        if self.k < 3 or self.k % 2 == 0:
            raise ValueError(f"k must be odd and at least 3, got {self.k}.")
        if self.candidates_per_item < 0:
            raise ValueError("candidates_per_item cannot be negative.")

    def as_dict(self) -> dict[str, object]:
        return {"k": self.k, "one_per_hospital": self.one_per_hospital,
                "candidates_per_item": self.candidates_per_item}


@dataclass(frozen=True)
class Seat:
    item_id: int
    expert_id: int
    tier: Tier


@dataclass(frozen=True)
class Solution:
    seats: tuple[Seat, ...]
    unfilled: dict[int, dict[str, object]] = field(default_factory=dict)
    """item id → {"reason": Unfilled, ...numbers}; such an item gets no seat at all."""
    cost: int = 0

    @property
    def fallbacks(self) -> int:
        return sum(seat.tier is Tier.RELATED for seat in self.seats)

    def canonical(self) -> dict[str, object]:
        return {"seats": [[s.item_id, s.expert_id, s.tier.value] for s in self.seats],
                "unfilled": {str(i): self.unfilled[i] for i in sorted(self.unfilled)}}

    def assignment_hash(self) -> str:
        return canonical_hash(self.canonical())

    def loads(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for seat in self.seats:
            counts[seat.expert_id] = counts.get(seat.expert_id, 0) + 1
        return counts


def canonical_hash(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class _Candidates:
    """One item's eligible experts (indices into the sorted expert arrays), their tiers and noise."""

    item: ItemSpec
    demand: int
    index: np.ndarray
    related: np.ndarray
    noise: np.ndarray


class _Pool:
    """The experts as arrays, with the masks shared by every item of one specialty or hospital."""

    def __init__(self, problem: Problem, seed: str) -> None:
        experts = sorted(problem.experts, key=lambda e: e.expert_id)
        if len({e.expert_id for e in experts}) != len(experts):
            raise ValueError("Each expert may appear only once.")
        self.experts = experts
        self.ids = np.array([e.expert_id for e in experts], dtype=np.int64)
        self.hospitals = np.array([e.hospital_id for e in experts], dtype=np.int64)
        self.free = np.array([max(0, e.cap - e.load) for e in experts], dtype=np.int64)
        self.mixed = np.array([splitmix64(key(seed, "expert", e.expert_id)) for e in experts], dtype=np.uint64)
        self.position = {e.expert_id: n for n, e in enumerate(experts)}
        self._problem = problem
        self._exact: dict[str | None, np.ndarray] = {}
        self._related: dict[str | None, np.ndarray] = {}
        self._blocked: dict[int, np.ndarray] = {}

    def tiers(self, specialty: str | None) -> tuple[np.ndarray, np.ndarray]:
        if specialty not in self._exact:
            if specialty is None:  # an item without a specialty may go to anyone
                exact = np.ones(len(self.experts), dtype=bool)
            else:
                exact = np.array([specialty in e.specialties for e in self.experts], dtype=bool)
            stand_ins = {b for a, b in self._problem.related if a == specialty}
            related = np.array([bool(stand_ins & e.specialties) for e in self.experts], dtype=bool) & ~exact
            self._exact[specialty], self._related[specialty] = exact, related
        return self._exact[specialty], self._related[specialty]

    def blocked(self, hospital_id: int) -> np.ndarray:
        """Own hospital and declared conflicts, which no rule may relax; experts with no free seat too."""
        if hospital_id not in self._blocked:
            declared = {e for e, h in self._problem.conflicts if h == hospital_id}
            mask = (self.hospitals == hospital_id) | (self.free <= 0)
            for expert_id in declared:
                if expert_id in self.position:
                    mask[self.position[expert_id]] = True
            self._blocked[hospital_id] = mask
        return self._blocked[hospital_id]


def _candidates(pool: _Pool, item: ItemSpec, seed: str, config: Config, demand: int) -> _Candidates:
    exact, related = pool.tiers(item.specialty)
    allowed = ~pool.blocked(item.hospital_id)
    for expert_id in item.panel | item.excluded:  # `~` made a fresh array, so the shared mask stays intact
        if expert_id in pool.position:
            allowed[pool.position[expert_id]] = False
    if config.one_per_hospital:  # a locked member's hospital is already on the panel
        seated = [pool.hospitals[pool.position[e]] for e in item.panel if e in pool.position]
        allowed &= ~np.isin(pool.hospitals, seated)
    index = np.flatnonzero((exact | related) & allowed)
    row = _noise_row(key(seed, "item", item.item_id), pool.mixed[index])
    is_related = related[index]
    cand = _Candidates(item=item, demand=demand, index=index, related=is_related, noise=row)
    if config.candidates_per_item and len(index) > config.candidates_per_item:
        keep = []
        for tier in (False, True):
            members = np.flatnonzero(is_related == tier)
            order = np.lexsort((pool.ids[index[members]], row[members]))
            keep.append(members[order[:config.candidates_per_item]])
        chosen = np.sort(np.concatenate(keep))
        pruned = _Candidates(item=item, demand=demand, index=index[chosen], related=is_related[chosen],
                             noise=row[chosen])
        # Pruning only trims arcs: it may never be the reason an item lacks eligible experts.
        if _fillable(pool, pruned, config) >= min(demand, _fillable(pool, cand, config)):
            cand = pruned
    return cand


def _fillable(pool: _Pool, cand: _Candidates, config: Config) -> int:
    """How many seats the candidates could fill at most, ignoring everyone else's demand."""
    if not config.one_per_hospital:
        return len(cand.index)
    seated = {int(pool.hospitals[pool.position[e]]) for e in cand.item.panel if e in pool.position}
    return len(set(pool.hospitals[cand.index].tolist()) - seated)


def _weights(pool: _Pool, demand_total: int) -> tuple[int, int]:
    max_cap = max((e.cap for e in pool.experts), default=1) or 1
    w_bal = (1 << NOISE_BITS) * max_cap  # every balance step (w_bal / cap) exceeds any noise difference
    w_rel = demand_total * ((1 << NOISE_BITS) + w_bal) + 1
    return w_bal, w_rel


def _solve_once(pool: _Pool, batch: Sequence[_Candidates], config: Config) -> tuple[dict[int, list[Seat]], int]:
    """One max-flow-min-cost solve; returns the seats found per item (possibly short) and the cost."""
    demand_total = sum(c.demand for c in batch)
    w_bal, w_rel = _weights(pool, demand_total)
    n_experts = len(pool.experts)
    source, first_expert, first_item = 0, 1, 1 + n_experts
    next_node = first_item + len(batch)
    tails: list[np.ndarray] = []
    heads: list[np.ndarray] = []
    caps: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    # source → expert: one unit arc per free seat, the t-th seat costing w_bal·t/cap (t counts taken seats)
    for n, expert in enumerate(pool.experts):
        if pool.free[n] <= 0:
            continue
        taken = np.arange(expert.load, expert.cap, dtype=np.int64)
        tails.append(np.full(len(taken), source, dtype=np.int64))
        heads.append(np.full(len(taken), first_expert + n, dtype=np.int64))
        caps.append(np.ones(len(taken), dtype=np.int64))
        costs.append((w_bal * taken) // expert.cap)
    item_arcs: list[tuple[int, np.ndarray, np.ndarray]] = []  # (batch position, arc start, expert index)
    arc_count = sum(len(t) for t in tails)
    for position, cand in enumerate(batch):
        item_node = first_item + position
        arc_cost = cand.noise + np.where(cand.related, w_rel, 0)
        if config.one_per_hospital:
            hospitals = pool.hospitals[cand.index]
            groups, group_of = np.unique(hospitals, return_inverse=True)
            group_nodes = next_node + np.arange(len(groups), dtype=np.int64)
            next_node += len(groups)
            tails.append(first_expert + cand.index)
            heads.append(group_nodes[group_of])
            tails.append(group_nodes)
            heads.append(np.full(len(groups), item_node, dtype=np.int64))
            caps.extend([np.ones(len(cand.index), dtype=np.int64), np.ones(len(groups), dtype=np.int64)])
            costs.extend([arc_cost, np.zeros(len(groups), dtype=np.int64)])
            item_arcs.append((position, np.arange(arc_count, arc_count + len(cand.index)), cand.index))
            arc_count += len(cand.index) + len(groups)
        else:
            tails.append(first_expert + cand.index)
            heads.append(np.full(len(cand.index), item_node, dtype=np.int64))
            caps.append(np.ones(len(cand.index), dtype=np.int64))
            costs.append(arc_cost)
            item_arcs.append((position, np.arange(arc_count, arc_count + len(cand.index)), cand.index))
            arc_count += len(cand.index)
    sink = next_node
    tails.append(first_item + np.arange(len(batch), dtype=np.int64))
    heads.append(np.full(len(batch), sink, dtype=np.int64))
    caps.append(np.array([c.demand for c in batch], dtype=np.int64))
    costs.append(np.zeros(len(batch), dtype=np.int64))
    if w_rel * (sink + 2) > _INT64_LIMIT:
        raise ValueError("The instance is too large for exact costs; lower the caps or split the cycle.")
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(np.concatenate(tails), np.concatenate(heads),
                                              np.concatenate(caps), np.concatenate(costs))
    flow.set_node_supply(source, demand_total)
    flow.set_node_supply(sink, -demand_total)
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"The min-cost flow solver stopped with status {status}.")
    seats: dict[int, list[Seat]] = {}
    for position, arcs, experts in item_arcs:
        used = flow.flows(arcs) > 0
        cand = batch[position]
        seats[cand.item.item_id] = [
            Seat(cand.item.item_id, int(pool.ids[e]), Tier.RELATED if rel else Tier.EXACT)
            for e, rel in zip(experts[used], cand.related[used])
        ]
    return seats, int(flow.optimal_cost())


def solve(problem: Problem, seed: str, config: Config) -> Solution:
    """Fill every item with its open seats or list it as unfilled; never relax a rule to fill one."""
    pool = _Pool(problem, seed)
    items = sorted(problem.items, key=lambda i: i.item_id)
    if len({i.item_id for i in items}) != len(items):
        raise ValueError("Each item may appear only once.")
    unfilled: dict[int, dict[str, object]] = {}
    batch: list[_Candidates] = []
    for item in items:
        demand = config.k - len(item.panel)
        if demand <= 0:
            continue
        cand = _candidates(pool, item, seed, config, demand)
        eligible = _fillable(pool, cand, config)
        if eligible < demand:
            unfilled[item.item_id] = {"reason": Unfilled.TOO_FEW_ELIGIBLE.value, "eligible": eligible,
                                      "needed": demand}
        else:
            batch.append(cand)
    dropped: list[_Candidates] = []
    while True:
        seats, cost = _solve_once(pool, batch, config) if batch else ({}, 0)
        short = [c for c in batch if len(seats[c.item.item_id]) < c.demand]
        if not short:
            break
        # Seats ran out: give up the least-filled items (ties broken by seeded noise, not by id) and
        # re-solve, so their partial seats can complete others. Enough are dropped per round to cover
        # the shortfall, which keeps the rounds few.
        deficit = sum(c.demand - len(seats[c.item.item_id]) for c in short)
        short.sort(key=lambda c: (len(seats[c.item.item_id]), key(seed, "drop", c.item.item_id)))
        given_up = short[:max(1, math.ceil(deficit / config.k))]
        dropped.extend(given_up)
        batch = [c for c in batch if c not in given_up]
    # Dropping in batches can give up more than needed. Offer each dropped item back once (the first
    # READD_ATTEMPTS of them, in drop order): it stays if every item can still be filled with it. Finding the
    # largest fillable set is NP-hard; this makes the result maximal against adding back any one item.
    for position, cand in enumerate(dropped):
        if position < READD_ATTEMPTS:
            trial, trial_cost = _solve_once(pool, [*batch, cand], config)
            if all(len(trial[c.item.item_id]) == c.demand for c in [*batch, cand]):
                batch, seats, cost = [*batch, cand], trial, trial_cost
                continue
        unfilled[cand.item.item_id] = {"reason": Unfilled.CAPACITY.value}
    ordered = tuple(sorted((s for item_seats in seats.values() for s in item_seats),
                           key=lambda s: (s.item_id, s.expert_id)))
    return Solution(seats=ordered, unfilled=unfilled, cost=cost)


def minimum_fallbacks(problem: Problem, config: Config, item_ids: Iterable[int]) -> int:
    """The fewest related-specialty seats any assignment filling exactly `item_ids` can have.

    Computed independently of `solve`'s weights and noise as a min-cost flow costing 1 per related seat and
    0 per exact one, so a benchmark or test can check the solver's fallbacks against the optimum. (Demand −
    the maximum exact-only flow is merely a lower bound: an expert exact for one item may be needed as a
    stand-in on another.) Ignores one_per_hospital; refuses item sets that cannot all be filled.
    """
    pool = _Pool(problem, "")
    wanted = set(item_ids)
    items = [i for i in sorted(problem.items, key=lambda i: i.item_id) if i.item_id in wanted]
    graph = min_cost_flow.SimpleMinCostFlow()
    n_experts = len(pool.experts)
    source, sink = 0, 1 + n_experts + len(items)
    graph.add_arcs_with_capacity_and_unit_cost(np.zeros(n_experts, dtype=np.int64),
                                               1 + np.arange(n_experts, dtype=np.int64), pool.free,
                                               np.zeros(n_experts, dtype=np.int64))
    demand = 0
    for position, item in enumerate(items):
        node = 1 + n_experts + position
        exact, related = pool.tiers(item.specialty)
        allowed = (exact | related) & ~pool.blocked(item.hospital_id)
        for expert_id in item.panel | item.excluded:
            if expert_id in pool.position:
                allowed[pool.position[expert_id]] = False
        index = np.flatnonzero(allowed)
        graph.add_arcs_with_capacity_and_unit_cost(1 + index, np.full(len(index), node, dtype=np.int64),
                                                   np.ones(len(index), dtype=np.int64),
                                                   related[index].astype(np.int64))
        item_demand = config.k - len(item.panel)
        graph.add_arc_with_capacity_and_unit_cost(node, sink, item_demand, 0)
        demand += item_demand
    graph.set_node_supply(source, demand)
    graph.set_node_supply(sink, -demand)
    if graph.solve_max_flow_with_min_cost() != graph.OPTIMAL:
        raise RuntimeError("The min-cost flow solver failed.")
    if graph.maximum_flow() < demand:
        raise ValueError("These items cannot all be filled.")
    return int(graph.optimal_cost())
