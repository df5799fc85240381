"""User accounts: administrators create, bind, disable and reset them; nobody but the user ever knows a password.

A new account has no usable password. It gets an invitation, a random single-use link that expires after
`INVITATION_HOURS` (72 by default), on which the user sets their own password; only the link's SHA-256 is kept.
A reset does the same for an existing account, and also makes the old password and every session of the user
worthless. Every change is written to the register with what changed; tokens and hashes never are.

For other code (first-admin setup): `create_user(actor, UserInput("Display name", "admin", username="admin"))
-> User` and `invite(actor, user_id) -> (Invitation, token)`; `SYSTEM` may call both.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from review import auth
from review.clock import utcnow
from review.extensions import db
from review.models import Expert, Hospital, Invitation, User
from review.models.people import ROLES
from review.services import activity, passwords, table_import
from review.services.context import Actor, NotFound, ServiceError, ValidationFailed
from workflows.states import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,79}$")
UNUSABLE_PASSWORD = "!"
"""No argon2 hash looks like this, so `check_password` refuses every password for it."""


@dataclass(frozen=True)
class Binding:
    """What an administrator may change on an existing account (the user name stays)."""

    display_name: str
    role: str
    hospital_id: int | None = None
    hospital_admin: bool = False
    """Only for a hospital user: manages the hospital's API tokens."""
    expert_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class UserInput(Binding):
    """A new account: `UserInput("Display Name", "role", username="name", hospital_id=…)`."""

    username: str


@dataclass(frozen=True)
class Issued:
    """An invitation just made: the token is here once, for the administrator to pass on."""

    user_id: int
    username: str
    display_name: str
    token: str
    expires_at: datetime


def _require_admin(actor: Actor) -> None:
    actor.require(Role.ADMIN, Role.SYSTEM)


