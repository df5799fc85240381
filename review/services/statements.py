"""A settlement statement as the hospital holds it: the PDF (bilingual, 文号, verification) and the XLSX workbook.

Both are drawn from the statement's stored figures and lines, which never change once written (the period is
closed and the lines are append-only). The official copy (the PDF in LETTER_LOCALE) is rendered once after the
issue, by a job, and kept, as a decision letter is: the issuer's name and legal basis come from the letterhead,
which an administrator may edit later; the other language and the workbook are rendered on demand. The PDF
shares the frame of the bureau's official documents with the decision letters (templates/pdf/official*.html);
the workbook is written by review/spreadsheets.py, so no cell a hospital wrote can run as a formula.
"""
from __future__ import annotations

import io
from pathlib import Path

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from review import labels
from review.extensions import db
from review.models import AccountingPeriod, Document, Hospital, Region, Settlement
from review.pdf import html_to_pdf
from review.services import activity, jobs, letterheads
from review.services.context import SYSTEM
from review.services.documents import store
from review.services.letters import local_date, page_counter_css, qr_svg, stored_locale, verify_url
from review.services.settlements import (StatementLine, UnpaidDecision, decisions_without_money,
                                        statement_lines)
from review.spreadsheets import Cell, money, write_xlsx

STATEMENT_TYPE = "settlement_statement"
HEADERS = (_l("Kind"), _l("Case number"), _l("DRG"), _l("Decision version"), _l("Letter reference"),
           _l("Corrects period"), _l("Amount due to the hospital (yuan)"), _l("Journal entry"))
_WIDTHS = (14, 22, 10, 10, 26, 12, 18, 10)


def _parties(settlement: Settlement) -> tuple[AccountingPeriod, Hospital, Region]:
    period = db.session.get(AccountingPeriod, settlement.period_id)
    hospital = db.session.get(Hospital, settlement.hospital_id)
    region = db.session.get(Region, period.region_id) if period else None
    assert period is not None and hospital is not None and region is not None
    return period, hospital, region


def statement_context(settlement: Settlement, locale: str) -> dict[str, object]:
    period, hospital, region = _parties(settlement)
    zh = locale.startswith("zh")
    head = letterheads.letterhead_for(region)
    code = settlement.verification_code
    url = verify_url(code) if code else ""
    return {
        "settlement": settlement, "period": period, "hospital": hospital, "region": region, "zh": zh,
        "colon": "：" if zh else ": ",
        "region_name": region.name_zh if zh else region.name_en,
        "hospital_name": hospital.name_zh if zh else hospital.name_en,
        "statement_ref": settlement.statement_ref_zh if zh else settlement.statement_ref_en,
        "issue_date": local_date(settlement.issued_at, region.timezone),
        "lines": statement_lines(settlement), "line_ref": lambda line: _letter_ref(line, zh),
        "unpaid": decisions_without_money(settlement),
        "bureau": head.bureau_name_zh if zh else head.bureau_name_en,
        "bureau_address": head.address_zh if zh else head.address_en, "bureau_contact": head.contact,
        "legal_basis": head.documents(zh), "page_counter": Markup(page_counter_css()),
        "verify_url": url, "qr_svg": qr_svg(url) if code else "",
    }


def _letter_ref(line: StatementLine | UnpaidDecision, zh: bool) -> str:
    return (line.letter_ref_zh if zh else line.letter_ref_en) or ""


def statement_html(settlement: Settlement, locale: str) -> str:
    with force_locale(locale):
        return render_template("pdf/statement.html", **statement_context(settlement, locale))


def statement_pdf(settlement: Settlement, locale: str) -> bytes:
    return html_to_pdf(statement_html(settlement, locale))


def statement_xlsx(settlement: Settlement, locale: str) -> bytes:
    """One sheet of the statement's lines under its figures' headers, in `locale`; amounts stay numbers."""
    zh = locale.startswith("zh")
    output = io.BytesIO()
    with force_locale(locale):
        rows = ([Cell(str(labels.LEDGER_KIND.get(line.kind, line.kind))), Cell(line.case_no or ""),
                 Cell(line.drg or ""), Cell(line.version), Cell(_letter_ref(line, zh)),
                 Cell(line.corrects_period or ""), money(line.amount_fen), Cell(line.entry_id)]
                for line in statement_lines(settlement))
        write_xlsx(str(_l("Statement")), HEADERS, _WIDTHS, rows, output, preamble=_figure_rows(settlement, zh))
    return output.getvalue()


def _figure_rows(settlement: Settlement, zh: bool) -> list[list[Cell]]:
    """The statement's facts above its lines, labelled in the first column, so the workbook alone says what the
    PDF says: the 文号, the period, the hospital and the five figures."""
    period, hospital, _region = _parties(settlement)
    figures = ((_l("Opening balance due to the hospital (yuan)"), settlement.opening_fen),
               (_l("Supplements (yuan)"), settlement.supplements_fen),
               (_l("Recoveries (yuan)"), settlement.recoveries_fen),
               (_l("Reversals and corrections (yuan)"), settlement.adjustments_fen),
               (_l("Closing balance due to the hospital (yuan)"), settlement.closing_fen))
    reference = (settlement.statement_ref_zh if zh else settlement.statement_ref_en) or str(_l("Draft"))
    return [[Cell(str(_l("Statement reference"))), Cell(reference)],
            [Cell(str(_l("Period"))), Cell(period.code)],
            [Cell(str(_l("Hospital"))), Cell(f"{hospital.code} {hospital.name_zh if zh else hospital.name_en}")],
            [Cell(str(_l("Verification code"))), Cell(settlement.verification_code or "")],
            *([Cell(str(label)), money(fen)] for label, fen in figures),
            []]


def render_statement(settlement_id: int) -> int | None:
    """Store the issued statement's official copy once (the job after the issue); idempotent like letters: a
    second run finds it, a run after a kill adopts the PDF its predecessor stored."""
    settlement = db.session.scalars(db.select(Settlement).where(Settlement.id == settlement_id)
                                    .with_for_update()).first()
    if settlement is None or settlement.state == "draft":
        return None
    if settlement.document_id is not None:
        return settlement.document_id
    locale = stored_locale()
    stored, adopted = jobs.rendered_once("statement", settlement.id, lambda: statement_pdf(settlement, locale))
    document = Document(hospital_id=settlement.hospital_id, item_id=None, doc_type=STATEMENT_TYPE,
                        filename=statement_filename(settlement, locale, "pdf"), content_type=stored.content_type,
                        size_bytes=stored.size_bytes, sha256=stored.sha256)
    db.session.add(document)
    db.session.flush()
    settlement.document_id = document.id
    activity.record(SYSTEM, "settlement.rendered", "settlement", settlement.id, settlement.hospital_id,
                    {"document_id": document.id, "sha256": stored.sha256, "adopted": adopted})
    db.session.commit()
    return document.id


def official_copy(settlement: Settlement) -> Path | None:
    """The stored official copy's file, once rendered (None before its job has run)."""
    if settlement.document_id is None:
        return None
    sha256 = db.session.scalar(db.select(Document.sha256).where(Document.id == settlement.document_id))
    path = store().path_for(sha256 or "")
    return path if sha256 and path.is_file() else None


def statement_filename(settlement: Settlement, locale: str, extension: str) -> str:
    period, hospital, _region = _parties(settlement)
    return f"statement-{period.code}-{hospital.code}-{locale}.{extension}"
