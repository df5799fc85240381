"""The journal's downloads (issue 14 §3), on SQLite and PostgreSQL: exactly the filtered journal of the ledger page,
as CSV or XLSX, kinds as labels in the reader's language, amounts as signed numbers due to the hospital, text cells
neutralised; a hospital downloads its own entries only; the office and auditors download, experts do not."""
from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from flask_babel import refresh
from openpyxl import load_workbook

from review.extensions import db
from review.models import AccountingPeriod, Decision, Hospital, JournalEntry, Region
from review.services import decisions, ledger
from tests.e2e.test_walkthrough import login
from tests.factories import World
from tests.integration.test_decision_queue import APPROVE, PARTIAL, make_decisions, open_all
from tests.integration.test_exports import AT_NAME, FORMULA_CASE
from workflows.ledger import EntryPlan, Line

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ENTRY, POSTED, PERIOD, CORRECTS, CODE, NAME, KIND, AMOUNT, CASE, VERSION, LETTER, KEY, REVERSES = range(13)
RECOVERY_FEN = 2_500
"""What hospital H1 pays back in the later quarter's entry: 25.00 yuan."""


@dataclass(frozen=True)
class Book:
    """The world's journal: a supplement to each of H1 (case number written as a formula) and H2 (whose Chinese
    name is written as one) in the cycle's quarter, and a recovery from H1 in the next quarter."""

    h1: Decision
    h2: Decision
    h1_entry: JournalEntry
    h2_entry: JournalEntry
    recovery: JournalEntry
    quarter: AccountingPeriod
    next_quarter: AccountingPeriod


def _book(world: World) -> Book:
    db.session.get(Hospital, world.hospitals["H2"]).name_zh = AT_NAME
    db.session.commit()
    ids = make_decisions(world, [("hosp1", FORMULA_CASE, APPROVE), ("hosp2", "ZY2026082002", PARTIAL)])
    decisions.issue_many(world.actors["staff"], open_all(world, ids))
    recovery = ledger.post(EntryPlan("recovery:H1:1", "record review recovery",
                                     (Line("fund:T01", -RECOVERY_FEN), Line("hospital:H1", RECOVERY_FEN))),
                           "2026Q4", None, None)
    db.session.commit()
    h1, h2 = (db.session.get(Decision, decision_id) for decision_id in ids)
    entry_of = {e.decision_id: e for e in db.session.scalars(db.select(JournalEntry).where(
        JournalEntry.decision_id.in_(ids)))}
    periods = {p.code: p for p in db.session.scalars(db.select(AccountingPeriod))}
    return Book(h1, h2, entry_of[h1.id], entry_of[h2.id], db.session.get(JournalEntry, recovery.id),
                periods[entry_of[h1.id].period], periods["2026Q4"])


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200 and response.content_type == CSV_TYPE
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def _attachment(response) -> str:  # type: ignore[no-untyped-def]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    return disposition.split("filename=", 1)[1]


def _download_links(page: str) -> dict[str, str]:
    """The page's download links by their label, as the browser would follow them."""
    return {label: html.unescape(href) for href, label in
            re.findall(r'<a class="btn[^"]*" href="([^"]+)">(Download (?:CSV|XLSX))</a>', page)}


def _local(entry: JournalEntry) -> str:
    region = db.session.scalars(db.select(Region)).one()
    return entry.posted_at.astimezone(ZoneInfo(region.timezone)).strftime("%Y-%m-%d %H:%M")


def test_the_office_downloads_exactly_the_filtered_journal(client: FlaskClient, world: World) -> None:
    book = _book(world)
    login(client, "staff")
    everything = client.get("/staff/ledger/journal.csv")
    assert _attachment(everything) == "journal.csv"
    header, *body = _csv(everything)
    assert header == ["Entry", "Posted at", "Period", "Corrects period", "Hospital code", "Hospital", "Kind",
                      "Amount due to the hospital (yuan)", "Case number", "Decision version", "Letter reference",
                      "Idempotency key", "Reverses entry"]
    assert [row[ENTRY] for row in body] == [str(e.id) for e in sorted(
        (book.h1_entry, book.h2_entry, book.recovery), key=lambda e: e.id, reverse=True)]  # newest first, as shown
    by_id = {row[ENTRY]: row for row in body}
    h1 = by_id[str(book.h1_entry.id)]
    assert h1[POSTED] == _local(book.h1_entry) and h1[PERIOD] == book.quarter.code and h1[CORRECTS] == ""
    assert (h1[CODE], h1[NAME], h1[KIND]) == ("H1", "Hospital H1", "Supplement")
    assert h1[AMOUNT] == f"{Decimal(book.h1.amount_fen) / 100:.2f}" and book.h1.amount_fen > 0
    assert h1[CASE] == "'" + FORMULA_CASE  # shown as text in Excel, never run
    assert (h1[VERSION], h1[LETTER], h1[KEY]) == ("1", book.h1.letter_ref_en, book.h1_entry.idempotency_key)
    recovery = by_id[str(book.recovery.id)]
    assert (recovery[KIND], recovery[AMOUNT], recovery[PERIOD]) == ("Recovery", "-25.00", "2026Q4")
    assert (recovery[CASE], recovery[VERSION], recovery[LETTER]) == ("", "", "")

    filtered = client.get(f"/staff/ledger?period={book.quarter.id}&hospital={world.hospitals['H2']}")
    links = _download_links(filtered.text)
    only_h2 = client.get(links["Download CSV"])
    assert _attachment(only_h2) == f"journal-{book.quarter.code}-H2.csv"
    assert [row[ENTRY] for row in _csv(only_h2)[1:]] == [str(book.h2_entry.id)]
    later = client.get(f"/staff/ledger/journal.csv?period={book.next_quarter.id}")
    assert [row[ENTRY] for row in _csv(later)[1:]] == [str(book.recovery.id)]
    assert _attachment(later) == "journal-2026Q4.csv"
    recoveries = client.get(_download_links(client.get("/staff/ledger?kind=recovery").text)["Download CSV"])
    assert [row[ENTRY] for row in _csv(recoveries)[1:]] == [str(book.recovery.id)]
    supplements = _csv(client.get("/staff/ledger/journal.csv?kind=supplement"))[1:]
    assert sorted(row[ENTRY] for row in supplements) == sorted([str(book.h1_entry.id), str(book.h2_entry.id)])


