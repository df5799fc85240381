"""Panel assignment engine alone (DESIGN §7.3, §8): a cycle's draw on a realistic random instance, no database.

Usage: python bench/assign.py [ITEMS] [EXPERTS]
With no argument it runs 2,000 × 100 and 20,000 × 500 (the §8 target, ≤ 10 s on 2 cores); k = 3 throughout.

Printed per run, on one key=value line:
- seconds: `solve` with the production setting candidates_per_item=50, everything included (noise, pruning,
  network, drop-and-resolve rounds, reading the seats back).
- seconds_all_candidates: `solve` with candidates_per_item=0 (every eligible expert gets an arc).
- baseline_seconds: the bare solver: one OR-Tools `SimpleMinCostFlow.solve_max_flow_with_min_cost` call on
  the network of the production run's first round (the same candidate arcs and the same costs), built here
  with numpy beforehand. Only that call is timed; loading the arcs into OR-Tools and all the engine's own
  work are not, so ratio = seconds / baseline_seconds is what the engine costs on top of one bare solve.
  same_network=yes confirms the rebuilt network has the engine's optimal cost (n/a when the engine had to
  drop items and solve again, since its last round then differs from the first).
- fallbacks / minimum_fallbacks / optimal: the production run's related-specialty seats against the fewest
  any assignment of the same filled items can have (`minimum_fallbacks`, an independent min-cost flow
  without noise or balance); pruning may legitimately make them differ, which is why both are printed.
- rules: every seat re-checked here against own hospital, declared conflicts, specialty tier, duplicates
  and caps; `ok` or the number of broken rules.
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from ortools.graph.python import min_cost_flow  # noqa: E402

from workflows.assignment import (  # noqa: E402
    Config,
    ExpertSpec,
    ItemSpec,
    Problem,
    Solution,
    Tier,
    _candidates,
    _Pool,
    _weights,
    minimum_fallbacks,
    solve,
)

K = 3
HOSPITALS = 30
SPECIALTIES = [f"S{n:02d}" for n in range(1, 16)]
SCARCE = SPECIALTIES[-4:]
"""Specialties few experts hold although items keep asking for them: their seats spill to stand-ins."""
SEED = "bench-2026Q2"


def build_problem(n_items: int, n_experts: int) -> Problem:
    """A deterministic instance shaped like a province's cycle (fixed random.Random seed)."""
    rng = random.Random(20260401)
    # Item demand falls off with rank (a few specialties carry most cases); scarce ones still get their share.
    item_weights = [1 / (rank + 1) ** 0.7 for rank in range(len(SPECIALTIES))]
    expert_weights = [w * (0.5 if s in SCARCE else 1.0) for s, w in zip(SPECIALTIES, item_weights)]
    related: set[tuple[str, str]] = set()
    for n, scarce in enumerate(SCARCE):  # each scarce specialty has one or two stand-ins among the common ones
        related.add((scarce, SPECIALTIES[n]))
        if n % 2 == 0:
            related.add((scarce, SPECIALTIES[n + 4]))
    related |= {(SPECIALTIES[1], SPECIALTIES[2]), (SPECIALTIES[5], SPECIALTIES[6])}
    hospital_weights = [rng.uniform(0.5, 3.0) for _ in range(HOSPITALS)]
    hospitals = list(range(1, HOSPITALS + 1))
    seats = n_items * K
    raw_caps = [rng.uniform(0.8, 1.2) for _ in range(n_experts)]
    scale = 1.3 * seats / sum(raw_caps)  # total capacity ≈ 1.3 × the seats to fill
    experts = []
    for n in range(n_experts):
        specialties: set[str] = set()
        wanted = rng.randint(1, 3)
        while len(specialties) < wanted:
            specialties.add(rng.choices(SPECIALTIES, expert_weights)[0])
        experts.append(ExpertSpec(1000 + n, rng.choices(hospitals, hospital_weights)[0], frozenset(specialties),
                                  max(1, round(raw_caps[n] * scale))))
    items = []
    for n in range(n_items):
        specialty = None if rng.random() < 0.02 else rng.choices(SPECIALTIES, item_weights)[0]
        items.append(ItemSpec(100_000 + n, rng.choices(hospitals, hospital_weights)[0], specialty))
    conflicts = {(rng.choice(experts).expert_id, rng.choice(hospitals)) for _ in range(300)}
    return Problem(tuple(items), tuple(experts), frozenset(conflicts), frozenset(related))


