"""Letters a bureau can sign, on SQLite and PostgreSQL: the 文号 is unique and gap-free per region and year (two
concurrent issuers on PostgreSQL, a rolled-back issue gives its number back), the letter's text carries every
element of an administrative letter in both languages, a decision is issued only by someone who opened its
reasons, the letterhead is the administrator's, and production refuses to start without its public address."""
from __future__ import annotations

import multiprocessing
import re
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from review import create_app
from review.extensions import db
from review.models import ActivityLog, Decision, LetterCounter, Region
from review.services import decisions, letterheads, letters, ledger
from review.services.context import PermissionDenied, ServiceError, ValidationFailed
from tests.conftest import make_config
from tests.e2e.test_walkthrough import login
from tests.integration.test_decision_queue import APPROVE, PARTIAL, REJECT, make_decisions, open_all
from tests.integration.test_letters import _flat, _record_decision
from tests.pdftext import pdf_text
from workflows.money import format_fen

PUBLIC = "https://ybj.example.gov.cn"
HEAD = letterheads.LetterheadValues(
    issuer_code_zh="测医保审", issuer_code_en="CYBS", bureau_name_zh="测试市医疗保障局",
    bureau_name_en="Test City Healthcare Security Administration",
    legal_basis_zh="《测试市基本医疗保险按病组付费管理办法》\n测试市DRG特例单议实施细则",
    legal_basis_en="Test City Measures for DRG Payment\nTest City Rules for DRG Special-Case Review",
    address_zh="测试市人民路1号", address_en="1 Renmin Road, Test City", contact="0000-12345678")


def _specs(n: int) -> list[tuple[str, str, list[tuple[str, int]]]]:
    return [("hosp1" if i % 2 else "hosp2", f"ZY20260800{i + 1:02d}", APPROVE) for i in range(n)]


def _numbers() -> list[tuple[int, int, int]]:
    db.session.expire_all()
    rows = db.session.execute(db.select(Decision.letter_region_id, Decision.letter_year, Decision.letter_number)
                              .where(Decision.letter_number.is_not(None)))
    return sorted(tuple(row) for row in rows)


def _gap_free(numbers: list[tuple[int, int, int]]) -> bool:
    """Per (region, year) the numbers are exactly 1..n."""
    by_year: dict[tuple[int, int], list[int]] = {}
    for region_id, year, number in numbers:
        by_year.setdefault((region_id, year), []).append(number)
    return all(sorted(found) == list(range(1, len(found) + 1)) for found in by_year.values())


def test_numbers_follow_the_issue_order_and_a_rolled_back_issue_leaves_no_gap(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first, second, third = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", APPROVE),
                                                                  ("hosp1", "ZY2026080002", PARTIAL),
                                                                  ("hosp2", "ZY2026080003", APPROVE)]))
    real_post = ledger.post_many

    def refuse_second(postings, period, posted_by_id):  # type: ignore[no-untyped-def]
        if any(p.decision_id == second for p in postings):
            raise ServiceError("The period 2026Q3 is closed.")
        return real_post(postings, period, posted_by_id)

    monkeypatch.setattr(ledger, "post_many", refuse_second)
    issued, skipped = decisions.issue_many(world.actors["staff"], [first, second, third])
    assert issued == [first, third] and [s.decision_id for s in skipped] == [second]
    refused = db.session.get(Decision, second)
    assert refused.letter_number is None and refused.letter_ref_zh is None  # the number went back with the issue
    monkeypatch.setattr(ledger, "post_many", real_post)
    decisions.issue(world.actors["staff"], second)

    rows = {d.id: d for d in db.session.scalars(db.select(Decision))}
    year = rows[first].letter_year
    assert year == letters.local_date(rows[first].issued_at, "Asia/Shanghai").year  # the year of issue, Beijing days
    assert [rows[d].letter_number for d in (first, third, second)] == [1, 2, 3]  # in issue order, no gap
    assert rows[third].letter_ref_zh == f"测试统筹区医保审〔{year}〕2号"  # the default issuer code: region name
    assert rows[third].letter_ref_en == f"T01-MIB-R [{year}] No. 2"
    counter = db.session.get(LetterCounter, (world.region_id, year, "decision"))
    assert counter is not None and counter.last_number == 3
    register = db.session.scalars(db.select(ActivityLog.data).where(ActivityLog.action == "item.issue")).all()
    assert f"测试统筹区医保审〔{year}〕3号" in {entry.get("letter_ref") for entry in register}


