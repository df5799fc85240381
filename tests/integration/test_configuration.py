"""Configuration services: policy versions, cycles and their volumes, DRG average costs."""
from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from review.extensions import db
from review.models import ActivityLog, Case, Cycle, CycleVolume, DrgAverageCost, Policy, Region
from review.services import average_costs, cycles, holidays, policies
from review.services.context import SYSTEM, PermissionDenied, ValidationFailed
from tests.factories import clear_calendar

CHANGE = {"base_rate_fen": 2_000_000, "quota_share": Decimal("0.04"), "high_cost_bands": "2.0 4\n1.0 5",
          "new_technology_codes": "02703dz, 5A1935Z", "note": "2027 rates from the bureau's notice"}


def last_log(action: str) -> ActivityLog:
    return db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == action)
                              .order_by(ActivityLog.id.desc())).first()


def test_policy_change_adds_a_version_and_logs_the_diff(world) -> None:  # type: ignore[no-untyped-def]
    created = policies.new_version(world.actors["admin"], world.region_id, CHANGE)
    assert created.version == 2
    versions = db.session.scalars(db.select(Policy).order_by(Policy.version)).all()
    assert [p.version for p in versions] == [1, 2] and versions[0].base_rate_fen == 1_800_000
    assert created.high_cost_bands == [{"max_weight": "1", "multiple": "5"}, {"max_weight": "2", "multiple": "4"}]
    assert created.new_technology_codes == ["02703DZ", "5A1935Z"]
    assert db.session.get(Region, world.region_id).current_policy().id == created.id
    log = last_log("policy.versioned")
    assert log.actor_id == world.users["admin"] and log.data["version"] == 2
    assert log.data["changes"]["base_rate_fen"] == {"from": 1_800_000, "to": 2_000_000}
    assert log.data["changes"]["quota_share"] == {"from": "0.05", "to": "0.04"}
    assert set(log.data["changes"]) == {"base_rate_fen", "quota_share", "high_cost_bands", "new_technology_codes"}
    history = policies.history(world.region_id)
    assert [v.policy.version for v in history] == [2, 1] and "quota_share" in history[0].changes


@pytest.mark.parametrize("role", ["staff", "auditor", "hosp1"])
def test_only_admin_changes_the_policy(world, role) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        policies.new_version(world.actors[role], world.region_id, CHANGE)
    assert db.session.scalar(db.select(db.func.count()).select_from(Policy)) == 1


