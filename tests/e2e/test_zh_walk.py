"""In 简体中文 the product speaks Chinese all the way down (issue 15 §1): every page and every file each role can open
(HTML, the letter PDFs, the CSV/XLSX exports and reports) is read for runs of Latin words, and a run that is not a
code, a name or another value from the world's own records, nor a term a Chinese office writes in Latin letters
(ALLOW), fails the test with the address it came from.

The routes are walked from the url_map, so a new page is read here from the day it exists. Nothing here depends on
the database backend (it reads rendered pages), so the walk runs on SQLite only, to stay fast.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from flask_babel import refresh
from openpyxl import load_workbook
from sqlalchemy import String, Text

from review.extensions import db
from review.intake.template import EXAMPLE as IMPORT_EXAMPLE
from review.models import Assignment, Cycle, Decision, Job, ReviewItem, Scoresheet, Settlement
from review.services import (cases, decisions, documents, experts, exports, holidays, intake, jobs, periods,
                             recusal, reviews, sampling, settlements, users)
from review.services.experts import EXAMPLE as EXPERT_EXAMPLE
from review.services.experts import ConflictInput
from review.services.hospitals import EXAMPLE as HOSPITAL_EXAMPLE
from review.services.users import UserInput
from tests.e2e.test_walkthrough import login
from tests.factories import World, ami_case, seat_panels
from tests.integration.test_application_path import PDF, _apply
from tests.integration.test_decision_queue import APPROVE, PARTIAL, REJECT, make_decisions, open_all
from tests.integration.test_intake import csv_bytes, rows
from tests.integration.test_jobs import LOST, broker, killed_while_running, later, outbox
from tests.integration.test_record_review import FINDING
from tests.pdftext import pdf_text
from tests.route_walk import USER_FOR_ROLE, fill_url, hospital1_objects
from workflows.intake import CATEGORY_ALIASES
from workflows.intake import COLUMNS as IMPORT_COLUMNS
from workflows.sampling import PlanConfig

ALLOW = frozenset({
    # Grouping and coding systems, written in Latin letters in every Chinese DRG regulation and on the national
    # medical-insurance platform itself: the DRG and its American version, major diagnostic categories, the
    # complication levels, the ICD and its clinical and procedure editions.
    "DRG", "MS-DRG", "MDC", "CC", "MCC", "ICD", "ICD-10", "ICD-10-CM", "ICD-10-PCS",
    # Clinical terms Chinese medical records write in Latin letters: the intensive care unit (重症监护室 is signed
    # ICU on every ward), percutaneous coronary intervention and the ECG's ST segment (非ST段抬高型心肌梗死).
    "ICU", "PCI", "ST",
    # The grouper's source (CMS MS-DRG v43) is cited by its issuer's name, and its coverage edits as Medicare's,
    # the US payer they were written for.
    "CMS", "Medicare",
    # File formats and encodings named on download buttons and upload hints, and the units of a file's size: a
    # Chinese office calls them by these names.
    "PDF", "CSV", "XLSX", "Excel", "ZIP", "PNG", "JPEG", "UTF-8", "GB18030", "KB", "MB",
    # Technical names shown to the office as they are: the hospital systems' API and its OpenAPI description, a
    # file's SHA-256 fingerprint, the IP address the register records, and chinese-calendar, the package the State
    # Council's calendar is seeded from.
    "API", "OpenAPI", "SHA-256", "IP", "chinese-calendar",
})
"""Latin-letter terms a Chinese medical-insurance office writes as they are. Keep it short: anything else in Latin
letters on a zh page is either a value of the records (DATA below) or a leak."""



WORD_RUN = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z]{2,}(?:[ \t\u00a0]+[A-Za-z]{2,})*(?![A-Za-z0-9_])")
"""A run of Latin words (two letters or more, not part of a code such as ZY2026080001 or I21.4) joined by spaces."""
NOT_WORDS = re.compile(r"https?://\S+|(?<![\w/])/[\w/.-]+|YYYY-MM-DD|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
                       r"|[\w.()-]+\.(?:pdf|csv|xlsx|zip|png|jpe?g)\b", re.IGNORECASE)
"""URLs (a letter prints its check page's path), e-mail addresses, file names and the date format: data a page
shows as it is."""

DATA_COLUMNS = {
    "drg_catalogue": ("drg", "title"),  # CMS titles exist only in English; the pages show them beside the code
    "regions": ("code", "name_en"), "hospitals": ("code", "name_en"), "experts": ("code", "name_en", "note"),
    "users": ("username", "display_name"), "api_tokens": ("name", "prefix"),
    "cycles": ("code",), "cycle_volumes": ("override_reason",), "expert_conflicts": ("reason",),
    "export_jobs": ("filename",), "import_jobs": ("filename",), "documents": ("filename",),
    "letterheads": ("issuer_code_en", "bureau_name_en", "legal_basis_en", "address_en", "contact"),
    "policies": ("note",), "assignment_runs": ("published_value", "algorithm_version"),
    "sampling_plans": ("published_value", "algorithm_version"), "assignment_jobs": ("published_value",),
    "cases": ("case_no", "principal_dx", "hospital_drg", "drg", "grouper_version"),
    "review_items": ("reason", "withdrawn_reason"), "assignments": ("recusal_reason",),
    "decisions": ("verification_code", "letter_ref_zh", "letter_ref_en", "drg", "drg_after"),
    "scoresheets": ("rationale", "corrected_principal_dx", "corrected_principal_procedure"),
    "journal_entries": ("idempotency_key",),  # a key names what it books (decision:5:v1), shown as it is stored
}
"""The free text, names and codes people typed or the catalogue holds: shown as they were written, in any script.
Coded columns (states, kinds, roles, holiday names from the package) are deliberately absent: they need labels."""

CONTEXT_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
CODE_TAGS = ("code", "kbd", "samp")
"""Elements that show a code as it is typed (a command, a file's column name, a JSON record); so does class "mono"."""
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                       "wbr"})


