"""Panels after the draw: the expert's inbox with deadlines, stepping down, and the office's view of the seats.

The HTTP tests run on SQLite and PostgreSQL with the Flask client; the browser test drives Debian's Chromium
against the served app of test_browser.py (same fixture, same login), with CSRF on.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from review.extensions import db
from review.models import Assignment, Cycle, ExpertConflict, ReviewItem
from review.services import recusal, reviews
from review.services.cycles import region_today
# `served` is a pytest fixture: importing it makes it available to this module's tests.
from tests.e2e.test_browser import CHROMIUM, browser_page, expect, login, served  # noqa: F401
from tests.e2e.test_walkthrough import login as client_login
from tests.factories import World, seat_panels
from tests.integration.test_recusal import REASON, add_expert
from tests.integration.test_recusal import _apply as apply_for_h1

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


def _seated(world: World, *, spare: bool = True) -> tuple[ReviewItem, list[tuple[int, str]]]:
    """An H1 application with an applied panel; `spare` adds a fourth eligible expert so a replacement exists."""
    if spare:
        add_expert(world, "expert7", "H2")
    item = apply_for_h1(world)
    seat_panels(world)
    names = {expert_id: name for name, expert_id in world.experts.items()}
    panel = [(a.id, names[a.expert_id]) for a in db.session.get(ReviewItem, item.id).assignments]
    return item, panel


# --- HTTP: who may step down, and what each page shows ------------------------------------------------


def test_recuse_route_is_for_the_assigned_expert_only(client, world) -> None:  # type: ignore[no-untyped-def]
    item, panel = _seated(world)
    assignment_id, owner = panel[0]
    url = f"/expert/assignments/{assignment_id}/recuse"
    anonymous = client.post(url, data={"recusal-reason": REASON})
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for username in ("hosp1", "staff", "auditor"):
        client_login(client, username)
        assert client.post(url, data={"recusal-reason": REASON}).status_code == 403, username
    client_login(client, panel[1][1])
    assert client.post(url, data={"recusal-reason": REASON}).status_code == 404
    client_login(client, owner)
    assert client.get(url).status_code == 405
    db.session.expire_all()
    assert db.session.get(Assignment, assignment_id).status == "active"


def test_short_reason_is_shown_on_the_form(client, world) -> None:  # type: ignore[no-untyped-def]
    item, panel = _seated(world)
    assignment_id, owner = panel[0]
    client_login(client, owner)
    response = client.post(f"/expert/assignments/{assignment_id}/recuse", data={"recusal-reason": " too busy "})
    assert response.status_code == 422
    assert 'id="recusal-reason-errors"' in response.text and "at least 10 characters" in response.text
    assert "<details class=\"panel recusal\" id=\"recusal\" open>" in response.text
    db.session.expire_all()
    assert db.session.get(Assignment, assignment_id).status == "active"


def test_stepping_down_leaves_the_inbox_and_records_the_conflict(client, world) -> None:  # type: ignore[no-untyped-def]
    item, panel = _seated(world)
    assignment_id, owner = panel[0]
    client_login(client, owner)
    inbox = client.get("/expert/")
    assert f'data-item="{item.id}"' in inbox.text and "0 of 1 submitted" in inbox.text
    response = client.post(f"/expert/assignments/{assignment_id}/recuse",
                           data={"recusal-reason": REASON, "recusal-declare_conflict": "y"}, follow_redirects=True)
    assert response.request.path == "/expert/"
    assert f"Item #{item.id} has left your list. A replacement expert has been seated." in response.text
    assert "conflict of interest with the item&#39;s hospital is recorded" in response.text
    assert f'data-item="{item.id}"' not in response.text
    assert f'data-item="{item.id}"' not in client.get("/expert/?show=all").text
    assert client.get(f"/expert/assignments/{assignment_id}").status_code == 404
    db.session.expire_all()
    conflict = db.session.scalars(db.select(ExpertConflict)).one()
    assert conflict.hospital_id == world.hospitals["H1"] and conflict.expert_id == world.experts[owner]


def test_no_replacement_says_so(client, world) -> None:  # type: ignore[no-untyped-def]
    item, panel = _seated(world, spare=False)  # the world has exactly three experts who may review H1's items
    client_login(client, panel[0][1])
    response = client.post(f"/expert/assignments/{panel[0][0]}/recuse", data={"recusal-reason": REASON},
                           follow_redirects=True)
    assert "No replacement could be seated yet" in response.text


def test_submitted_sheet_hides_the_panel_and_the_route_refuses(client, world) -> None:  # type: ignore[no-untyped-def]
    item, panel = _seated(world)
    assignment_id, owner = panel[0]
    client_login(client, owner)
    assert "Step down from this item" in client.get(f"/expert/assignments/{assignment_id}").text
    reviews.save_sheet(world.actors[owner], assignment_id, reviews.SheetInput(
        recommendation="approve", unreasonable_cost_fen=0, rationale="Supported by the records.", lock_version=0),
        submit=True)
    page = client.get(f"/expert/assignments/{assignment_id}")
    assert "Step down from this item" not in page.text and "/recuse" not in page.text
    refused = client.post(f"/expert/assignments/{assignment_id}/recuse", data={"recusal-reason": REASON},
                          headers={"Referer": f"/expert/assignments/{assignment_id}"}, follow_redirects=True)
    assert "A submitted scoresheet cannot be withdrawn" in refused.text
    db.session.expire_all()
    assert db.session.get(Assignment, assignment_id).status == "active"
    inbox = client.get("/expert/?show=submitted")
    assert f'data-item="{item.id}"' in inbox.text and "1 of 1 submitted" in inbox.text
    assert f'data-item="{item.id}"' not in client.get("/expert/").text  # "to review" is the default filter


@pytest.mark.clock_shift
def test_inbox_orders_by_deadline_and_marks_overdue(client, world) -> None:  # type: ignore[no-untyped-def]
    add_expert(world, "expert7", "H2")
    first = apply_for_h1(world)
    second = apply_for_h1(world, case_no="ZY2026080002")
    third = apply_for_h1(world, case_no="ZY2026080003")
    seat_panels(world)
    panels = [{a.expert_id for a in db.session.get(ReviewItem, i.id).assignments} for i in (first, second, third)]
    expert_id = min(panels[0] & panels[1] & panels[2])  # four eligible experts, nine seats: someone sits on all
    username = next(name for name, eid in world.experts.items() if eid == expert_id)
    # The third item belongs to an earlier cycle whose review deadline passed two days ago.
    cycle = db.session.get(Cycle, world.cycle_id)
    today = region_today(cycle.region)
    earlier = Cycle(region_id=cycle.region_id, code="2026Q2", quarter_start=cycle.quarter_start - timedelta(days=92),
                    quarter_end=cycle.quarter_start - timedelta(days=1), application_opens=today - timedelta(days=60),
                    application_closes=today - timedelta(days=45), review_deadline=today - timedelta(days=2),
                    status="open", policy_snapshot=cycle.policy_snapshot)
    db.session.add(earlier)
    db.session.flush()
    db.session.get(ReviewItem, third.id).cycle_id = earlier.id
    db.session.commit()

    client_login(client, username)
    inbox = client.get("/expert/").text
    positions = [inbox.index(f'data-item="{i.id}"') for i in (third, first, second)]
    assert positions == sorted(positions)  # deadline first, then item number
    assert inbox.count('class="row-overdue"') == 1 and "2 days overdue" in inbox
    assert earlier.review_deadline.isoformat() in inbox and cycle.review_deadline.isoformat() in inbox
    assert f"{(cycle.review_deadline - today).days} days left" in inbox
    assert "0 of 3 submitted" in inbox
    assert client.get("/expert/?show=bogus").status_code == 200


def test_inbox_is_scoped_to_the_expert(client, world) -> None:  # type: ignore[no-untyped-def]
    item, panel = _seated(world)
    outsider = next(name for name, eid in world.experts.items()
                    if eid not in {world.experts[username] for _, username in panel})
    client_login(client, outsider)
    for show in ("open", "submitted", "all"):
        assert f'data-item="{item.id}"' not in client.get(f"/expert/?show={show}").text


def test_staff_item_page_shows_recusal_and_open_seats(client, world) -> None:  # type: ignore[no-untyped-def]
    item, panel = _seated(world, spare=False)
    recusal.recuse(world.actors[panel[0][1]], panel[0][0], REASON)

    client_login(client, "staff")
    page = client.get(f"/staff/items/{item.id}").text
    assert 'class="assignment-recused"' in page and REASON.replace("'", "&#39;") in page
    assert page.count('class="assignment-active"') == 2
    assert 'id="open-seats"' in page and "2 of 3 experts are seated" in page
    assert f'action="/staff/items/{item.id}/fill-seats"' in page
    assert "Same specialty" in page and "Panel draw" in page

    client_login(client, "auditor")
    page = client.get(f"/staff/items/{item.id}").text
    assert 'id="open-seats"' in page and "/fill-seats" not in page

    add_expert(world, "expert7", "H3", title="chief_physician")
    client_login(client, "staff")
    filled = client.post(f"/staff/items/{item.id}/fill-seats", follow_redirects=True)
    assert "1 open seat(s) filled." in filled.text
    assert 'id="open-seats"' not in filled.text and "Replacement" in filled.text
    assert filled.text.count('class="assignment-active"') == 3


# --- the browser: staff draws, an expert steps down, the office sees the replacement ---------------------


@needs_chromium
def test_step_down_in_browser(served) -> None:  # type: ignore[no-untyped-def]
    app, world, base = served
    with app.app_context():
        add_expert(world, "expert7", "H2")  # a fourth eligible expert, so a replacement can be seated
        item_id = apply_for_h1(world).id
        deadline = db.session.get(Cycle, world.cycle_id).review_deadline
        db.session.remove()

    with browser_page() as page:
        # 1. The office starts an assignment run, waits for its summary and applies it.
        login(page, base, "staff")
        page.goto(f"{base}/staff/cycles/{world.cycle_id}/panel")
        page.fill("#published_value", "2026-11-23 lottery 0815")
        page.get_by_role("button", name="Start an assignment run").click()
        expect(page.locator("#run-summary dt:has-text('Seats filled') + dd")).to_have_text("3")
        page.get_by_role("button", name="Apply this assignment").click()
        expect(page.locator(".flash-success")).to_contain_text("The panels are seated")

        with app.app_context():
            assignment = db.session.get(ReviewItem, item_id).assignments[0]
            assignment_id, expert_id = assignment.id, assignment.expert_id
            db.session.remove()
        username = next(name for name, eid in world.experts.items() if eid == expert_id)

        # 2. The expert finds the item in the inbox with its deadline, opens it and steps down.
        login(page, base, username)
        row = page.locator(f"#inbox tr[data-item='{item_id}']")
        expect(row.locator(".deadline")).to_have_text(deadline.isoformat())
        expect(row.locator(".days-left")).to_contain_text("days left")
        expect(page.locator("#inbox-progress")).to_contain_text("0 of 1 submitted")
        row.get_by_role("link", name="Open").click()
        expect(page).to_have_url(re.compile(rf"/expert/assignments/{assignment_id}$"))
        page.locator("#recusal summary").click()
        page.fill("#recusal-reason", "Too busy")
        page.get_by_role("button", name="Step down", exact=True).click()
        expect(page.locator("#recusal-reason-errors")).to_contain_text("at least 10 characters")
        page.fill("#recusal-reason", REASON)
        page.get_by_role("button", name="Step down", exact=True).click()
        expect(page).to_have_url(re.compile(r"/expert/$"))
        expect(page.locator(".flash-success")).to_contain_text(f"Item #{item_id} has left your list")
        expect(page.locator(".flash-success")).to_contain_text("A replacement expert has been seated")
        expect(page.locator(f"#inbox tr[data-item='{item_id}']")).to_have_count(0)

        # 3. The office sees who stepped down, why and when, and who replaced them.
        login(page, base, "staff")
        page.goto(f"{base}/staff/items/{item_id}")
        recused = page.locator(f"#panel-table tr[data-expert='{expert_id}']")
        expect(recused.locator(".badge.status-recused")).to_have_text("Recused")
        expect(recused.locator(".recusal-reason")).to_have_text(REASON)
        expect(page.locator("#panel-table tr.assignment-active")).to_have_count(3)
        expect(page.locator("#panel-table tr.assignment-active", has_text="Replacement")).to_have_count(1)
        expect(page.locator("#open-seats")).to_have_count(0)
