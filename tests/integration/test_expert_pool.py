"""The expert pool services: profiles, all-or-nothing file import, declared conflicts, specialty stand-ins,
and the panel qualification fields of the policy. Each runs on SQLite and, when configured, on PostgreSQL."""
from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from review.extensions import db
from review.models import ActivityLog, Expert, ExpertConflict, Policy, SpecialtyRelation
from review.services import experts, policies
from review.services.context import NotFound, PermissionDenied, ServiceError, ValidationFailed

GOOD = experts.ExpertInput(code="E100", name_en="Li Na", name_zh="李娜", title="chief_physician",
                           hospital_code="H2", specialties=("cardiology", "critical_care"), cap_per_cycle=12)
HEADER = "code,name_en,name_zh,title,hospital_code,specialties,cap_per_cycle,active\n"


def logs(action: str) -> list[ActivityLog]:
    return list(db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == action)
                                   .order_by(ActivityLog.id)))


def count(model: type) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model)) or 0


def write(tmp_path: Path, text: str, name: str = "pool.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- profiles ----------------------------------------------------------------------------------------------

def test_save_creates_and_updates_with_a_logged_diff(world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actors["admin"]
    created = experts.save(admin, None, GOOD)
    assert (created.code, created.hospital_id, created.specialties) == ("E100", world.hospitals["H2"],
                                                                        ["cardiology", "critical_care"])
    [log] = logs("expert.created")
    assert log.object_id == created.id and log.actor_id == world.users["admin"]
    assert log.data["changes"]["code"] == [None, "E100"]
    experts.save(admin, created.id, dataclasses.replace(GOOD, cap_per_cycle=5, active=False, note="On leave"))
    db.session.expire_all()
    assert (db.session.get(Expert, created.id).cap_per_cycle, db.session.get(Expert, created.id).active) == (5, False)
    [update] = logs("expert.updated")
    assert update.data["changes"] == {"cap_per_cycle": [12, 5], "active": [True, False], "note": ["", "On leave"]}


def test_save_names_every_bad_field(world) -> None:  # type: ignore[no-untyped-def]
    bad = dataclasses.replace(GOOD, code="E 1!", hospital_code="H999", specialties=("cardiology", "astrology"),
                              title="professor", name_zh="  ")
    with pytest.raises(ValidationFailed) as failure:
        experts.save(world.actors["admin"], None, bad)
    errors = failure.value.errors
    assert set(errors) == {"code", "hospital", "specialties", "title", "name_zh"}
    assert "1–20 letters" in errors["code"][0]
    assert "H999" in errors["hospital"][0]
    assert "astrology" in errors["specialties"][0] and "cardiology" not in errors["specialties"][0]
    with pytest.raises(ValidationFailed) as empty:
        experts.save(world.actors["admin"], None, dataclasses.replace(GOOD, specialties=(), cap_per_cycle=5000))
    assert set(empty.value.errors) == {"specialties", "cap_per_cycle"}
    assert count(Expert) == 6 and logs("expert.created") == []


def test_codes_are_unique(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as failure:
        experts.save(world.actors["admin"], None, dataclasses.replace(GOOD, code="E001"))
    assert "already has the code E001" in failure.value.errors["code"][0]
    # an expert keeps its own code when edited, but may not take another's
    experts.save(world.actors["admin"], world.experts["expert1"], dataclasses.replace(GOOD, code="E001"))
    with pytest.raises(ValidationFailed):
        experts.save(world.actors["admin"], world.experts["expert1"], dataclasses.replace(GOOD, code="E002"))
    with pytest.raises(NotFound):
        experts.save(world.actors["admin"], 999_999, dataclasses.replace(GOOD, code="E999"))


@pytest.mark.parametrize("role", ["staff", "auditor", "hosp1", "expert1"])
def test_only_an_administrator_changes_the_pool(world, role, tmp_path) -> None:  # type: ignore[no-untyped-def]
    actor = world.actors[role]
    relation = experts.add_relation(world.actors["admin"], "cardiology", "critical_care")[0]
    conflict = experts.declare_conflict(world.actors["admin"], world.experts["expert2"], experts.ConflictInput(
        world.hospitals["H3"], date(2026, 1, 1), None, "Consultant to H3"))
    before = count(ActivityLog)
    with pytest.raises(PermissionDenied):
        experts.save(actor, None, GOOD)
    with pytest.raises(PermissionDenied):
        experts.save(actor, world.experts["expert1"], GOOD)
    with pytest.raises(PermissionDenied):
        experts.import_file(actor, write(tmp_path, HEADER + "E200,A,甲,chief_physician,H1,cardiology,10,yes\n"))
    with pytest.raises(PermissionDenied):
        experts.end_conflict(actor, conflict.id, date(2026, 6, 30))
    with pytest.raises(PermissionDenied):
        experts.add_relation(actor, "neurology", "critical_care")
    with pytest.raises(PermissionDenied):
        experts.remove_relation(actor, relation.id)
    if role != "expert1":  # an expert may declare a conflict of their own (see the next test)
        with pytest.raises(PermissionDenied):
            experts.declare_conflict(actor, world.experts["expert1"], experts.ConflictInput(
                world.hospitals["H2"], date(2026, 1, 1), None, "Spouse works there"))
    assert count(ActivityLog) == before and count(Expert) == 6 and count(SpecialtyRelation) == 1


def test_an_expert_declares_only_their_own_conflicts(world) -> None:  # type: ignore[no-untyped-def]
    own = experts.declare_conflict(world.actors["expert1"], world.experts["expert1"], experts.ConflictInput(
        world.hospitals["H2"], date(2026, 1, 1), None, "Spouse works there"))
    assert own.created_by_id == world.users["expert1"]
    with pytest.raises(NotFound):
        experts.declare_conflict(world.actors["expert1"], world.experts["expert2"], experts.ConflictInput(
            world.hospitals["H2"], date(2026, 1, 1), None, "Spouse works there"))


# --- import ------------------------------------------------------------------------------------------------

def test_one_bad_row_imports_nothing_and_names_row_and_field(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, HEADER
                 + "E200,Wang Fang,王芳,chief_physician,H1,cardiology,10,yes\n"
                 + "E201,Zhao Lei,赵磊,deputy_chief_physician,H9,cardiology;astrology,10,yes\n"
                 + "E202,Sun Li,孙丽,chief_physician,H2,neurology,ten,yes\n"
                 + "E200,Wang Fang,王芳,chief_physician,H1,cardiology,10,maybe\n")
    outcome = experts.import_file(world.actors["admin"], path)
    assert (outcome.created, outcome.updated) == (0, 0)
    found = {(e.row, e.field) for e in outcome.errors}
    assert found == {(3, "hospital"), (3, "specialties"), (4, "cap_per_cycle"), (5, "active")}
    assert any("H9" in e.message for e in outcome.errors if e.row == 3)
    assert count(Expert) == 6
    assert logs("expert.imported") == [] and logs("expert.import_finished") == []


def test_duplicate_codes_in_one_file_are_refused(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, HEADER + "E200,A,甲,chief_physician,H1,cardiology,10,yes\n"
                 + "E200,B,乙,chief_physician,H2,cardiology,10,yes\n")
    outcome = experts.import_file(world.actors["admin"], path)
    [error] = outcome.errors
    assert (error.row, error.field) == (3, "code") and "row 2" in error.message
    assert count(Expert) == 6


def test_import_creates_then_updates_by_code(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    admin = world.actors["admin"]
    first = experts.import_file(admin, write(tmp_path, HEADER
                                             + "E200,Wang Fang,王芳,chief_physician,H1,cardiology;neurology,10,yes\n"
                                             + "E001,Dr Expert 1,专家1,chief_physician,H1,cardiology,,\n"))
    assert (first.created, first.updated, first.errors) == (1, 1, ())
    created = db.session.scalars(db.select(Expert).where(Expert.code == "E200")).one()
    assert (created.title, created.specialties, created.cap_per_cycle, created.active) == (
        "chief_physician", ["cardiology", "neurology"], 10, True)
    # the admin records a note and deactivates the expert; a later file without those changes keeps them
    experts.save(admin, created.id, experts.ExpertInput(
        code="E200", name_en="Wang Fang", name_zh="王芳", title="chief_physician", hospital_code="H1",
        specialties=("cardiology", "neurology"), cap_per_cycle=7, active=False, note="Retires in 2027"))
    second = experts.import_file(admin, write(tmp_path, HEADER
                                              + "E200,Wang Fang,王芳,deputy chief physician,H2,Cardiology,,\n",
                                              name="again.csv"))
    assert (second.created, second.updated) == (0, 1)
    db.session.expire_all()
    again = db.session.get(Expert, created.id)
    assert (again.title, again.hospital_id, again.specialties) == ("deputy_chief_physician",
                                                                   world.hospitals["H2"], ["cardiology"])
    assert (again.cap_per_cycle, again.active, again.note) == (7, False, "Retires in 2027")
    assert count(Expert) == 7
    changed = [log for log in logs("expert.imported") if log.object_id == created.id][-1]
    assert set(changed.data["changes"]) == {"title", "hospital_id", "specialties"}
    finished = logs("expert.import_finished")
    assert [(f.data["created"], f.data["updated"], f.data["file"]) for f in finished] == [
        (1, 1, "pool.csv"), (0, 1, "again.csv")]


def test_chinese_headers_and_gb18030(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "专家编号,英文名,姓名,职称,医院编码,专业,每期上限,启用\nE300,Chen Jie,陈洁,chief_physician,H2,oncology，haematology,8,否\n"
    outcome = experts.import_file(world.actors["admin"], write(tmp_path, text, encoding="gb18030"))
    assert (outcome.created, outcome.errors) == (1, ())
    added = db.session.scalars(db.select(Expert).where(Expert.code == "E300")).one()
    assert (added.name_zh, added.specialties, added.cap_per_cycle, added.active) == (
        "陈洁", ["oncology", "haematology"], 8, False)


def test_excel_workbook_and_the_template(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "name_en", "name_zh", "title", "hospital_code", "specialties", "cap_per_cycle", "active"])
    sheet.append(["E400", "Xu Ming", "徐明", "chief_physician", "H1", "urology", 15, True])
    path = tmp_path / "pool.bin"  # the format is read from the bytes, whatever the name
    workbook.save(path)
    assert experts.import_file(world.actors["admin"], path).created == 1
    assert db.session.scalars(db.select(Expert.cap_per_cycle).where(Expert.code == "E400")).one() == 15
    template = experts.template_csv().replace(",H001,", ",H1,")
    assert experts.import_file(world.actors["admin"], write(tmp_path, template, name="template.csv")).created == 1


def test_unreadable_files_are_refused_whole(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    binary = tmp_path / "pool.csv"
    binary.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" * 64)
    with pytest.raises(ValidationFailed) as refused:
        experts.import_file(world.actors["admin"], binary)
    assert "binary" in refused.value.errors["file"][0]
    with pytest.raises(ValidationFailed) as lacking:
        experts.import_file(world.actors["admin"], write(tmp_path, "code,name_en\nE1,A\n"))
    assert "name_zh" in lacking.value.errors["file"][0] and "hospital_code" in lacking.value.errors["file"][0]
    with pytest.raises(ValidationFailed):
        experts.import_file(world.actors["admin"], write(tmp_path, ""))
    assert count(Expert) == 6 and logs("expert.import_finished") == []


def test_a_cap_in_odd_digits_is_a_row_error_not_a_crash(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outcome = experts.import_file(world.actors["admin"], write(
        tmp_path, HEADER + "E500,A,甲,chief_physician,H1,cardiology,²,yes\n"))
    assert [(e.row, e.field) for e in outcome.errors] == [(2, "cap_per_cycle")]


# --- conflicts ---------------------------------------------------------------------------------------------

def test_conflicts_are_declared_and_ended_never_deleted(world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actors["admin"]
    expert_id = world.experts["expert1"]
    with pytest.raises(ValidationFailed) as backwards:
        experts.declare_conflict(admin, expert_id, experts.ConflictInput(
            world.hospitals["H2"], date(2026, 6, 1), date(2026, 5, 1), "Spouse works there"))
    assert set(backwards.value.errors) == {"ends_on"}
    with pytest.raises(ValidationFailed) as vague:
        experts.declare_conflict(admin, expert_id, experts.ConflictInput(999_999, date(2026, 6, 1), None, "no"))
    assert set(vague.value.errors) == {"hospital_id", "reason"}
    assert count(ExpertConflict) == 0
    conflict = experts.declare_conflict(admin, expert_id, experts.ConflictInput(
        world.hospitals["H2"], date(2026, 6, 1), None, "  Spouse works there  "))
    assert conflict.reason == "Spouse works there"
    [declared] = logs("expert.conflict_declared")
    assert declared.object_id == expert_id and declared.data["hospital_id"] == world.hospitals["H2"]
    with pytest.raises(ValidationFailed):
        experts.end_conflict(admin, conflict.id, date(2026, 5, 31))
    experts.end_conflict(admin, conflict.id, date(2026, 12, 31))
    db.session.expire_all()
    kept = db.session.get(ExpertConflict, conflict.id)
    assert kept is not None and kept.ends_on == date(2026, 12, 31) and count(ExpertConflict) == 1
    [ended] = logs("expert.conflict_ended")
    assert ended.data["ends_on"] == [None, "2026-12-31"]
    with pytest.raises(NotFound):
        experts.end_conflict(admin, 999_999, date(2026, 12, 31))


# --- specialty relations -----------------------------------------------------------------------------------

def test_relations_add_both_ways_refuse_duplicates_and_log_removal(world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actors["admin"]
    pair = experts.add_relation(admin, "cardiology", "critical_care", both_ways=True)
    assert {(r.specialty, r.stand_in) for r in pair} == {("cardiology", "critical_care"),
                                                         ("critical_care", "cardiology")}
    assert len(logs("specialty_relation.added")) == 2
    with pytest.raises(ServiceError) as duplicate:
        experts.add_relation(admin, "cardiology", "critical_care")
    assert "already recorded" in str(duplicate.value.message)
    with pytest.raises(ValidationFailed):
        experts.add_relation(admin, "cardiology", "cardiology")
    with pytest.raises(ValidationFailed):
        experts.add_relation(admin, "cardiology", "astrology")
    one = experts.add_relation(admin, "neurology", "critical_care")
    assert len(one) == 1 and count(SpecialtyRelation) == 3
    experts.remove_relation(admin, one[0].id)
    assert count(SpecialtyRelation) == 2
    [removed] = logs("specialty_relation.removed")
    assert removed.object_id == one[0].id and removed.data == {"specialty": "neurology", "stand_in": "critical_care"}
    with pytest.raises(NotFound):
        experts.remove_relation(admin, one[0].id)


# --- panel qualification in the policy ---------------------------------------------------------------------

def test_policy_panel_qualification_is_versioned_and_checked(world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actors["admin"]
    created = policies.new_version(admin, world.region_id, {
        "panel_min_title": "chief_physician", "panel_hospital_levels": ["secondary", "tertiary", "tertiary"],
        "panel_one_per_hospital": True, "note": "Chief physicians only; one per hospital"})
    assert (created.panel_min_title, created.panel_hospital_levels, created.panel_one_per_hospital) == (
        "chief_physician", ["tertiary", "secondary"], True)
    assert created.snapshot()["panel_min_title"] == "chief_physician"
    [log] = logs("policy.versioned")
    assert log.data["changes"] == {"panel_min_title": {"from": "deputy_chief_physician", "to": "chief_physician"},
                                   "panel_one_per_hospital": {"from": False, "to": True}}
    with pytest.raises(ValidationFailed) as failure:
        policies.new_version(admin, world.region_id, {"panel_min_title": "professor", "panel_hospital_levels": [],
                                                      "panel_one_per_hospital": "yes", "note": "bad"})
    assert set(failure.value.errors) == {"panel_min_title", "panel_hospital_levels", "panel_one_per_hospital"}
    with pytest.raises(ValidationFailed) as unknown:
        policies.new_version(admin, world.region_id, {"panel_hospital_levels": ["quaternary"], "note": "bad"})
    assert set(unknown.value.errors) == {"panel_hospital_levels"}
    with pytest.raises(ValidationFailed):  # the same levels in another order change nothing
        policies.new_version(admin, world.region_id, {"panel_hospital_levels": ["secondary", "tertiary"],
                                                      "note": "same"})
    assert db.session.scalar(db.select(db.func.max(Policy.version))) == 2
