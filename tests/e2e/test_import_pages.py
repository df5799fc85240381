"""The hospital's import screens over HTTP: upload, preview, run, error report, and applying in bulk."""
from __future__ import annotations

import csv
import io
import re

from flask_babel import refresh
from openpyxl import load_workbook

from review.extensions import db
from review.models import ReviewItem
from tests.e2e.test_walkthrough import login
from tests.integration.test_intake import csv_bytes, rows
from workflows.intake import COLUMNS


def test_upload_preview_run_and_report(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "hosp1")
    template = client.get("/hospital/imports/template.xlsx")
    assert template.status_code == 200
    assert load_workbook(io.BytesIO(template.data)).active["A1"].value

    data = csv_bytes(rows({}, {"case_no": "=HYPERLINK(\"x\")"}, {"secondary_dx": "I50.21 " * 4_000}))
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
    assert report[0] == ["Row", "Column", "Problem", "Value"]
    assert ["4", "Secondary diagnoses", "4000 codes given; at most 24 are allowed.", "I50.21 " * 11 + "I50"] in report
    assert any(cell.startswith("'=HYPERLINK") for line in report for cell in line)  # neutralised for Excel

    login(client, "hosp2")
    assert client.get(job_url).status_code == 404
    assert client.get(job_url + "/errors.csv").status_code == 404


def test_the_problems_of_an_import_read_in_the_language_of_whoever_opens_them(client, world) -> None:  # type: ignore[no-untyped-def]
    """Stored as codes, so the same finished import reads in Chinese on the page and in the downloaded report."""
    login(client, "hosp1")
    data = csv_bytes(rows({}, {"age": "200"}, {"principal_dx": "O80", "secondary_dx": "", "procedures": "",
                                                        "age": "30", "icu_days": "0"}))
    job_url = client.post("/hospital/imports", data={"file": (io.BytesIO(data), "q3.csv")},
                          content_type="multipart/form-data").headers["Location"]
    client.post(job_url + "/start", data={"mode": "all_or_nothing"})
    english = client.get(job_url).text
    assert "All or nothing: nothing was imported because some rows have errors." in english
    assert "200 is out of range (expected 0–124)." in english
    assert "The principal diagnosis O80 conflicts with the patient&#39;s sex." in english
    client.post("/lang/zh_CN")
    refresh()  # the test's app context outlives each request, and Babel keeps the first request's locale in it
    chinese = client.get(job_url).text
    assert "全部或全不：部分行有错误，因此未导入任何数据。" in chinese
    listing = client.get("/hospital/imports").text  # the column list leads with the reader's headers
    assert all(f"<td>{column.header_zh}</td>" in listing for column in COLUMNS)
    assert "200 超出范围（应为 0–124）。" in chinese and "主要诊断 O80 与患者性别不符。" in chinese
    report = list(csv.reader(io.StringIO(client.get(job_url + "/errors.csv").data.decode("utf-8-sig"))))
    assert report == [["行号", "列", "问题", "值"], ["3", "年龄", "200 超出范围（应为 0–124）。", "200"],
                      ["4", "主要诊断编码", "主要诊断 O80 与患者性别不符。", "O80"]]
    sheet = load_workbook(io.BytesIO(client.get(job_url + "/errors.xlsx").data)).active
    assert list(sheet.iter_rows(values_only=True))[2] == (4, "主要诊断编码", "主要诊断 O80 与患者性别不符。", "O80")


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