class VisibleText(HTMLParser):
    """What a reader sees or hears of a page: text nodes outside <script>/<style>, the attributes a browser shows
    or reads out, and the labels of buttons given as values. One chunk per node, so words of two cells never join.
    Codes (CODE_TAGS, class "mono") and what the page itself marks as another language (`lang="en"`, such as the
    language switch) are left out: they are meant to be read as they are."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._open: list[tuple[str, bool]] = []  # (tag, hides its text) for every element still open

    def _hidden(self) -> bool:
        return any(hides for _tag, hides in self._open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        hides = (tag in ("script", "style", *CODE_TAGS) or "mono" in values.get("class", "").split()
                 or not values.get("lang", "zh").startswith("zh"))
        if tag not in VOID_TAGS:
            self._open.append((tag, hides))
        if hides or self._hidden():
            return
        self.chunks += [values[name] for name in CONTEXT_ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.chunks.append(values["value"])

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):  # tolerate an unclosed <p> or <li> inside
            if self._open[index][0] == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.chunks.append(" ".join(data.split()))


def html_text(body: str) -> list[str]:
    parser = VisibleText()
    parser.feed(body)
    parser.close()
    return parser.chunks


def table_text(rows_: Iterable[Iterable[object]]) -> list[str]:
    return [str(cell) for row in rows_ for cell in row if isinstance(cell, str) and cell.strip()]


SHOWN_KEYS = ("summary", "message", "errors")
"""What the page scripts (static/js/) put on screen from a JSON answer; the rest (states, counts) they only test."""


def json_text(value: object, shown: bool = False) -> Iterator[str]:
    """The strings of a JSON answer that a page script shows."""
    if isinstance(value, str) and shown:
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from json_text(item, shown or key in SHOWN_KEYS)
    elif isinstance(value, list):
        for item in value:
            yield from json_text(item, shown)


def readable_text(body: bytes, content_type: str) -> list[str]:
    """The text a person reads in one answer, whatever its format."""
    kind = content_type.split(";")[0].strip()
    if kind == "text/html":
        return html_text(body.decode())
    if kind == "application/pdf":
        return pdf_text(body).splitlines()
    if kind == "text/csv":
        return table_text(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    if kind == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        book = load_workbook(io.BytesIO(body), read_only=True)
        return [text for sheet in book.worksheets for text in table_text(sheet.iter_rows(values_only=True))]
    if kind == "application/json":
        return list(json_text(json.loads(body)))
    raise AssertionError(f"no reader for {content_type}")


@dataclass(frozen=True)
class Known:
    """Values a page may show in Latin letters: `within` anywhere in a text (names and codes of the world's
    records), `cells` only as a whole cell or node (the import file format's field keys, its English headers and
    the template's sample row: common words such as "age" or "reason" must not hide the same word in a sentence)."""

    within: list[str]
    cells: frozenset[str]


def known_values() -> Known:
    within: set[str] = set()
    for table_name, names in DATA_COLUMNS.items():
        for name in names:
            column = db.metadata.tables[table_name].c[name]
            assert isinstance(column.type, (String, Text)), (table_name, name)
            within.update(value for value in db.session.scalars(db.select(column).distinct())
                          if value and re.search("[A-Za-z]{2}", value))  # a number (DRG 256) is never a word
    within.update(answers.get("cost_reasons", "") for answers in db.session.scalars(db.select(Scoresheet.answers)))
    within.update(json.loads(error)["params"].get("worker", "")  # a worker's host name, in a job's stored reason
                  for error in db.session.scalars(db.select(Job.last_error)) if error.startswith("{"))
    within.update(CATEGORY_ALIASES)  # the category codes a case file may give, listed by the import template
    cells = {text for column in IMPORT_COLUMNS for text in (column.key, column.header_en)}
    cells.update(value for value in IMPORT_EXAMPLE.values() if isinstance(value, str))
    # the register templates' example rows: an English name in the English-name column, specialty codes
    cells.update(value for example in (EXPERT_EXAMPLE, HOSPITAL_EXAMPLE) for value in example.values())
    return Known(within=sorted(filter(None, within), key=len, reverse=True), cells=frozenset(cells))


def _without(text: str, terms: Iterable[str]) -> str:
    for term in terms:
        if term in text:
            text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(term)}(?![A-Za-z0-9_])", " ", text)
    return text


