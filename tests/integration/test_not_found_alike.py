"""A refusal says nothing about which ids exist: another hospital's (or expert's) object and an object that does
not exist get the same 404 with the same body, on every object route a hospital user, an expert or an API token can
call. The routes are walked from the URL map, so a new route is covered (or fails here until it is)."""
from __future__ import annotations

import re

from flask import Flask

from review.extensions import db
from review.models import Settlement, User
from review.services import api_tokens, periods, settlements
from review.services.context import HIDDEN
from tests.e2e.test_walkthrough import login
from tests.factories import World
from tests.route_walk import fill_url, hospital1_objects

MISSING_ID = 2_000_000_000
"""Inside the 32-bit id range, so the lookup reaches the database, and far beyond any id the world creates."""
FORM = {"mode": "all_or_nothing", "category": "high_cost", "reason": "Prolonged ICU stay with cardiogenic shock.",
        "declare_conflict": "", "recusal-reason": "A colleague of mine treated this patient."}
"""Valid answers for every form behind an object route, so no route can refuse on its form before the lookup."""


def _normalised(body: bytes, object_id: int) -> bytes:
    """The id the caller typed may be echoed in a link (a redirect back to the same page), and the layout's CSRF
    tokens carry the second they were signed; nothing else may differ."""
    body = re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token" value=""', body)
    return re.sub(rb"/%d(?=\D|$)" % object_id, b"/<id>", body)


def test_foreign_and_missing_ids_get_the_same_404(app: Flask, world: World) -> None:
    hospital_ids, expert_ids = hospital1_objects(world)
    periods.close(world.actors["staff"], "T01", "2026Q3")  # H1's issued statement of the quarter
    settlements.start_drafts(world.actors["staff"], "T01", "2026Q3")
    statement = db.session.scalars(db.select(Settlement.id).where(Settlement.hospital_id == world.hospitals["H1"])).one()
    hospital_ids["settlement_id"] = settlements.issue(world.actors["staff"], statement).id
    db.session.get(User, world.users["hosp2"]).hospital_admin = True  # so token routes reach the lookup
    db.session.commit()
    hospital, expert, api = app.test_client(), app.test_client(), app.test_client()
    for client, username in ((hospital, "hosp2"), (expert, "expert1")):
        with app.app_context():  # each login in its own `g`: logging one in must not log the other out
            login(client, username)
    api_headers = {"Authorization": f"Bearer {api_tokens.create_token(world.actors['hosp2'], 'probe')[1]}"}
    callers = {"hospital": (hospital, hospital_ids, {}), "expert": (expert, expert_ids, {}),
               "api_token": (api, hospital_ids, api_headers)}
    checked = []
    for rule in app.url_map.iter_rules():
        names = re.findall(r"<int:(\w+)>", rule.rule)
        roles = sorted(getattr(app.view_functions[rule.endpoint], "allowed_roles", frozenset()) & callers.keys())
        if not names or not roles:
            continue
        assert len(names) == 1, rule.rule
        name = names[0]
        for role in roles:
            client, ids, headers = callers[role]
            assert name in ids, f"{rule.rule}: give {role} another owner's {name} in route_walk.hospital1_objects"
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                answers = []
                for object_id in (ids[name], MISSING_ID):
                    with app.app_context():  # a fresh `g` per request, so no client sees another's logged-in user
                        url = fill_url(rule.rule, {name: object_id}.__getitem__)
                        response = client.open(url, method=method, headers=headers,
                                               data=FORM if method == "POST" and role != "api_token" else None)
                    answers.append((response.status_code, response.get_json() if role == "api_token" else
                                    _normalised(response.get_data(), object_id)))
                where = (rule.rule, role, method)
                assert answers[0] == answers[1], where
                assert answers[0][0] == 404, where
                if role == "api_token":
                    assert answers[0][1] == {"error": {"code": "not_found", "message": str(HIDDEN), "rows": []}}, where
                checked.append(where)
    reached = {(rule, role) for rule, role, _method in checked}
    assert {("/documents/<int:document_id>", "hospital"), ("/documents/<int:document_id>", "expert"),
            ("/decisions/<int:decision_id>/letter.pdf", "hospital"), ("/api/v1/decisions/<int:decision_id>", "api_token"),
            ("/expert/assignments/<int:assignment_id>", "expert"), ("/hospital/items/<int:item_id>", "hospital")} <= reached