def test_the_xlsx_reads_in_chinese_with_amounts_as_signed_numbers(client: FlaskClient, world: World) -> None:
    book = _book(world)
    login(client, "auditor")  # the auditor reads everything, the journal's files too
    client.post("/lang/zh_CN")
    refresh()  # the test's app context outlives each request, and Babel keeps the first request's locale in it
    page = client.get("/staff/ledger").text
    response = client.get(re.search(r'href="([^"]*journal\.xlsx[^"]*)"', page).group(1))
    assert response.status_code == 200 and response.content_type == XLSX_TYPE
    assert _attachment(response) == "journal.xlsx"
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    header, *body = list(sheet.iter_rows(values_only=True))
    assert (header[PERIOD], header[CASE], header[LETTER]) == ("会计期间", "病案号", "文号")
    by_id = {row[ENTRY]: row for row in body}
    h1, h2, recovery = by_id[book.h1_entry.id], by_id[book.h2_entry.id], by_id[book.recovery.id]
    assert (h1[KIND], h2[KIND], recovery[KIND]) == ("补付", "补付", "追回")
    assert h1[LETTER] == book.h1.letter_ref_zh and h1[NAME] == "H1医院"
    assert h2[NAME] == "'" + AT_NAME  # the register's text never runs as a formula
    for row, fen in ((h1, book.h1.amount_fen), (h2, book.h2.amount_fen), (recovery, -RECOVERY_FEN)):
        assert isinstance(row[AMOUNT], (int, float)) and round(row[AMOUNT] * 100) == fen
    assert recovery[AMOUNT] < 0 < h1[AMOUNT]
    assert h1[POSTED].strftime("%Y-%m-%d %H:%M") == _local(book.h1_entry)
    amount_cell = sheet.cell(row=2, column=AMOUNT + 1)
    assert amount_cell.number_format == "#,##0.00"


def test_a_hospital_downloads_its_own_entries_only(client: FlaskClient, world: World) -> None:
    book = _book(world)
    login(client, "hosp1")
    links = _download_links(client.get("/hospital/account").text)
    own = client.get(links["Download CSV"])
    assert _attachment(own) == "journal-H1.csv"
    rows = _csv(own)[1:]
    assert sorted(row[ENTRY] for row in rows) == sorted([str(book.h1_entry.id), str(book.recovery.id)])
    assert {row[CODE] for row in rows} == {"H1"}
    assert book.h2_entry.idempotency_key not in own.text and "ZY2026082002" not in own.text
    # naming another hospital in the query changes nothing: the scope is the account's, not the link's
    asked_for_h2 = _csv(client.get(f"/hospital/account/journal.csv?hospital={world.hospitals['H2']}"))[1:]
    assert sorted(row[ENTRY] for row in asked_for_h2) == sorted(row[ENTRY] for row in rows)
    quarter = client.get(f"/hospital/account?period={book.next_quarter.id}").text
    xlsx = client.get(_download_links(quarter)["Download XLSX"])
    assert xlsx.content_type == XLSX_TYPE and _attachment(xlsx) == "journal-2026Q4-H1.xlsx"
    body = list(load_workbook(io.BytesIO(xlsx.data)).worksheets[0].iter_rows(values_only=True))[1:]
    assert [(row[ENTRY], row[AMOUNT]) for row in body] == [(book.recovery.id, -25)]
    assert client.get("/staff/ledger/journal.csv").status_code == 403


def test_who_may_download(client: FlaskClient, world: World) -> None:
    _book(world)
    login(client, "expert1")
    assert client.get("/staff/ledger/journal.csv").status_code == 403
    assert client.get("/hospital/account/journal.xlsx").status_code == 403
    login(client, "admin")
    assert client.get("/staff/ledger/journal.xlsx").status_code == 200
    assert client.get("/staff/ledger/journal.pdf").status_code == 404
    login(client, "staff")
    assert client.get("/hospital/account/journal.csv").status_code == 403
