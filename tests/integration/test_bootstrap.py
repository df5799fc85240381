"""A bureau that does not load the demo: first set-up, DRG catalogue versions a cycle keeps, quota bases counted
from the imported cases with overrides, and the demo command refusing to touch a bureau's data."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask, current_app

from review.auth import check_password
from review.demo import dataset
from review.demo.loader import foreign_data
from review.extensions import db
from review.models import ActivityLog, Case, Cycle, CycleVolume, DrgCatalogue, Holiday, Hospital, Policy, Region, User
from review.services import applications, cases, catalogue, cycles, regrouping, setup
from review.services.context import SYSTEM, PermissionDenied, ValidationFailed
from tests.factories import ami_case
from workflows.policy import DEFAULTS

PASSWORD = "Tiger-lily-harbour-2026"
FLAGS = ["--region-code", "440300", "--region-name-en", "Shenzhen", "--region-name-zh", "深圳市",
         "--base-rate-yuan", "18500.00", "--admin-username", "chen.admin", "--admin-name", "Chen Jing"]
DATES_2026Q4 = {"application_opens": date(2027, 1, 4), "application_closes": date(2027, 1, 22),
                "record_upload_deadline": date(2027, 2, 5), "review_deadline": date(2027, 3, 8),
                "settlement_date": date(2027, 4, 7)}


def _input(**changes: str) -> setup.SetupInput:
    values = dict(region_code="440300", region_name_en="Shenzhen", region_name_zh="深圳市", timezone="Asia/Shanghai",
                  base_rate_yuan="18500.00", admin_username="chen.admin", admin_name="Chen Jing",
                  admin_password=PASSWORD)
    return setup.SetupInput(**{**values, **changes})


def _count(model: type) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_setup_makes_a_working_bureau_once(app: Flask) -> None:
    result = setup.run(_input())
    region = db.session.get(Region, result.region_id)
    assert (region.code, region.name_zh, region.timezone) == ("440300", "深圳市", "Asia/Shanghai")
    policy = region.current_policy()
    assert (policy.version, policy.base_rate_fen) == (1, 1_850_000)
    assert policy.typed().quota_share == DEFAULTS.quota_share and policy.panel_size == DEFAULTS.panel_size
    assert result.scheme == catalogue.MS_DRG_SCHEME and result.catalogue_rows == _count(DrgCatalogue) > 700
    assert result.holidays > 0 and _count(Holiday) == result.holidays
    admin = db.session.get(User, result.admin_id)
    assert (admin.username, admin.role, admin.active) == ("chen.admin", "admin", True)
    assert check_password(admin.password_hash, PASSWORD)
    logged = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "setup.completed")).one()
    assert logged.data["admin"]["username"] == "chen.admin" and logged.data["catalogue"]["loaded"] > 700
    with pytest.raises(setup.AlreadySetUp) as refused:
        setup.run(_input(region_code="110000", admin_username="someone.else"))
    assert "440300" in str(refused.value)
    assert (_count(Region), _count(User), _count(Policy)) == (1, 1, 1)


def test_setup_refuses_bad_values_and_writes_nothing(app: Flask) -> None:
    with pytest.raises(ValidationFailed) as refused:
        setup.run(_input(region_code="global", timezone="Asia/Beijing", base_rate_yuan="0",
                         admin_password="short", admin_username="Chen Admin"))
    assert set(refused.value.errors) == {"region_code", "timezone", "base_rate_yuan", "admin_password",
                                         "admin_username"}
    with pytest.raises(ValidationFailed) as common:
        setup.run(_input(admin_password="password1234"))
    assert "commonly used" in common.value.errors["admin_password"][0]
    assert (_count(Region), _count(User), _count(DrgCatalogue), _count(ActivityLog)) == (0, 0, 0, 0)


def test_setup_command_takes_flags_and_the_password_on_stdin(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["setup", *FLAGS, "--admin-password", PASSWORD]).exit_code == 2  # no such option
    done = runner.invoke(args=["setup", *FLAGS, "--admin-password-stdin"], input=PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    assert "Region 440300 set up" in done.output and "chen.admin" in done.output
    assert check_password(db.session.scalars(db.select(User)).one().password_hash, PASSWORD)
    again = runner.invoke(args=["setup", *FLAGS, "--admin-password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code == 1 and "set up already (region 440300" in again.output
    partial = runner.invoke(args=["setup", "--region-code", "1", "--admin-password-stdin"], input=PASSWORD + "\n")
    assert partial.exit_code == 2 and "--region-name-en" in partial.output


def test_setup_command_asks_for_what_is_missing(app: Flask) -> None:
    typed = "\n".join(["440300", "Shenzhen", "深圳市", "18500", "chen.admin", "Chen Jing", "", PASSWORD, PASSWORD])
    done = app.test_cli_runner().invoke(args=["setup"], input=typed + "\n")
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output  # the password is asked for without echo
    assert db.session.scalars(db.select(Region)).one().timezone == "Asia/Shanghai"


def _catalogue_copy(path: Path, changes: dict[str, dict[str, str]]) -> Path:
    """The bundled catalogue with some cells changed: a later version of the same DRGs."""
    with open(current_app.config["DRG_WEIGHTS_FILE"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.update(changes.get(row["drg"], {}))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_cycle_keeps_its_catalogue_version(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    staff, hospital = world.actors["staff"], world.actors["hosp1"]
    old_cycle = db.session.get(Cycle, world.cycle_id)
    assert old_cycle.catalogue_scheme == catalogue.MS_DRG_SCHEME
    weight_v43 = catalogue.catalogue_entry("321", catalogue.MS_DRG_SCHEME).weight
    newer = _catalogue_copy(tmp_path / "v44.csv", {"321": {"weight": "9.8765", "title": "PERCUTANEOUS STENT V44"}})
    with pytest.raises(PermissionDenied):
        catalogue.load_catalogue(staff, newer, "MS-DRG v44")
    loaded = catalogue.load_catalogue(world.actors["admin"], newer, "MS-DRG v44")
    assert loaded.added > 700 and catalogue.load_catalogue(SYSTEM, newer, "MS-DRG v44").added == 0  # idempotent
    listed = {row.scheme: row for row in catalogue.schemes()}
    assert listed["MS-DRG v43"].rows == listed["MS-DRG v44"].rows and listed["MS-DRG v43"].cycles == 1
    assert listed["MS-DRG v44"].current and not listed["MS-DRG v43"].current
    new_cycle = cycles.create_cycle(staff, world.region_id, "2026Q4", **DATES_2026Q4)
    assert new_cycle.catalogue_scheme == "MS-DRG v44"
    db.session.refresh(old_cycle)
    assert old_cycle.catalogue_scheme == "MS-DRG v43"
    # a case of the old cycle's quarter is priced, and regrouped, with the old version; one of the new with the new
    old_case = cases.create_case(hospital, ami_case())
    assert old_case.drg == "321" and old_case.drg_weight == weight_v43
    assert regrouping.regroup(old_case, old_cycle).weight == weight_v43
    assert regrouping.regroup(old_case, new_cycle).weight == Decimal("9.8765")
    new_case = cases.create_case(hospital, ami_case(case_no="ZY2026110001", admission_date=date(2026, 10, 20),
                                                    discharge_date=date(2026, 11, 2)))
    assert new_case.drg_weight == Decimal("9.8765")


def test_a_catalogue_file_with_bad_rows_loads_nothing(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _catalogue_copy(tmp_path / "bad.csv", {"003": {"weight": "heavy"}, "005": {"title": ""},
                                                 "006": {"drg": "001"}})
    with pytest.raises(catalogue.CatalogueRejected) as rejected:
        catalogue.load_catalogue(SYSTEM, bad, "MS-DRG v44")
    found = {(p.row, p.column) for p in rejected.value.problems}
    assert found == {(4, "weight"), (6, "title"), (7, "drg")}
    missing = tmp_path / "missing.csv"
    missing.write_text("drg,title,weight\n001,X,1.0\n", encoding="utf-8")
    with pytest.raises(catalogue.CatalogueRejected) as no_columns:
        catalogue.load_catalogue(SYSTEM, missing, "MS-DRG v44")
    assert {p.column for p in no_columns.value.problems} == {"mdc", "type", "gmlos", "amlos"}
    changed = _catalogue_copy(tmp_path / "changed.csv", {"321": {"weight": "9.8765"}})
    with pytest.raises(catalogue.CatalogueRejected) as republished:  # a loaded version does not change
        catalogue.load_catalogue(SYSTEM, changed, catalogue.MS_DRG_SCHEME)
    assert [(p.column, "321" in p.message) for p in republished.value.problems] == [("weight", True)]
    assert [row.scheme for row in catalogue.schemes()] == [catalogue.MS_DRG_SCHEME]
    output = current_app.test_cli_runner().invoke(args=["catalogue", "load", str(bad), "--scheme", "MS-DRG v44"])
    assert output.exit_code == 1 and "row 4, column weight" in output.output
    listed = current_app.test_cli_runner().invoke(args=["catalogue", "list"])
    assert f"* {catalogue.MS_DRG_SCHEME}: {_count(DrgCatalogue)} rows, 1 cycles" in listed.output


def _volume(cycle_id: int, hospital_id: int) -> CycleVolume:
    db.session.expire_all()
    return db.session.scalars(db.select(CycleVolume).where(CycleVolume.cycle_id == cycle_id,
                                                           CycleVolume.hospital_id == hospital_id)).one()


def test_quota_base_is_counted_from_imports_and_overridden_with_a_reason(world) -> None:  # type: ignore[no-untyped-def]
    staff, h1, h2 = world.actors["staff"], world.hospitals["H1"], world.hospitals["H2"]
    for number in range(3):  # H1 discharged three patients in the quarter, one after it
        cases.create_case(world.actors["hosp1"], ami_case(case_no=f"ZY-Q3-{number}"))
    cases.create_case(world.actors["hosp1"], ami_case(case_no="ZY-Q4", admission_date=date(2026, 10, 1),
                                                      discharge_date=date(2026, 10, 9)))
    cycle = db.session.get(Cycle, world.cycle_id)
    typed = _volume(cycle.id, h1)  # the world's figures were typed by hand: an override keeps them
    assert (typed.source, typed.drg_discharges) == ("override", 2000)
    cycles.recount_volumes(staff, cycle.id)
    kept = _volume(cycle.id, h1)
    assert (kept.source, kept.drg_discharges, kept.imported_discharges) == ("override", 2000, 3)
    changes = cycles.recount_volumes(staff, cycle.id, replace_overrides=True)
    assert {"hospital": "H1", "from": 2000, "to": 3} in changes
    counted = _volume(cycle.id, h1)
    assert (counted.source, counted.drg_discharges, counted.counted_at is not None) == ("imported", 3, True)
    assert _volume(cycle.id, h2).drg_discharges == 0  # a figure that existed follows the count, even to zero
    assert applications.quota_for(h1, cycle).discharges == 3
    cycles.override_volume(staff, cycle.id, h1, 4100, "Payer's settlement data: H1 imported only candidates")
    log = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "cycle.volume_overridden")).one()
    assert (log.data["from"], log.data["to"], log.data["source_before"]) == (3, 4100, "imported")
    assert log.data["reason"].startswith("Payer's settlement") and log.actor_id == world.users["staff"]
    cycles.recount_volumes(staff, cycle.id)
    overridden = _volume(cycle.id, h1)
    assert (overridden.source, overridden.drg_discharges, overridden.imported_discharges) == ("override", 4100, 3)
    assert overridden.overridden_by_id == world.users["staff"]
    assert applications.quota_for(h1, cycle).allowed == cycle.policy.quota_allowed(4100)
    with pytest.raises(PermissionDenied):
        cycles.recount_volumes(world.actors["auditor"], cycle.id)


def test_a_new_cycle_counts_its_quarter(world) -> None:  # type: ignore[no-untyped-def]
    cases.create_case(world.actors["hosp1"], ami_case(case_no="ZY-Q4", admission_date=date(2026, 10, 1),
                                                      discharge_date=date(2026, 10, 9)))
    cycle = cycles.create_cycle(world.actors["staff"], world.region_id, "2026Q4", **DATES_2026Q4)
    counted = _volume(cycle.id, world.hospitals["H1"])
    assert (counted.source, counted.drg_discharges) == ("imported", 1)
    assert db.session.scalar(db.select(db.func.count()).select_from(CycleVolume).where(
        CycleVolume.cycle_id == cycle.id)) == 1  # hospitals without cases stay "not counted", not zero


def test_volumes_page_shows_where_each_figure_came_from(world, client) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.test_walkthrough import login

    cases.create_case(world.actors["hosp1"], ami_case())
    login(client, "staff")
    url = f"/staff/cycles/{world.cycle_id}/volumes"
    assert "Entered by hand before figures were counted from imports" in client.get(url).text
    assert client.post(url + "/recount", data={"replace_overrides": "y"}).status_code == 302
    assert "Counted from imports on" in client.get(url).text
    assert client.post(url, data={"hospital_id": world.hospitals["H2"], "figure": "640",
                                  "reason": "Settlement data of the payer"}).status_code == 302
    page = client.get(url).text
    assert "Overridden by Staff" in page and "Settlement data of the payer" in page


def test_demo_refuses_production_and_a_bureaus_data(world, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    runner = current_app.test_cli_runner()
    monkeypatch.setenv("REVIEW_ENV", "production")
    monkeypatch.delenv("ALLOW_DEMO", raising=False)
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code == 1 and "--production-ok or ALLOW_DEMO=1" in refused.output
    monkeypatch.setenv("REVIEW_ENV", "test")
    reset = runner.invoke(args=["demo", "--reset"])
    assert reset.exit_code == 1 and "--reset would drop" in reset.output
    assert "1 regions not in the demo (T01)" in reset.output and "hospitals not in the demo (H1, H2, H3)" in reset.output
    assert _count(Region) == 1 and _count(Case) == 0 and db.session.get(Region, world.region_id).code == "T01"


def test_demo_data_alone_is_not_foreign(app: Flask) -> None:
    region = Region(code=dataset.REGION.code, name_en="x", name_zh="x")
    db.session.add(region)
    db.session.flush()
    for seed in dataset.HOSPITALS:
        db.session.add(Hospital(region_id=region.id, code=seed.code, name_en="x", name_zh="x", level=seed.level,
                                coefficient=seed.coefficient))
    db.session.add_all(User(username=u.username, password_hash="!", role="staff", display_name="x")
                       for u in (*dataset.USERS, *dataset.EXPERTS))
    db.session.flush()
    assert foreign_data() == []
    db.session.add(User(username="bureau.clerk", password_hash="!", role="staff", display_name="x"))
    db.session.flush()
    assert foreign_data() == ["1 users not in the demo (bureau.clerk)"]