def test_each_region_and_year_counts_from_one(world) -> None:  # type: ignore[no-untyped-def]
    other = Region(code="T02", name_en="Other Area", name_zh="另一统筹区")
    db.session.add(other)
    db.session.add(LetterCounter(region_id=world.region_id, year=2000, last_number=41))  # an earlier year's letters
    db.session.commit()
    (decision_id,) = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)]))
    decisions.issue(world.actors["staff"], decision_id)
    assert db.session.get(Decision, decision_id).letter_number == 1
    assert db.session.get(LetterCounter, (world.region_id, 2000, "decision")).last_number == 41
    assert db.session.scalar(db.select(db.func.count()).select_from(LetterCounter)
                             .where(LetterCounter.region_id == other.id)) == 0


def _issue_all(url: str, upload_dir: str, staff_user_id: int, ids: list[int], refused: int, start: Barrier) -> None:
    """One issuer process: every decision of the list in its own order, one refused by its posting after the
    number was drawn (its transaction rolls back)."""
    from review.services.context import Actor
    from workflows.states import Role

    app = create_app(make_config(url, Path(upload_dir)))
    with app.app_context():
        real_post = ledger.post_many

        def post(postings, period, posted_by_id):  # type: ignore[no-untyped-def]
            if any(p.decision_id == refused for p in postings):
                raise ServiceError("refused on purpose")
            return real_post(postings, period, posted_by_id)

        ledger.post_many = post  # type: ignore[assignment]
        start.wait()
        decisions.issue_many(Actor(user_id=staff_user_id, role=Role.STAFF), ids)
        db.session.remove()
        db.engine.dispose()


@pytest.mark.wall_clock
@pytest.mark.postgresql_only("SQLite serialises every writer: there is no concurrent issue to check")
def test_two_concurrent_issuers_draw_unique_gap_free_numbers(app, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = open_all(world, make_decisions(world, _specs(6)))
    staff_id = world.actors["staff"].user_id
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    # both issue every decision, in opposite orders, so they meet on each; each refuses a different one once
    workers = [context.Process(target=_issue_all, args=(url, str(tmp_path / "uploads"), staff_id, order, refused,
                                                        start))
               for order, refused in ((ids, ids[1]), (ids[::-1], ids[4]))]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=300)
    assert [process.exitcode for process in workers] == [0, 0]
    numbers = _numbers()
    issued = db.session.scalars(db.select(Decision).where(Decision.status == "issued")).all()
    assert len(numbers) == len(issued) == len({n for _r, _y, n in numbers})  # every issued letter once, no repeat
    assert len(issued) == len(ids) and _gap_free(numbers)  # each refusal was issued by the other issuer
    assert ledger.reconcile() == []


# --- the letter's text ---------------------------------------------------------------------------------------


def _text(decision: Decision, locale: str) -> str:
    return _flat(pdf_text(letters.letter_pdf(decision, locale)))


def test_a_letter_carries_every_element_of_an_administrative_letter(world, app) -> None:  # type: ignore[no-untyped-def]
    app.config["PUBLIC_BASE_URL"] = PUBLIC + "/"
    letterheads.save(world.actors["admin"], world.region_id, HEAD)
    (decision_id,) = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", PARTIAL)]))
    decision = decisions.issue(world.actors["staff"], decision_id)
    db.session.refresh(decision)
    year = decision.letter_year
    deadline = decision.appeal_deadline.isoformat()
    url = f"{PUBLIC}/verify/{decision.verification_code}"
    zh = _text(decision, "zh_CN")
    for fact in (f"测医保审〔{year}〕1号", "测试市医疗保障局", "H1医院", "《测试市基本医疗保险按病组付费管理办法》",
                 "《测试市DRG特例单议实施细则》", "复核申请", deadline, "60日内", "行政复议", "6个月内", "行政诉讼",
                 url, "测试市人民路1号", "0000-12345678", "第1页", "共"):
        assert _flat(fact) in zh, fact
    en = _text(decision, "en")
    for fact in (f"CYBS [{year}] No. 1", "Test City Healthcare Security Administration", "Hospital H1",
                 "Test City Measures for DRG Payment", "Test City Rules for DRG Special-Case Review",
                 "application for review", deadline, "administrative reconsideration within 60 days",
                 "administrative lawsuit", "within 6 months", url, "Page 1 of"):
        assert _flat(fact) in en, fact
    # the itemised reasons: each finding with its amount effect and the panel majority that carried it
    assert _flat(f"−{format_fen(decision.deduction_fen)}") in en and _flat(f"+{format_fen(decision.amount_fen)}") in en
    assert _flat("Unreasonable cost") in en and _flat("Eligibility") in en and "2of3" in en
    assert "测试统筹区医疗保障局" not in zh  # the bureau on the letterhead, not the pooling area's default
    page = app.test_client().get(f"/verify/{decision.verification_code}").get_data(as_text=True)
    assert f"CYBS [{year}] No. 1" in page and f"测医保审〔{year}〕1号" in page  # the verification page names it too
    assert "<svg" not in zh and "qrline" not in zh  # the QR code is drawn, not printed as markup