def _get(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such user."))
    return user


def _binding_errors(binding: Binding, user: User | None) -> dict[str, list[str]]:
    """The role and what it is bound to, as the table's CHECK constraints demand, in words. An inactive hospital
    cannot be chosen, but a user already bound to one keeps it through other changes."""
    user_id = user.id if user is not None else None
    errors: dict[str, list[str]] = {}
    if not binding.display_name.strip() or len(binding.display_name) > 120:
        errors["display_name"] = [str(_l("The display name is required (at most 120 characters)."))]
    if binding.role not in ROLES:
        errors["role"] = [str(_l("Choose a role."))]
        return errors
    if binding.role == "hospital":
        hospital = db.session.get(Hospital, binding.hospital_id) if binding.hospital_id else None
        if hospital is None or not (hospital.active or (user is not None and user.hospital_id == hospital.id)):
            errors["hospital_id"] = [str(_l("Choose an active contracted hospital."))]
    if binding.role == "expert":
        expert = db.session.get(Expert, binding.expert_id) if binding.expert_id else None
        holder = db.session.scalar(db.select(User.id).where(User.expert_id == binding.expert_id)) if expert else None
        if expert is None:
            errors["expert_id"] = [str(_l("Choose an expert of the pool."))]
        elif holder is not None and holder != user_id:
            errors["expert_id"] = [str(_l("This expert already has a login."))]
    return errors


def _bound(binding: Binding) -> dict[str, object]:
    """The columns a binding sets, with what other roles must not carry cleared."""
    return {"display_name": binding.display_name.strip(), "role": binding.role,
            "hospital_id": binding.hospital_id if binding.role == "hospital" else None,
            "hospital_admin": binding.hospital_admin and binding.role == "hospital",
            "expert_id": binding.expert_id if binding.role == "expert" else None}


def _profile(user: User) -> dict[str, object]:
    return {"display_name": user.display_name, "role": user.role, "hospital_id": user.hospital_id,
            "hospital_admin": user.hospital_admin, "expert_id": user.expert_id}


def _create(actor: Actor, data: UserInput) -> User:
    username = data.username.strip().lower()
    errors = _binding_errors(data, None)
    if not USERNAME.fullmatch(username):
        errors["username"] = [str(_l("The user name is 3–80 lower-case letters, digits, '.', '_', '-' or '@', "
                                     "starting with a letter or digit."))]
    elif db.session.scalar(db.select(User.id).where(db.func.lower(User.username) == username)) is not None:
        errors["username"] = [str(_l("The user name %(name)s is taken.", name=username))]
    if errors:
        raise ValidationFailed(errors)
    values = _bound(data)
    user = User(username=username, password_hash=UNUSABLE_PASSWORD, active=True, **values)
    db.session.add(user)
    db.session.flush()
    activity.record(actor, "user.created", "user", user.id, user.hospital_id, {"username": username, **values})
    return user


def _invite(actor: Actor, user: User, purpose: str) -> Issued:
    """Replace any open invitation of the user with a new one; the caller commits."""
    now = utcnow()
    _revoke_open(user.id, now)
    token = secrets.token_urlsafe(32)
    hours = int(current_app.config["INVITATION_HOURS"])
    invitation = Invitation(user_id=user.id, token_hash=_digest(token), purpose=purpose,
                            created_by_id=actor.user_id, created_at=now, expires_at=now + timedelta(hours=hours))
    db.session.add(invitation)
    db.session.flush()
    activity.record(actor, "user.invited", "user", user.id, user.hospital_id,
                    {"invitation_id": invitation.id, "purpose": purpose, "expires_at": invitation.expires_at})
    return Issued(user.id, user.username, user.display_name, token, invitation.expires_at)


def _revoke_open(user_id: int, now: datetime) -> None:
    db.session.execute(db.update(Invitation).where(
        Invitation.user_id == user_id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- what administrators do ------------------------------------------------------------------------------

def create_user(actor: Actor, data: UserInput) -> User:
    """An account without a usable password (follow with `invite`)."""
    _require_admin(actor)
    user = _create(actor, data)
    db.session.commit()
    return user


def invite(actor: Actor, user_id: int) -> tuple[Invitation, str]:
    """A fresh welcome link for the user (older open ones stop working); the token is returned once."""
    _require_admin(actor)
    user = _get(user_id)
    if not user.active:
        raise ServiceError(_l("The account is disabled; enable it first."))
    issued = _invite(actor, user, "welcome")
    db.session.commit()
    invitation = db.session.scalars(db.select(Invitation).where(Invitation.token_hash == _digest(issued.token))).one()
    return invitation, issued.token


def create_with_invitation(actor: Actor, data: UserInput) -> Issued:
    """Create the account and its welcome link in one transaction (the administrator's form)."""
    _require_admin(actor)
    user = _create(actor, data)
    issued = _invite(actor, user, "welcome")
    db.session.commit()
    return issued


def reset_password(actor: Actor, user_id: int) -> Issued:
    """The old password stops working, every session of the user ends, and a reset link replaces older links."""
    _require_admin(actor)
    user = _get(user_id)
    if not user.active:
        raise ServiceError(_l("The account is disabled; enable it first."))
    user.password_hash = UNUSABLE_PASSWORD
    auth.end_all_sessions(user)
    activity.record(actor, "user.password_reset", "user", user.id, user.hospital_id, {})
    issued = _invite(actor, user, "reset")
    db.session.commit()
    return issued


def _active_admins_besides(user_id: int) -> int:
    """Locks the active administrators' rows on PostgreSQL, so two admins cannot disable each other at once."""
    others = db.session.scalars(db.select(User.id).where(User.role == "admin", User.active.is_(True),
                                                         User.id != user_id).with_for_update()).all()
    return len(others)


def _keep_an_admin(actor: Actor, user: User) -> None:
    if user.id == actor.user_id:
        raise ServiceError(_l("You cannot disable your own account or take away your own role."))
    if user.role == "admin" and user.active and _active_admins_besides(user.id) == 0:
        raise ServiceError(_l("This is the last active administrator; make another one first."))


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    """Disabling ends the user's sessions and open links; enabling gives back nothing but the right to log in."""
    _require_admin(actor)
    user = _get(user_id)
    if user.active == active:
        return user
    if not active:
        _keep_an_admin(actor, user)
        auth.end_all_sessions(user)
        _revoke_open(user.id, utcnow())
    user.active = active
    activity.record(actor, "user.enabled" if active else "user.disabled", "user", user.id, user.hospital_id,
                    {"changes": {"active": [not active, active]}})
    db.session.commit()
    return user


def update_binding(actor: Actor, user_id: int, binding: Binding) -> User:
    """Change the display name, role and what the role is bound to; the register keeps the diff."""
    _require_admin(actor)
    user = _get(user_id)
    if binding.role != user.role and user.role == "admin":
        _keep_an_admin(actor, user)
    errors = _binding_errors(binding, user)
    if errors:
        raise ValidationFailed(errors)
    changes = table_import.apply(user, _profile(user), _bound(binding))
    if changes:
        activity.record(actor, "user.updated", "user", user.id, user.hospital_id, {"changes": changes})
    db.session.commit()
    return user


# --- experts' logins -----------------------------------------------------------------------------------------

def expert_username(code: str) -> str:
    """The expert code in lower case; when that name is taken, "-2", "-3", … is added until one is free."""
    base = code.strip().lower()
    taken = set(db.session.scalars(db.select(db.func.lower(User.username)).where(
        db.func.lower(User.username).startswith(base, autoescape=True))))
    candidate, n = base, 1
    while candidate in taken or not USERNAME.fullmatch(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def logins_for_experts(actor: Actor, expert_ids: Iterable[int]) -> tuple[Issued, ...]:
    """A login and a welcome link for each of these experts that has no login yet; the caller commits."""
    _require_admin(actor)
    issued = []
    for expert in db.session.scalars(db.select(Expert).where(Expert.id.in_(list(expert_ids))).order_by(Expert.code)):
        if db.session.scalar(db.select(User.id).where(User.expert_id == expert.id)) is not None:
            continue
        user = _create(actor, UserInput(expert.name_zh or expert.name_en, "expert", expert_id=expert.id,
                                        username=expert_username(expert.code)))
        issued.append(_invite(actor, user, "welcome"))
    return tuple(issued)


def create_expert_login(actor: Actor, expert_id: int) -> Issued:
    _require_admin(actor)
    if db.session.get(Expert, expert_id) is None:
        raise NotFound(_l("No such expert."))
    issued = logins_for_experts(actor, [expert_id])
    if not issued:
        raise ServiceError(_l("This expert already has a login."))
    db.session.commit()
    return issued[0]


# --- what users do -----------------------------------------------------------------------------------------

def open_invitation(token: str) -> Invitation:
    """The usable invitation of this token, or one refusal for unknown, used, replaced and expired links alike."""
    invitation = db.session.scalars(db.select(Invitation).where(Invitation.token_hash == _digest(token))).first()
    if (invitation is None or not hmac.compare_digest(invitation.token_hash, _digest(token))
            or not invitation.usable_at(utcnow()) or not invitation.user.is_active):
        raise ServiceError(_l("This link is not valid: it was used already, replaced by a newer one, or it "
                              "expired. Ask the administrator for a new one."))
    return invitation


MAX_LINKS_PER_FILE = 5_000


def open_invitations(actor: Actor, tokens: Iterable[str]) -> list[tuple[Invitation, str]]:
    """The still usable invitations among these tokens (the links page's CSV); the others are left out."""
    _require_admin(actor)
    found = []
    for token in list(tokens)[:MAX_LINKS_PER_FILE]:
        try:
            found.append((open_invitation(token), token))
        except ServiceError:
            continue
    return found


def _password_errors(user: User, password: str, confirm: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    found = passwords.problems(password, user.username)
    if found:
        errors["password"] = found
    if password != confirm:
        errors["confirm"] = [str(_l("The two passwords differ."))]
    return errors


def _set_password(user: User, password: str) -> None:
    """A new password: every session issued before it ends (the caller starts the current one again)."""
    user.password_hash = auth.hash_password(password)
    auth.end_all_sessions(user)


def accept_invitation(token: str, password: str, confirm: str) -> User:
    """The user sets their password through the link, which then stops working."""
    invitation = open_invitation(token)
    user = invitation.user
    errors = _password_errors(user, password, confirm)
    if errors:
        raise ValidationFailed(errors)
    _set_password(user, password)
    invitation.used_at = utcnow()
    _revoke_open(user.id, invitation.used_at)
    actor = Actor(user_id=user.id, role=Role(user.role), hospital_id=user.hospital_id, expert_id=user.expert_id)
    activity.record(actor, "user.invitation_accepted", "user", user.id, user.hospital_id,
                    {"invitation_id": invitation.id, "purpose": invitation.purpose})
    db.session.commit()
    return user


def change_password(actor: Actor, current: str, password: str, confirm: str) -> User:
    """A logged-in user's own change: the current password is required, and their other sessions end."""
    user = _get(actor.user_id)  # type: ignore[arg-type]
    errors = _password_errors(user, password, confirm)
    if not auth.check_password(user.password_hash, current):
        errors["current"] = [str(_l("The current password is wrong."))]
    if errors:
        raise ValidationFailed(errors)
    _set_password(user, password)
    activity.record(actor, "user.password_changed", "user", user.id, user.hospital_id, {})
    db.session.commit()
    return user