def latin_runs(chunks: Iterable[str], known: Known) -> set[str]:
    """The runs of Latin words left once known values, URLs, file names and ALLOW are taken out."""
    allowed = sorted(ALLOW, key=len, reverse=True)
    runs: set[str] = set()
    for chunk in chunks:
        if chunk.strip() in known.cells:
            continue
        rest = _without(_without(NOT_WORDS.sub(" ", chunk), known.within), allowed)
        runs.update(match.group(0) for match in WORD_RUN.finditer(rest))
    return runs


@dataclass
class Walk:
    """The ids that fill each route's arguments, per role: one request per id listed (a route with two kinds of
    object, or an object in two states, is read for each)."""

    ids: dict[str, dict[str, list[int]]]
    words: dict[str, list[str]]
    users: dict[str, str]


def _decision_of(item_id: int) -> Decision:
    return db.session.scalars(db.select(Decision).where(Decision.item_id == item_id)).one()


def _expert_name(world: World, expert_id: int) -> str:
    return next(name for name, known in world.experts.items() if known == expert_id)


def _statement(world: World, disputed_item_id: int) -> tuple[int, int]:
    """The quarter closed and H1's statement (the only hospital whose money moved) drawn, issued and disputed,
    naming `disputed_item_id`. Returns (the statement, the draft run)."""
    cycle = db.session.get(Cycle, world.cycle_id)
    periods.close(world.actors["staff"], "T01", cycle.code)
    run = settlements.start_drafts(world.actors["staff"], "T01", cycle.code)
    statement = db.session.scalars(db.select(Settlement.id).where(
        Settlement.hospital_id == world.hospitals["H1"])).one()
    settlements.issue(world.actors["staff"], statement)
    settlements.dispute(world.actors["hosp1"], statement, "ICU 病例的补付金额少于专家组的结论，请核对。",
                        [disputed_item_id])
    return statement, run.id


