import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows import ledger

from workflows.ledger import (
    EntryPlan,
    Line,
    UnbalancedEntry,
    check_balanced,
    decision_posting,
    fund_account_code,
    hospital_account_code,
    reversal,
)

amounts = st.integers(min_value=-(10**12), max_value=10**12).filter(lambda a: a != 0)


def test_account_codes() -> None:
    assert fund_account_code("440100") == "fund:440100"
    assert hospital_account_code("H001") == "hospital:H001"


def test_supplement_makes_hospital_payable() -> None:
    plan = decision_posting(7, 2, 12_640_000, "440100", "H001")
    assert plan is not None
    assert plan.idempotency_key == "decision:7:v2"
    assert plan.lines == (Line("fund:440100", 12_640_000), Line("hospital:H001", -12_640_000))
    assert "supplement of 126,400.00 yuan" in plan.memo


def test_recovery_flips_signs() -> None:
    plan = decision_posting(7, 1, -500, "440100", "H001")
    assert plan is not None
    assert plan.lines == (Line("fund:440100", -500), Line("hospital:H001", 500))
    assert "recovery of 5.00 yuan" in plan.memo


def test_nothing_to_post_for_zero() -> None:
    assert decision_posting(7, 1, 0, "440100", "H001") is None


def test_version_must_be_positive() -> None:
    with pytest.raises(ValueError):
        decision_posting(7, 0, 100, "440100", "H001")


@given(amounts, st.integers(1, 10**9), st.integers(1, 100))
def test_posting_always_balanced(amount: int, decision_id: int, version: int) -> None:
    plan = decision_posting(decision_id, version, amount, "R1", "H1")
    assert plan is not None
    check_balanced(plan.lines)
    assert sum(line.amount_fen for line in plan.lines) == 0
    assert plan.idempotency_key == f"decision:{decision_id}:v{version}"


@given(amounts, amounts)
def test_hash_is_stable_and_tracks_amount(a: int, b: int) -> None:
    first = decision_posting(1, 1, a, "R1", "H1")
    again = decision_posting(1, 1, a, "R1", "H1")
    other = decision_posting(1, 1, b, "R1", "H1")
    assert first is not None and again is not None and other is not None
    assert first.request_hash == again.request_hash
    assert len(first.request_hash) == 64
    assert (first.request_hash == other.request_hash) is (a == b)


def test_hash_tracks_key() -> None:
    v1 = decision_posting(1, 1, 100, "R1", "H1")
    v2 = decision_posting(1, 2, 100, "R1", "H1")
    assert v1 is not None and v2 is not None
    assert v1.request_hash != v2.request_hash


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        ((Line("a", 0), Line("b", 0)), "Zero-amount"),
        ((Line("a", 5),), "at least 2"),
        ((), "at least 2"),
        ((Line("a", 5), Line("b", -4)), "sum to 1"),
    ],
)
def test_unbalanced_refused(lines: tuple[Line, ...], fragment: str) -> None:
    with pytest.raises(UnbalancedEntry, match=fragment):
        check_balanced(lines)
    with pytest.raises(UnbalancedEntry):
        EntryPlan("k", "m", lines)


def test_three_line_entry_accepted() -> None:
    plan = EntryPlan("batch:1", "settlement", (Line("a", 5), Line("b", -2), Line("c", -3)))
    assert len(plan.lines) == 3


@given(amounts, st.integers(1, 10**9))
def test_a_reversal_undoes_its_entry_once_under_its_own_key(amount: int, entry_id: int) -> None:
    posted = decision_posting(3, 1, amount, "R1", "H1")
    assert posted is not None
    undo = reversal(entry_id, posted.lines)
    assert undo.idempotency_key == f"reversal:{entry_id}"
    assert [(line.account_code, line.amount_fen) for line in undo.lines] == [
        (line.account_code, -line.amount_fen) for line in posted.lines]
    assert reversal(entry_id, posted.lines).request_hash == undo.request_hash  # the same reversal, the same hash
    net: dict[str, int] = {}
    for line in (*posted.lines, *undo.lines):
        net[line.account_code] = net.get(line.account_code, 0) + line.amount_fen
    assert set(net.values()) == {0}


def test_an_entry_without_lines_cannot_be_reversed() -> None:
    with pytest.raises(UnbalancedEntry):
        reversal(9, [])


entries_strategy = st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 10**9)), min_size=1, max_size=8,
                            unique_by=lambda pair: pair[0])


def _closed(pairs: list[tuple[int, int]]) -> list[ledger.ClosedEntry]:
    return [ledger.ClosedEntry(entry_id, f"k:{entry_id}", f"h{entry_id}",
                               (ledger.Line("fund:T01", amount), ledger.Line("hospital:H1", -amount)))
            for entry_id, amount in pairs]


@given(entries_strategy, st.integers(-10**9, 10**9))
def test_a_period_closes_each_account_at_its_opening_plus_its_lines(pairs: list[tuple[int, int]], opening: int) -> None:
    balances = ledger.closing_balances({"fund:T01": opening, "hospital:H9": 7}, _closed(pairs))
    total = sum(amount for _id, amount in pairs)
    assert balances["fund:T01"] == (total, opening + total)
    assert balances["hospital:H1"] == (-total, -total) and balances["hospital:H9"] == (0, 7)
    assert sum(movement for movement, _closing in balances.values()) == 0  # double entry, period by period


@given(entries_strategy)
def test_a_period_hash_fixes_every_entry_and_its_place_in_the_chain(pairs: list[tuple[int, int]]) -> None:
    entries = _closed(pairs)
    digest = ledger.period_digest("0" * 64, "T01", "2026Q3", entries)
    assert ledger.period_digest("0" * 64, "T01", "2026Q3", list(reversed(entries))) == digest  # order of reading
    assert ledger.period_digest("1" * 64, "T01", "2026Q3", entries) != digest  # chained to the previous period
    changed = [*entries[:-1], ledger.ClosedEntry(entries[-1].entry_id, entries[-1].idempotency_key,
                                                 entries[-1].request_hash,
                                                 tuple(ledger.Line(line.account_code, line.amount_fen * 2)
                                                       for line in entries[-1].lines))]
    assert ledger.period_digest("0" * 64, "T01", "2026Q3", changed) != digest
    assert ledger.period_digest("0" * 64, "T01", "2026Q3", entries[:-1]) != digest  # an entry removed
