"""The appeal and correction pages over HTTP (Flask test client): the hospital files its appeal on the item page
while in time, the office lists appeals and seats an appeal panel through the run pages, the appeal panel reads the
first decision and the grounds, and a correction goes from one member of the office to another."""
from __future__ import annotations

import io
from datetime import timedelta

import time_machine

from review.extensions import db
from review.models import Appeal, Assignment, AssignmentJob, Decision
from tests.e2e.test_walkthrough import login
from tests.factories import World
from tests.integration.test_appeals import GROUNDS, issued_decision, more_experts
from tests.integration.test_application_path import PDF
from tests.integration.test_dates import _beijing


def test_hospital_files_an_appeal_and_the_office_seats_the_appeal_panel(client, world: World) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    login(client, "hosp1")
    page = client.get(f"/hospital/items/{first.item_id}").text
    assert "File the appeal" in page and first.appeal_deadline.isoformat() in page
    short = client.post(f"/hospital/decisions/{first.id}/appeal", data={"grounds": "Too short."})
    assert short.status_code == 302 and db.session.scalar(db.select(db.func.count(Appeal.id))) == 0
    filed = client.post(f"/hospital/decisions/{first.id}/appeal", content_type="multipart/form-data",
                        data={"grounds": GROUNDS, "files": [(io.BytesIO(PDF), "icu.pdf")]})
    assert filed.status_code == 302
    page = client.get(f"/hospital/items/{first.item_id}").text
    assert "Your appeal was filed" in page and GROUNDS in page and "File the appeal" not in page

    more_experts(world, 3)
    login(client, "staff")
    overview = client.get(f"/staff/?cycle={world.cycle_id}").text  # the cycle's overview leads to its appeals
    assert f'href="/staff/cycles/{world.cycle_id}/appeals"' in overview and 'href="/staff/corrections"' in overview
    listing = client.get(f"/staff/cycles/{world.cycle_id}/appeals").text
    assert 'data-appeal="' in listing and "Filed" in listing and 'data-field="waiting">1<' in listing
    assert "Start an appeal panel run" in listing
    started = client.post(f"/staff/cycles/{world.cycle_id}/appeals/panel", data={"published_value": "88001"})
    assert started.status_code == 302 and "/staff/assignment-runs/" in started.headers["Location"]
    job = db.session.scalars(db.select(AssignmentJob).where(AssignmentJob.kind == "appeal")).one()
    assert "Appeal panel run" in client.get(started.headers["Location"]).text
    assert client.post(f"/staff/assignment-runs/{job.id}/apply").status_code == 302
    item_page = client.get(f"/staff/items/{first.item_id}").text
    assert "Appeal panel draw" in item_page and "With the appeal panel" in item_page

    seat = db.session.scalars(db.select(Assignment).where(Assignment.item_id == first.item_id,
                                                          Assignment.round == 2)).first()
    name = next(n for n, expert_id in world.experts.items() if expert_id == seat.expert_id)
    login(client, name)
    assert f"/expert/assignments/{seat.id}" in client.get("/expert/?show=open").text  # open in the inbox
    expert_page = client.get(f"/expert/assignments/{seat.id}").text
    assert 'id="appeal-context"' in expert_page and GROUNDS in expert_page and "Expert A" in expert_page


def test_after_the_deadline_the_appeal_form_is_gone(client, world: World) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    login(client, "hosp1")
    with time_machine.travel(_beijing(first.appeal_deadline + timedelta(days=1), 9, 0)):
        page = client.get(f"/hospital/items/{first.item_id}").text
        assert "File the appeal" not in page and "has passed" in page
        refused = client.post(f"/hospital/decisions/{first.id}/appeal", data={"grounds": GROUNDS},
                              headers={"Referer": f"/hospital/items/{first.item_id}"})
        assert refused.status_code == 303
        assert first.appeal_deadline.isoformat() in client.get(f"/hospital/items/{first.item_id}").text
    assert db.session.scalar(db.select(db.func.count(Appeal.id))) == 0