def build_walk(world: World) -> Walk:
    """A cycle with something on every screen: an issued approval (hospital1_objects), a partial approval and a
    rejection issued, a decision proposed, an application returned, an application in review with a recusal and a
    draft, a record sample with its record-review letter and a second whose panel split, an import run with errors
    and one the job runner gave up on, exports in Chinese, a declared
    conflict, a specialty relation, the national calendar and an invitation not yet accepted."""
    staff, admin, hosp1 = world.actors["staff"], world.actors["admin"], world.actors["hosp1"]
    cycle = db.session.get(Cycle, world.cycle_id)
    holidays.seed(admin, world.region_id, [cycle.quarter_start.year])  # deadlines count its working days
    hospital_ids, _expert_ids = hospital1_objects(world)
    approved_item = db.session.get(ReviewItem, hospital_ids["item_id"])
    partial, rejected, proposed = make_decisions(world, [("hosp1", "ZY2026080002", PARTIAL),
                                                         ("hosp2", "ZY2026080003", REJECT),
                                                         ("hosp1", "ZY2026080004", APPROVE)])
    decisions.issue_many(staff, open_all(world, [partial, rejected]))
    returned = _apply(world, case_no="ZY2026080005", total_cost_fen=6_000_000, icu_days=0)

    in_review = _apply(world, case_no="ZY2026080006")
    sampled_case = cases.create_case(hosp1, ami_case(case_no="ZY2026080007", total_cost_fen=30_000_000))
    plan = sampling.create_plan(staff, world.cycle_id, PlanConfig(share=Decimal("1")), "2026-11-16 lottery 0815")
    sampled = db.session.scalars(db.select(ReviewItem).where(ReviewItem.case_id == sampled_case.id)).one()
    split = db.session.scalars(db.select(ReviewItem).where(  # a second record, on which the panel will split
        ReviewItem.sampling_plan_id == plan.id, ReviewItem.hospital_id == world.hospitals["H1"],
        ReviewItem.id != sampled.id).order_by(ReviewItem.id)).first()
    for record in (sampled, split):
        documents.upload_evidence(hosp1, record.id, io.BytesIO(PDF), "record.pdf", "front_page")
        sampling.submit_records(hosp1, record.id)
    run = seat_panels(world)
    for seated_item in (in_review, sampled, split):
        db.session.refresh(seated_item)
    first, second, *_rest = in_review.assignments
    reviews.save_sheet(world.actors[_expert_name(world, first.expert_id)], first.id, reviews.SheetInput(
        recommendation="approve", unreasonable_cost_fen=0, rationale="Stay justified by the records.",
        lock_version=0), submit=False)
    recusal.recuse(world.actors[_expert_name(world, second.expert_id)], second.id,
                   "A colleague of mine treated this patient.")
    votes = [(sampled, "I21.09"), (sampled, "I21.09"), (sampled, "I21.09"), (split, "I21.09"), (split, "I21.19"),
             (split, "")]  # the second panel has no majority: its chair is asked to rule
    for (record, dx), assignment in zip(votes, [*sampled.assignments, *split.assignments]):
        reviews.save_sheet(world.actors[_expert_name(world, assignment.expert_id)], assignment.id,
                           reviews.SheetInput(recommendation=None, unreasonable_cost_fen=0, rationale=FINDING,
                                              lock_version=0, admission_justified=True, principal_dx_correct=not dx,
                                              corrected_principal_dx=dx, principal_procedure_correct=True),
                           submit=True)
    record_review = _decision_of(sampled.id)
    decisions.issue_many(staff, open_all(world, [record_review.id]))

    failed_import = intake.upload(hosp1, io.BytesIO(csv_bytes(rows({}, {"age": "200"}))), "q4.csv")
    intake.start(hosp1, failed_import.id, "valid_rows")
    stopped_import = intake.upload(hosp1, io.BytesIO(csv_bytes(rows({}))), "q5.csv")  # its worker died: given up
    current_app.config["JOB_MAX_ATTEMPTS"] = 1
    with broker(current_app, LOST):
        intake.start(hosp1, stopped_import.id, "valid_rows")
    killed_while_running(outbox("import", stopped_import.id))
    with later(current_app, "JOB_STALE_AFTER_SECONDS"):
        jobs.sweep()
    export_ids = [exports.start(staff, world.cycle_id, kind, locale="zh_CN").id
                  for kind in ("decisions_csv", "decisions_xlsx")]
    expert1 = world.experts["expert1"]
    experts.declare_conflict(admin, expert1, ConflictInput(hospital_id=world.hospitals["H2"], ends_on=None,
                                                           starts_on=cycle.quarter_start, reason="Former employer."))
    experts.add_relation(admin, "cardiology", "critical_care")
    invited = users.create_with_invitation(admin, UserInput(username="newclerk", display_name="New Clerk",
                                                            role="hospital", hospital_id=world.hospitals["H1"]))
    statement, draft_run = _statement(world, approved_item.id)

    issued = [hospital_ids["decision_id"], partial, rejected, record_review.id]
    h1_items = [approved_item.id, returned.id, in_review.id, sampled.id, split.id]
    seated = min(split.assignments, key=lambda a: a.rank).expert_id  # the chair asked to rule reads the most
    expert_assignments = db.session.scalars(db.select(Assignment.id).where(Assignment.expert_id == seated)).all()
    office = {"cycle_id": [world.cycle_id], "decision_id": [*issued, proposed],
              "item_id": h1_items,
              "job_id": [run.id], "expert_id": [expert1], "hospital_id": [world.hospitals["H1"]],
              "plan_id": [plan.id], "region_id": [world.region_id], "user_id": [invited.user_id, world.users["hosp1"]],
              "exports": export_ids, "settlement_id": [statement], "run_id": [draft_run]}
    evidence = hospital_ids["document_id"]
    return Walk(
        ids={"hospital": {"item_id": h1_items, "case_id": [approved_item.case_id, sampled_case.id],
                          "job_id": [hospital_ids["job_id"], failed_import.id, stopped_import.id], "document_id": [evidence],
                          "decision_id": [hospital_ids["decision_id"], partial, record_review.id],
                          "token_id": [hospital_ids["token_id"]], "settlement_id": [statement]},
             "expert": {"assignment_id": list(expert_assignments), "document_id": [evidence]},
             "staff": office, "admin": office, "auditor": office},
        words={"fmt": ["csv", "xlsx"], "token": [invited.token],
               "code": [db.session.get(Decision, issued[0]).verification_code]},
        users={**USER_FOR_ROLE, "expert": _expert_name(world, seated)})


