"""Schemathesis over the API's own OpenAPI document: whatever a client sends, no endpoint answers 5xx.

Each operation gets valid requests (positive) and requests that break the document's rules (negative), sent
with a real hospital token so they get past authentication to the code that reads the input; the hospital has
a case and an application, and uploads go to that item, so generated files reach the store; it has an issued
settlement statement too, and the statement operations are sent to it, so answers and disputes reach the service. A bounded number
of examples keeps the test under a minute on both databases.
"""
from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from review.extensions import db
from review.models import Hospital, Settlement
from review.services import api_tokens, applications, settlements
from review.services.cases import create_case
from tests.e2e.test_settlement_pages import _closed
from tests.factories import World, ami_case

EXAMPLES_PER_OPERATION = 30


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_api_request_gets_a_server_error(app: Flask, world: World, mode: GenerationMode) -> None:
    hospital = world.actors["hosp1"]
    case = create_case(hospital, ami_case())
    item_id = applications.apply_for_case(hospital, case.id, "high_cost",
                                          "Cardiogenic shock requiring prolonged ICU care.").id
    _closed(world)
    settlements.start_drafts(world.actors["staff"], "T01", "2026Q3")
    statement_id = db.session.scalar(db.select(Settlement.id).join(Hospital, Hospital.id == Settlement.hospital_id)
                                     .where(Hospital.code == "H1"))
    settlements.issue(world.actors["staff"], statement_id)
    token = {"Authorization": f"Bearer {api_tokens.create_token(hospital, 'fuzz')[1]}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16  # every operation but GET /openapi.json, the document itself

    for operation in operations:
        # uploads go to the real item and statement operations to the real statement, rather than to a 404
        known = {"item_id": item_id} if operation.label.endswith("/documents") else None
        if "{settlement_id}" in operation.label:
            known = {"settlement_id": statement_id}

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=known))
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=token, checks=[not_a_server_error])

        call()
