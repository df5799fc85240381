"""Bulk exports of a cycle, on SQLite and PostgreSQL: the letters ZIP, the decisions as CSV and XLSX with every text
cell neutralised against formula injection, progress, roles, and a task that runs twice building one file."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from review.extensions import db
from review.intake import reports
from review.models import ActivityLog, Decision, ExportJob, Hospital
from review.models.types import utcnow
from review import spreadsheets
from review.services import decisions, exports, letters
from review.services.context import NotFound, PermissionDenied, ServiceError, ValidationFailed
from review.tasks import run_export
from tests.integration.test_decision_queue import APPROVE, PARTIAL, REJECT, make_decisions, open_all

FORMULA_CASE = '=HYPERLINK("http://x.example","open")'  # case_no is VARCHAR(40)
PLUS_CASE = "+cmd|' /C calc'!A0"
AT_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"
SLASH_CASE = "../ZY/2026/4"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _issued_cycle(world) -> list[int]:  # type: ignore[no-untyped-def]
    """Four issued decisions whose hospital name or case number would run as formulas if written raw, and one
    decision left proposed (it must not be exported)."""
    hospital = db.session.get(Hospital, world.hospitals["H2"])
    hospital.name_zh = AT_NAME
    db.session.commit()
    ids = make_decisions(world, [("hosp1", FORMULA_CASE, APPROVE), ("hosp1", SLASH_CASE, PARTIAL),
                                 ("hosp2", PLUS_CASE, REJECT), ("hosp2", "ZY2026080005", APPROVE),
                                 ("hosp1", "ZY2026080009", APPROVE)])
    issued, skipped = decisions.issue_many(world.actors["staff"], open_all(world, ids[:4]))
    assert skipped == []
    return issued


def _files(app) -> set[Path]:  # type: ignore[no-untyped-def]
    return {p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()}


def _result(world, job: ExportJob) -> bytes:  # type: ignore[no-untyped-def]
    _job, path = exports.open_result(world.actors["auditor"], job.id)
    return path.read_bytes()


def test_csv_export_neutralises_every_text_cell(world) -> None:  # type: ignore[no-untyped-def]
    issued = _issued_cycle(world)
    job = exports.start(world.actors["auditor"], world.cycle_id, "decisions_csv", "en")
    assert (job.status, job.progress, job.done, job.total) == ("done", 100, 4, 4)
    assert job.filename == "2026Q3-decisions.csv" and job.content_type.startswith("text/csv")
    data = _result(world, job)
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads Chinese only with the BOM
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["Hospital code", "Hospital", "Case number"] and len(rows) == 1 + len(issued)
    body = rows[1:]
    by_case = {row[2]: row for row in body}
    assert "'" + FORMULA_CASE in by_case and "'" + PLUS_CASE in by_case
    assert by_case["'" + PLUS_CASE][1] == "'" + AT_NAME
    assert "ZY2026080009" not in by_case  # still proposed
    text_columns = [i for i, header in enumerate(rows[0]) if "yuan" not in header]
    assert all(not row[i].startswith(TRIGGERS) for row in body for i in text_columns)
    for decision_id in issued:
        decision = db.session.get(Decision, decision_id)
        row = next(r for r in body if r[-1] == decision.verification_code)
        assert Decimal(row[13]) * 100 == decision.amount_fen and row[9] == f"{decision.total_cost_fen / 100:.2f}"
        assert row[14] == ("Supplement" if decision.amount_fen > 0 else "No payment change")
        assert row[16] == decision.appeal_deadline.isoformat() and row[6] == "1" and row[17] == decision.letter_ref_en
        assert row[3] == "2026Q3" and row[4] == "Special-case review" and row[5] in ("Approved", "Partially approved", "Rejected")


def test_xlsx_export_neutralises_every_text_cell(world) -> None:  # type: ignore[no-untyped-def]
    issued = _issued_cycle(world)
    job = exports.start(world.actors["staff"], world.cycle_id, "decisions_xlsx", "zh_CN")
    assert job.status == "done" and job.progress == 100 and job.filename == "2026Q3-decisions.xlsx"
    sheet = load_workbook(io.BytesIO(_result(world, job)))["Decisions"]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0][:3]] == ["医院编码", "医疗机构", "病案号"] and len(rows) == 1 + len(issued)
    assert {row[4].value for row in rows[1:]} == {"特例单议"}  # coded values in the requester's language too
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.data_type == "f" for cell in cells)
    assert not any(isinstance(cell.value, str) and cell.value.startswith(TRIGGERS) for cell in cells)
    case_numbers = {row[2].value for row in rows[1:]}
    assert {"'" + FORMULA_CASE, "'" + PLUS_CASE} <= case_numbers
    assert "'" + AT_NAME in {row[1].value for row in rows[1:]}
    for row in rows[1:]:
        decision = db.session.scalars(db.select(Decision).where(
            Decision.verification_code == row[18].value)).one()
        assert isinstance(row[13].value, (int, float)) and round(row[13].value * 100) == decision.amount_fen
        assert row[13].number_format == "#,##0.00"
        assert row[16].value.date() == decision.appeal_deadline and row[17].value == decision.letter_ref_zh


def test_letters_zip_holds_one_pdf_per_issued_decision(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    issued = _issued_cycle(world)
    # One more decision issued while its letter task is lost: the export renders the missing letter itself.
    late = db.session.scalars(db.select(Decision.id).where(Decision.status == "proposed")).one()
    monkeypatch.setattr(decisions.render_letter, "delay", lambda decision_id: None)
    decisions.open_reasons(world.actors["staff"], late)
    decisions.issue(world.actors["staff"], late)
    assert db.session.get(Decision, late).letter_document_id is None
    job = exports.start(world.actors["auditor"], world.cycle_id, "letters_zip")
    assert (job.status, job.progress, job.done, job.total) == ("done", 100, 5, 5)
    assert job.filename == "2026Q3-letters.zip" and job.content_type == "application/zip"
    assert db.session.get(Decision, late).letter_document_id is not None
    with zipfile.ZipFile(io.BytesIO(_result(world, job))) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == len(issued) + 1 == len(set(names))
        assert all(re.fullmatch(r"H[12]/[^/\\]+-v1\.pdf", name) and ".." not in name for name in names)
        assert "H1/_ZY_2026_4-v1.pdf" in names and "H1/ZY2026080009-v1.pdf" in names
        assert all(archive.read(name).startswith(b"%PDF") for name in names)
        for decision_id in [*issued, late]:
            decision = db.session.get(Decision, decision_id)
            name = f"{decision.item.hospital.code}/{exports._safe_part(decision.item.case.case_no)}-v1.pdf"
            stored = Path(exports.store().path_for(decision.letter.sha256)).read_bytes()
            assert archive.read(name) == stored  # the issued letter itself, not a new rendering


def test_progress_reaches_100_and_a_second_run_builds_nothing(world, app) -> None:  # type: ignore[no-untyped-def]
    _issued_cycle(world)
    job = exports.start(world.actors["staff"], world.cycle_id, "letters_zip")
    sha, finished_at = job.sha256, job.finished_at
    files = _files(app)
    exports.run(job.id)
    run_export.delay(job.id)  # a redelivered task, through Celery (eager in tests)
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert (job.status, job.progress, job.sha256, job.finished_at) == ("done", 100, sha, finished_at)
    assert _files(app) == files
    actions = db.session.scalars(db.select(ActivityLog.action).where(ActivityLog.object_type == "export_job")
                                 .order_by(ActivityLog.id)).all()  # in register order, not the heap's
    assert actions == ["export.requested", "export.done"]


def test_an_abandoned_job_is_taken_over_and_a_live_one_is_not(world) -> None:  # type: ignore[no-untyped-def]
    _issued_cycle(world)
    live = ExportJob(cycle_id=world.cycle_id, kind="decisions_csv", status="running", progress=40, total=4, done=2)
    abandoned = ExportJob(cycle_id=world.cycle_id, kind="decisions_csv", status="running", progress=40, total=4,
                          done=2)
    db.session.add_all([live, abandoned])
    db.session.flush()
    abandoned.updated_at = utcnow() - exports.STALE_AFTER - timedelta(minutes=1)  # clock-ok: the frozen test clock
    db.session.commit()
    exports.run(live.id)
    exports.run(abandoned.id)
    db.session.expire_all()
    assert db.session.get(ExportJob, live.id).status == "running"
    assert db.session.get(ExportJob, abandoned.id).status == "done"
    # a second request while the live job builds gets that job back rather than a duplicate build
    assert exports.start(world.actors["staff"], world.cycle_id, "decisions_csv").id == live.id


def test_a_letter_that_cannot_be_rendered_fails_the_export(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    monkeypatch.setattr(decisions.render_letter, "delay", lambda decision_id: None)
    decisions.open_reasons(world.actors["staff"], decision_id)
    decisions.issue(world.actors["staff"], decision_id)

    def broken(decision_id: int) -> int:
        raise letters.UnknownLetterKind("no template")

    monkeypatch.setattr(letters, "render_letter", broken)
    job = exports.start(world.actors["staff"], world.cycle_id, "letters_zip")
    assert job.status == "failed" and job.sha256 is None and job.filename is None
    assert "ZY2026080001" in job.message and "no template" in job.message
    with pytest.raises(NotFound):
        exports.open_result(world.actors["staff"], job.id)


@pytest.mark.parametrize("user", ["hosp1", "expert1"])
def test_hospitals_and_experts_cannot_export(world, user) -> None:  # type: ignore[no-untyped-def]
    _issued_cycle(world)
    with pytest.raises(PermissionDenied):
        exports.start(world.actors[user], world.cycle_id, "decisions_csv")
    job = exports.start(world.actors["auditor"], world.cycle_id, "decisions_csv")
    with pytest.raises(PermissionDenied):
        exports.get_job(world.actors[user], job.id)
    with pytest.raises(PermissionDenied):
        exports.open_result(world.actors[user], job.id)
    assert db.session.scalar(db.select(db.func.count(ExportJob.id))) == 1


def test_requests_that_cannot_be_exported_are_refused(world) -> None:  # type: ignore[no-untyped-def]
    make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    with pytest.raises(ValidationFailed):
        exports.start(world.actors["staff"], world.cycle_id, "letters_pdf")
    with pytest.raises(NotFound):
        exports.start(world.actors["staff"], world.cycle_id + 1, "letters_zip")
    with pytest.raises(ServiceError, match="nothing to export"):
        exports.start(world.actors["staff"], world.cycle_id, "letters_zip")  # only a proposed decision
    assert db.session.scalar(db.select(db.func.count(ExportJob.id))) == 0


def test_cells_reuse_the_one_neutralising_function_and_amounts_stay_numbers() -> None:
    assert spreadsheets.neutralise is reports.neutralise
    assert spreadsheets.csv_text(spreadsheets.Cell("=1+1")) == "'=1+1"
    assert spreadsheets.csv_text(spreadsheets.Cell(spreadsheets.yuan(-50_000))) == "-500.00"  # a recovery, not text
    assert spreadsheets.csv_text(spreadsheets.Cell(spreadsheets.yuan(123_456_789))) == "1234567.89"
    assert exports.letter_entry_name("H1", "a/../b\x00", 2, set(), 7) == "H1/a_.._b_-v2.pdf"
    taken: set[str] = set()
    assert exports.letter_entry_name("H1", "X", 1, taken, 1) == "H1/X-v1.pdf"
    assert exports.letter_entry_name("H1", "X", 1, taken, 9) == "H1/X-v1-d9.pdf"
