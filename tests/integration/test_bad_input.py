"""Bad input gets a specific 4xx naming what is wrong, never a 500, and a refused request writes nothing."""
from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.extensions import db
from review.models import Case, Document, ReviewItem
from review.services import api_tokens, applications, documents
from review.services.cases import create_case
from review.services.context import ServiceError
from tests.e2e.test_configuration_pages import POLICY_FORM
from tests.e2e.test_walkthrough import CASE_FORM, PDF, login
from tests.factories import World, ami_case

MIB = 1024 * 1024
REASON = "Cardiogenic shock requiring prolonged ICU care."


def bearer(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_tokens.create_token(world.actors['hosp1'], 'his')[1]}"}


def applied_item(world: World) -> int:
    case = create_case(world.actors["hosp1"], ami_case())
    return applications.apply_for_case(world.actors["hosp1"], case.id, "high_cost", REASON).id


def stored_blobs(app: Flask) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [path for path in root.rglob("*") if path.is_file() and "imports" not in path.relative_to(root).parts]


def nested(depth: int) -> object:
    value: object = 1
    for _level in range(depth):
        value = [value]
    return value


# --- JSON bodies ----------------------------------------------------------------------------------------------

def test_bad_json_gets_400_naming_the_field(client: FlaskClient, world: World) -> None:
    headers = bearer(world)
    case_id = create_case(world.actors["hosp1"], ami_case()).id
    good = {"case_id": case_id, "category": "high_cost", "reason": REASON}
    sent: list[tuple[str, bytes | str, str, str]] = [
        ("/api/v1/applications", b"[" * 100_000 + b"]" * 100_000, "body", "nested too deeply"),
        ("/api/v1/applications", json.dumps({**good, "reason": nested(40)}), "reason" + "[0]" * 16,
         "nested too deeply"),
        ("/api/v1/applications", b'{"case_id": 1,', "body", "line 1, column 15"),
        ("/api/v1/applications", b"\xff\xfe{}", "body", "not valid JSON"),
        ("/api/v1/applications", json.dumps({**good, "case_id": 10**30}), "case_id", "out of range"),
        ("/api/v1/applications", json.dumps({**good, "case_id": 2**31}), "case_id", "out of range"),
        ("/api/v1/applications", json.dumps({**good, "case_id": 0}), "case_id", "out of range"),
        ("/api/v1/applications", json.dumps({**good, "case_id": str(case_id)}), "case_id", "integer"),
        ("/api/v1/applications", json.dumps({**good, "reason": None}), "reason", "must be a string"),
        ("/api/v1/applications", json.dumps({**good, "reason": REASON + "\x00"}), "reason", "NUL"),
        ("/api/v1/applications", json.dumps({**good, "reason": "\ud800" + REASON}), "reason", "surrogate"),
        ("/api/v1/applications", f'{{"case_id": {case_id}, "x": NaN}}', "body", "NaN"),
        ("/api/v1/applications", f'{{"case_id": {case_id}, "x": 1e400}}', "x", "too large"),
        ("/api/v1/cases", json.dumps({"cases": [{**CASE_FORM, "case_no": "ZY\x00"}]}), "cases[0].case_no", "NUL"),
        ("/api/v1/cases", json.dumps({"cases": [{**CASE_FORM, "age": 10**30}]}), "cases[0].age", "out of range"),
        ("/api/v1/cases", b'"just a string"', "body", "JSON object"),
    ]
    for url, body, field, words in sent:
        response = client.post(url, data=body, content_type="application/json", headers=headers)
        assert response.status_code == 400, (field, response.text[:300])
        error = response.get_json()["error"]
        assert error["code"] == "bad_request" and error["rows"][0]["column"] == field, (field, error)
        assert words in error["message"], (words, error["message"])
    assert db.session.scalar(db.select(db.func.count(ReviewItem.id))) == 0
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 1
    page = client.get(f"/api/v1/items?page={10**30}", headers=headers)
    assert page.status_code == 400 and page.get_json()["error"]["rows"][0]["column"] == "page"


# --- body limits ----------------------------------------------------------------------------------------------