def test_a_long_letter_numbers_its_pages(world) -> None:  # type: ignore[no-untyped-def]
    many = "\n".join(f"测试市医保政策文件第{n}号关于按病组付费的补充规定" for n in range(1, 40))
    letterheads.save(world.actors["admin"], world.region_id,
                     letterheads.LetterheadValues(**{**HEAD.__dict__, "legal_basis_zh": many}))
    (decision_id,) = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)]))
    decision = decisions.issue(world.actors["staff"], decision_id)
    pages = pdf_text(letters.letter_pdf(decision, "zh_CN")).split("\n")
    footers = [re.sub(r"\s+", "", line) for line in pages if re.fullmatch(r"\s*第\s*\d+\s*页.*", line)]
    total = len(footers)
    assert total >= 2 and footers == [f"第{n}页，共{total}页" for n in range(1, total + 1)]


def test_a_rejection_itemises_the_majority_against(world) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = open_all(world, make_decisions(world, [("hosp1", "ZY2026080001", REJECT)]))
    decision = decisions.issue(world.actors["staff"], decision_id)
    en = _text(decision, "en")
    assert _flat("Special-case payment") in en and _flat("not granted") in en and "2of3" in en


def test_a_record_review_that_changes_nothing_says_so(world) -> None:  # type: ignore[no-untyped-def]
    decision = _record_decision(world, "regrouped", drg_unchanged=True)
    assert decision.amount_fen == 0 and decision.drg_after == decision.drg
    en = _text(decision, "en")
    assert _flat("Coding corrected: DRG unchanged, no payment change") in en
    assert _flat(f"no change: DRG {decision.drg}") in en
    assert _flat("Regrouped: payment adjusted") not in en
    assert _flat(f"DRG {decision.drg} → DRG {decision.drg}") not in en and _flat("regrouped from DRG") not in en
    assert _flat("This letter was generated by the DRG medical record review system.") in en
    assert _flat("special-case review system") not in en  # the footer fits the item kind
    zh = _text(decision, "zh_CN")
    assert "特例单议" not in zh


def test_a_confirmed_record_review_shows_no_change_for_every_finding(world) -> None:  # type: ignore[no-untyped-def]
    decision = _record_decision(world, "confirmed")
    en = _text(decision, "en")
    assert _flat("no change: medically justified") in en and _flat(f"no change: DRG {decision.drg}") in en
    assert _flat(f"no change: {decision.item.case.principal_dx}") in en and "3of3" in en


# --- opening the reasons before issuing ----------------------------------------------------------------------


def test_staff_cannot_issue_before_opening_the_reasons(world) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE)])
    with pytest.raises(ServiceError) as refusal:
        decisions.issue(world.actors["staff"], decision_id)
    assert "cannot be issued before you have opened its reasons" in str(refusal.value.message)
    db.session.rollback()
    decision = db.session.get(Decision, decision_id)
    assert decision.status == "proposed" and decision.letter_number is None
    assert db.session.scalar(db.select(db.func.count()).select_from(LetterCounter)) == 0
    decisions.open_reasons(world.actors["auditor"], decision_id)  # someone else's reading does not count
    with pytest.raises(ServiceError):
        decisions.issue(world.actors["staff"], decision_id)
    db.session.rollback()
    reasons = decisions.open_reasons(world.actors["staff"], decision_id)
    assert reasons.opened and [r.letter for r in reasons.experts] == ["A", "B", "C"]
    assert all(r.expert is not None and r.rationale for r in reasons.experts)
    decisions.open_reasons(world.actors["staff"], decision_id)  # reading again writes nothing more
    opened = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "decision.reasons_opened")).all()
    assert sorted(row.actor_id for row in opened) == sorted([world.actors["auditor"].user_id,
                                                            world.actors["staff"].user_id])
    assert decisions.issue(world.actors["staff"], decision_id).status == "issued"


