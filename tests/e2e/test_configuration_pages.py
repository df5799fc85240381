"""The configuration screens over HTTP: who may read, who may change, and the forms doing what they say."""
from __future__ import annotations

import io

from review.extensions import db
from review.models import Cycle, CycleVolume, Policy
from review.services import holidays
from review.services.context import SYSTEM
from tests.e2e.test_walkthrough import login
from tests.factories import clear_calendar

POLICY_FORM = {
    "base_rate": "19000.00", "quota_share": "4.5", "high_cost_multiple": "3", "high_cost_bands": "1.0 5\n2.0 4",
    "long_stay_days": "60", "icu_share": "60", "newborn_weight_grams": "1500", "newborn_cost_multiple": "2.5",
    "new_technology_codes": "02703DZ", "panel_size": "5", "appeal_days": "10", "appeal_review_days": "15",
    "payment_method": "fee_for_service", "fixed_loss_threshold": "0", "min_reviewed_for_extrapolation": "30", "note": "Raise the base rate",
    "panel_min_title": "deputy_chief_physician", "panel_hospital_levels": ["tertiary", "secondary"],
}
PAGES = ("/staff/policy", "/staff/cycles", "/staff/average-costs")


def test_admin_edits_the_policy(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    page = client.get("/staff/policy")
    assert page.status_code == 200 and 'name="base_rate"' in page.text and "18000.00" in page.text
    bad = client.post("/staff/policy", data={**POLICY_FORM, "high_cost_bands": "1.0 5\nten 4", "base_rate": "1,900"})
    assert bad.status_code == 422 and "Line 2" in bad.text and "thousands separator" in bad.text
    saved = client.post("/staff/policy", data=POLICY_FORM)
    assert saved.status_code == 302
    policy = db.session.scalars(db.select(Policy).order_by(Policy.version.desc())).first()
    assert (policy.version, policy.base_rate_fen, policy.panel_size) == (2, 1_900_000, 5)
    history = client.get("/staff/policy").text
    assert "Raise the base rate" in history and "4.5 %" in history and "19,000.00" in history
    assert 'name="evidence_high_cost" type="checkbox" value="special_items"' in history
    stricter = client.post("/staff/policy", data={**POLICY_FORM, "note": "Cost lists with high-cost applications",
                                                  "evidence_high_cost": ["discharge_summary", "special_items"]})
    assert stricter.status_code == 302
    assert "High cost: Discharge summary, Special drugs / consumables list" in client.get("/staff/policy").text


def test_staff_and_auditor_read_but_cannot_edit(client, world) -> None:  # type: ignore[no-untyped-def]
    for username in ("staff", "auditor"):
        login(client, username)
        page = client.get("/staff/policy")
        assert page.status_code == 200 and 'name="base_rate"' not in page.text and "Version history" in page.text
        assert client.post("/staff/policy", data=POLICY_FORM).status_code == 403
        for url in PAGES:
            assert client.get(url).status_code == 200, url
    assert db.session.scalar(db.select(db.func.count()).select_from(Policy)) == 1
    assert client.get("/staff/cycles/new").status_code == 403  # the auditor only reads
    assert client.post("/staff/average-costs/import").status_code == 403


def test_hospital_is_refused(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    for url in (*PAGES, "/staff/cycles/new", f"/staff/cycles/{world.cycle_id}/volumes"):
        assert client.get(url).status_code == 403, url
    assert client.post("/staff/policy", data=POLICY_FORM).status_code == 403


def test_create_a_cycle_and_record_volumes(client, world) -> None:  # type: ignore[no-untyped-def]
    clear_calendar(world)  # the bureau has not yet entered 2027's calendar (chinese-calendar stops at 2026)
    holidays.seed(SYSTEM, world.region_id)
    login(client, "staff")
    form = client.get("/staff/cycles/new")
    assert form.status_code == 200 and "2026Q4" in form.text and "public holidays off, make-up working days on" in form.text
    assert "no working-day calendar for 2027" in form.text  # the window would fall in 2027: not guessed
    taken = client.post("/staff/cycles/new", data={"code": "2026Q3"})
    assert taken.status_code == 422 and "already exists" in taken.text
    by_hand = {"code": "2026Q4", "application_opens": "2027-01-04", "application_closes": "2027-01-22"}
    unknown = client.post("/staff/cycles/new", data=by_hand)
    assert unknown.status_code == 422 and "no working-day calendar for 2027" in unknown.text
    created = client.post("/staff/cycles/new", data={**by_hand, "record_upload_deadline": "2027-02-05",
                                                     "review_deadline": "2027-03-08", "settlement_date": "2027-04-07"})
    assert created.status_code == 302
    cycle = db.session.scalars(db.select(Cycle).where(Cycle.code == "2026Q4")).one()
    assert str(cycle.application_opens) == "2027-01-04" and cycle.record_upload_deadline is not None
    calendar = client.get("/staff/cycles").text
    assert "2026Q4" in calendar and "Application window open" in calendar  # 2026Q3 of the world is open today
    assert f'<td class="mono small">{cycle.catalogue_scheme}</td>' in calendar  # the DRG version it keeps
    url = f"/staff/cycles/{cycle.id}/volumes"
    h1 = world.hospitals["H1"]
    assert f'name="hospital_id" value="{h1}"' in client.get(url).text
    bad = client.post(url, data={"hospital_id": h1, "figure": "12.5", "reason": "Settlement data of the payer"})
    assert bad.status_code == 422
    unexplained = client.post(url, data={"hospital_id": h1, "figure": "1234", "reason": ""})
    assert unexplained.status_code == 422
    saved = client.post(url, data={"hospital_id": h1, "figure": "1234", "reason": "Settlement data of the payer"})
    assert saved.status_code == 302
    assert db.session.scalars(db.select(CycleVolume.drg_discharges).where(
        CycleVolume.cycle_id == cycle.id, CycleVolume.hospital_id == h1)).one() == 1234
    page = client.get(url).text
    assert "Overridden by Staff" in page and "Settlement data of the payer" in page


def test_average_costs_page_lists_an_imported_figure(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    csv_file = "DRG,均费,病例数\n321,76543.21,88\n".encode("gb18030")
    done = client.post("/staff/average-costs/import", data={"file": (io.BytesIO(csv_file), "costs.csv")},
                       content_type="multipart/form-data")
    assert done.status_code == 302
    page = client.get("/staff/average-costs?drg=321")
    assert page.status_code == 200 and "76,543.21" in page.text and "88" in page.text and "Imported" in page.text
    bad = client.post("/staff/average-costs/import", data={"file": (io.BytesIO(b"drg,average_cost\n321,abc\n"), "x.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "Row 2" in bad.text
    computed = client.post("/staff/average-costs/compute", data={"start": "2026-01-01", "end": "2026-03-31",
                                                                "min_cases": "10"})
    assert computed.status_code == 200 and "Computed from cases" in computed.text
    for reader in ("staff", "auditor"):  # the office reads the figures; only an administrator sets them
        login(client, reader)
        page = client.get("/staff/average-costs?drg=321")
        assert "76,543.21" in page.text and 'action="/staff/average-costs/import"' not in page.text
        for action in ("import", "compute"):
            assert client.post(f"/staff/average-costs/{action}").status_code == 403