class Unreadable(io.RawIOBase):
    """A body that fails the test if anything reads it: the limit must be checked from Content-Length alone."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        raise AssertionError("the body was read before its size was checked")


def claimed(size: int, content_type: str) -> dict[str, object]:
    return {"content_type": content_type,
            "environ_overrides": {"wsgi.input": Unreadable(), "CONTENT_LENGTH": str(size)}}


def test_bodies_over_their_routes_limit_are_refused_unread(app: Flask, client: FlaskClient, world: World) -> None:
    headers = bearer(world)
    item_id = applied_item(world)
    api_json = client.post("/api/v1/cases", headers=headers, **claimed(2 * MIB + 100 * 1024, "application/json"))
    assert api_json.status_code == 413
    assert api_json.get_json()["error"] == {"code": "too_large", "rows": [],
                                            "message": "The request is too large: this address accepts at most 2 MB."}
    api_file = client.post(f"/api/v1/items/{item_id}/documents", headers=headers,
                           **claimed(41 * MIB, "multipart/form-data; boundary=x"))
    assert api_file.status_code == 413 and "at most 40 MB" in api_file.get_json()["error"]["message"]
    login(client, "hosp1")
    form = client.post("/hospital/cases/new", **claimed(2 * MIB, "application/x-www-form-urlencoded"))
    assert form.status_code == 413 and "at most 1 MB" in form.text
    evidence = client.post(f"/hospital/items/{item_id}", **claimed(201 * MIB, "multipart/form-data; boundary=x"))
    assert evidence.status_code == 413 and "at most 200 MB" in evidence.text
    cases_file = client.post("/hospital/imports", **claimed(201 * MIB, "multipart/form-data; boundary=x"))
    assert cases_file.status_code == 413 and "at most 200 MB" in cases_file.text

    # the same routes take what is within their own limit, above the small default for forms
    three_mb_pdf = PDF + b"%" + b"x" * (3 * MIB) + b"\n"
    stored = client.post(f"/api/v1/items/{item_id}/documents", headers=headers, content_type="multipart/form-data",
                         data={"doc_type": "other", "file": (io.BytesIO(three_mb_pdf), "scan.pdf")})
    assert stored.status_code == 201, stored.text
    long_reason = client.post("/api/v1/applications", headers=headers,
                              json={"case_id": 1, "category": "high_cost", "reason": "x" * (3 * MIB // 2)})
    assert long_reason.status_code != 413


# --- uploads --------------------------------------------------------------------------------------------------

def test_upload_names_cleaned_and_refusals_leave_no_file(app: Flask, client: FlaskClient, world: World) -> None:
    headers = bearer(world)
    item_id = applied_item(world)
    url = f"/api/v1/items/{item_id}/documents"
    named = client.post(url, headers=headers, content_type="multipart/form-data",
                        data={"doc_type": "other", "file": (io.BytesIO(PDF), "scan\x00\x1b[2J\u202egpj.pdf")})
    assert named.status_code == 201, named.text
    assert db.session.get(Document, named.get_json()["document_id"]).filename == "scan[2Jgpj.pdf"
    assert len(stored_blobs(app)) == 1

    app.config["UPLOAD_MAX_FILES_PER_ITEM"] = 1
    full = client.post(url, headers=headers, content_type="multipart/form-data",
                       data={"doc_type": "other", "file": (io.BytesIO(PDF + b"%other\n"), "second.pdf")})
    assert full.status_code == 409 and "maximum of 1 files" in full.get_json()["error"]["message"]
    assert len(stored_blobs(app)) == 1 and db.session.scalar(db.select(db.func.count(Document.id))) == 1
    login(client, "hosp1")
    page = client.post(f"/hospital/items/{item_id}", content_type="multipart/form-data",
                       data={"doc_type": "other", "files": [(io.BytesIO(PDF + b"%third\n"), "third\x00.pdf")]})
    assert page.status_code == 303 and len(stored_blobs(app)) == 1


@pytest.mark.postgresql_only("SQLite runs one writer at a time; the race needs PostgreSQL's concurrent transactions")
def test_concurrent_uploads_cannot_pass_the_file_cap(app: Flask, world: World) -> None:
    app.config["UPLOAD_MAX_FILES_PER_ITEM"] = 3
    item_id = applied_item(world)
    uploaders = 8
    start = threading.Barrier(uploaders)
    outcomes: list[str] = []

    def upload(number: int) -> None:
        with app.app_context():
            start.wait()
            try:
                documents.upload_evidence(world.actors["hosp1"], item_id, io.BytesIO(PDF + f"%{number}\n".encode()),
                                          f"scan{number}.pdf", "other")
                outcomes.append("stored")
            except ServiceError:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=upload, args=(number,)) for number in range(uploaders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["stored"] * 3
    assert db.session.scalar(db.select(db.func.count(Document.id)).where(Document.item_id == item_id)) == 3
    assert len(stored_blobs(app)) == 3


# --- web forms and query strings ------------------------------------------------------------------------------

def test_nul_text_is_refused_naming_the_field(client: FlaskClient, world: World) -> None:
    assert client.post("/login", data={"username": "hosp1\x00", "password": "x"}).status_code == 400
    assert client.get("/verify/AB%00CD").status_code == 400
    login(client, "hosp1")
    refused = client.post("/hospital/cases/new", data={**CASE_FORM, "case_no": "ZY2026\x00"})
    assert refused.status_code == 400 and "case_no contains a NUL character" in refused.text
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 0


def test_query_ids_out_of_range_are_ignored_like_words(client: FlaskClient, world: World) -> None:
    login(client, "staff")
    for url in (f"/staff/?cycle={10**30}&hospital={2**31}", f"/staff/experts?hospital={10**30}",
                f"/staff/cycles/{world.cycle_id}/decisions?hospital={10**30}"):
        assert client.get(url).status_code == 200, url


EDGE_NUMBERS = (str(2**31), str(10**30), str(-(10**30)), "1e309", "NaN", "9" * 5000)
"""One past the INTEGER columns, past every database integer, past a float, not a number, past int()'s digits."""
NUMBER_TEXTS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**31 - 2, max_value=2**80).map(str),
    st.integers(min_value=-(2**80), max_value=-(2**31)).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e309", "-1e309", "NaN", "Infinity", "-0", "１２", "١٢", " 7 ", "0x10", "1_000", "9" * 5000]),
    st.text(max_size=12),
)


