"""Bulk import through the service, the background job and the command line, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from flask_babel import force_locale

from review import messages
from review.extensions import db
from review.models import ActivityLog, Case, ImportJob, ReviewItem
from review.services import intake
from review.services.context import ValidationFailed
from workflows.problems import Problem

HEADER = ["case_no", "age", "sex", "admission_date", "discharge_date", "principal_dx", "secondary_dx",
          "procedures", "total_cost", "icu_days", "hospital_drg", "category", "reason"]
GOOD = ["ZY1", "67", "M", "2026-08-01", "2026-08-20", "I21.4", "I50.21,N17.9", "02703DZ", "400000.00", "4", "321",
        "", ""]


def rows(*overrides: dict[str, str]) -> list[tuple[int, dict[str, str]]]:
    out = []
    for index, override in enumerate(overrides, start=2):
        values = dict(zip(HEADER, GOOD))
        values["case_no"] = f"ZY{index:05d}"
        values.update(override)
        out.append((index, values))
    return out


def csv_bytes(table: list[tuple[int, dict[str, str]]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for _, values in table:
        writer.writerow([values[h] for h in HEADER])
    return buffer.getvalue().encode(encoding)


def test_valid_rows_mode_keeps_good_rows_and_reports_the_rest(world) -> None:  # type: ignore[no-untyped-def]
    batch = rows({}, {"principal_dx": "I21.99X"}, {"hospital_drg": "999"}, {"discharge_date": "2025-02-30"})
    batch.append((6, dict(batch[0][1])))  # the same case twice in one file
    outcome = intake.import_rows(world.actors["hosp1"], batch, mode="valid_rows")
    assert outcome.committed and outcome.accepted == 2 and outcome.rejected == 3
    assert {(e.row, e.column) for e in outcome.errors} == {(3, "principal_dx"), (5, "discharge_date"), (6, "case_no")}
    assert next(e.problem for e in outcome.errors if e.row == 6) == Problem(
        "import.repeated_row", case_no="ZY00002", discharge_date="2026-08-20", first_row=2)
    mismatched = db.session.get(Case, outcome.case_ids[1])
    assert mismatched.drg == "321" and mismatched.drg_mismatch
    again = intake.import_rows(world.actors["hosp1"], batch, mode="valid_rows")
    assert again.accepted == 0 and again.skipped == 2
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 2


def test_all_or_nothing_writes_nothing_when_a_row_fails(world) -> None:  # type: ignore[no-untyped-def]
    outcome = intake.import_rows(world.actors["hosp1"], rows({}, {"total_cost": "1,234.5元"}), mode="all_or_nothing")
    assert not outcome.committed and outcome.accepted == 0
    assert outcome.errors[0].problem == Problem("money.thousands_separator", text="'1,234.5元'")
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0
    assert db.session.scalars(db.select(ActivityLog.action)).all() == ["cases.import_refused"]


def test_rows_with_a_category_become_screened_applications(world) -> None:  # type: ignore[no-untyped-def]
    reason = "Cardiogenic shock, prolonged ICU stay after PCI."
    outcome = intake.import_rows(world.actors["hosp1"], rows({"category": "high_cost", "reason": reason},
                                                              {"category": "高费用", "reason": reason}, {}),
                                 mode="valid_rows")
    assert outcome.accepted == 3 and outcome.applications == 2
    states = db.session.scalars(db.select(ReviewItem.state)).all()
    assert states == ["queued", "queued"]


def test_quota_overflow_in_all_or_nothing_rolls_back_the_cases(world) -> None:  # type: ignore[no-untyped-def]
    from review.models import CycleVolume

    db.session.scalars(db.select(CycleVolume).where(CycleVolume.hospital_id == world.hospitals["H1"])).one() \
        .drg_discharges = 20  # one application allowed
    db.session.commit()
    reason = "Cardiogenic shock, prolonged ICU stay after PCI."
    batch = rows({"category": "high_cost", "reason": reason}, {"category": "high_cost", "reason": reason})
    outcome = intake.import_rows(world.actors["hosp1"], batch, mode="all_or_nothing")
    assert not outcome.committed
    assert [(e.row, e.column) for e in outcome.errors] == [(3, "category")]
    refusal = outcome.errors[0].problem
    assert refusal.code == "import.application_refused"
    assert (refusal.params["why_code"], refusal.params["allowed"], refusal.params["used"]) == (
        "application.quota_used_up", 1, 1)  # stored as a code: the report reads in whichever language opens it
    with force_locale("zh_CN"):
        assert "申请限额已用完：可申请 1 例" in messages.problem_text(refusal.to_json())
    with force_locale("en"):
        assert "is used up: 1 applications allowed" in messages.problem_text(refusal.to_json())
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0
    partial = intake.import_rows(world.actors["hosp1"], batch, mode="valid_rows")
    assert partial.accepted == 2 and partial.applications == 1


def test_uploaded_file_runs_as_a_job_with_progress(world, app) -> None:  # type: ignore[no-untyped-def]
    data = csv_bytes(rows({}, {}, {"age": "-3"}), encoding="gb18030")
    job = intake.upload(world.actors["hosp1"], io.BytesIO(data), "q3.csv")
    assert job.status == "uploaded" and len(intake.preview(job)) == 3
    intake.start(world.actors["hosp1"], job.id, "valid_rows")  # eager in tests: runs at once
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert (job.status, job.total_rows, job.processed_rows, job.accepted, job.rejected) == ("done", 3, 3, 2, 1)
    assert job.errors == [{"row": 4, "column": "age", "value": "-3",  # codes and figures, never a sentence
                           "problem": {"code": "intake.out_of_range", "params": {"number": -3, "maximum": 124}}}]
    with pytest.raises(Exception):
        intake.start(world.actors["hosp1"], job.id, "valid_rows")


def test_unreadable_files_are_refused_and_not_kept(world, app) -> None:  # type: ignore[no-untyped-def]
    for content, fragment in ((b"", "empty"), (b"MZ\x90\x00\x03\x00\x00\x00" * 50, "binary"),
                              (b"name,colour\nx,y\n", "Case number")):
        with pytest.raises(ValidationFailed) as failure:
            intake.upload(world.actors["hosp1"], io.BytesIO(content), "cases.csv")
        assert fragment in failure.value.errors["file"][0]
    assert db.session.scalar(db.select(db.func.count(ImportJob.id))) == 0
    assert [p for p in (Path(app.config["UPLOAD_DIR"]) / "imports").rglob("*") if p.is_file()] == []


def test_cancel_before_the_worker_runs_imports_nothing(world) -> None:  # type: ignore[no-untyped-def]
    job = intake.upload(world.actors["hosp1"], io.BytesIO(csv_bytes(rows({}, {}))), "q3.csv")
    job.status = "queued"
    job.cancel_requested = True
    db.session.commit()
    intake.run_job(job.id)
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).status == "cancelled"
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_other_hospital_cannot_see_a_job(world) -> None:  # type: ignore[no-untyped-def]
    from review.services.context import NotFound

    job = intake.upload(world.actors["hosp1"], io.BytesIO(csv_bytes(rows({}))), "q3.csv")
    with pytest.raises(NotFound):
        intake.get_job(world.actors["hosp2"], job.id)


def test_command_line_import_writes_the_error_report(world, app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cases.csv"
    path.write_bytes(csv_bytes(rows({}, {"procedures": "0270XXX"})))
    result = app.test_cli_runner().invoke(args=["cases", "import", str(path), "--hospital", "H1"])
    assert result.exit_code == 0, result.output
    assert "accepted 1" in result.output and "rejected 1" in result.output
    report = list(csv.DictReader(io.StringIO((tmp_path / "cases.csv.errors.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["Row"], r["Column"], r["Value"]) for r in report] == [("3", "Procedures", "0270XXX")]
    assert report[0]["Problem"] == "The procedure 0270XXX is not a valid ICD-10 code for the discharge date."
    refused = app.test_cli_runner().invoke(args=["cases", "import", str(path), "--hospital", "H1", "--all-or-nothing"])
    assert refused.exit_code == 1 and "nothing was imported" in refused.output


def test_a_file_over_the_row_limit_fails_the_job_and_writes_nothing(world, app) -> None:  # type: ignore[no-untyped-def]
    app.config["IMPORT_MAX_ROWS"] = 2
    job = intake.upload(world.actors["hosp1"], io.BytesIO(csv_bytes(rows({}, {}, {}))), "q3.csv")
    intake.start(world.actors["hosp1"], job.id, "valid_rows")
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.status == "failed" and json.loads(job.message) == {"code": "file.too_many_rows",
                                                                  "params": {"limit": "2"}}
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_a_stored_import_problem_reads_in_the_readers_language(world) -> None:  # type: ignore[no-untyped-def]
    """The job keeps codes and figures, so an old import reads in whatever language its reader chose."""
    job = intake.upload(world.actors["hosp1"], io.BytesIO(csv_bytes(rows({}, {"total_cost": "12.345"}))), "q3.csv")
    intake.start(world.actors["hosp1"], job.id, "all_or_nothing")
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    [stored] = job.errors
    assert "message" not in stored and stored["problem"] == {"code": "money.too_many_decimals",
                                                              "params": {"text": "'12.345'"}}
    with force_locale("en"):
        assert messages.row_error_text(stored) == (
            "The amount '12.345' has more than 2 decimal places; yuan amounts stop at the fen.")
        assert messages.stored_problem_text(job.message) == (
            "All or nothing: nothing was imported because some rows have errors.")
        assert messages.column_label(stored["column"]) == "Total cost"
    with force_locale("zh_CN"):
        assert messages.row_error_text(stored) == "金额 '12.345' 超过 2 位小数，元金额最小到分。"
        assert messages.stored_problem_text(job.message) == "全部或全不：部分行有错误，因此未导入任何数据。"
        assert messages.column_label(stored["column"]) == "总费用"


def test_imports_stored_before_problems_keep_their_sentences(world) -> None:  # type: ignore[no-untyped-def]
    old = {"row": 4, "column": "age", "message": "age: 200 is out of range (expected 0–124)", "value": "200"}
    with force_locale("zh_CN"):
        assert messages.row_error_text(old) == "age: 200 is out of range (expected 0–124)"
        assert messages.stored_problem_text("cancelled by the user; nothing was imported") == (
            "cancelled by the user; nothing was imported")
        assert messages.stored_problem_text("") == ""