def test_a_correction_is_proposed_on_the_item_page_and_approved_by_another(client, world: World) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    login(client, "staff")
    assert "Correct a clerical error in this decision" in client.get(f"/staff/items/{first.item_id}").text
    proposed = client.post(f"/staff/decisions/{first.id}/correct",
                           data={"amount": "1234.50", "reason": "The deduction was keyed twice by mistake."})
    assert proposed.status_code == 302
    correction = db.session.scalars(db.select(Decision).where(Decision.status == "awaiting_approval")).one()
    assert correction.amount_fen == 123_450
    queue = client.get("/staff/corrections").text
    assert "Proposed by you" in queue and "Approve and issue" not in queue
    login(client, "admin")
    assert "Approve and issue" in client.get("/staff/corrections").text
    assert client.post(f"/staff/corrections/{correction.id}/approve").status_code == 302
    db.session.expire_all()
    assert db.session.get(Decision, correction.id).status == "issued"
    assert db.session.get(Decision, first.id).status == "superseded"


def test_a_pending_correction_is_withdrawn_by_its_proposer_and_rejected_by_another(client, world: World) -> None:  # type: ignore[no-untyped-def]
    first = issued_decision(world)
    login(client, "staff")
    wrong = {"amount": "99999.00", "reason": "The deduction was keyed twice by mistake."}
    assert client.post(f"/staff/decisions/{first.id}/correct", data=wrong).status_code == 302
    mine = db.session.scalars(db.select(Decision).where(Decision.status == "awaiting_approval")).one()
    field = f"correction-{mine.id}-reason"
    queue = client.get("/staff/corrections").text
    assert "Withdraw the correction" in queue and f'name="{field}"' in queue
    assert "Reject the correction" not in queue  # the proposer withdraws; rejecting is for the others
    short = client.post(f"/staff/corrections/{mine.id}/withdraw", data={field: "Oops"})
    assert short.status_code == 302 and "between 10 and 2000" in client.get(short.headers["Location"]).text
    db.session.expire_all()
    assert db.session.get(Decision, mine.id).status == "awaiting_approval"
    done = client.post(f"/staff/corrections/{mine.id}/withdraw", data={field: "Wrong amount: I keyed the total."})
    queue = client.get(done.headers["Location"]).text
    assert "Correction withdrawn" in queue and "No corrections are waiting." in queue
    db.session.expire_all()
    assert db.session.get(Decision, mine.id).discarded_reason == "Wrong amount: I keyed the total."
    item_page = client.get(f"/staff/items/{first.item_id}").text
    assert "Version 2" not in item_page and "Version 1" in item_page  # a discarded proposal is no version
    assert "The correction becomes version 2" in item_page  # and the decision can be corrected again
    ended = client.get(f"/staff/decisions/{mine.id}").text  # its own page says why, and offers no issue
    assert "rejected or withdrawn and is never issued: Wrong amount" in ended and "Issue this decision" not in ended

    assert client.post(f"/staff/decisions/{first.id}/correct", data=wrong).status_code == 302
    theirs = db.session.scalars(db.select(Decision).where(Decision.status == "awaiting_approval")).one()
    field = f"correction-{theirs.id}-reason"
    login(client, "auditor")  # auditors read the queue and act on nothing
    queue = client.get("/staff/corrections").text
    assert f'data-decision="{theirs.id}"' in queue and "Reject the correction" not in queue
    assert client.post(f"/staff/corrections/{theirs.id}/reject", data={field: "An auditor has no say."}
                       ).status_code == 403
    login(client, "admin")
    queue = client.get("/staff/corrections").text
    assert "Reject the correction" in queue and "Approve and issue" in queue and "Withdraw the correction" not in queue
    refused = client.post(f"/staff/corrections/{theirs.id}/withdraw", data={field: "Withdrawing on their behalf."},
                          headers={"Referer": "/staff/corrections"})
    assert refused.status_code == 303 and "reject it instead" in client.get("/staff/corrections").text
    rejected = client.post(f"/staff/corrections/{theirs.id}/reject", data={field: "Ten times the panel's amount."})
    assert "Correction rejected" in client.get(rejected.headers["Location"]).text
    db.session.expire_all()
    assert (db.session.get(Decision, theirs.id).status, db.session.get(Decision, first.id).status) == (
        "discarded", "issued")
    assert "Version 2" not in client.get(f"/staff/items/{first.item_id}").text