@pytest.mark.parametrize("target", ["case", "policy", "volumes", "decisions", "average_costs"])
def test_numeric_form_fields_never_get_a_500(app: Flask, world: World, target: str) -> None:
    """Each numeric field of the main forms, with every other field valid, takes any text without a 500."""
    role, url, base, fields = {
        "case": ("hosp1", "/hospital/cases/new", CASE_FORM, ["age", "icu_days", "birth_weight", "total_cost"]),
        "policy": ("admin", "/staff/policy", POLICY_FORM,
                   ["long_stay_days", "newborn_weight_grams", "panel_size", "appeal_days", "appeal_review_days", "base_rate",
                    "min_reviewed_for_extrapolation", "quota_share", "high_cost_multiple", "icu_share",
                    "newborn_cost_multiple", "fixed_loss_threshold", "max_case_cost"]),
        "volumes": ("staff", f"/staff/cycles/{world.cycle_id}/volumes", {}, [f"volume-{world.hospitals['H1']}"]),
        "decisions": ("staff", f"/staff/cycles/{world.cycle_id}/decisions/issue", {}, ["only", "decision_ids"]),
        "average_costs": ("admin", "/staff/average-costs/compute", {"start": "2026-07-01", "end": "2026-09-30"},
                          ["min_cases"]),
    }[target]
    client = app.test_client()
    login(client, role)
    serials = iter(range(10**6))

    def post(field: str, value: str) -> None:
        data = {**base, field: value}
        if "case_no" in data:
            data["case_no"] = f"HY{next(serials):07d}"
        response = client.post(url, data=data)
        assert response.status_code < 500, (field, value, response.text[:500])

    for field in fields:
        for value in EDGE_NUMBERS:
            post(field, value)
    settings(max_examples=25, deadline=None, database=None, derandomize=True,
             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])(
        given(field=st.sampled_from(fields), value=NUMBER_TEXTS)(post))()