def test_the_decision_page_shows_the_reasons_and_the_issue_button(world, client) -> None:  # type: ignore[no-untyped-def]
    (decision_id,) = make_decisions(world, [("hosp1", "ZY2026080001", PARTIAL)])
    login(client, "staff")
    refused = client.post(f"/staff/decisions/{decision_id}/issue", headers={"Referer": "/staff/"},
                          follow_redirects=True)
    assert "cannot be issued before you have opened its reasons" in refused.text
    page = client.get(f"/staff/decisions/{decision_id}")
    assert page.status_code == 200 and "Issue this decision" in page.text
    assert "Reviewed against the records in detail." in page.text and "Dr Expert" in page.text
    assert re.search(r'code-chip">E00\d', page.text)
    assert client.post(f"/staff/decisions/{decision_id}/issue").status_code == 302
    assert db.session.get(Decision, decision_id).status == "issued"


def test_record_review_reasons_speak_record_review(world, client) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_record_review import _decision, _sampled, _sheet

    item = _sampled(world)
    panel = list(item.assignments)
    _sheet(world, panel[0], dx="I21.09")
    _sheet(world, panel[1], dx="I21.09")
    _sheet(world, panel[2], justified=False)
    decision = _decision(item)
    reasons = decisions.open_reasons(world.actors["staff"], decision.id)
    assert [r.vote for r in reasons.experts] == ["Coding corrected", "Coding corrected", "Admission not justified"]
    assert reasons.experts[2].amount_fen == -item.case.drg_payment_fen
    assert reasons.experts[0].drg == decision.drg_after and reasons.experts[0].principal_dx == "I2109"
    login(client, "staff")
    page = client.get(f"/staff/decisions/{decision.id}").text
    assert "Coding corrected" in page and "Admission not justified" in page and ">Reject<" not in page


# --- the letterhead and the production configuration ---------------------------------------------------------


def test_only_an_administrator_edits_the_letterhead(world, client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        letterheads.save(world.actors["staff"], world.region_id, HEAD)
    with pytest.raises(ValidationFailed) as failure:
        letterheads.save(world.actors["admin"], world.region_id, letterheads.LetterheadValues("", "", "", ""))
    assert set(failure.value.errors) == {"issuer_code_zh", "issuer_code_en", "bureau_name_zh", "bureau_name_en"}
    db.session.rollback()
    url = f"/staff/regions/{world.region_id}/letterhead"
    login(client, "staff")
    assert client.get(url).status_code == 403
    login(client, "admin")
    form = client.get(url)
    assert form.status_code == 200 and "测试统筹区医疗保障局" in form.text  # the default until one is saved
    saved = client.post(url, data={**HEAD.__dict__, "bureau_name_zh": "改名医疗保障局"}, follow_redirects=True)
    assert "Letterhead saved" in saved.text
    region = db.session.get(Region, world.region_id)
    assert letterheads.letterhead_for(region).bureau_name_zh == "改名医疗保障局"
    assert db.session.scalars(db.select(ActivityLog.action).where(ActivityLog.action == "letterhead.saved")).all()


def test_production_refuses_to_start_without_its_public_address(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import REDIS_URL

    for name, value in {"SECRET_KEY": "production-test", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite'}",
                        "REDIS_URL": REDIS_URL or "redis://127.0.0.1:6379/0", "UPLOAD_DIR": str(tmp_path),
                        "REGISTER_HMAC_KEY": "production-test-register-key-32chars",
                        "REGISTER_ANCHOR_KEY": "production-test-anchor-key-32chars!"}.items():
        monkeypatch.setenv(name, value)
    for missing in ("", "ybj.example.gov.cn"):
        monkeypatch.setenv("PUBLIC_BASE_URL", missing)
        with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
            create_app("production")
    monkeypatch.setenv("PUBLIC_BASE_URL", PUBLIC)
    assert create_app("production").config["PUBLIC_BASE_URL"] == PUBLIC
