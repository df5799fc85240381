"""The expert pool screens over HTTP: the administrator edits, the office and auditors read, others are kept out."""
from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest

from review.extensions import db
from review.models import ActivityLog, Expert, ExpertConflict, Policy, SpecialtyRelation
from review.services import experts
from tests.e2e.test_configuration_pages import POLICY_FORM
from tests.e2e.test_walkthrough import login

EXPERT_FORM = {
    "code": "E700", "name_en": "Zhou Min", "name_zh": "周敏", "title": "chief_physician", "hospital": "H2",
    "specialties": ["cardiology", "critical_care"], "cap_per_cycle": "12", "active": "y", "note": "",
}
HEADER = "code,name_en,name_zh,title,hospital_code,specialties,cap_per_cycle,active\n"


def upload(client, text: str, name: str = "pool.csv"):  # type: ignore[no-untyped-def]
    return client.post("/staff/experts/import", data={"file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data")


def read_pages(world) -> list[str]:  # type: ignore[no-untyped-def]
    return ["/staff/experts", "/staff/experts?specialty=cardiology&qualified=yes&active=yes&page=1",
            f"/staff/experts/{world.experts['expert1']}", "/staff/specialties"]


def admin_pages(world) -> list[str]:  # type: ignore[no-untyped-def]
    return ["/staff/experts/new", f"/staff/experts/{world.experts['expert1']}/edit", "/staff/experts/import",
            "/staff/experts/template.csv"]


def posts(world) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    expert_id = world.experts["expert1"]
    return [("/staff/experts/new", EXPERT_FORM), (f"/staff/experts/{expert_id}/edit", EXPERT_FORM),
            (f"/staff/experts/{expert_id}/conflicts", {"hospital_id": str(world.hospitals["H2"]),
                                                      "starts_on": "2026-01-01", "reason": "Spouse works there"}),
            (f"/staff/experts/{expert_id}/conflicts/1/end", {"ends_on": "2026-12-31"}),
            ("/staff/experts/import", {}), ("/staff/specialties", {"specialty": "cardiology",
                                                                  "stand_in": "critical_care"}),
            ("/staff/specialties/1/remove", {}), ("/staff/policy", POLICY_FORM)]


def test_admin_adds_and_edits_an_expert(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    page = client.get("/staff/experts")
    assert page.status_code == 200 and "Add an expert" in page.text and "E001" in page.text
    form = client.get("/staff/experts/new")
    assert form.status_code == 200 and 'value="critical_care"' in form.text and "Critical care medicine" in form.text
    bad = client.post("/staff/experts/new", data={**EXPERT_FORM, "code": "E 7!", "specialties": []})
    assert bad.status_code == 422
    assert "1–20 letters" in bad.text or "Choose at least one specialty" in bad.text
    assert "Choose at least one specialty" in client.post("/staff/experts/new", data={
        **EXPERT_FORM, "specialties": []}).text
    refused = client.post("/staff/experts/new", data={**EXPERT_FORM, "code": "E 7!"})
    assert refused.status_code == 422 and "1–20 letters" in refused.text and 'aria-invalid="true"' in refused.text
    taken = client.post("/staff/experts/new", data={**EXPERT_FORM, "code": "E001"})
    assert taken.status_code == 422 and "already has the code E001" in taken.text
    created = client.post("/staff/experts/new", data=EXPERT_FORM)
    assert created.status_code == 302
    expert = db.session.scalars(db.select(Expert).where(Expert.code == "E700")).one()
    assert (expert.hospital_id, expert.specialties, expert.cap_per_cycle, expert.active) == (
        world.hospitals["H2"], ["cardiology", "critical_care"], 12, True)
    profile = client.get(created.headers["Location"])
    assert profile.status_code == 200 and "Zhou Min" in profile.text and "Qualified" in profile.text
    assert "Profile created" in profile.text
    edit = client.get(f"/staff/experts/{expert.id}/edit")
    assert edit.status_code == 200 and 'value="E700"' in edit.text
    assert re.search(r'checked[^>]*value="critical_care"|value="critical_care"[^>]*checked', edit.text)
    saved = client.post(f"/staff/experts/{expert.id}/edit", data={
        **EXPERT_FORM, "title": "attending_physician", "hospital": "H3", "active": "", "note": "On leave"})
    assert saved.status_code == 302
    db.session.expire_all()
    expert = db.session.get(Expert, expert.id)
    assert (expert.title, expert.hospital_id, expert.active, expert.note) == (
        "attending_physician", world.hospitals["H3"], False, "On leave")
    profile = client.get(f"/staff/experts/{expert.id}").text
    assert "Not qualified" in profile and "below the policy minimum" in profile and "Inactive" in profile


def test_list_filters_and_the_qualified_badge(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "staff")
    # the world's policy admits associate chief physicians and above from tertiary and secondary hospitals:
    # E006 (attending) does not qualify, the five others do
    qualified = client.get("/staff/experts?qualified=yes").text
    assert "E001" in qualified and "E005" in qualified and "E006" not in qualified
    not_qualified = client.get("/staff/experts?qualified=no").text
    assert "E006" in not_qualified and "E001" not in not_qualified and "Not qualified" in not_qualified
    assert "5 of 6 active experts qualify" in qualified
    by_hospital = client.get(f"/staff/experts?hospital={world.hospitals['H3']}").text
    assert "E005" in by_hospital and "E001" not in by_hospital
    assert "E003" in client.get("/staff/experts?title=chief_physician").text
    assert "E002" not in client.get("/staff/experts?title=chief_physician").text
    assert "No expert matches" in client.get("/staff/experts?specialty=neurology").text
    assert "E001" in client.get("/staff/experts?specialty=cardiology").text
    assert "No expert matches" in client.get("/staff/experts?active=no").text
    assert "E004" in client.get("/staff/experts?q=expert 4").text
    # the filters are kept in the page links
    for index in range(30):
        db.session.add(Expert(code=f"X{index:03d}", name_en=f"Extra {index}", name_zh=f"额外{index}",
                              title="chief_physician", hospital_id=world.hospitals["H1"], specialties=["neurology"]))
    db.session.commit()
    first = client.get("/staff/experts?specialty=neurology").text
    assert "page=2" in first and "specialty=neurology" in first and "30 records in total" in first
    assert "X029" in client.get("/staff/experts?specialty=neurology&page=2").text
    client.post("/lang/zh_CN")
    assert "专家1" in client.get("/staff/experts").text


def test_import_shows_row_errors_then_imports(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    page = client.get("/staff/experts/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text and "hospital_code" in page.text
    template = client.get("/staff/experts/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    assert "attachment" in template.headers["Content-Disposition"]
    assert template.data.startswith("\ufeff".encode()) and "张伟".encode() in template.data
    bad = upload(client, HEADER + "E800,Wu Gang,吴刚,chief_physician,H1,cardiology,10,yes\n"
                 + "E801,He Ping,何平,chief_physician,H404,cardiology,10,yes\n")
    assert bad.status_code == 422 and "Rows to correct" in bad.text
    assert re.search(r'<td class="num">3</td>\s*<td><code class="code-chip">hospital_code</code>', bad.text)
    assert "H404" in bad.text and "Nothing was imported" in bad.text
    assert db.session.scalar(db.select(db.func.count()).select_from(Expert)) == 6
    binary = client.post("/staff/experts/import", data={"file": (io.BytesIO(b"\x00\x01\x02" * 100), "pool.csv")},
                         content_type="multipart/form-data")
    assert binary.status_code == 422 and "binary" in binary.text
    empty = client.post("/staff/experts/import", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choose a file" in empty.text
    good = upload(client, HEADER + "E800,Wu Gang,吴刚,chief_physician,H1,cardiology,10,yes\n"
                  + "E001,Dr Expert 1,专家1,chief_physician,H1,cardiology;neurology,,\n", name="专家 pool.csv")
    assert good.status_code == 302 and good.headers["Location"].endswith("/staff/experts")
    listing = client.get(good.headers["Location"]).text
    assert "1 experts added and 1 updated" in listing and "E800" in listing
    finished = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "expert.import_finished")).one()
    assert finished.data["file"].endswith("pool.csv")
    assert not list(Path(tempfile.gettempdir()).glob("expert-import-*"))  # the temporary copy is gone


def test_conflicts_are_declared_and_ended_from_the_profile(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    expert_id = world.experts["expert1"]
    url = f"/staff/experts/{expert_id}"
    page = client.get(url)
    assert page.status_code == 200 and "Declare a conflict" in page.text and "No conflict declared" in page.text
    own = f'<option value="{world.hospitals["H1"]}"'  # the expert's own hospital needs no declaration
    assert own not in page.text and f'<option value="{world.hospitals["H2"]}"' in page.text
    backwards = client.post(f"{url}/conflicts", data={"hospital_id": str(world.hospitals["H2"]),
                                                      "starts_on": "2026-06-01", "ends_on": "2026-05-01",
                                                      "reason": "Spouse works there"})
    assert backwards.status_code == 422 and "cannot be before the start date" in backwards.text
    declared = client.post(f"{url}/conflicts", data={"hospital_id": str(world.hospitals["H2"]),
                                                     "starts_on": "2026-01-01", "reason": "Spouse works there"})
    assert declared.status_code == 302
    conflict = db.session.scalars(db.select(ExpertConflict)).one()
    page = client.get(url).text
    assert "Spouse works there" in page and "In force" in page and f"/conflicts/{conflict.id}/end" in page
    too_early = client.post(f"{url}/conflicts/{conflict.id}/end", data={"ends_on": "2025-12-31"})
    assert too_early.status_code == 302 and "cannot be before" in client.get(url).text
    ended = client.post(f"{url}/conflicts/{conflict.id}/end", data={"ends_on": "2026-01-31"})
    assert ended.status_code == 302
    page = client.get(url).text
    assert "Ended" in page and "2026-01-31" in page and "Spouse works there" in page
    db.session.expire_all()
    assert db.session.get(ExpertConflict, conflict.id).ends_on.isoformat() == "2026-01-31"
    other = world.experts["expert2"]
    assert client.post(f"/staff/experts/{other}/conflicts/{conflict.id}/end",
                       data={"ends_on": "2026-01-31"}).status_code == 404


def test_relations_are_added_and_removed(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    page = client.get("/staff/specialties")
    assert page.status_code == 200 and "Add a relation" in page.text and "No stand-in recorded" in page.text
    added = client.post("/staff/specialties", data={"specialty": "cardiology", "stand_in": "critical_care",
                                                   "both_ways": "y"})
    assert added.status_code == 302
    assert "2 specialty relations added" in client.get("/staff/specialties").text
    assert db.session.scalar(db.select(db.func.count()).select_from(SpecialtyRelation)) == 2
    duplicate = client.post("/staff/specialties", data={"specialty": "cardiology", "stand_in": "critical_care"})
    assert duplicate.status_code == 422 and "already recorded" in duplicate.text
    itself = client.post("/staff/specialties", data={"specialty": "cardiology", "stand_in": "cardiology"})
    assert itself.status_code == 422 and "cannot stand in for itself" in itself.text
    relation = db.session.scalars(db.select(SpecialtyRelation).order_by(SpecialtyRelation.id)).first()
    removed = client.post(f"/staff/specialties/{relation.id}/remove")
    assert removed.status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(SpecialtyRelation)) == 1
    assert db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "specialty_relation.removed")).one()


def test_admin_sets_panel_qualification_in_the_policy(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    page = client.get("/staff/policy").text
    assert 'name="panel_min_title"' in page and 'name="panel_hospital_levels"' in page
    assert 'name="panel_one_per_hospital"' in page
    none = client.post("/staff/policy", data={**POLICY_FORM, "panel_hospital_levels": []})
    assert none.status_code == 422 and "at least one hospital level" in none.text
    saved = client.post("/staff/policy", data={**POLICY_FORM, "panel_min_title": "chief_physician",
                                               "panel_hospital_levels": ["tertiary"],
                                               "panel_one_per_hospital": "y"})
    assert saved.status_code == 302
    policy = db.session.scalars(db.select(Policy).order_by(Policy.version.desc())).first()
    assert (policy.panel_min_title, policy.panel_hospital_levels, policy.panel_one_per_hospital) == (
        "chief_physician", ["tertiary"], True)
    history = client.get("/staff/policy").text
    assert "Lowest title on panels" in history and "Associate chief physician → <strong>Chief physician" in history
    assert "One expert per hospital on an item: No → <strong>Yes" in history
    # the list applies the new version at once: only the chief physicians of tertiary H1 and H2 qualify
    listing = client.get("/staff/experts?qualified=yes").text
    assert "E001" in listing and "E003" in listing and "E002" not in listing and "E005" not in listing
    login(client, "auditor")
    assert "Hospital levels on panels" in client.get("/staff/policy").text


@pytest.mark.parametrize("username", ["staff", "auditor"])
def test_office_and_auditor_read_but_change_nothing(client, world, username) -> None:  # type: ignore[no-untyped-def]
    experts.add_relation(world.actors["admin"], "cardiology", "critical_care")
    login(client, username)
    for url in read_pages(world):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "Add an expert" not in page.text and "Edit profile" not in page.text and "<form method=\"post\"" \
            not in page.text.split("<main>")[1], url
    for url in admin_pages(world):
        assert client.get(url).status_code == 403, url
    before = db.session.scalar(db.select(db.func.count()).select_from(ActivityLog))
    for url, data in posts(world):
        assert client.post(url, data=data).status_code == 403, url
    assert db.session.scalar(db.select(db.func.count()).select_from(ActivityLog)) == before


@pytest.mark.parametrize("username", ["hosp1", "expert1"])
def test_hospitals_and_experts_are_kept_out(client, world, username) -> None:  # type: ignore[no-untyped-def]
    login(client, username)
    for url in read_pages(world) + admin_pages(world):
        assert client.get(url).status_code == 403, url
    for url, data in posts(world):
        assert client.post(url, data=data).status_code == 403, url


def test_anonymous_is_sent_to_login(client, world) -> None:  # type: ignore[no-untyped-def]
    for url in read_pages(world) + admin_pages(world):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