EXPORT_RULES = ("/staff/exports/",)
NOT_FOR_READERS = {"shared.document", "api_v1.openapi", "api.healthz"}
"""Not read: a document as the hospital uploaded it (its words are the hospital's), the API's description for the
hospital's programmers (in the API's own field names), and the load balancer's probe."""
QUERY = {"expert.regroup": "?dx=I21.09"}
"""Routes that read their subject from the query: a corrected diagnosis to regroup with."""


def _urls(app: Flask, walk: Walk, role: str) -> Iterator[str]:
    """Every GET route of `role` with each listed id (exports' job ids for the export routes)."""
    ids = walk.ids.get(role, {})
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in ("static", *NOT_FOR_READERS) or "GET" not in rule.methods or role not in view.allowed_roles:
            continue
        names = re.findall(r"<(?:int:)?(\w+)>", rule.rule)
        choices = [ids["exports"] if name == "job_id" and rule.rule.startswith(EXPORT_RULES) else
                   ids.get(name) or walk.words.get(name) for name in names]
        assert all(choices), f"{rule.rule}: give {role} an object for each of {names} in build_walk"
        for index in range(max([len(choice) for choice in choices] + [1])):
            picked = {name: choice[index % len(choice)] for name, choice in zip(names, choices)}
            url = fill_url(rule.rule, picked.__getitem__, picked.__getitem__)  # type: ignore[arg-type]
            yield url + QUERY.get(rule.endpoint, "")


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_every_page_and_file_reads_in_chinese(app: Flask, world: World, client: FlaskClient) -> None:
    walk = build_walk(world)
    known = known_values()
    client.post("/lang/zh_CN")
    refresh()  # the test's app context outlives each request, and Babel keeps the first request's locale in it
    leaks: set[tuple[str, str]] = set()
    read = 0
    for role in ("anonymous", *USER_FOR_ROLE):
        if role != "anonymous":
            login(client, walk.users[role])
        for url in _urls(app, walk, "public") if role == "anonymous" else _urls(app, walk, role):
            response = client.get(url)
            if response.status_code == 302:  # `/` sends each reader to their start page, walked in its turn
                continue
            refusal = response.is_json and response.status_code in (409, 422)  # a page script shows its message
            assert response.status_code in (200, 202) or refusal, (role, url, response.status_code)
            leaks.update((url, run) for run in latin_runs(readable_text(response.data, response.content_type), known))
            read += 1
        for letter in walk.ids.get(role, {}).get("decision_id", []) if role in ("hospital", "staff") else []:
            url = f"/decisions/{letter}/letter.pdf?lang=zh_CN"
            response = client.get(url)
            if response.content_type == "application/pdf":
                leaks.update((url, run) for run in latin_runs(readable_text(response.data, "application/pdf"), known))
    assert read > 60
    assert sorted(leaks) == [], "\n".join(f"{url}\t{run}" for url, run in sorted(leaks))
