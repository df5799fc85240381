"""API tokens and idempotency records, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from review.extensions import db
from review.models import ActivityLog, ApiToken, IdempotencyRecord
from review.services import api_tokens, idempotency
from review.services.context import NotFound, PermissionDenied, ValidationFailed
from workflows.states import Role


def test_create_authenticate_revoke(world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actors["hosp1"]
    token, secret = api_tokens.create_token(admin, "  HIS export  ")
    assert secret.startswith("drg_") and len(secret) > 40
    assert token.name == "HIS export" and token.prefix == secret[:8]
    stored = db.session.get(ApiToken, token.id)
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest() != secret
    assert secret not in stored.token_hash
    log = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "api_token.created")).one()
    assert log.data["token_id"] == token.id and secret not in str(log.data)

    actor = api_tokens.authenticate(secret)
    assert actor is not None
    assert (actor.role, actor.hospital_id, actor.user_id, actor.token_id) == (
        Role.HOSPITAL, world.hospitals["H1"], world.users["hosp1"], token.id)
    assert db.session.get(ApiToken, token.id).last_used_at is not None
    assert api_tokens.authenticate(secret + "x") is None
    assert api_tokens.authenticate("") is None and api_tokens.authenticate(None) is None
    assert api_tokens.authenticate("not-a-token") is None

    assert [t.id for t in api_tokens.list_tokens(admin)] == [token.id]
    api_tokens.revoke_token(admin, token.id)
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert api_tokens.authenticate(secret) is None
    revoked = db.session.scalars(db.select(ActivityLog).where(ActivityLog.action == "api_token.revoked")).one()
    assert revoked.data["token_id"] == token.id


def test_last_used_is_written_at_most_once_a_minute(world) -> None:  # type: ignore[no-untyped-def]
    token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS")
    api_tokens.authenticate(secret)
    first = db.session.get(ApiToken, token.id).last_used_at
    api_tokens.authenticate(secret)
    assert db.session.get(ApiToken, token.id).last_used_at == first
    stored = db.session.get(ApiToken, token.id)
    stored.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    api_tokens.authenticate(secret)
    assert db.session.get(ApiToken, token.id).last_used_at > first - timedelta(minutes=2)


def test_only_a_hospital_admin_manages_tokens(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        api_tokens.create_token(world.actors["hosp1clerk"], "clerk token")
    with pytest.raises(PermissionDenied):
        api_tokens.create_token(world.actors["staff"], "staff token")
    with pytest.raises(PermissionDenied):
        api_tokens.list_tokens(world.actors["hosp1clerk"])
    with pytest.raises(ValidationFailed):
        api_tokens.create_token(world.actors["hosp1"], "   ")
    token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS")
    with pytest.raises(PermissionDenied):
        api_tokens.revoke_token(world.actors["hosp1clerk"], token.id)
    with pytest.raises(PermissionDenied):  # a token never creates further tokens
        api_tokens.create_token(api_tokens.authenticate(secret), "child")  # type: ignore[arg-type]
    assert db.session.scalar(db.select(db.func.count(ApiToken.id))) == 1


def test_another_hospital_cannot_revoke(world) -> None:  # type: ignore[no-untyped-def]
    from review.models import User

    db.session.get(User, world.users["hosp2"]).hospital_admin = True
    db.session.commit()
    token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS")
    with pytest.raises(NotFound):
        api_tokens.revoke_token(world.actors["hosp2"], token.id)
    assert api_tokens.list_tokens(world.actors["hosp2"]) == []
    assert api_tokens.authenticate(secret) is not None


def test_idempotency_replay_and_conflict(world) -> None:  # type: ignore[no-untyped-def]
    hospital = world.hospitals["H1"]
    calls: list[int] = []

    def run() -> tuple[dict, int]:
        calls.append(1)
        return {"n": len(calls)}, 201

    first = idempotency.replay_or_run(hospital, "k-1", b'{"a":1}', run, method="POST", path="/api/v1/x")
    again = idempotency.replay_or_run(hospital, "k-1", b'{"a":1}', run, method="POST", path="/api/v1/x")
    assert first == again == ({"n": 1}, 201) and len(calls) == 1
    with pytest.raises(idempotency.IdempotencyConflict):
        idempotency.replay_or_run(hospital, "k-1", b'{"a":2}', run, method="POST", path="/api/v1/x")
    with pytest.raises(idempotency.IdempotencyConflict):  # same body, other endpoint
        idempotency.replay_or_run(hospital, "k-1", b'{"a":1}', run, method="POST", path="/api/v1/y")
    # keys are per hospital
    assert idempotency.replay_or_run(world.hospitals["H2"], "k-1", b'{"a":2}', run, method="POST",
                                     path="/api/v1/x") == ({"n": 2}, 201)
    with pytest.raises(idempotency.IdempotencyKeyInvalid):
        idempotency.replay_or_run(hospital, "k" * 121, b"", run, method="POST", path="/api/v1/x")


def test_idempotency_stores_client_errors_but_not_server_errors(world) -> None:  # type: ignore[no-untyped-def]
    hospital = world.hospitals["H1"]
    answers = iter([({"error": "boom"}, 503), ({"ok": True}, 201)])
    assert idempotency.replay_or_run(hospital, "k-5xx", b"", lambda: next(answers), method="POST", path="/p")[1] == 503
    assert idempotency.replay_or_run(hospital, "k-5xx", b"", lambda: next(answers), method="POST", path="/p") == (
        {"ok": True}, 201)
    assert idempotency.replay_or_run(hospital, "k-4xx", b"", lambda: ({"error": "bad"}, 422), method="POST",
                                     path="/p") == ({"error": "bad"}, 422)
    assert idempotency.replay_or_run(hospital, "k-4xx", b"", lambda: ({"other": 1}, 201), method="POST",
                                     path="/p") == ({"error": "bad"}, 422)
    assert db.session.scalar(db.select(db.func.count(IdempotencyRecord.id))) == 2


def test_a_twin_request_with_a_claimed_key_is_told_to_retry(world) -> None:  # type: ignore[no-untyped-def]
    """While the first request runs, its key is already claimed: the twin cannot run the write again."""
    answers = []

    def first_run() -> tuple[dict, int]:
        with pytest.raises(idempotency.IdempotencyInProgress):
            idempotency.replay_or_run(world.hospitals["H1"], "k-twin", b"{}", lambda: ({"twin": True}, 201),
                                      method="POST", path="/api/v1/applications")
        answers.append("first")
        return {"first": True}, 201

    body, status = idempotency.replay_or_run(world.hospitals["H1"], "k-twin", b"{}", first_run,
                                             method="POST", path="/api/v1/applications")
    assert (body, status, answers) == ({"first": True}, 201, ["first"])
    again = idempotency.replay_or_run(world.hospitals["H1"], "k-twin", b"{}", lambda: ({"third": True}, 201),
                                      method="POST", path="/api/v1/applications")
    assert again == ({"first": True}, 201)


def test_a_server_error_releases_the_key(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError):
        idempotency.replay_or_run(world.hospitals["H1"], "k-crash", b"{}", _explode, method="POST", path="/x")
    assert idempotency.replay_or_run(world.hospitals["H1"], "k-crash", b"{}", lambda: ({"ok": 1}, 201),
                                     method="POST", path="/x") == ({"ok": 1}, 201)


def _explode() -> tuple[dict, int]:
    raise RuntimeError("database went away")


def test_a_hospital_taken_off_the_register_is_refused_through_its_tokens(world) -> None:  # type: ignore[no-untyped-def]
    from review.models import Hospital

    _token, secret = api_tokens.create_token(world.actors["hosp1"], "HIS")
    assert api_tokens.authenticate(secret) is not None
    db.session.get(Hospital, world.hospitals["H1"]).active = False
    db.session.commit()
    assert api_tokens.authenticate(secret) is None
