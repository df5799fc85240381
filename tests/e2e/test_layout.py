"""Pages that fit (issue 15 §4): at a desk (1366 × 768) and on a phone (390 × 844) no page scrolls sideways; a wide
table scrolls inside its own box with its first column held in place; the import preview shows its problems.

One Debian Chromium, a world with cases, panels, decisions, a sample and imports, and every role's main pages at both
sizes, with CSRF on (the `served` fixture of test_browser.py).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from flask import Flask

from review.extensions import db
from review.models import Assignment, ImportJob, ReviewItem
from review.services import api_tokens, documents, intake, sampling
# `served` is a pytest fixture: importing it makes it available to this module's tests.
from tests.e2e.test_browser import PDF, browser_page, login, served  # noqa: F401
from tests.factories import World, seat_panels
from tests.integration.test_application_path import _apply
from tests.integration.test_decision_queue import APPROVE, PARTIAL, make_decisions
from tests.integration.test_intake import csv_bytes, rows
from tests.integration.test_sampling_calendar import CONFIG, _population

DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
# A file name as long as hospital systems write them; the case number and evidence name below are as long.
LONG_FILE = "2026Q3-discharges-exported-from-the-hospital-information-system-cardiology-final-v2.csv"

# Everything on the page that does not fit the viewport and is not inside a table's own scroll box, with the
# table boxes themselves: the test names what spills instead of only saying that something does.
MEASURE = """() => {
  const doc = document.documentElement, body = document.body, width = doc.clientWidth;
  const spill = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.table-wrap') && !el.matches('.table-wrap')) continue;
    const box = el.getBoundingClientRect();
    if (box.width && (box.right > width + 0.5 || box.left < -0.5))
      spill.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')}#${el.id} ${Math.round(box.left)}..${Math.round(box.right)}`);
  }
  const tables = [...document.querySelectorAll('table')].map(t => {
    const wrap = t.parentElement, first = t.querySelector('tr > :first-child');
    return {wrapped: wrap.matches('.table-wrap'), scrolls: getComputedStyle(wrap).overflowX,
            wide: t.offsetWidth > wrap.clientWidth + 1, right: wrap.getBoundingClientRect().right,
            sticky: first ? getComputedStyle(first).position : 'none', id: t.id || t.className};
  });
  return {body: [body.scrollWidth, body.clientWidth], doc: [doc.scrollWidth, doc.clientWidth], width,
          spill: spill.slice(0, 8), tables};
}"""


@dataclass
class Pages:
    """The main pages of each role, as (user, [paths])."""

    by_user: list[tuple[str, list[str]]]
    preview: str


def _populate(app: Flask, world: World) -> Pages:
    """Decisions, an open scoresheet, a record sample, evidence, a token and two imports with a bad row."""
    with app.app_context():
        _population(world)
        plan = sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "2026-10-08 lottery 0815")
        make_decisions(world, [("hosp1", "ZY2026080001", APPROVE), ("hosp2", "ZY2026080003", PARTIAL)])
        item = _apply(world, case_no="ZY-CARDIOLOGY-2026-080000000017")
        documents.upload_evidence(world.actors["hosp1"], item.id, io.BytesIO(PDF),
                                  "discharge-summary-scanned-at-the-ward-2026-08-20-page-1-of-1.pdf", "other")
        run = seat_panels(world)
        assignment = db.session.scalars(db.select(Assignment).where(Assignment.item_id == item.id)).first()
        expert = next(name for name, expert_id in world.experts.items() if expert_id == assignment.expert_id)
        api_tokens.create_token(world.actors["hosp1"], "HIS nightly export of discharged cases")
        bad = csv_bytes(rows({}, {"principal_dx": "I21.99X", "total_cost": "-5"}, {"discharge_date": "2025-02-30"}))
        finished = intake.upload(world.actors["hosp1"], io.BytesIO(bad), LONG_FILE)
        intake.start(world.actors["hosp1"], finished.id, "valid_rows")
        assert db.session.get_one(ImportJob, finished.id).rejected == 2  # its page lists the problems
        preview = intake.upload(world.actors["hosp1"], io.BytesIO(bad), LONG_FILE).id
        case_id = db.session.get_one(ReviewItem, item.id).case_id
        cycle = world.cycle_id
        pages = Pages(preview=f"/hospital/imports/{preview}", by_user=[
            ("hosp1", ["/hospital/", f"/hospital/cases/{case_id}", f"/hospital/items/{item.id}", "/hospital/cases/new",
                       "/hospital/cases/apply", "/hospital/imports", f"/hospital/imports/{preview}",
                       f"/hospital/imports/{finished.id}", "/hospital/tokens"]),
            (expert, ["/expert/", f"/expert/assignments/{assignment.id}"]),
            ("staff", ["/staff/", f"/staff/?cycle={cycle}", "/staff/cycles", f"/staff/items/{item.id}",
                       f"/staff/cycles/{cycle}/decisions", f"/staff/cycles/{cycle}/sampling",
                       f"/staff/sampling/{plan.id}", f"/staff/cycles/{cycle}/panel", "/staff/experts",
                       f"/staff/experts/{world.experts[expert]}", f"/staff/assignment-runs/{run.id}",
                       "/staff/activity", "/staff/policy", "/staff/jobs", "/staff/average-costs"]),
            ("admin", ["/staff/policy", "/staff/experts", "/staff/experts/new", "/staff/specialties",
                       "/staff/holidays"]),
            ("auditor", ["/staff/activity"]),
        ])
        db.session.remove()
    return pages


def _misfits(facts: dict, where: str) -> list[str]:
    """What keeps a page from fitting: a sideways scroll, spilling elements, a table outside its own scroll box."""
    found = []
    if facts["body"][0] > facts["body"][1] or facts["doc"][0] > facts["doc"][1]:
        found.append(f"{where}: scrolls sideways (body {facts['body']}, html {facts['doc']}): {facts['spill']}")
    elif facts["spill"]:
        found.append(f"{where}: spills {facts['spill']}")
    for table in facts["tables"]:
        if not table["wrapped"] or table["scrolls"] != "auto" or table["right"] > facts["width"] + 0.5:
            found.append(f"{where}: table not in a scroll box that fits: {table}")
        elif table["wide"] and table["sticky"] != "sticky":
            found.append(f"{where}: wide table without a fixed first column: {table}")
    return found


def _problems_out_of_view(page, width: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The preview's Problems heading and first problem are on screen without scrolling the table."""
    boxes = [page.locator("table th", has_text="Problems").bounding_box(),
             page.locator("table td .error-text").first.bounding_box()]
    return [f"import preview: Problems column out of view at {width} px: {box}" for box in boxes
            if box is None or box["x"] + box["width"] > width]


def test_every_role_s_pages_fit_a_desk_and_a_phone(served) -> None:  # type: ignore[no-untyped-def]
    app, world, base = served
    pages = _populate(app, world)
    wide_seen, misfits = set(), []
    with browser_page() as page:
        for size in (DESK, PHONE):
            page.set_viewport_size(size)
            for user, paths in pages.by_user:
                login(page, base, user)
                for path in paths:
                    response = page.goto(base + path)
                    assert response is not None and response.status == 200, path
                    facts = page.evaluate(MEASURE)
                    misfits += _misfits(facts, f"{path} at {size['width']} px")
                    if any(t["wide"] for t in facts["tables"]):
                        wide_seen.add((size["width"], path))
                    if path == pages.preview:
                        misfits += _problems_out_of_view(page, size["width"])
    assert not misfits, "\n".join(misfits)
    # The sticky-column check is not vacuous: on a phone the wide tables do overflow their boxes.
    assert (PHONE["width"], pages.preview) in wide_seen, wide_seen
    assert len({path for width, path in wide_seen if width == PHONE["width"]}) > 3, wide_seen
