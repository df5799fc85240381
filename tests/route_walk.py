"""What the tests that walk the url_map share: one user per role, a rule's URL with its ids filled in, and the
objects of hospital H1 that fill them (each kind of object a hospital user, an expert or an API token can name)."""
from __future__ import annotations

import io
import re
from collections.abc import Callable

from review.extensions import db
from review.models import Decision
from review.services import api_tokens, decisions, documents, intake
from tests.factories import World, seat_panels
from tests.integration.test_application_path import PDF, _apply, _review
from tests.integration.test_intake import csv_bytes, rows

USER_FOR_ROLE = {"hospital": "hosp1", "expert": "expert1", "staff": "staff", "admin": "admin", "auditor": "auditor"}
"""The world's user that acts in each role when a test walks the routes that role may call."""


def fill_url(rule: str, id_for: Callable[[str], int], word_for: Callable[[str], str] = lambda _name: "csv") -> str:
    """`rule` with each `<int:name>` replaced by `id_for(name)` and every other argument by `word_for(name)` (a
    format such as `errors.<fmt>`, a token, a code)."""
    with_ids = re.sub(r"<int:(\w+)>", lambda match: str(id_for(match.group(1))), rule)
    return re.sub(r"<(\w+)>", lambda match: word_for(match.group(1)), with_ids)


def hospital1_objects(world: World) -> tuple[dict[str, int], dict[str, int]]:
    """Every kind of object H1 owns, and an assignment of another expert: ids by the route argument that names
    them, as seen by a user of H2 (and its API token) and by expert1 (from H1, so never seated on H1's items).
    The application has gone all the way: documents, a seated panel, three approvals, an issued letter."""
    hosp1 = world.actors["hosp1"]
    item = _apply(world)
    evidence = documents.upload_evidence(hosp1, item.id, io.BytesIO(PDF), "ZY2026080001.pdf", "discharge_summary")
    seat_panels(world)
    db.session.refresh(item)
    decision: Decision = _review(world, item, [("approve", 0), ("approve", 0), ("approve", 0)])
    decisions.open_reasons(world.actors["staff"], decision.id)
    decisions.issue(world.actors["staff"], decision.id)
    job = intake.upload(hosp1, io.BytesIO(csv_bytes(rows({}))), "q3.csv")
    token, _secret = api_tokens.create_token(hosp1, "his")
    hospital_ids = {"item_id": item.id, "case_id": item.case_id, "job_id": job.id, "token_id": token.id,
                    "document_id": evidence.id, "decision_id": decision.id}
    expert_ids = {"assignment_id": item.assignments[0].id, "document_id": evidence.id}
    return hospital_ids, expert_ids
