"""Withdrawal (issue 13 §2), on SQLite and PostgreSQL: the hospital withdraws its application until a panel is
seated and gets its quota place back; afterwards only the review office may, with a reason; a record drawn for
review is the bureau's to cancel, never the hospital's."""
from __future__ import annotations

import pytest

from review.extensions import db
from review.models import ActivityLog, CycleVolume, Notification, ReviewItem
from review.services import applications, cases, withdrawals
from review.services.context import NotFound, ServiceError, ValidationFailed
from tests.e2e.test_walkthrough import login
from tests.factories import World, ami_case, seat_panels
from tests.integration.test_application_path import _apply
from tests.integration.test_sampling_calendar import CONFIG, _population

REASON = "Coded twice by mistake; the stay is billed under the other case."


def _one_place(world: World) -> None:
    volume = db.session.scalars(db.select(CycleVolume).where(CycleVolume.hospital_id == world.hospitals["H1"])).one()
    volume.drg_discharges = 39  # 5% of 39 = 1.95 → one application allowed
    db.session.commit()


def _second_case(world: World):  # type: ignore[no-untyped-def]
    return cases.create_case(world.actors["hosp1"], ami_case(case_no="ZY2026080002"))


def test_a_withdrawn_application_gives_its_quota_place_back(world: World) -> None:
    _one_place(world)
    first = _apply(world)
    second = _second_case(world)
    with pytest.raises(ValidationFailed):  # the one place is taken
        applications.apply_for_case(world.actors["hosp1"], second.id, "high_cost", "Another outlier stay in ICU.")
    with pytest.raises(ValidationFailed) as short:
        withdrawals.withdraw(world.actors["hosp1"], first.id, "mistake")
    assert "at least 10 characters" in short.value.errors["reason"][0]
    db.session.refresh(first)
    assert first.state == "queued"

    withdrawn = withdrawals.withdraw(world.actors["hosp1"], first.id, f"  {REASON}  ")
    assert (withdrawn.state, withdrawn.withdrawn_reason, withdrawn.withdrawn_by_id) == (
        "withdrawn", REASON, world.users["hosp1"])
    logged = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "item.withdraw")).one()
    assert logged.data == {"from": "queued", "to": "withdrawn", "reason": REASON, "quota_freed": True}
    assert applications.apply_for_case(world.actors["hosp1"], second.id, "high_cost",
                                       "Another outlier stay in ICU.").state == "queued"
    with pytest.raises(ServiceError):  # it cannot be withdrawn twice, nor brought back
        withdrawals.withdraw(world.actors["hosp1"], first.id, REASON)


def test_a_returned_application_holds_no_place_until_it_is_resubmitted(world: World) -> None:
    _one_place(world)
    returned = _apply(world, total_cost_fen=6_000_000, icu_days=0)
    assert returned.state == "returned"
    taken = applications.apply_for_case(world.actors["hosp1"], _second_case(world).id, "high_cost",
                                        "Another outlier stay in ICU.")
    assert taken.state == "queued"
    with pytest.raises(ServiceError) as full:  # resubmitting needs a free place again
        applications.resubmit(world.actors["hosp1"], returned.id, "high_cost", "Corrected: ICU stay of four days.")
    assert "is used up" in str(full.value.message)
    db.session.refresh(returned)
    assert returned.state == "returned"


def test_once_a_panel_is_seated_only_the_office_withdraws_and_the_hospital_is_told(world: World) -> None:
    item = _apply(world)
    seat_panels(world)
    db.session.refresh(item)
    assert item.state == "assigned"
    with pytest.raises(ServiceError) as refused:
        withdrawals.withdraw(world.actors["hosp1"], item.id, REASON)
    assert "not possible now" in str(refused.value.message)
    with pytest.raises(NotFound):  # another hospital learns nothing
        withdrawals.withdraw(world.actors["hosp2"], item.id, REASON)
    withdrawals.withdraw(world.actors["staff"], item.id, "The hospital reported a coding error in writing.")
    db.session.refresh(item)
    assert item.state == "withdrawn" and item.withdrawn_by_id == world.users["staff"]
    notice = db.session.scalars(db.select(Notification).where(Notification.kind == "item_withdrawn")).one()
    assert notice.hospital_id == world.hospitals["H1"] and notice.params["state"] == "assigned"


def test_a_record_drawn_for_review_is_cancelled_by_the_office_only(world: World) -> None:
    from review.services import sampling

    _population(world)
    sampling.create_plan(world.actors["staff"], world.cycle_id, CONFIG, "2026-10-08 lottery 0815")
    record = db.session.scalars(db.select(ReviewItem).where(ReviewItem.kind == "sampled_record",
                                                            ReviewItem.hospital_id == world.hospitals["H1"])).first()
    with pytest.raises(ServiceError):
        withdrawals.withdraw(world.actors["hosp1"], record.id, "We would rather not be reviewed.")
    withdrawals.withdraw(world.actors["admin"], record.id, "Drawn twice: the stay was already reviewed in Q2.")
    db.session.refresh(record)
    assert record.state == "withdrawn"


def test_the_pages_offer_withdrawal_to_whoever_may_and_show_why(app, world: World) -> None:  # type: ignore[no-untyped-def]
    item = _apply(world)
    hospital = app.test_client()
    login(hospital, "hosp1")
    page = hospital.get(f"/hospital/items/{item.id}").text
    assert "Withdraw this application" in page and "gives its quota place back" in page
    short = hospital.post(f"/items/{item.id}/withdraw", data={"reason": "no"}, follow_redirects=True).text
    assert "at least 10 characters" in short
    done = hospital.post(f"/items/{item.id}/withdraw", data={"reason": REASON}, follow_redirects=True).text
    assert f"Item #{item.id} is withdrawn." in done and REASON in done and "Withdraw this application" not in done
    other = app.test_client()
    login(other, "hosp2")
    assert other.post(f"/items/{item.id}/withdraw", data={"reason": REASON}).status_code == 404
    office = app.test_client()
    login(office, "staff")
    assert REASON in office.get(f"/staff/items/{item.id}").text


def test_the_api_withdraws_once_however_often_it_is_retried(app, world: World) -> None:  # type: ignore[no-untyped-def]
    from review.services import api_tokens

    item = _apply(world)
    _token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "withdraw-1"}
    first = client.post(f"/api/v1/items/{item.id}/withdraw", headers=headers, json={"reason": REASON})
    again = client.post(f"/api/v1/items/{item.id}/withdraw", headers=headers, json={"reason": REASON})
    assert first.status_code == again.status_code == 200 and first.json == again.json == {
        "item_id": item.id, "state": "withdrawn"}
    assert db.session.scalar(db.select(db.func.count(ActivityLog.id)).where(ActivityLog.action == "item.withdraw")) == 1
    late = client.post(f"/api/v1/items/{item.id}/withdraw", headers={"Authorization": f"Bearer {secret}"},
                       json={"reason": REASON})
    assert late.status_code == 409