def test_policy_validation_names_fields_and_band_lines(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as failure:
        policies.new_version(world.actors["admin"], world.region_id, {
            "panel_size": 4, "quota_share": Decimal("0"), "high_cost_bands": "1.0 5\nabc\n2.0 0.5",
            "new_technology_codes": "02703DZ\nXYZ", "note": ""})
    errors = failure.value.errors
    assert set(errors) == {"panel_size", "quota_share", "high_cost_bands", "new_technology_codes", "note"}
    assert any("Line 2" in e for e in errors["high_cost_bands"]) and any("Line 3" in e for e in errors["high_cost_bands"])
    assert "XYZ" in errors["new_technology_codes"][0]
    with pytest.raises(ValidationFailed):  # nothing changed
        policies.new_version(world.actors["admin"], world.region_id, {"panel_size": 3, "note": "same"})


def test_running_cycle_keeps_its_snapshot(world) -> None:  # type: ignore[no-untyped-def]
    before = dict(db.session.get(Cycle, world.cycle_id).policy_snapshot)
    policies.new_version(world.actors["admin"], world.region_id, CHANGE)
    db.session.expire_all()
    assert db.session.get(Cycle, world.cycle_id).policy_snapshot == before
    created = cycles.create_cycle(world.actors["staff"], world.region_id, "2026Q4", **DATES_2026Q4)
    assert created.policy_snapshot["version"] == 2 and created.policy_snapshot["base_rate_fen"] == 2_000_000


def vars_of(dates: cycles.CycleDates) -> dict[str, date]:
    return {name: getattr(dates, name) for name in cycles.DATE_FIELDS}


DATES_2026Q4 = dict(zip(cycles.DATE_FIELDS, (date(2027, 1, 4), date(2027, 1, 22), date(2027, 2, 5), date(2027, 3, 8),
                                              date(2027, 4, 7))))
"""Set by hand: chinese-calendar 1.11.0 has no 2027, so 2026Q4 has no default window (see the test below)."""


@pytest.mark.clock_shift
def test_cycle_dates_defaults_validation_and_duplicates(world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    holidays.seed(SYSTEM, world.region_id)
    with pytest.raises(ValidationFailed) as refused:  # 1 January 2027 is a holiday, but the package has no 2027 yet
        cycles.default_dates("2026Q4", world.region_id)
    assert "2027" in refused.value.errors["code"][0]
    dates = cycles.default_dates("2026Q3", world.region_id)
    assert (dates.quarter_start, dates.quarter_end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert dates.application_opens == date(2026, 10, 8)  # 1–7 October 2026 are off (National Day)
    assert dates.application_closes == date(2026, 10, 27)  # the 15th working day, Saturday 10 October among them
    assert cycles.quarter_bounds("2026Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    assert cycles.quarter_bounds("2027Q1") == (date(2027, 1, 1), date(2027, 3, 31))
    staff = world.actors["staff"]
    with pytest.raises(ValidationFailed) as failure:
        cycles.create_cycle(staff, world.region_id, "2026-4", **vars_of(dates))
    assert "code" in failure.value.errors
    bad = {**vars_of(dates), "review_deadline": dates.record_upload_deadline - timedelta(days=1)}
    with pytest.raises(ValidationFailed) as failure:
        cycles.create_cycle(staff, world.region_id, "2026Q4", **bad)
    assert set(failure.value.errors) == {"review_deadline", "settlement_date"} or "review_deadline" in failure.value.errors
    with pytest.raises(ValidationFailed) as failure:
        cycles.create_cycle(staff, world.region_id, "2026Q3", **vars_of(dates))
    assert "already exists" in failure.value.errors["code"][0]
    with pytest.raises(PermissionDenied):
        cycles.create_cycle(world.actors["auditor"], world.region_id, "2026Q4", **vars_of(dates))
    today = cycles.region_today(db.session.get(Region, world.region_id))
    later = f"{today.year + 1}Q4"  # its window opens after today, whatever today is (set by hand: no calendar yet)
    after = {name: day.replace(year=today.year + 2) for name, day in DATES_2026Q4.items()}
    created = cycles.create_cycle(staff, world.region_id, later.lower(), **after)
    assert created.code == later and created.status == "planned"
    assert last_log("cycle.created").data["code"] == later
    opened = cycles.create_cycle(staff, world.region_id, "2025Q1", today - timedelta(days=1), today,
                                 today + timedelta(days=1), today + timedelta(days=2), today + timedelta(days=3))
    assert opened.status == "open"
    rows = {row.cycle.code: row for row in cycles.calendar(world.region_id, today)}
    assert rows["2025Q1"].open_window == "application" and rows[later].open_window is None


def test_volume_override_upserts_and_logs(world) -> None:  # type: ignore[no-untyped-def]
    staff = world.actors["staff"]
    cycle = cycles.create_cycle(staff, world.region_id, "2026Q4", **DATES_2026Q4)
    h1, h2 = world.hospitals["H1"], world.hospitals["H2"]
    cycles.override_volume(staff, cycle.id, h1, 1500, "Settlement data of the payer, Q4")
    assert last_log("cycle.volume_overridden").data["from"] is None
    cycles.override_volume(staff, cycle.id, h1, 1600, "Corrected settlement figure")
    cycles.override_volume(staff, cycle.id, h2, 800, "Settlement data of the payer, Q4")
    volumes = dict(db.session.execute(db.select(CycleVolume.hospital_id, CycleVolume.drg_discharges)
                                      .where(CycleVolume.cycle_id == cycle.id)).all())
    assert volumes == {h1: 1600, h2: 800}
    log = last_log("cycle.volume_overridden")
    assert (log.data["hospital"], log.data["from"], log.data["to"]) == ("H2", None, 800)
    with pytest.raises(ValidationFailed) as failure:
        cycles.override_volume(staff, cycle.id, h1, -1, "A reason long enough")
    assert "figure" in failure.value.errors
    with pytest.raises(ValidationFailed) as failure:
        cycles.override_volume(staff, cycle.id, h1, 10, "short")
    assert "reason" in failure.value.errors
    with pytest.raises(PermissionDenied):
        cycles.override_volume(world.actors["auditor"], cycle.id, h1, 1, "A reason long enough")


def cost(region_id: int, drg: str) -> DrgAverageCost:
    return db.session.scalars(db.select(DrgAverageCost).where(
        DrgAverageCost.region_id == region_id, DrgAverageCost.drg == drg)).one()


def test_csv_import_good_file(world) -> None:  # type: ignore[no-untyped-def]
    data = b"drg,average_cost,case_count\n321,65000.50,120\n21,98000,\n"
    with pytest.raises(PermissionDenied):  # an administrator's decision, not the office's
        average_costs.import_csv(world.actors["staff"], world.region_id, io.BytesIO(data))
    result = average_costs.import_csv(world.actors["admin"], world.region_id, io.BytesIO(data))
    assert (result.written, result.updated) == (2, 2)
    row = cost(world.region_id, "321")
    assert (row.average_cost_fen, row.case_count, row.source) == (6_500_050, 120, "imported")
    assert cost(world.region_id, "021").average_cost_fen == 9_800_000
    assert last_log("average_costs.imported").data["rows"] == 2


def test_csv_import_bad_row_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    before = cost(world.region_id, "321").average_cost_fen
    data = b"drg,average_cost,case_count\n321,65000.50,120\n9999,100,1\n291,0,3\n"
    with pytest.raises(ValidationFailed) as failure:
        average_costs.import_csv(world.actors["admin"], world.region_id, io.BytesIO(data))
    messages = failure.value.errors["file"]
    assert any(m.startswith("Row 3:") and "9999" in m for m in messages)
    assert any(m.startswith("Row 4:") for m in messages)
    db.session.expire_all()
    assert cost(world.region_id, "321").average_cost_fen == before
    assert last_log("average_costs.imported") is None
    with pytest.raises(PermissionDenied):
        average_costs.import_csv(world.actors["auditor"], world.region_id, io.BytesIO(data))


def test_csv_import_gb18030_chinese_headers(world) -> None:  # type: ignore[no-untyped-def]
    data = "DRG,平均费用,病例数\n291,43210.99,57\n".encode("gb18030")
    result = average_costs.import_csv(world.actors["admin"], world.region_id, io.BytesIO(data))
    assert result.encoding == "gb18030" and result.written == 1
    row = cost(world.region_id, "291")
    assert (row.average_cost_fen, row.case_count) == (4_321_099, 57)
    data = "DRG,均费\n292,100\n".encode("gb18030")
    average_costs.import_csv(world.actors["admin"], world.region_id, io.BytesIO(data))
    assert cost(world.region_id, "292").average_cost_fen == 10_000


def add_cases(world, drg: str, costs: list[int], discharge: date) -> None:  # type: ignore[no-untyped-def]
    for index, total in enumerate(costs):
        db.session.add(Case(hospital_id=world.hospitals["H1" if index % 2 else "H2"], case_no=f"{drg}-{index}",
                            age=60, sex="M", admission_date=discharge - timedelta(days=5), discharge_date=discharge,
                            los_days=5, principal_dx="I214", total_cost_fen=total, drg=drg,
                            drg_weight=Decimal("1.5"), drg_payment_fen=100, grouper_version="test",
                            created_by_id=world.users["hosp1"]))
    db.session.commit()


def test_compute_from_cases_with_minimum(world) -> None:  # type: ignore[no-untyped-def]
    add_cases(world, "321", [100, 101, 101], date(2026, 2, 10))  # mean 100.666… -> 101 fen
    add_cases(world, "291", [500, 500], date(2026, 2, 10))
    add_cases(world, "292", [1_000, 3_000, 5_000], date(2025, 1, 10))  # outside the range
    before_291 = cost(world.region_id, "291").average_cost_fen
    before_292 = cost(world.region_id, "292").average_cost_fen
    with pytest.raises(PermissionDenied):
        average_costs.compute_from_cases(world.actors["staff"], world.region_id, date(2026, 1, 1), date(2026, 3, 31), 3)
    result = average_costs.compute_from_cases(world.actors["admin"], world.region_id, date(2026, 1, 1),
                                              date(2026, 3, 31), 3)
    assert result.written == 1 and [s["drg"] for s in result.skipped] == ["291"]
    row = cost(world.region_id, "321")
    assert (row.average_cost_fen, row.case_count, row.source) == (101, 3, "computed")
    assert cost(world.region_id, "291").average_cost_fen == before_291
    assert cost(world.region_id, "292").average_cost_fen == before_292
    log = last_log("average_costs.computed")
    assert log.data["written"] == 1 and log.data["skipped_drgs"] == ["291"]
    add_cases(world, "310", [1, 2], date(2026, 2, 1))  # mean 1.5 -> 2 (half up)
    average_costs.compute_from_cases(world.actors["admin"], world.region_id, date(2026, 1, 1), date(2026, 3, 31), 2)
    assert cost(world.region_id, "310").average_cost_fen == 2
    with pytest.raises(ValidationFailed):
        average_costs.compute_from_cases(world.actors["admin"], world.region_id, date(2026, 3, 1), date(2026, 1, 1), 3)
    assert average_costs.default_range(date(2026, 5, 10)) == (date(2025, 5, 1), date(2026, 4, 30))


def test_the_evidence_each_category_needs_is_a_policy_version(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as refused:
        policies.new_version(world.actors["admin"], world.region_id, {
            "required_evidence": {"high_cost": ["discharge_summary", "selfie"]}, "note": "typo"})
    assert set(refused.value.errors) == {"required_evidence"}
    created = policies.new_version(world.actors["admin"], world.region_id, {
        "required_evidence": {"high_cost": ["special_items", "discharge_summary", "special_items"]},
        "note": "Bureau notice 2026-14: cost lists with every high-cost application"})
    assert created.required_evidence["high_cost"] == ["discharge_summary", "special_items"]  # canonical, no repeats
    assert created.required_evidence["newborn"] == [] and created.typed().missing_evidence("newborn", []) == ()
    change = last_log("policy.versioned").data["changes"]["required_evidence"]
    assert change["from"]["high_cost"] == [] and change["to"]["high_cost"] == ["discharge_summary", "special_items"]
    created_cycle = cycles.create_cycle(world.actors["staff"], world.region_id, "2026Q4", **DATES_2026Q4)
    assert created_cycle.policy.missing_evidence("high_cost", ["discharge_summary"]) == ("special_items",)
