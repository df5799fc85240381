"""The working-day calendar page over HTTP: an admin adds a year and marks a day, the cycle form follows; the other
office roles only read."""
from __future__ import annotations

from review.extensions import db
from review.models.holidays import Holiday
from tests.e2e.test_walkthrough import login
from tests.factories import clear_calendar


def rows() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Holiday))


def test_admin_adds_a_year_and_marks_a_day_and_the_cycle_form_follows(client, world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    login(client, "admin")
    empty = client.get("/staff/holidays?year=2025")
    assert empty.status_code == 200 and "2025 is not in the calendar" in empty.text
    assert client.post("/staff/holidays/years", data={"year": "2025"}).status_code == 302
    page = client.get("/staff/holidays?year=2025").text
    assert "2025 is not in the calendar" not in page
    assert "2025-10-01" in page and "National Day" in page and "2025-09-28" in page and "Spring Festival" in page
    window = client.get("/staff/cycles/new?code=2025Q3").text
    assert 'value="2025-10-09"' in window and 'value="2025-10-28"' in window

    marked = client.post("/staff/holidays/days", data={"day": "2025-10-09", "kind": "holiday",
                                                        "name": "Local flood day off"})
    assert marked.status_code == 302 and marked.headers["Location"].endswith("/staff/holidays?year=2025")
    page = client.get("/staff/holidays?year=2025").text
    assert "Local flood day off" in page and "Remove the mark" in page
    assert 'value="2025-10-10"' in client.get("/staff/cycles/new?code=2025Q3").text
    assert client.post("/staff/holidays/days/unmark", data={"day": "2025-10-09"}).status_code == 302
    assert "Local flood day off" not in client.get("/staff/holidays?year=2025").text
    assert 'value="2025-10-09"' in client.get("/staff/cycles/new?code=2025Q3").text


def test_bad_input_is_answered_on_the_page(client, world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    login(client, "admin")
    beyond = client.post("/staff/holidays/years", data={"year": "2031"})
    assert beyond.status_code == 422 and "not 2031" in beyond.text and "2004 to 2026" in beyond.text
    nameless = client.post("/staff/holidays/days", data={"day": "2025-10-09", "kind": "holiday", "name": ""})
    assert nameless.status_code == 422
    garbled = client.post("/staff/holidays/days", data={"day": "9 Oct", "kind": "sometimes", "name": "x"})
    assert garbled.status_code == 422
    assert client.post("/staff/holidays/days/unmark", data={"day": "2025-10-01"}).status_code == 302
    assert client.get("/staff/holidays?year=abc").status_code == 200
    assert rows() == 0


def test_staff_and_auditor_read_and_cannot_edit(client, world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the world comes with its deadlines' calendar (tests/factories.py)
    for username in ("staff", "auditor"):
        login(client, username)
        page = client.get("/staff/holidays")
        assert page.status_code == 200 and "Working-day calendar" in page.text and "Mark a day" not in page.text
        assert client.post("/staff/holidays/years", data={"year": "2025"}).status_code == 403
        assert client.post("/staff/holidays/days", data={"day": "2025-10-09", "kind": "holiday",
                                                         "name": "x"}).status_code == 403
        assert client.post("/staff/holidays/days/unmark", data={"day": "2025-10-09"}).status_code == 403
    login(client, "hosp1")
    assert client.get("/staff/holidays").status_code == 403
    assert rows() == 0
