"""The typed policy snapshot: one reader of the stored JSON, one place for every default."""
from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from workflows import policy
from workflows.policy import DEFAULTS, PolicySnapshot

decimals = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99"), places=4)
snapshots = st.builds(
    PolicySnapshot,
    version=st.integers(1, 10_000), policy_id=st.none() | st.integers(1, 2**31 - 1),
    base_rate_fen=st.integers(1, 2**40), quota_share=st.decimals(min_value=Decimal("0"), max_value=Decimal("1"),
                                                                 places=4),
    high_cost_multiple=decimals, high_cost_bands=st.lists(st.tuples(decimals, decimals), max_size=4).map(
        lambda bands: tuple(sorted(bands))),
    long_stay_days=st.integers(1, 365), icu_share=st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=2),
    new_technology_codes=st.frozensets(st.text("0123456789ABCDEFXZ", min_size=7, max_size=7), max_size=5),
    panel_size=st.sampled_from([3, 5, 7]), panel_hospital_levels=st.lists(
        st.sampled_from(["tertiary", "secondary", "primary"]), min_size=1, max_size=3, unique=True).map(tuple),
    panel_one_per_hospital=st.booleans(), appeal_days=st.integers(1, 60), appeal_review_days=st.integers(1, 60),
    payment_method=st.sampled_from(policy.PAYMENT_METHODS), max_case_cost_fen=st.integers(1, 2**50),
    blocking_code_edits=st.frozensets(st.sampled_from(["invalid_code", "sex_conflict", "age_conflict"])),
    required_evidence=st.dictionaries(st.sampled_from(["high_cost", "long_stay", "newborn"]), st.lists(
        st.sampled_from(policy.EVIDENCE_KINDS), unique=True, max_size=4).map(tuple)),
)


@given(snapshots)
def test_json_round_trip_is_exact(snapshot: PolicySnapshot) -> None:
    assert PolicySnapshot.from_json(snapshot.to_json()) == snapshot


def test_every_field_has_a_reader() -> None:
    assert set(policy._READERS) == {item.name for item in fields(PolicySnapshot)}


def test_an_old_snapshot_reads_with_the_defaults_for_what_it_lacks() -> None:
    old = {"version": 2, "base_rate_fen": 1_800_000, "quota_share": "0.0050", "panel_size": 5, "unknown_key": 1}
    snapshot = PolicySnapshot.from_json(old)
    assert (snapshot.version, snapshot.base_rate_fen, snapshot.quota_share, snapshot.panel_size) == (
        2, 1_800_000, Decimal("0.0050"), 5)
    assert snapshot.long_stay_days == DEFAULTS.long_stay_days == 60
    assert snapshot.panel_hospital_levels == ("tertiary",) and snapshot.scoresheets == {}
    assert PolicySnapshot.from_json(None) == DEFAULTS


@given(st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=4), st.integers(0, 10**7))
def test_quota_is_the_share_rounded_down(share: Decimal, discharges: int) -> None:
    allowed = PolicySnapshot(quota_share=share).quota_allowed(discharges)
    assert allowed <= share * discharges < allowed + 1


def test_quota_is_zero_until_discharges_are_known() -> None:
    assert PolicySnapshot().quota_allowed(None) == 0
    assert PolicySnapshot().quota_allowed(2000) == 100  # 5 % of 2,000


def test_thresholds_carry_the_policy() -> None:
    snapshot = PolicySnapshot(high_cost_multiple=Decimal("4"), high_cost_bands=((Decimal("1"), Decimal("5")),),
                              new_technology_codes=frozenset({"XW033E5"}))
    thresholds = snapshot.thresholds()
    assert thresholds.multiple_for(Decimal("0.8")) == Decimal("5") and thresholds.multiple_for(Decimal("2")) == 4
    assert thresholds.new_technology_codes == {"XW033E5"}


@given(st.sampled_from(sorted(policy.DEFAULT_REQUIRED_EVIDENCE)), st.sets(st.sampled_from(policy.EVIDENCE_KINDS)))
def test_missing_evidence_is_what_the_category_needs_less_what_is_uploaded(category: str, uploaded: set[str]) -> None:
    needed = DEFAULTS.required_evidence[category]
    missing = DEFAULTS.missing_evidence(category, uploaded)
    assert set(missing) == set(needed) - uploaded and list(missing) == [kind for kind in needed if kind in missing]
    assert "discharge_summary" in needed  # every category needs the discharge summary by default


def test_a_category_the_policy_does_not_list_needs_nothing_and_old_snapshots_take_the_default() -> None:
    relaxed = PolicySnapshot.from_json({"required_evidence": {"high_cost": []}})
    assert relaxed.missing_evidence("high_cost", []) == () and relaxed.missing_evidence("newborn", []) == ()
    assert PolicySnapshot.from_json({}).missing_evidence("high_cost", ["discharge_summary"]) == ("special_items",)
