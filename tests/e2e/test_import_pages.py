"""The hospital's import screens over HTTP: upload, preview, run, error report, and applying in bulk."""
from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

from review.extensions import db
from review.models import ReviewItem
from tests.e2e.test_walkthrough import login
from tests.integration.test_intake import csv_bytes, rows


def test_upload_preview_run_and_report(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    template = client.get("/hospital/imports/template.xlsx")
    assert template.status_code == 200
    assert load_workbook(io.BytesIO(template.data)).active["A1"].value

    data = csv_bytes(rows({}, {"case_no": "=HYPERLINK(\"x\")"}, {"secondary_dx": "I50.21 " * 10_000}))
    uploaded = client.post("/hospital/imports", data={"file": (io.BytesIO(data), "q3.csv")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302
    job_url = uploaded.headers["Location"]
    preview = client.get(job_url)
    assert "formulas are not accepted" in preview.text and "at most 24" in preview.text
    started = client.post(job_url + "/start", data={"mode": "valid_rows"})
    assert started.status_code == 302
    result = client.get(job_url)
    assert "Error report (CSV)" in result.text
    status = client.get(job_url + "/status.json").get_json()
    assert (status["accepted"], status["rejected"], status["finished"]) == (1, 2, True)
    report = list(csv.reader(io.StringIO(client.get(job_url + "/errors.csv").data.decode("utf-8-sig"))))
    assert report[0] == ["row", "column", "message", "value"]
    assert any(cell.startswith("'=HYPERLINK") for line in report for cell in line)  # neutralised for Excel

    login(client, "hosp2")
    assert client.get(job_url).status_code == 404
    assert client.get(job_url + "/errors.csv").status_code == 404


def test_refused_upload_says_why(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    response = client.post("/hospital/imports", data={"file": (io.BytesIO(b"\x00\x01\x02binary" * 100), "q3.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "binary" in response.text


def test_bulk_apply_selected_cases(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    data = csv_bytes(rows({}, {}))
    job_url = client.post("/hospital/imports", data={"file": (io.BytesIO(data), "q3.csv")},
                          content_type="multipart/form-data").headers["Location"]
    client.post(job_url + "/start", data={"mode": "all_or_nothing"})
    page = client.get("/hospital/cases/apply")
    ids = [int(i) for i in re.findall(r'name="case_ids" value="(\d+)"', page.text)]
    assert len(ids) == 2
    response = client.post("/hospital/cases/apply", data={"case_ids": ids, "category": "high_cost",
                                                          "reason": "Cardiogenic shock with a long ICU stay."})
    assert response.status_code == 302
    assert db.session.scalar(db.select(db.func.count(ReviewItem.id))) == 2


def test_quota_is_shown_before_applying(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    page = client.get("/hospital/")
    assert "2026Q3 quota: 100 applications (of 2000 DRG discharges); 0 made, 100 left." in page.text


def test_oversized_upload_is_refused_before_it_is_read(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    response = client.post("/hospital/imports", data={"file": (io.BytesIO(b"x"), "huge.csv")},
                           content_type="multipart/form-data",
                           environ_overrides={"CONTENT_LENGTH": str(2 * 1024 ** 3)})
    assert response.status_code == 413
