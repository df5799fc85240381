"""Hospital API tokens: created by a hospital administrator, shown once, stored only as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l

from review.extensions import db
from review.models import ApiToken, Hospital, User
from review.models.types import utcnow
from review.services import activity
from review.services.context import HIDDEN, Actor, NotFound, PermissionDenied, ValidationFailed
from workflows.states import Role

SECRET_PREFIX = "drg_"
MAX_NAME_CHARS = 80
MAX_SECRET_CHARS = 200
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""last_used_at is written at most once a minute per token, so a busy client does not write on every call."""


@dataclass(frozen=True)
class TokenActor(Actor):
    """A hospital acting through an API token; `user_id` is the token's creator so inserts have an owner."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _require_admin(actor: Actor) -> User:
    actor.require(Role.HOSPITAL)
    if isinstance(actor, TokenActor):  # a token never manages tokens, whoever created it
        raise PermissionDenied(_l("API tokens are managed by a hospital administrator in the web application."))
    user = db.session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active or not user.hospital_admin or user.hospital_id != actor.hospital_id:
        raise PermissionDenied(_l("Only a hospital administrator may manage API tokens."))
    return user


def create_token(actor: Actor, name: str) -> tuple[ApiToken, str]:
    """A new token for the actor's hospital and its secret, which is returned here and never again."""
    _require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": [str(_l("Give the token a name, e.g. the system that will use it."))]})
    if len(name) > MAX_NAME_CHARS:
        raise ValidationFailed({"name": [str(_l("The name may have at most %(n)s characters.", n=MAX_NAME_CHARS))]})
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(hospital_id=actor.hospital_id, name=name, prefix=secret[:8], token_hash=hash_secret(secret),
                     created_by_id=actor.user_id)
    db.session.add(token)
    db.session.flush()
    activity.record(actor, "api_token.created", "api_token", token.id, token.hospital_id,
                    {"token_id": token.id, "name": name, "prefix": token.prefix})
    db.session.commit()
    return token, secret


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the hospital's own tokens; revoking twice changes nothing."""
    _require_admin(actor)
    token = db.session.scalars(db.select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.hospital_id == actor.hospital_id)).first()
    if token is None:
        raise NotFound(HIDDEN)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        activity.record(actor, "api_token.revoked", "api_token", token.id, token.hospital_id,
                        {"token_id": token.id, "prefix": token.prefix})
        db.session.commit()
    return token


def list_tokens(actor: Actor) -> list[ApiToken]:
    _require_admin(actor)
    return list(db.session.scalars(db.select(ApiToken).where(ApiToken.hospital_id == actor.hospital_id)
                                   .order_by(ApiToken.id.desc())))


def authenticate(secret: str | None, ip: str | None = None) -> TokenActor | None:
    """The hospital actor for a valid, unrevoked token secret, or None.

    The lookup is by the SHA-256 of the secret (an attacker cannot steer a hash prefix, so the index
    lookup leaks nothing useful) and the stored hash is compared again in constant time.
    """
    if not secret or not secret.startswith(SECRET_PREFIX) or len(secret) > MAX_SECRET_CHARS:
        return None
    digest = hash_secret(secret)
    token = db.session.scalars(db.select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest) or token.revoked_at is not None:
        return None
    if not db.session.scalar(db.select(Hospital.active).where(Hospital.id == token.hospital_id)):
        return None  # a hospital taken off the register speaks through no channel, its tokens included
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    return TokenActor(user_id=token.created_by_id, role=Role.HOSPITAL, hospital_id=token.hospital_id, ip=ip,
                      token_id=token.id)
