"""The review office draws a record sample through the screens; the hospital submits a sampled record."""
from __future__ import annotations

import io
import re

from flask_babel import refresh

from review.extensions import db
from review.models import ReviewItem
from tests.e2e.test_walkthrough import PDF, login
from tests.integration.test_sampling_calendar import _population


def test_staff_draws_verifies_and_hospital_submits(client, world) -> None:  # type: ignore[no-untyped-def]
    _population(world)
    login(client, "staff")
    form = {"share": "20", "stratify_by_hospital": "y", "min_per_hospital": "2", "top_cost_ratio": "1",
            "mismatch_share": "0", "single_mcc_share": "0", "short_stay_share": "0",
            "published_value": "2026-10-08 lottery 0815"}
    created = client.post(f"/staff/cycles/{world.cycle_id}/sampling", data=form)
    assert created.status_code == 302
    plan_url = created.headers["Location"]
    page = client.get(plan_url)
    assert "2026-10-08 lottery 0815" in page.text and "Highest cost ratios" in page.text
    assert "Hospital H1" in page.text and "hospital:" not in page.text and "risk:" not in page.text
    client.post("/lang/zh_CN")
    refresh()  # the test's app context outlives each request, and Babel keeps the first request's locale in it
    chinese = client.get(plan_url).text
    assert "费用比最高" in chinese and "医院 H1" in chinese
    client.post("/lang/en")
    refresh()
    assert "Not available yet" in page.text  # no reviewed records: the extrapolation is refused, not zero
    verified = client.post(plan_url)
    assert "Verified: the stored snapshot" in verified.text

    login(client, "auditor")
    assert client.get(plan_url).status_code == 200
    assert client.post(f"/staff/cycles/{world.cycle_id}/sampling", data=form).status_code == 403

    item = db.session.scalars(db.select(ReviewItem).where(ReviewItem.kind == "sampled_record",
                                                          ReviewItem.hospital_id == world.hospitals["H1"])).first()
    login(client, "hosp1")
    index = client.get("/hospital/")
    assert "medical records sampled for review" in index.text
    item_url = f"/hospital/items/{item.id}"
    refused = client.post(item_url + "/submit-records", follow_redirects=True)
    assert "Upload the medical record" in refused.text
    client.post(item_url, data={"doc_type": "front_page", "files": (io.BytesIO(PDF), "record.pdf")},
                content_type="multipart/form-data")
    client.post(item_url + "/submit-records")
    db.session.refresh(item)
    assert item.state == "records_received"
    login(client, "hosp2")
    assert client.get(item_url).status_code == 404
    assert re.search(r"records sampled", client.get("/hospital/").text)
