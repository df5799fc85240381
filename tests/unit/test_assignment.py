"""Tests of the min-cost-flow panel assignment (DESIGN §7.3).

Who reviews a case decides its outcome, so every rule is checked against an independent restatement
here rather than against the engine's own helpers: eligibility is recomputed from the raw specs, and
optimality is checked against a 0/1 integer program solved by HiGHS (scipy), which shares no code with
the OR-Tools network.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array
from scipy.stats import chisquare

from workflows.assignment import (
    GOLDEN_GAMMA,
    READD_ATTEMPTS,
    Config,
    ExpertSpec,
    ItemSpec,
    Problem,
    Solution,
    Tier,
    Unfilled,
    _noise_row,
    _Pool,
    key,
    minimum_fallbacks,
    noise,
    seed_from,
    solve,
    splitmix64,
)

MASK = (1 << 64) - 1
SPECIALTIES = ("A", "B", "C", "D")
ITEM_SPECIALTIES = ("A", "B", "A", "B", "C", None)
"""Items mostly want A or B, and relations only lead from A or B, so experts of C and D often sit as stand-ins."""
# Hypothesis explores; the OR-Tools solver's first call can be slow, so no per-example deadline.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------------
# Independent restatement of the rules
# --------------------------------------------------------------------------------------------------

def reference_tier(problem: Problem, item: ItemSpec, expert: ExpertSpec) -> Tier | None:
    """Whether `expert` may take a new seat on `item`, and in which tier, straight from DESIGN §7.3."""
    if expert.hospital_id == item.hospital_id or (expert.expert_id, item.hospital_id) in problem.conflicts:
        return None
    if expert.expert_id in item.panel or expert.expert_id in item.excluded or expert.cap - expert.load <= 0:
        return None
    if item.specialty is None or item.specialty in expert.specialties:
        return Tier.EXACT
    if any((item.specialty, stand_in) in problem.related for stand_in in expert.specialties):
        return Tier.RELATED
    return None


def demand(item: ItemSpec, config: Config) -> int:
    return config.k - len(item.panel)


def panel_hospitals(problem: Problem, item: ItemSpec) -> set[int]:
    return {e.hospital_id for e in problem.experts if e.expert_id in item.panel}


def eligible_experts(problem: Problem, item: ItemSpec, config: Config) -> list[ExpertSpec]:
    """Experts who may take a seat, also under one_per_hospital (a locked member's hospital is taken)."""
    taken = panel_hospitals(problem, item) if config.one_per_hospital else set()
    return [e for e in problem.experts
            if reference_tier(problem, item, e) is not None and e.hospital_id not in taken]


def fillable(experts: Iterable[ExpertSpec], config: Config) -> int:
    """How many seats these experts could fill on one item at most, ignoring every other item."""
    experts = list(experts)
    return len({e.hospital_id for e in experts}) if config.one_per_hospital else len(experts)


def filled_items(problem: Problem, config: Config, solution: Solution) -> list[int]:
    return [i.item_id for i in problem.items if demand(i, config) > 0 and i.item_id not in solution.unfilled]


def check_invariants(problem: Problem, config: Config, solution: Solution) -> None:
    """Every invariant of DESIGN §7.3 that a single solution can be checked for."""
    items = {i.item_id: i for i in problem.items}
    experts = {e.expert_id: e for e in problem.experts}
    pairs = [(s.item_id, s.expert_id) for s in solution.seats]
    assert len(pairs) == len(set(pairs)), "an expert sits twice on one item"
    by_item: dict[int, list[int]] = {}
    for seat in solution.seats:
        item, expert = items[seat.item_id], experts[seat.expert_id]
        # No rule may be relaxed: own hospital, declared conflict, exclusion, locked seat, no specialty.
        assert seat.tier == reference_tier(problem, item, expert), (seat, item, expert)
        by_item.setdefault(seat.item_id, []).append(seat.expert_id)
    for item in problem.items:
        seated = by_item.get(item.item_id, [])
        need = demand(item, config)
        eligible = fillable(eligible_experts(problem, item, config), config)
        if item.item_id in solution.unfilled:
            assert seated == [], "an unfilled item kept partial seats"
            record = solution.unfilled[item.item_id]
            assert record["reason"] in {u.value for u in Unfilled}
            if record["reason"] == Unfilled.TOO_FEW_ELIGIBLE.value:
                assert eligible < need and record["eligible"] == eligible and record["needed"] == need
            else:
                assert eligible >= need, "a capacity shortfall was reported for an item lacking experts"
        else:
            assert len(seated) == max(0, need), (item, seated)
            assert eligible >= need or need <= 0
        if config.one_per_hospital:
            hospitals = [experts[e].hospital_id for e in seated]
            assert len(hospitals) == len(set(hospitals)), "two new experts from one hospital"
            assert not set(hospitals) & panel_hospitals(problem, item), "a new expert shares a locked hospital"
    for expert_id, count in solution.loads().items():
        expert = experts[expert_id]
        assert count <= max(0, expert.cap - expert.load), (expert, count)


# --------------------------------------------------------------------------------------------------
# Random instances
# --------------------------------------------------------------------------------------------------

# Strategies built once: Hypothesis validates each new strategy object, which dominated the run time.
MAX_EXPERTS, MAX_ITEMS, MAX_HOSPITALS = 12, 12, 5
_IDS = st.lists(st.integers(1, 10**6), min_size=MAX_EXPERTS + MAX_ITEMS, max_size=MAX_EXPERTS + MAX_ITEMS,
                unique=True)
_HOSPITAL = st.integers(1, MAX_HOSPITALS + 1)  # folded onto the instance's hospitals with `%`
_INDEX = st.integers(0, MAX_EXPERTS - 1)  # folded onto the instance's experts with `%`
_CAP = st.sampled_from([1, 1, 2, 2, 3, 4, 0])  # small caps make seats run out
_LOAD = st.sampled_from(["none", "none", "none", "none", "one", "full", "over"])
_EXPERT_SPECIALTIES = st.frozensets(st.sampled_from(SPECIALTIES), min_size=1, max_size=2)
_ITEM_SPECIALTY = st.sampled_from(ITEM_SPECIALTIES)
_PANEL_SIZE = st.sampled_from([0, 0, 1, 2, 3])
_EXCLUDED_SIZE = st.sampled_from([0, 0, 1])
_RELATED = st.frozensets(st.tuples(st.sampled_from(SPECIALTIES[:2]), st.sampled_from(SPECIALTIES))
                         .filter(lambda pair: pair[0] != pair[1]), min_size=2, max_size=6)


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """Small, crowded instances with every feature on: relations, conflicts, caps, loads, locked and excluded
    seats. Few hospitals and narrow experts make conflicts, shared hospitals and fallbacks common."""
    n_hospitals = draw(st.integers(2, MAX_HOSPITALS))
    n_experts = draw(st.integers(5, MAX_EXPERTS))
    n_items = draw(st.integers(2, MAX_ITEMS))
    ids = draw(_IDS)
    expert_ids, item_ids = ids[:n_experts], ids[MAX_EXPERTS:MAX_EXPERTS + n_items]

    def hospital(extra: int = 0) -> int:
        """One of the instance's hospitals; items may also sit at one without any expert (extra=1)."""
        return 1 + (draw(_HOSPITAL) - 1) % (n_hospitals + extra)

    def some_experts(count: int) -> frozenset[int]:
        return frozenset(expert_ids[draw(_INDEX) % n_experts] for _ in range(count))

    experts = []
    for expert_id in expert_ids:
        cap = draw(_CAP)
        load = {"none": 0, "one": 1, "full": cap, "over": cap + 1}[draw(_LOAD)]
        experts.append(ExpertSpec(expert_id, hospital(), draw(_EXPERT_SPECIALTIES), cap, load))
    items = []
    for item_id in item_ids:
        panel = some_experts(draw(_PANEL_SIZE))
        excluded = some_experts(draw(_EXCLUDED_SIZE)) - panel
        items.append(ItemSpec(item_id, hospital(extra=1), draw(_ITEM_SPECIALTY), panel, excluded))
    conflicts = frozenset((next(iter(some_experts(1))), hospital(extra=1))
                          for _ in range(draw(st.integers(0, 6))))
    return Problem(tuple(items), tuple(experts), conflicts, draw(_RELATED))


seeds = st.text(max_size=8)
configs = st.builds(Config, k=st.sampled_from([3, 3, 3, 5]), one_per_hospital=st.booleans())


# --------------------------------------------------------------------------------------------------
# An independent optimum: 0/1 integer program solved by HiGHS
# --------------------------------------------------------------------------------------------------

def ilp_optimum(problem: Problem, config: Config, only: Iterable[int] | None = None) -> tuple[int, int] | None:
    """(most items filled all-or-nothing, fewest related seats among assignments filling that many).

    x[item, expert] ∈ {0,1} over eligible pairs, y[item] ∈ {0,1}; Σ_e x = demand·y per item, Σ_i x ≤ free
    per expert, and under one_per_hospital Σ over one hospital ≤ 1 (0 for a locked member's hospital).
    One more filled item is worth more than every related seat, so one solve is lexicographic.
    With `only`, y is fixed to exactly those items; returns None when that is infeasible.
    """
    items = [i for i in problem.items if demand(i, config) > 0]
    if not items:
        return 0, 0
    pairs = [(n, m, reference_tier(problem, item, expert))
             for n, item in enumerate(items) for m, expert in enumerate(problem.experts)
             if reference_tier(problem, item, expert) is not None]
    n_x, n_vars = len(pairs), len(pairs) + len(items)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def add_row(entries: list[tuple[int, float]], low: float, high: float) -> None:
        row = len(lower)
        for col, val in entries:
            rows.append(row)
            cols.append(col)
            vals.append(val)
        lower.append(low)
        upper.append(high)

    for n, item in enumerate(items):
        add_row([(p, 1.0) for p, (i, _, _) in enumerate(pairs) if i == n] + [(n_x + n, -demand(item, config))],
                0, 0)
        if config.one_per_hospital:
            taken = panel_hospitals(problem, item)
            for hospital in {problem.experts[m].hospital_id for i, m, _ in pairs if i == n}:
                add_row([(p, 1.0) for p, (i, m, _) in enumerate(pairs)
                         if i == n and problem.experts[m].hospital_id == hospital], 0,
                        0 if hospital in taken else 1)
    for m, expert in enumerate(problem.experts):
        entries = [(p, 1.0) for p, (_, e, _) in enumerate(pairs) if e == m]
        if entries:
            add_row(entries, 0, max(0, expert.cap - expert.load))
    worth = 1 + sum(demand(i, config) for i in items)
    cost = np.array([1.0 if tier is Tier.RELATED else 0.0 for _, _, tier in pairs] + [-worth] * len(items))
    low_bound, high_bound = np.zeros(n_vars), np.ones(n_vars)
    if only is not None:
        wanted = set(only)
        for n, item in enumerate(items):
            low_bound[n_x + n] = high_bound[n_x + n] = 1.0 if item.item_id in wanted else 0.0
    matrix = coo_array((vals, (rows, cols)), shape=(len(lower), n_vars)).tocsr()
    result = milp(cost, constraints=LinearConstraint(matrix, lower, upper), integrality=np.ones(n_vars),
                  bounds=Bounds(low_bound, high_bound))
    if result.status == 2:  # infeasible
        return None
    assert result.status == 0, result.message
    chosen = np.round(result.x).astype(int)
    related_seats = sum(int(chosen[p]) for p, (_, _, tier) in enumerate(pairs) if tier is Tier.RELATED)
    return int(chosen[n_x:].sum()), related_seats


# --------------------------------------------------------------------------------------------------
# Randomness: fixed vectors, so that any change to a recorded draw's definition is caught
# --------------------------------------------------------------------------------------------------

def test_splitmix64_reference_sequence() -> None:
    outputs = [splitmix64((n * GOLDEN_GAMMA) & MASK) for n in range(3)]
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_noise_vectors() -> None:
    # Computed once from the mcf-1 definition; a change here silently re-draws every recorded panel.
    assert noise("seed", 1, 1) == 0x999F7
    assert noise("seed", 1, 2) == 0x8FD4E
    assert noise("seed", 2, 1) == 0xA2C0D
    assert noise("other", 1, 1) == 0x56C06
    assert noise("seed", 123456789, 987654321) == 0xF4609


@given(seeds, st.lists(st.integers(0, 10**12), min_size=1, max_size=5),
       st.lists(st.integers(0, 10**12), min_size=1, max_size=40, unique=True))
@settings(max_examples=60, deadline=None)
def test_vectorised_noise_equals_scalar_noise(seed: str, item_ids: list[int], expert_ids: list[int]) -> None:
    """The engine computes noise a row at a time with numpy; `verify` and people recompute it by hand."""
    problem = Problem((), tuple(ExpertSpec(e, 0, frozenset({"A"}), 1) for e in expert_ids))
    pool = _Pool(problem, seed)
    for item_id in item_ids:
        row = _noise_row(key(seed, "item", item_id), pool.mixed)
        assert row.tolist() == [noise(seed, item_id, int(e)) for e in pool.ids]
        assert all(0 <= value < 1 << 20 for value in row.tolist())


def test_seed_from() -> None:
    assert seed_from("20260401-lottery", "cycle:2026Q2") == \
        "46ec7ef5cd775a6b907b9b048607980595e04b4936700ed84fd569753f766ae3"
    assert seed_from("20260401-lottery", "cycle:2026Q3") != seed_from("20260401-lottery", "cycle:2026Q2")
    assert seed_from("20260402-lottery", "cycle:2026Q2") != seed_from("20260401-lottery", "cycle:2026Q2")


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------

@given(problems(), seeds, configs)
@FAST
def test_invariants(problem: Problem, seed: str, config: Config) -> None:
    check_invariants(problem, config, solve(problem, seed, config))


def test_locked_hospital_counts_under_one_per_hospital() -> None:
    """Replacement re-solves with the others locked; the replacement may not share a locked member's hospital."""
    experts = (ExpertSpec(1, 1, frozenset({"A"}), 3), ExpertSpec(2, 1, frozenset({"A"}), 3),
               ExpertSpec(3, 2, frozenset({"A"}), 3), ExpertSpec(4, 3, frozenset({"A"}), 3))
    problem = Problem((ItemSpec(10, 9, "A", panel=frozenset({1, 3})),), experts)
    for seed in map(str, range(20)):
        solution = solve(problem, seed, Config(one_per_hospital=True))
        check_invariants(problem, Config(one_per_hospital=True), solution)
        assert [s.expert_id for s in solution.seats] == [4]


@given(problems(), seeds, st.booleans())
@FAST
def test_fallbacks_are_minimal_for_the_filled_items(problem: Problem, seed: str, one_per_hospital: bool) -> None:
    """For the items it fills, the engine uses as few related-specialty seats as any assignment could."""
    config = Config(one_per_hospital=one_per_hospital)
    solution = solve(problem, seed, config)
    filled = filled_items(problem, config, solution)
    best = ilp_optimum(problem, config)
    assert best is not None
    assert len(filled) <= best[0]
    restricted = ilp_optimum(problem, config, only=filled)
    assert restricted is not None, "the engine filled a set of items no rule-abiding assignment can fill"
    assert solution.fallbacks == restricted[1]
    if not one_per_hospital:  # minimum_fallbacks ignores one_per_hospital by definition
        assert solution.fallbacks == minimum_fallbacks(problem, config, filled)


def test_minimum_fallbacks_counts_forced_related_seats() -> None:
    """Filling both items forces all six seats to be related, although three exact seats exist for item 1."""
    experts = tuple([ExpertSpec(10 + n, 1, frozenset({"A2"}), 1) for n in range(3)]
                    + [ExpertSpec(20 + n, 2, frozenset({"A", "B2"}), 1) for n in range(3)])
    problem = Problem((ItemSpec(1, 9, "A"), ItemSpec(2, 9, "B")), experts,
                      related=frozenset({("A", "A2"), ("B", "B2")}))
    solution = solve(problem, "s", Config())
    assert solution.unfilled == {} and solution.fallbacks == 6
    assert minimum_fallbacks(problem, Config(), [1, 2]) == 6
    assert ilp_optimum(problem, Config()) == (2, 6)


# The drop heuristic gives up whole items when seats run out; choosing the largest fillable set is
# NP-hard (it contains exact cover by 3-sets). Before the add-back pass, this instance, found by the
# integer program, filled 2 items where 3 fit: item 101 had been given up although it fits beside the others.
DROP_COUNTEREXAMPLE = Problem(
    items=(ItemSpec(101, 3, None, excluded=frozenset({3})), ItemSpec(102, 5, None),
           ItemSpec(103, 2, "A", panel=frozenset({3})), ItemSpec(104, 4, None, panel=frozenset({2, 4}))),
    experts=(ExpertSpec(1, 4, frozenset({"A"}), 2, 1), ExpertSpec(2, 1, frozenset({"A"}), 4, 3),
             ExpertSpec(3, 2, frozenset({"A"}), 4, 0), ExpertSpec(4, 1, frozenset({"A"}), 4, 1)),
    conflicts=frozenset({(4, 4)}),
)


@given(problems(), seeds)
@example(DROP_COUNTEREXAMPLE, "s")
@settings(max_examples=150, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
def test_no_item_given_up_for_seats_could_join_the_filled_ones(problem: Problem, seed: str) -> None:
    """What the engine promises instead of the NP-hard maximum: every item listed for lack of seats would make
    the filled set infeasible, as the independent integer program confirms."""
    config = Config()
    solution = solve(problem, seed, config)
    filled = filled_items(problem, config, solution)
    given_up = [i for i, why in solution.unfilled.items() if why["reason"] == "capacity"]
    assert len(given_up) <= READD_ATTEMPTS  # small instances: every one of them was offered back
    for item_id in given_up:
        assert ilp_optimum(problem, config, only=[*filled, item_id]) is None, item_id
    best = ilp_optimum(problem, config)
    assert best is not None and len(filled) <= best[0]


def test_the_counterexample_now_fills_three_items() -> None:
    solution = solve(DROP_COUNTEREXAMPLE, "s", Config())
    assert len(filled_items(DROP_COUNTEREXAMPLE, Config(), solution)) == 3 == ilp_optimum(DROP_COUNTEREXAMPLE,
                                                                                        Config())[0]


# --------------------------------------------------------------------------------------------------
# Determinism and spread
# --------------------------------------------------------------------------------------------------

@given(problems(), seeds, configs, st.randoms(use_true_random=False))
@FAST
def test_input_order_never_matters(problem: Problem, seed: str, config: Config, rnd: random.Random) -> None:
    items, experts = list(problem.items), list(problem.experts)
    rnd.shuffle(items)
    rnd.shuffle(experts)
    shuffled = Problem(tuple(items), tuple(experts), frozenset(problem.conflicts), frozenset(problem.related))
    first, second = solve(problem, seed, config), solve(shuffled, seed, config)
    assert first.assignment_hash() == second.assignment_hash()
    assert first.seats == second.seats and first.unfilled == second.unfilled
    assert problem.input_hash() == shuffled.input_hash()


def one_item(n_experts: int, hospitals: int) -> Problem:
    """One item at hospital 0, experts spread over hospitals 0..hospitals-1 (those at 0 are ineligible)."""
    return Problem((ItemSpec(1, 0, "A"),),
                   tuple(ExpertSpec(e, e % hospitals, frozenset({"A"}), 5) for e in range(1, n_experts + 1)))


def test_different_seeds_overlap_little() -> None:
    problem = one_item(100, 10)
    panels = [{s.expert_id for s in solve(problem, f"seed-{n}", Config()).seats} for n in range(200)]
    assert all(len(p) == 3 for p in panels)
    assert len({frozenset(p) for p in panels}) > 190
    # With 90 eligible experts, two random panels of 3 share 0.1 experts on average.
    overlap = sum(len(panels[n] & panels[n + 1]) for n in range(199)) / 199
    assert overlap < 0.3


def test_draw_is_roughly_uniform() -> None:
    problem = one_item(11, 11)  # expert 11 sits at hospital 0, the item's; experts 1..10 are eligible
    counts = Counter(s.expert_id for n in range(3000) for s in solve(problem, str(n), Config()).seats)
    assert 11 not in counts
    observed = [counts[e] for e in range(1, 11)]
    assert sum(observed) == 9000
    assert all(780 < c < 1020 for c in observed), observed  # 900 expected, σ ≈ 28
    assert chisquare(observed).pvalue > 0.001


# --------------------------------------------------------------------------------------------------
# Balance
# --------------------------------------------------------------------------------------------------

@st.composite
def grouped_problems(draw: st.DrawFn) -> tuple[Problem, list[list[int]], bool]:
    """Experts identical within each group: specialties, cap, load, conflicts, and no item at their hospital."""
    one_per_hospital = draw(st.booleans())
    experts: list[ExpertSpec] = []
    groups: list[list[int]] = []
    conflicts: set[tuple[int, int]] = set()
    for g in range(draw(st.integers(1, 4))):
        specialties = draw(st.frozensets(st.sampled_from(SPECIALTIES), min_size=1, max_size=2))
        cap = draw(st.integers(1, 6))
        load = draw(st.integers(0, cap - 1))
        blocked = draw(st.frozensets(st.integers(1, 3), max_size=2))
        members = []
        for n in range(draw(st.integers(2, 5))):
            expert_id = 100 * (g + 1) + n
            # Under one_per_hospital two members must be interchangeable on an item, so they share one.
            hospital = 10 + g if one_per_hospital else draw(st.integers(10, 13))
            experts.append(ExpertSpec(expert_id, hospital, specialties, cap, load))
            conflicts |= {(expert_id, h) for h in blocked}
            members.append(expert_id)
        groups.append(members)
    items = tuple(ItemSpec(n, draw(st.integers(1, 3)), draw(st.sampled_from((*SPECIALTIES, None))))
                  for n in range(1, draw(st.integers(1, 20)) + 1))
    related = draw(st.frozensets(st.tuples(st.sampled_from(SPECIALTIES), st.sampled_from(SPECIALTIES))
                                 .filter(lambda pair: pair[0] != pair[1]), max_size=4))
    return Problem(items, tuple(experts), frozenset(conflicts), related), groups, one_per_hospital


@given(grouped_problems(), seeds)
@FAST
def test_identical_experts_share_the_work_evenly(case: tuple[Problem, list[list[int]], bool], seed: str) -> None:
    problem, groups, one_per_hospital = case
    config = Config(one_per_hospital=one_per_hospital)
    solution = solve(problem, seed, config)
    check_invariants(problem, config, solution)
    loads = solution.loads()
    for members in groups:
        counts = [loads.get(e, 0) for e in members]
        assert max(counts) - min(counts) <= 1, (members, counts)


# --------------------------------------------------------------------------------------------------
# Input hash and validation
# --------------------------------------------------------------------------------------------------

@given(problems())
@settings(max_examples=80, deadline=None)
def test_canonical_form_round_trips(problem: Problem) -> None:
    stored = json.loads(json.dumps(problem.canonical()))
    back = Problem.from_canonical(stored)
    assert back.canonical() == problem.canonical()
    assert back.input_hash() == problem.input_hash()
    assert set(back.items) == set(problem.items) and set(back.experts) == set(problem.experts)
    assert back.conflicts == problem.conflicts and back.related == problem.related


def test_every_field_changes_the_input_hash() -> None:
    base = Problem(
        items=(ItemSpec(1, 1, "A", panel=frozenset({11}), excluded=frozenset({12})), ItemSpec(2, 2, None)),
        experts=(ExpertSpec(11, 3, frozenset({"A"}), 4, 1), ExpertSpec(12, 4, frozenset({"A", "B"}), 5)),
        conflicts=frozenset({(11, 2)}), related=frozenset({("A", "B")}),
    )
    item, expert = base.items[0], base.experts[0]
    variants = {
        "item hospital": replace(base, items=(replace(item, hospital_id=5), base.items[1])),
        "item specialty": replace(base, items=(replace(item, specialty="B"), base.items[1])),
        "item specialty none": replace(base, items=(replace(item, specialty=None), base.items[1])),
        "item panel": replace(base, items=(replace(item, panel=frozenset()), base.items[1])),
        "item excluded": replace(base, items=(replace(item, excluded=frozenset({11, 12})), base.items[1])),
        "item id": replace(base, items=(replace(item, item_id=3), base.items[1])),
        "expert hospital": replace(base, experts=(replace(expert, hospital_id=9), base.experts[1])),
        "expert specialty": replace(base, experts=(replace(expert, specialties=frozenset({"B"})), base.experts[1])),
        "expert cap": replace(base, experts=(replace(expert, cap=5), base.experts[1])),
        "expert load": replace(base, experts=(replace(expert, load=2), base.experts[1])),
        "conflict added": replace(base, conflicts=base.conflicts | {(12, 1)}),
        "conflict removed": replace(base, conflicts=frozenset()),
        "conflict hospital": replace(base, conflicts=frozenset({(11, 1)})),
        "relation added": replace(base, related=base.related | {("B", "C")}),
        "relation reversed": replace(base, related=frozenset({("B", "A")})),
    }
    hashes = {name: problem.input_hash() for name, problem in variants.items()}
    assert base.input_hash() not in hashes.values()
    assert len(set(hashes.values())) == len(hashes), hashes


@pytest.mark.parametrize("k", [-1, 0, 1, 2, 4, 6])
def test_config_refuses_even_or_small_k(k: int) -> None:
    with pytest.raises(ValueError):
        Config(k=k)


def test_config_accepts_odd_k_and_refuses_negative_pruning() -> None:
    assert [Config(k=k).k for k in (3, 5, 7)] == [3, 5, 7]
    with pytest.raises(ValueError):
        Config(candidates_per_item=-1)


def test_solve_refuses_duplicate_ids() -> None:
    expert = ExpertSpec(1, 1, frozenset({"A"}), 3)
    with pytest.raises(ValueError):
        solve(Problem((ItemSpec(1, 2, "A"), ItemSpec(1, 3, "A")), (expert,)), "s", Config())
    with pytest.raises(ValueError):
        solve(Problem((ItemSpec(1, 2, "A"),), (expert, replace(expert, hospital_id=4))), "s", Config())


# --------------------------------------------------------------------------------------------------
# Candidate pruning (province scale)
# --------------------------------------------------------------------------------------------------

def kept_candidates(problem: Problem, item: ItemSpec, seed: str, config: Config) -> set[int]:
    """The experts pruning may keep for `item`: per tier, the `candidates_per_item` lowest (noise, id).

    Pruning only trims arcs, so when the kept experts could not fill the item although all of them
    could, every eligible expert stays.
    """
    everyone = eligible_experts(problem, item, config)
    kept: list[ExpertSpec] = []
    for tier in (Tier.EXACT, Tier.RELATED):
        members = [e for e in everyone if reference_tier(problem, item, e) is tier]
        members.sort(key=lambda e: (noise(seed, item.item_id, e.expert_id), e.expert_id))
        kept += members[:config.candidates_per_item]
    if fillable(kept, config) < min(demand(item, config), fillable(everyone, config)):
        kept = everyone
    return {e.expert_id for e in kept}


@given(problems(), seeds, st.integers(1, 6), st.booleans())
@FAST
def test_pruning_keeps_the_rules_and_the_lowest_noise(problem: Problem, seed: str, per_item: int,
                                                      one_per_hospital: bool) -> None:
    config = Config(one_per_hospital=one_per_hospital, candidates_per_item=per_item)
    solution = solve(problem, seed, config)
    check_invariants(problem, config, solution)
    items = {i.item_id: i for i in problem.items}
    for seat in solution.seats:
        assert seat.expert_id in kept_candidates(problem, items[seat.item_id], seed, config), seat


def test_pruning_never_leaves_an_item_without_enough_experts() -> None:
    """Keeping fewer candidates per tier than the panel needs must not turn a fillable item into an unfilled one."""
    experts = tuple(ExpertSpec(e, e, frozenset({"A"}), 3) for e in range(1, 8))
    clustered = tuple(ExpertSpec(e, 1 if e <= 4 else e, frozenset({"A"}), 3) for e in range(1, 8))
    for problem, config in ((Problem((ItemSpec(1, 100, "A"),), experts), Config(candidates_per_item=1)),
                            (Problem((ItemSpec(1, 100, "A"),), clustered),
                             Config(candidates_per_item=3, one_per_hospital=True))):
        for seed in map(str, range(30)):
            solution = solve(problem, seed, config)
            check_invariants(problem, config, solution)
            assert solution.unfilled == {} and len(solution.seats) == 3
