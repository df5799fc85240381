"""Administration (issue 12 §1): hospitals from a form or a file, accounts that only their user ever knows the
password of (one-time links), the password rules, and sessions that end when a password changes."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from review.clock import utcnow
from review.extensions import db
from review.models import ActivityLog, Expert, Hospital, Invitation, User
from review.services import experts, hospitals, users
from review.services.context import SYSTEM, Actor, PermissionDenied, ServiceError, ValidationFailed
from tests.factories import PASSWORD, World
from workflows.states import Role

HEADER = "code,name_en,name_zh,level,coefficient,active\n"
NEW_PASSWORD = "plum blossom ledger 2026"


def write(tmp_path: Path, text: str, name: str = "hospitals.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(model: type) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model)) or 0


def logs(action: str) -> list[ActivityLog]:
    return list(db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == action).order_by(ActivityLog.id)))


def _visit(app: Flask, client: FlaskClient, url: str = "/staff/") -> TestResponse:
    """One request in its own app context, as in a server (see tests/integration/test_sessions.py)."""
    with app.app_context():
        return client.get(url)


def _logged_in(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        assert client.post("/login", data={"username": username, "password": password}).status_code == 302
    return client


def _sent_to_login(response: TestResponse) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def _can_log_in(app: Flask, username: str, password: str) -> bool:
    with app.app_context():
        return app.test_client().post("/login", data={"username": username, "password": password}).status_code == 302


# --- hospitals ---------------------------------------------------------------------------------------------

def test_hospital_file_previews_then_creates_and_updates_by_code(world: World, tmp_path: Path) -> None:
    admin = world.actors["admin"]
    path = write(tmp_path, HEADER + "H9,Ninth Hospital,第九医院,secondary,0.95,yes\n"
                 + "H2,Hospital H2,H2医院,三级,1.2500,\n" + "H3,Hospital H3,H3医院,secondary,0.90,\n")
    plan = hospitals.preview(admin, path)
    assert plan.errors == ()
    assert [(row.code, row.new, sorted(row.changes)) for row in plan.rows] == [
        ("H9", True, ["active", "code", "coefficient", "level", "name_en", "name_zh"]),
        ("H2", False, ["coefficient"]), ("H3", False, [])]
    assert (plan.created, plan.updated, plan.unchanged) == (1, 1, 1)
    assert count(Hospital) == 3 and logs("hospital.imported") == []  # a preview writes nothing

    outcome = hospitals.import_file(admin, path)
    assert (outcome.created, outcome.updated, outcome.errors) == (1, 2, ())
    added = db.session.scalars(db.select(Hospital).where(Hospital.code == "H9")).one()
    assert (added.level, added.coefficient, added.active, added.region_id) == (
        "secondary", Decimal("0.9500"), True, world.region_id)
    changed = [log for log in logs("hospital.imported") if log.object_id == world.hospitals["H2"]]
    assert [log.data["changes"] for log in changed] == [{"coefficient": ["1.0000", "1.2500"]}]
    assert logs("hospital.import_finished")[0].data == {"file": "hospitals.csv", "created": 1, "updated": 2}


def test_a_file_with_one_bad_row_writes_nothing_and_names_row_column_and_expectation(world: World,
                                                                                      tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "H9,Ninth Hospital,第九医院,secondary,0.95,yes\n"
                 + "H10,Tenth,第十医院,quaternary,0,yes\n"
                 + "H11,Eleventh,第十一医院,primary,10,maybe\n"
                 + "H12,Twelfth,,primary,1.23456,\n"
                 + "H9,Ninth again,第九医院,secondary,0.95,yes\n")
    outcome = hospitals.import_file(world.actors["admin"], path)
    assert (outcome.created, outcome.updated) == (0, 0)
    assert {(e.row, e.field) for e in outcome.errors} == {
        (3, "level"), (3, "coefficient"), (4, "coefficient"), (4, "active"), (5, "name_zh"), (5, "coefficient"),
        (6, "code")}
    by_place = {(e.row, e.field): e.message for e in outcome.errors}
    assert "found 0" in by_place[(3, "coefficient")] and "at most 9.9999" in by_place[(4, "coefficient")]
    assert "found maybe" in by_place[(4, "active")] and "row 2" in by_place[(6, "code")]
    assert count(Hospital) == 3
    assert logs("hospital.imported") == [] and logs("hospital.import_finished") == []
    with pytest.raises(ValidationFailed) as lacking:
        hospitals.import_file(world.actors["admin"], write(tmp_path, "code,name_en\nH1,A\n"))
    assert "coefficient" in lacking.value.errors["file"][0]


def test_the_import_page_previews_then_imports_the_file_it_checked(app: Flask, world: World) -> None:
    admin = _logged_in(app, "admin")
    text = HEADER + "H9,Ninth Hospital,第九医院,secondary,0.95,yes\nH2,Hospital H2,H2医院,tertiary,1.25,\n"
    with app.app_context():
        preview = admin.post("/staff/hospitals/import", content_type="multipart/form-data", data={
            "file": (io.BytesIO(text.encode()), "hospitals.csv"), "step": "preview"})
    assert preview.status_code == 200 and "1 to add, 1 to update, 0 unchanged" in preview.text
    assert "1.0000</span> → 1.25" in preview.text
    assert count(Hospital) == 3
    token = preview.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    form = {"token": token, "file_name": "hospitals.csv"}
    with app.app_context():
        done = admin.post("/staff/hospitals/import/confirm", data=form)
        assert done.status_code == 302 and count(Hospital) == 4
        again = admin.post("/staff/hospitals/import/confirm", data=form)
    assert again.status_code == 422 and "no longer kept" in again.text and count(Hospital) == 4
    assert logs("hospital.import_finished")[0].data["file"] == "hospitals.csv"


def test_only_an_administrator_changes_hospitals(world: World, tmp_path: Path) -> None:
    data = hospitals.HospitalInput("H7", "Seventh", "第七医院", "primary", "0.8")
    for role in ("staff", "auditor", "hosp1"):
        with pytest.raises(PermissionDenied):
            hospitals.save(world.actors[role], None, data)
        with pytest.raises(PermissionDenied):
            hospitals.import_file(world.actors[role], write(tmp_path, HEADER + "H7,A,甲,primary,1,yes\n"))
    saved = hospitals.save(world.actors["admin"], None, data)
    assert saved.coefficient == Decimal("0.8") and count(Hospital) == 4
    with pytest.raises(ValidationFailed) as refused:
        hospitals.save(world.actors["admin"], saved.id, hospitals.HospitalInput("H1", "x", "y", "primary", "9.99991"))
    assert set(refused.value.errors) == {"code", "coefficient"}


def test_an_inactive_hospital_logs_its_users_out_and_cannot_be_chosen(app: Flask, world: World) -> None:
    client = _logged_in(app, "hosp1")
    assert _visit(app, client, "/hospital/").status_code == 200
    hospitals.save(world.actors["admin"], world.hospitals["H1"],
                   hospitals.HospitalInput("H1", "Hospital H1", "H1医院", "tertiary", "1.10", active=False))
    assert [log.data["changes"] for log in logs("hospital.updated")] == [{"active": [True, False]}]
    assert _sent_to_login(_visit(app, client, "/hospital/"))
    assert not _can_log_in(app, "hosp1", PASSWORD)
    with pytest.raises(ValidationFailed) as refused:
        users.create_user(world.actors["admin"], users.UserInput("Clerk", "hospital", username="h1clerk2",
                                                                 hospital_id=world.hospitals["H1"]))
    assert "hospital_id" in refused.value.errors
    renamed = users.update_binding(world.actors["admin"], world.users["hosp1clerk"],  # a user keeps their own
                                   users.Binding("Clerk of H1", "hospital", hospital_id=world.hospitals["H1"]))
    assert renamed.display_name == "Clerk of H1"
    with pytest.raises(ValidationFailed):
        users.update_binding(world.actors["admin"], world.users["hosp2"],
                             users.Binding("Hosp2", "hospital", hospital_id=world.hospitals["H1"]))
    assert _can_log_in(app, "hosp2", PASSWORD)  # other hospitals are untouched


# --- accounts ----------------------------------------------------------------------------------------------

def test_a_new_account_has_no_usable_password_and_its_binding_is_checked(app: Flask, world: World) -> None:
    admin = world.actors["admin"]
    created = users.create_user(admin, users.UserInput("Clerk Two", "hospital", username=" Clerk.Two ",
                                                       hospital_id=world.hospitals["H2"], hospital_admin=True))
    assert (created.username, created.role, created.hospital_admin) == ("clerk.two", "hospital", True)
    assert not _can_log_in(app, "clerk.two", "")
    assert not _can_log_in(app, "clerk.two", users.UNUSABLE_PASSWORD)
    [entry] = logs("user.created")
    assert entry.data["username"] == "clerk.two" and "password_hash" not in entry.data
    cases = {
        users.UserInput("Again", "staff", username="clerk.two"): "username",
        users.UserInput("Short", "staff", username="ab"): "username",
        users.UserInput("No hospital", "hospital", username="nohospital"): "hospital_id",
        users.UserInput("Expert", "expert", username="takenexpert", expert_id=world.experts["expert1"]): "expert_id",
        users.UserInput("Expert", "expert", username="noexpert"): "expert_id",
        users.UserInput("", "wizard", username="nobody"): "role",
    }
    for data, field in cases.items():
        with pytest.raises(ValidationFailed) as refused:
            users.create_user(admin, data)
        assert field in refused.value.errors, data
    staff_admin = users.create_user(admin, users.UserInput("Office", "staff", username="office2", hospital_id=1,
                                                           hospital_admin=True))
    assert (staff_admin.hospital_id, staff_admin.hospital_admin) == (None, False)  # other roles carry no binding
    with pytest.raises(PermissionDenied):
        users.create_user(world.actors["staff"], users.UserInput("Sneaky", "admin", username="sneaky"))


def test_an_admin_cannot_disable_themselves_or_the_last_admin(app: Flask, world: World) -> None:
    admin = world.actors["admin"]
    with pytest.raises(ServiceError, match="your own"):
        users.set_active(admin, world.users["admin"], False)
    with pytest.raises(ServiceError, match="your own"):
        users.update_binding(admin, world.users["admin"], users.Binding("Admin", "staff"))
    second = users.create_user(admin, users.UserInput("Second Admin", "admin", username="admin2"))
    second_actor = Actor(user_id=second.id, role=Role.ADMIN)
    users.set_active(second_actor, world.users["admin"], False)  # another admin remains: allowed
    assert not _can_log_in(app, "admin", PASSWORD)
    with pytest.raises(ServiceError, match="last active administrator"):
        users.set_active(SYSTEM, second.id, False)
    users.set_active(second_actor, world.users["admin"], True)
    assert _can_log_in(app, "admin", PASSWORD)
    assert [log.action for log in logs("user.disabled") + logs("user.enabled")] == ["user.disabled", "user.enabled"]


def test_disabling_a_user_ends_their_sessions(app: Flask, world: World) -> None:
    client = _logged_in(app, "staff")
    assert _visit(app, client).status_code == 200
    users.set_active(world.actors["admin"], world.users["staff"], False)
    assert _sent_to_login(_visit(app, client))


def test_changing_the_binding_is_logged_with_the_diff(world: World) -> None:
    users.update_binding(world.actors["admin"], world.users["hosp1clerk"],
                         users.Binding("Clerk of H2", "hospital", hospital_id=world.hospitals["H2"]))
    [entry] = logs("user.updated")
    assert entry.data["changes"] == {"display_name": ["Hosp1Clerk", "Clerk of H2"],
                                     "hospital_id": [world.hospitals["H1"], world.hospitals["H2"]]}


# --- invitations -------------------------------------------------------------------------------------------

def test_an_invitation_sets_the_password_once_and_only_its_hash_is_stored(app: Flask, world: World) -> None:
    admin = world.actors["admin"]
    user = users.create_user(admin, users.UserInput("New Clerk", "hospital", username="newclerk",
                                                    hospital_id=world.hospitals["H2"]))
    invitation, token = users.invite(admin, user.id)
    assert len(token) >= 40 and invitation.token_hash != token and token not in str(invitation.token_hash)
    assert all(token not in str(log.data) for log in db.session.scalars(db.select(ActivityLog)))
    assert invitation.expires_at == invitation.created_at + timedelta(hours=72)
    users.accept_invitation(token, NEW_PASSWORD, NEW_PASSWORD)
    assert _can_log_in(app, "newclerk", NEW_PASSWORD)
    with pytest.raises(ServiceError, match="not valid"):
        users.accept_invitation(token, "another fine passphrase", "another fine passphrase")
    assert _can_log_in(app, "newclerk", NEW_PASSWORD)
    assert [log.action for log in logs("user.invitation_accepted")] == ["user.invitation_accepted"]


def test_an_invitation_expires_and_a_newer_one_replaces_it(world: World) -> None:
    admin = world.actors["admin"]
    user = users.create_user(admin, users.UserInput("Late Comer", "staff", username="late"))
    first = users.invite(admin, user.id)[1]
    second = users.invite(admin, user.id)[1]
    with pytest.raises(ServiceError, match="not valid"):
        users.open_invitation(first)
    assert users.open_invitation(second).user_id == user.id
    with time_machine.travel(utcnow() + timedelta(hours=72, seconds=1), tick=False):  # clock-ok: frozen
        with pytest.raises(ServiceError, match="not valid"):
            users.accept_invitation(second, NEW_PASSWORD, NEW_PASSWORD)
    with time_machine.travel(utcnow() + timedelta(hours=71), tick=False):  # clock-ok: frozen
        assert users.accept_invitation(second, NEW_PASSWORD, NEW_PASSWORD).id == user.id


def test_the_invitation_hours_come_from_the_configuration(app: Flask, world: World) -> None:
    app.config["INVITATION_HOURS"] = 2
    user = users.create_user(world.actors["admin"], users.UserInput("Quick", "auditor", username="quick"))
    invitation, _ = users.invite(world.actors["admin"], user.id)
    assert invitation.expires_at - invitation.created_at == timedelta(hours=2)


def test_password_rules(world: World) -> None:
    user = users.create_user(world.actors["admin"], users.UserInput("Someone", "staff", username="longusername1"))
    token = users.invite(world.actors["admin"], user.id)[1]
    refused = {
        "short pass": "password",
        "x" * 129: "password",
        "LongUserName1": "password",  # the user name, whatever the case
        "qwerty123456": "password",  # on the common-password list
        "1qaz2wsx3edc": "password",
    }
    for candidate, field in refused.items():
        with pytest.raises(ValidationFailed) as failure:
            users.accept_invitation(token, candidate, candidate)
        assert field in failure.value.errors, candidate
    with pytest.raises(ValidationFailed) as mismatch:
        users.accept_invitation(token, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert list(mismatch.value.errors) == ["confirm"]
    assert users.accept_invitation(token, NEW_PASSWORD, NEW_PASSWORD).id == user.id  # refusals used nothing up


def test_a_reset_ends_every_session_and_the_old_password(app: Flask, world: World) -> None:
    client = _logged_in(app, "staff")
    copied = client.get_cookie("session").value  # type: ignore[union-attr]
    assert _visit(app, client).status_code == 200
    older = users.invite(world.actors["admin"], world.users["staff"])[1]
    issued = users.reset_password(world.actors["admin"], world.users["staff"])
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert _sent_to_login(_visit(app, thief)) and _sent_to_login(_visit(app, client))
    assert not _can_log_in(app, "staff", PASSWORD)
    with pytest.raises(ServiceError):
        users.open_invitation(older)
    assert db.session.get(Invitation, users.open_invitation(issued.token).id).purpose == "reset"
    users.accept_invitation(issued.token, NEW_PASSWORD, NEW_PASSWORD)
    assert _can_log_in(app, "staff", NEW_PASSWORD)


def test_changing_ones_password_keeps_this_session_and_ends_the_others(app: Flask, world: World) -> None:
    here = _logged_in(app, "auditor")
    elsewhere = _logged_in(app, "auditor")
    with app.app_context():
        wrong = here.post("/account/password", data={"current": "not it", "password": NEW_PASSWORD,
                                                     "confirm": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current password is wrong" in wrong.text
    with app.app_context():
        breached = here.post("/account/password", data={"current": PASSWORD, "password": "qwerty123456",
                                                        "confirm": "qwerty123456"})
    assert breached.status_code == 422 and "commonly used" in breached.text
    with app.app_context():
        done = here.post("/account/password", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                                    "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert _visit(app, here).status_code == 200
    assert _sent_to_login(_visit(app, elsewhere))
    assert _can_log_in(app, "auditor", NEW_PASSWORD) and not _can_log_in(app, "auditor", PASSWORD)


def test_the_link_page_sets_the_password_and_sends_to_login(app: Flask, world: World) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://review.example.gov.cn/"
    admin = _logged_in(app, "admin")
    with app.app_context():
        page = admin.post("/staff/users/new", data={"username": "clerk9", "display_name": "Clerk Nine",
                                                    "role": "hospital", "hospital_id": str(world.hospitals["H2"])})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    link = page.text.split("https://review.example.gov.cn/invitation/", 1)[1].split("<", 1)[0].strip()
    visitor = app.test_client()
    with app.app_context():
        assert visitor.get(f"/invitation/{link}").status_code == 200
        assert visitor.get("/invitation/not-a-token").status_code == 404
        bad = visitor.post(f"/invitation/{link}", data={"password": "clerk9", "confirm": "clerk9"})
        assert bad.status_code == 422 and "12 to 128" in bad.text
        done = visitor.post(f"/invitation/{link}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert done.status_code == 302 and done.headers["Location"].endswith("/login")
        assert visitor.get(f"/invitation/{link}").status_code == 404
    assert _can_log_in(app, "clerk9", NEW_PASSWORD)


# --- experts' logins ---------------------------------------------------------------------------------------

def test_expert_import_creates_logins_with_links_and_a_formula_safe_csv(app: Flask, world: World,
                                                                         tmp_path: Path) -> None:
    users.create_user(world.actors["admin"], users.UserInput("Someone Else", "staff", username="e800"))
    path = write(tmp_path, "code,name_en,name_zh,title,hospital_code,specialties\n"
                 "E800,Wu Gang,=HYPERLINK(\"x\"),chief_physician,H1,cardiology\n"
                 "E001,Dr Expert 1,专家1,chief_physician,H1,cardiology\n", name="pool.csv")
    outcome = experts.import_file(world.actors["admin"], path, create_logins=True)
    assert (outcome.created, outcome.updated) == (1, 1)
    [issued] = outcome.invitations  # E001 already has a login
    assert issued.username == "e800-2"  # e800 was taken
    login = db.session.get(User, issued.user_id)
    expert = db.session.scalars(db.select(Expert).where(Expert.code == "E800")).one()
    assert (login.role, login.expert_id) == ("expert", expert.id)
    admin = _logged_in(app, "admin")
    with app.app_context():
        sheet = admin.post("/staff/users/invitations.csv", data={"token": [issued.token, "forged"]})
    rows = list(csv.reader(io.StringIO(sheet.data.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][0] == "e800-2" and rows[1][1].startswith("'=HYPERLINK")
    assert rows[1][2].endswith(f"/invitation/{issued.token}")


def test_an_expert_without_a_login_gets_one(world: World) -> None:
    expert = Expert(code="E900", name_en="Lin Yu", name_zh="林雨", title="chief_physician",
                    hospital_id=world.hospitals["H2"], specialties=["cardiology"])
    db.session.add(expert)
    db.session.commit()
    issued = users.create_expert_login(world.actors["admin"], expert.id)
    assert issued.username == "e900" and users.open_invitation(issued.token).user.expert_id == expert.id
    with pytest.raises(ServiceError, match="already has a login"):
        users.create_expert_login(world.actors["admin"], expert.id)


def test_the_expert_page_offers_a_login_to_an_expert_without_one(app, world: World) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.test_walkthrough import login

    expert = Expert(code="E901", name_en="Lin Yu", name_zh="林雨", title="chief_physician",
                    hospital_id=world.hospitals["H2"], specialties=["cardiology"])
    db.session.add(expert)
    db.session.commit()
    client = app.test_client()
    login(client, "admin")
    page = client.get(f"/staff/experts/{expert.id}").text
    assert "Create login" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    created = client.post(f"/staff/experts/{expert.id}/login", data={"csrf_token": token.group(1) if token else ""})
    assert created.status_code == 200 and "/invitation/" in created.text
    after = client.get(f"/staff/experts/{expert.id}").text
    assert "e901" in after and "Create login" not in after
    login(client, "staff")
    assert "Create login" not in client.get(f"/staff/experts/{world.experts['expert1']}").text


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_register_templates_read_back_as_they_are_in_either_language(world: World, tmp_path: Path,
                                                                         locale: str) -> None:
    from flask_babel import force_locale

    hospital = db.session.get(Hospital, world.hospitals["H1"])
    hospital.code = "H001"  # the experts' template names hospital H001
    db.session.commit()
    for service in (hospitals, experts):
        with force_locale(locale):
            text = service.template_csv()
        assert text.splitlines()[0].isascii() == (locale == "en")  # Chinese headers for a Chinese office
        path = tmp_path / f"{service.__name__}-{locale}.csv"
        path.write_bytes(("\ufeff" + text).encode("utf-8"))
        plan = service.preview(world.actors["admin"], path)
        assert plan.errors == () and len(plan.rows) == 1, (service.__name__, plan.errors)