def baseline_network(problem: Problem, config: Config) -> min_cost_flow.SimpleMinCostFlow:
    """The production run's first-round network, rebuilt with numpy from the engine's candidate arcs."""
    pool = _Pool(problem, SEED)
    batch = []
    for item in sorted(problem.items, key=lambda i: i.item_id):
        demand = config.k - len(item.panel)
        cand = _candidates(pool, item, SEED, config, demand)
        if len(cand.index) >= demand:
            batch.append(cand)
    demand_total = sum(c.demand for c in batch)
    w_bal, w_rel = _weights(pool, demand_total)
    n_experts = len(pool.experts)
    free = pool.free
    caps = np.array([e.cap for e in pool.experts], dtype=np.int64)
    loads = np.array([e.load for e in pool.experts], dtype=np.int64)
    # source (0) → expert (1..n): one unit arc per free seat, the t-th costing w_bal·t/cap
    owner = np.repeat(np.arange(n_experts, dtype=np.int64), free)
    taken = loads[owner] + (np.arange(len(owner)) - np.repeat(np.cumsum(free) - free, free))
    tails = [np.zeros(len(owner), dtype=np.int64)]
    heads = [1 + owner]
    capacities = [np.ones(len(owner), dtype=np.int64)]
    costs = [(w_bal * taken) // caps[owner]]
    # expert → item (n+1..): capacity 1, noise plus W_rel for a related specialty
    sizes = np.array([len(c.index) for c in batch], dtype=np.int64)
    item_nodes = 1 + n_experts + np.arange(len(batch), dtype=np.int64)
    tails.append(1 + np.concatenate([c.index for c in batch]))
    heads.append(np.repeat(item_nodes, sizes))
    capacities.append(np.ones(int(sizes.sum()), dtype=np.int64))
    costs.append(np.concatenate([c.noise + np.where(c.related, w_rel, 0) for c in batch]))
    # item → sink: the item's open seats
    sink = 1 + n_experts + len(batch)
    tails.append(item_nodes)
    heads.append(np.full(len(batch), sink, dtype=np.int64))
    capacities.append(np.array([c.demand for c in batch], dtype=np.int64))
    costs.append(np.zeros(len(batch), dtype=np.int64))
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(np.concatenate(tails), np.concatenate(heads),
                                              np.concatenate(capacities), np.concatenate(costs))
    flow.set_node_supply(0, demand_total)
    flow.set_node_supply(sink, -demand_total)
    return flow


def broken_rules(problem: Problem, config: Config, solution: Solution) -> int:
    """Rules of §7.3 re-checked from the raw specs: own hospital, conflicts, tier, duplicates, caps, k."""
    items = {i.item_id: i for i in problem.items}
    experts = {e.expert_id: e for e in problem.experts}
    broken = 0
    per_item: dict[int, set[int]] = {}
    for seat in solution.seats:
        item, expert = items[seat.item_id], experts[seat.expert_id]
        if expert.hospital_id == item.hospital_id or (expert.expert_id, item.hospital_id) in problem.conflicts:
            broken += 1
        if item.specialty is None or item.specialty in expert.specialties:
            broken += seat.tier is not Tier.EXACT
        else:
            broken += seat.tier is not Tier.RELATED or not any(
                (item.specialty, s) in problem.related for s in expert.specialties)
        seated = per_item.setdefault(seat.item_id, set())
        broken += seat.expert_id in seated
        seated.add(seat.expert_id)
    for item in problem.items:
        expected = 0 if item.item_id in solution.unfilled else config.k - len(item.panel)
        broken += len(per_item.get(item.item_id, ())) != expected
    for expert_id, count in solution.loads().items():
        broken += count > experts[expert_id].cap - experts[expert_id].load
    return broken


def main(n_items: int, n_experts: int) -> None:
    problem = build_problem(n_items, n_experts)
    production = Config(k=K, candidates_per_item=50)
    started = time.perf_counter()
    solution = solve(problem, SEED, production)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    everyone = solve(problem, SEED, Config(k=K, candidates_per_item=0))
    seconds_all = time.perf_counter() - started
    flow = baseline_network(problem, production)
    started = time.perf_counter()
    status = flow.solve_max_flow_with_min_cost()
    baseline = time.perf_counter() - started
    if status != flow.OPTIMAL:
        raise SystemExit(f"baseline solve failed with status {status}")
    # Same network as the engine's: with no item dropped for capacity, one round was all it solved.
    dropped = any(u["reason"] == "capacity" for u in solution.unfilled.values())
    same_network = "n/a" if dropped else "yes" if flow.optimal_cost() == solution.cost else "no"
    filled = [i.item_id for i in problem.items if i.item_id not in solution.unfilled]
    least = minimum_fallbacks(problem, production, filled)
    broken = broken_rules(problem, production, solution) + broken_rules(problem, production, everyone)
    print(f"items={n_items} experts={n_experts} k={K} seconds={seconds:.2f} seconds_all_candidates={seconds_all:.2f} "
          f"baseline_seconds={baseline:.2f} ratio={seconds / baseline:.2f} fallbacks={solution.fallbacks} "
          f"minimum_fallbacks={least} optimal={'yes' if solution.fallbacks == least else 'no'} "
          f"fallbacks_all_candidates={everyone.fallbacks} unfilled={len(solution.unfilled)} "
          f"rules={'ok' if not broken else broken} same_network={same_network}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 500)
    else:
        for size in ((2000, 100), (20000, 500)):
            main(*size)
