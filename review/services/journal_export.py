"""The journal as a file (issue 14 §3): exactly the entries the ledger page lists under its filters, as CSV or XLSX
in the reader's language, for the office and auditors (every hospital) and for a hospital (its own entries).

The rows come from `ledger_pages.journal`, so the download can never show more than the page: the hospital scope
and the filters live in that one query. Coded values leave as labels (an entry's kind as "补付", not "supplement"),
amounts as numbers signed as the hospital reads them (what the fund owes it), times in the region's wall clock.
The entry's memo is not a column: it is English wording of the posting plan (workflows/ledger.py) with the raw
kind in it, and everything it says is in the other columns, the reversed entry included.

The query is read in batches into a temporary file, so a quarter of 100,000 entries never sits in memory.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, NamedTuple

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from review import labels
from review.extensions import db
from review.models import AccountingPeriod, Case, Hospital, JournalEntry, Region, ReviewItem
from review.services import ledger_pages
from review.services.context import HIDDEN, Actor, NotFound
from review.spreadsheets import MINUTE, Cell, local_time, money, write_csv, write_xlsx
from workflows.states import Role

READERS = (Role.STAFF, Role.ADMIN, Role.AUDITOR, Role.HOSPITAL)
"""Who may download: the journal query scopes a hospital to its own account and every other reader to none, so
an expert is refused here rather than given the whole journal."""

CONTENT_TYPES = {
    "csv": "text/csv",  # Flask's send_file adds "; charset=utf-8" to a text type, which the file is (with its BOM)
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

HEADERS = (
    _l("Entry"), _l("Posted at"), _l("Period"), _l("Corrects period"), _l("Hospital code"), _l("Hospital"),
    _l("Kind"), _l("Amount due to the hospital (yuan)"), _l("Case number"), _l("Decision version"),
    _l("Letter reference"), _l("Idempotency key"), _l("Reverses entry"),
)
"""The amount's header states its sign: positive when the fund owes the hospital (a supplement), negative when the
hospital pays back (a recovery), the opposite of the hospital account's own line."""
_WIDTHS = (8, 18, 10, 12, 12, 28, 12, 16, 20, 8, 22, 24, 10)

BATCH = 1000
"""Rows fetched from the database at a time while the file is written."""


class JournalFile(NamedTuple):
    """A written export, rewound, for the view to send and close."""

    file: IO[bytes]
    content_type: str
    filename: str


def export(actor: Actor, wanted: ledger_pages.JournalFilter, fmt: str) -> JournalFile:
    """The journal under `wanted` in `fmt` ("csv" or "xlsx"), written in the current locale."""
    actor.require(*READERS)
    if fmt not in CONTENT_TYPES:
        raise NotFound(HIDDEN)
    output = tempfile.TemporaryFile()
    try:
        if fmt == "csv":
            write_csv(HEADERS, rows(actor, wanted), output)
        else:
            write_xlsx(str(_l("Journal")), HEADERS, _WIDTHS, rows(actor, wanted), output)
    except BaseException:
        output.close()
        raise
    output.seek(0)
    return JournalFile(output, CONTENT_TYPES[fmt], filename(actor, wanted, fmt))


def rows(actor: Actor, wanted: ledger_pages.JournalFilter) -> Iterator[list[Cell]]:
    """One row per entry, newest first as on the page; the journal's query with the columns only the file shows."""
    corrected = aliased(AccountingPeriod)
    query = (ledger_pages.journal(actor, wanted)
             .join(Region, Region.id == Hospital.region_id)
             .outerjoin(Case, Case.id == ReviewItem.case_id)
             .outerjoin(corrected, corrected.id == JournalEntry.corrects_period_id)
             .add_columns(Region.timezone, Case.case_no, corrected.code))
    locale = get_locale()
    zh = locale is not None and locale.language == "zh"
    for entry, hospital_fen, hospital, decision, _item, zone, case_no, corrects in db.session.execute(
            query.execution_options(yield_per=BATCH)):
        letter_ref = (decision.letter_ref_zh if zh else decision.letter_ref_en) if decision else None
        yield [
            Cell(entry.id), Cell(local_time(entry.posted_at, zone), MINUTE), Cell(entry.period), Cell(corrects),
            Cell(hospital.code), Cell(hospital.name_zh if zh else hospital.name_en),
            Cell(str(labels.LEDGER_KIND[ledger_pages.kind_of(entry, hospital_fen, decision)])),
            money(-hospital_fen),
            Cell(case_no), Cell(decision.version if decision else None), Cell(letter_ref),
            Cell(entry.idempotency_key), Cell(entry.reverses_entry_id),
        ]


def filename(actor: Actor, wanted: ledger_pages.JournalFilter, fmt: str) -> str:
    """`journal-2026Q3.csv`, with the hospital's code when it is one hospital's entries (`journal-2026Q3-H1.xlsx`)."""
    period = db.session.get(AccountingPeriod, wanted.period_id) if wanted.period_id else None
    hospital_id = actor.hospital_id if actor.role == Role.HOSPITAL else wanted.hospital_id
    hospital = db.session.get(Hospital, hospital_id) if hospital_id else None
    parts = ["journal", period.code if period else "", hospital.code if hospital else ""]
    return "-".join(part for part in parts if part) + f".{fmt}"
